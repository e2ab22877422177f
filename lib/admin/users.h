#pragma once
/// The admin console's users (docs/admin-api.md, "Users"): search, the detail page, and the
/// three writes (credit adjustment, membership grant, disable / enable). Each write locks the
/// user's row, changes it, and records its audit row (lib/admin/audit.h) in one transaction.
/// The API handlers (handlers/admin_users.cpp) and inkstone-admin call the same functions, so
/// both write the same rows. Thread-safe (no state). Errors: ApiError 404 for an unknown user,
/// 409 for a refused change, 422 for bad input; db::DbError when the database fails.
#include <json/value.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/admin/audit.h"
#include "lib/base/clock.h"
#include "lib/billing/wallet.h"
#include "lib/db/db.h"
#include "lib/http/paging.h"

namespace inkstone::lib::admin {

/// GET /admin/users: `q` matches an id exactly (digits only) or a username / email prefix
/// (case-insensitive, by the columns' collation). One page of `{"id", "username", "email",
/// "role", "credits", "is_member", "member_expired_at", "disabled", "created_at"}`, newest
/// first, with the usual paging fields.
Json::Value SearchUsers(db::Pool& pool, const std::string& q, const http::PageRequest& page,
                        base::TimePoint now);

/// GET /admin/users/{id}, apart from the ledger rows (rendered like /credit/transactions by the
/// caller): the user (as SearchUsers, plus `disabled_at`), the last 20 orders of both kinds,
/// the last 20 generations and the membership history, newest first.
struct UserDetail {
    Json::Value user;
    std::vector<billing::LedgerEntry> ledger;  ///< the last 50 rows
    Json::Value orders{Json::arrayValue};
    Json::Value generations{Json::arrayValue};
    Json::Value membership_grants{Json::arrayValue};
};
/// ApiError 404 NOT_FOUND for an unknown id.
UserDetail GetUserDetail(db::Pool& pool, const base::Clock& clock, int64_t user_id);

struct Adjustment {
    int64_t balance = 0;
    billing::LedgerEntry transaction;  ///< the ADMIN_ADJUST row
};
/// Adds the signed, non-zero `amount` to the user's credits: one ADMIN_ADJUST ledger row and
/// the audit row `user.adjust_credits`, in the transaction that changes the balance. A debit
/// beyond the balance is 409 INSUFFICIENT_CREDITS and changes nothing.
Adjustment AdjustCredits(db::Pool& pool, const base::Clock& clock, const Actor& actor,
                         int64_t user_id, int64_t amount, const std::string& reason);

/// Exactly one of `days` (1..3650) and `months` (1..120).
struct MembershipGrant {
    int days = 0;
    int months = 0;
};
inline constexpr int kMaxGrantDays = 3650;
inline constexpr int kMaxGrantMonths = 120;
struct GrantResult {
    std::optional<base::TimePoint> member_expired_at;
    Json::Value grant;  ///< the membership_grants row as the user detail shows it
};
/// Extends the membership from max(now, current expiry): one membership_grants row (source
/// ADMIN, linked to its audit row `user.grant_membership`).
GrantResult GrantMembership(db::Pool& pool, const base::Clock& clock, const Actor& actor,
                            int64_t user_id, const MembershipGrant& grant,
                            const std::string& reason);

/// The membership end after `grant`: from max(now, `current`) plus the days, or the calendar
/// months (clamped to the month's end, as a membership order). Pure.
base::TimePoint MembershipUntil(std::optional<base::TimePoint> current,
                                const MembershipGrant& grant, base::TimePoint now);
/// What a membership_grants row links to: the audit row of an admin grant, or the redemption
/// code it came from (UNIQUE: one grant per code).
struct GrantLinks {
    std::optional<int64_t> audit_id;
    std::optional<int64_t> related_redeem_code_id;
};
/// The membership change shared by GrantMembership and redemption codes (lib/admin/codes.h), on
/// a row locked by LockAccountIn in `tx`: sets users.member_expired_at to `until` (from
/// MembershipUntil) and inserts the membership_grants row of `source` (`ADMIN`, `REDEEM`), with
/// expired_before = the locked expiry. Returns the grant's id; `account` is updated. A second
/// grant for one code surfaces as db::DbError 1062 (the caller's transaction must roll back).
int64_t ApplyMembershipGrantIn(db::Transaction& tx, billing::LockedAccount& account,
                               const MembershipGrant& grant, std::string_view source,
                               base::TimePoint until, const GrantLinks& links, base::TimePoint now);

/// Disables (sets users.disabled_at and revokes every token of the user, so the next request
/// on any worker or host is 401) or enables the account, with the audit row `user.disable` /
/// `user.enable`. Disabling your own account is 409. Already in that state: no change, no
/// audit row. Returns the user as SearchUsers shows it, plus `disabled_at`.
Json::Value SetDisabled(db::Pool& pool, const base::Clock& clock, const Actor& actor,
                        int64_t user_id, bool disabled, const std::string& reason);

/// One membership_grants row (selected with id, source, months, days, expired_before,
/// expired_after, related_order_no, related_redeem_code_id, created_at) as the user and order
/// details show it.
Json::Value MembershipGrantJson(const db::Rows& row);

/// The user id of `username` (case-insensitive, like login), for inkstone-admin; nullopt when
/// there is none.
std::optional<int64_t> FindUserId(db::Pool& pool, const std::string& username);

}  // namespace inkstone::lib::admin
