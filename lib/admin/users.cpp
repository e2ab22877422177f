#include "lib/admin/users.h"

#include <chrono>
#include <utility>

#include "lib/accounts/accounts.h"
#include "lib/base/errors.h"
#include "lib/base/json.h"
#include "lib/billing/money.h"

namespace inkstone::lib::admin {
namespace {

using base::ApiError;
using base::ErrorCode;
using base::TimePoint;

constexpr char kSelectUserSql[] =
    "SELECT id, username, email, role, credits, member_expired_at, disabled_at, created_at "
    "FROM users WHERE id = ?";
// A prefix on username or email: a range scan of the UNIQUE username key (the collation is
// case-insensitive); the email side is a scan, acceptable for an operator's search.
constexpr char kSearchUsersSql[] =
    "SELECT id, username, email, role, credits, member_expired_at, disabled_at, created_at "
    "FROM users WHERE username LIKE ? OR email LIKE ? ORDER BY id DESC LIMIT ? OFFSET ?";
constexpr char kCountSearchUsersSql[] =
    "SELECT COUNT(*) AS n FROM users WHERE username LIKE ? OR email LIKE ?";
constexpr char kListUsersSql[] =
    "SELECT id, username, email, role, credits, member_expired_at, disabled_at, created_at "
    "FROM users ORDER BY id DESC LIMIT ? OFFSET ?";
constexpr char kCountUsersSql[] = "SELECT COUNT(*) AS n FROM users";
constexpr char kSelectUserIdSql[] = "SELECT id FROM users WHERE username = ?";

constexpr char kRecentOrdersSql[] =
    "(SELECT order_no, 'recharge' AS kind, status, amount_fen, payment_method, created_at, "
    "paid_at FROM recharge_orders WHERE user_id = ? ORDER BY created_at DESC LIMIT 20) "
    "UNION ALL "
    "(SELECT order_no, 'membership' AS kind, status, amount_fen, payment_method, created_at, "
    "paid_at FROM membership_orders WHERE user_id = ? ORDER BY created_at DESC LIMIT 20) "
    "ORDER BY created_at DESC LIMIT 20";
constexpr char kRecentGenerationsSql[] =
    "SELECT id, model, status, credits_charged, created_at FROM generations "
    "WHERE user_id = ? ORDER BY id DESC LIMIT 20";
constexpr char kGrantsSql[] =
    "SELECT id, source, months, days, expired_before, expired_after, related_order_no, "
    "related_redeem_code_id, created_at FROM membership_grants WHERE user_id = ? "
    "ORDER BY created_at DESC, id DESC";
constexpr char kSelectGrantSql[] =
    "SELECT id, source, months, days, expired_before, expired_after, related_order_no, "
    "related_redeem_code_id, created_at FROM membership_grants WHERE id = ?";
constexpr char kInsertGrantSql[] =
    "INSERT INTO membership_grants (user_id, source, months, days, expired_before, "
    "expired_after, related_redeem_code_id, audit_id, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr char kSetMembershipSql[] =
    "UPDATE users SET member_expired_at = ?, updated_at = ? WHERE id = ?";
constexpr char kSetDisabledSql[] = "UPDATE users SET disabled_at = ?, updated_at = ? WHERE id = ?";

Json::Value UserRow(const db::Rows& row, TimePoint now) {
    Json::Value json(Json::objectValue);
    json["id"] = Json::Int64{row.Int("id")};
    json["username"] = row.String("username");
    const std::optional<std::string> email = row.OptionalString("email");
    json["email"] = email ? Json::Value(*email) : Json::Value(Json::nullValue);
    json["role"] = row.String("role");
    json["credits"] = Json::Int64{row.Int("credits")};
    const std::optional<TimePoint> expiry = row.OptionalTime("member_expired_at");
    json["is_member"] = billing::IsMember(expiry, now);
    json["member_expired_at"] = base::TimeOrNull(expiry);
    const std::optional<TimePoint> disabled_at = row.OptionalTime("disabled_at");
    json["disabled"] = disabled_at.has_value();
    json["disabled_at"] = base::TimeOrNull(disabled_at);
    json["created_at"] = base::FormatRfc3339(row.Time("created_at"));
    return json;
}

Json::Value ReadUser(db::Lease& lease, int64_t user_id, TimePoint now) {
    db::Rows rows = lease.Query(kSelectUserSql, user_id);
    if (!rows.Next()) throw ApiError(ErrorCode::kNotFound, "user not found");
    return UserRow(rows, now);
}

// `text` as a LIKE prefix: its own % _ and \ match themselves.
std::string LikePrefix(const std::string& text) {
    std::string pattern;
    for (char c : text) {
        if (c == '%' || c == '_' || c == '\\') pattern.push_back('\\');
        pattern.push_back(c);
    }
    pattern.push_back('%');
    return pattern;
}

bool AllDigits(const std::string& text) {
    if (text.empty() || text.size() > 18) return false;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

billing::LockedAccount LockUser(const billing::Wallet& wallet, db::Transaction& tx,
                                int64_t user_id) {
    std::optional<billing::LockedAccount> account = wallet.LockAccountIn(tx, user_id);
    if (!account) throw ApiError(ErrorCode::kNotFound, "user not found");
    return *account;
}

}  // namespace

Json::Value SearchUsers(db::Pool& pool, const std::string& q, const http::PageRequest& page,
                        TimePoint now) {
    return db::WithLease(pool, [&](db::Lease& lease) {
        Json::Value items(Json::arrayValue);
        int64_t total = 0;
        if (AllDigits(q)) {
            db::Rows rows = lease.Query(kSelectUserSql, std::stoll(q));
            if (rows.Next() && page.page == 1) items.append(UserRow(rows, now));
            total = items.size();
            if (page.page != 1) total = lease.Query(kSelectUserSql, std::stoll(q)).Next() ? 1 : 0;
        } else if (!q.empty()) {
            const std::string pattern = LikePrefix(q);
            {
                db::Rows count = lease.Query(kCountSearchUsersSql, pattern, pattern);
                if (count.Next()) total = count.Int("n");
            }
            db::Rows rows =
                lease.Query(kSearchUsersSql, pattern, pattern, page.limit(), page.offset());
            while (rows.Next()) items.append(UserRow(rows, now));
        } else {
            {
                db::Rows count = lease.Query(kCountUsersSql);
                if (count.Next()) total = count.Int("n");
            }
            db::Rows rows = lease.Query(kListUsersSql, page.limit(), page.offset());
            while (rows.Next()) items.append(UserRow(rows, now));
        }
        for (Json::Value& item : items) item.removeMember("disabled_at");
        return http::PageJson(std::move(items), total, page);
    });
}

UserDetail GetUserDetail(db::Pool& pool, const base::Clock& clock, int64_t user_id) {
    const TimePoint now = clock.Now();
    UserDetail detail = db::WithLease(pool, [&](db::Lease& lease) {
        UserDetail d;
        d.user = ReadUser(lease, user_id, now);
        {
            db::Rows rows = lease.Query(kRecentOrdersSql, user_id, user_id);
            while (rows.Next()) {
                Json::Value order(Json::objectValue);
                order["order_no"] = rows.String("order_no");
                order["kind"] = rows.String("kind");
                order["status"] = rows.String("status");
                order["amount_fen"] = Json::Int64{rows.Int("amount_fen")};
                order["payment_method"] = rows.String("payment_method");
                order["created_at"] = base::FormatRfc3339(rows.Time("created_at"));
                order["paid_at"] = base::TimeOrNull(rows.OptionalTime("paid_at"));
                d.orders.append(std::move(order));
            }
        }
        {
            db::Rows rows = lease.Query(kRecentGenerationsSql, user_id);
            while (rows.Next()) {
                Json::Value generation(Json::objectValue);
                generation["id"] = Json::Int64{rows.Int("id")};
                generation["model"] = rows.String("model");
                generation["status"] = rows.String("status");
                generation["credits_charged"] = Json::Int64{rows.Int("credits_charged")};
                generation["created_at"] = base::FormatRfc3339(rows.Time("created_at"));
                d.generations.append(std::move(generation));
            }
        }
        db::Rows rows = lease.Query(kGrantsSql, user_id);
        while (rows.Next()) d.membership_grants.append(MembershipGrantJson(rows));
        return d;
    });
    detail.ledger =
        billing::Wallet(pool, clock).ListTransactions(user_id, std::nullopt, 50, 0).items;
    return detail;
}

Adjustment AdjustCredits(db::Pool& pool, const base::Clock& clock, const Actor& actor,
                         int64_t user_id, int64_t amount, const std::string& reason) {
    if (amount == 0) throw ApiError::Validation("amount", "amount must not be 0");
    const billing::Wallet wallet(pool, clock);
    return db::RetryOnAborted(pool, "admin.adjust_credits", [&](db::Transaction& tx) {
        billing::LockedAccount account = LockUser(wallet, tx, user_id);
        const int64_t before = account.credits;
        const billing::ChargeResult posted = wallet.AdjustLockedIn(
            tx, account, amount, "Admin adjustment: " + reason.substr(0, 200));
        AuditEntry entry;
        entry.action = "user.adjust_credits";
        entry.target_type = "user";
        entry.target_id = std::to_string(user_id);
        entry.before["credits"] = Json::Int64{before};
        entry.after["credits"] = Json::Int64{posted.balance};
        entry.after["amount"] = Json::Int64{amount};
        entry.after["transaction_id"] = Json::Int64{posted.charge_id};
        entry.reason = reason;
        const TimePoint now = clock.Now();
        RecordAudit(tx, actor, entry, now);
        Adjustment result;
        result.balance = posted.balance;
        result.transaction.id = posted.charge_id;
        result.transaction.type = billing::LedgerType::kAdminAdjust;
        result.transaction.amount = amount;
        result.transaction.balance_after = posted.balance;
        result.transaction.description = "Admin adjustment: " + reason.substr(0, 200);
        result.transaction.created_at = now;
        return result;
    });
}

GrantResult GrantMembership(db::Pool& pool, const base::Clock& clock, const Actor& actor,
                            int64_t user_id, const MembershipGrant& grant,
                            const std::string& reason) {
    const bool by_days = grant.days > 0;
    if (by_days == (grant.months > 0)) {
        throw ApiError::Validation("days", "give exactly one of days and months");
    }
    if (grant.days < 0 || grant.days > kMaxGrantDays) {
        throw ApiError::Validation("days", "days must be 1 to " + std::to_string(kMaxGrantDays));
    }
    if (grant.months < 0 || grant.months > kMaxGrantMonths) {
        throw ApiError::Validation("months",
                                   "months must be 1 to " + std::to_string(kMaxGrantMonths));
    }
    const billing::Wallet wallet(pool, clock);
    return db::RetryOnAborted(pool, "admin.grant_membership", [&](db::Transaction& tx) {
        billing::LockedAccount account = LockUser(wallet, tx, user_id);
        const TimePoint now = clock.Now();
        const std::optional<TimePoint> current = account.member_expired_at;
        const TimePoint until = MembershipUntil(current, grant, now);
        AuditEntry entry;
        entry.action = "user.grant_membership";
        entry.target_type = "user";
        entry.target_id = std::to_string(user_id);
        entry.before["member_expired_at"] = base::TimeOrNull(current);
        entry.after["member_expired_at"] = base::FormatRfc3339(until);
        entry.after["days"] = grant.days;
        entry.after["months"] = grant.months;
        entry.reason = reason;
        const int64_t audit_id = RecordAudit(tx, actor, entry, now);
        GrantLinks links;
        links.audit_id = audit_id;
        const int64_t grant_id =
            ApplyMembershipGrantIn(tx, account, grant, "ADMIN", until, links, now);
        GrantResult result;
        result.member_expired_at = until;
        db::Rows rows = tx.Query(kSelectGrantSql, grant_id);
        if (rows.Next()) result.grant = MembershipGrantJson(rows);
        return result;
    });
}

TimePoint MembershipUntil(std::optional<TimePoint> current, const MembershipGrant& grant,
                          TimePoint now) {
    const TimePoint from = current && *current > now ? *current : now;
    return grant.days > 0 ? from + std::chrono::hours(24) * grant.days
                          : billing::AddCalendarMonths(from, grant.months);
}

int64_t ApplyMembershipGrantIn(db::Transaction& tx, billing::LockedAccount& account,
                               const MembershipGrant& grant, std::string_view source,
                               TimePoint until, const GrantLinks& links, TimePoint now) {
    tx.Execute(kSetMembershipSql, until, now, account.user_id);
    const int64_t grant_id = tx.Insert(kInsertGrantSql, account.user_id, source, grant.months,
                                       grant.days, account.member_expired_at, until,
                                       links.related_redeem_code_id, links.audit_id, now);
    account.member_expired_at = until;
    return grant_id;
}

Json::Value SetDisabled(db::Pool& pool, const base::Clock& clock, const Actor& actor,
                        int64_t user_id, bool disabled, const std::string& reason) {
    if (disabled && actor.user_id && *actor.user_id == user_id) {
        throw ApiError(ErrorCode::kConflict, "an admin cannot disable their own account");
    }
    const billing::Wallet wallet(pool, clock);
    return db::RetryOnAborted(
        pool, disabled ? "admin.disable" : "admin.enable", [&](db::Transaction& tx) {
            const billing::LockedAccount account = LockUser(wallet, tx, user_id);
            const TimePoint now = clock.Now();
            if (account.disabled != disabled) {
                tx.Execute(kSetDisabledSql, disabled ? std::optional<TimePoint>(now) : std::nullopt,
                           now, user_id);
                AuditEntry entry;
                entry.action = disabled ? "user.disable" : "user.enable";
                entry.target_type = "user";
                entry.target_id = std::to_string(user_id);
                entry.before["disabled"] = account.disabled;
                entry.after["disabled"] = disabled;
                if (disabled) {
                    entry.after["tokens_revoked"] =
                        Json::Int64{accounts::RevokeUserTokensIn(tx, user_id, now)};
                }
                entry.reason = reason;
                RecordAudit(tx, actor, entry, now);
            }
            return ReadUser(tx.lease(), user_id, now);
        });
}

std::optional<int64_t> FindUserId(db::Pool& pool, const std::string& username) {
    return db::WithLease(pool, [&](db::Lease& lease) -> std::optional<int64_t> {
        db::Rows rows = lease.Query(kSelectUserIdSql, username);
        if (!rows.Next()) return std::nullopt;
        return rows.Int("id");
    });
}

Json::Value MembershipGrantJson(const db::Rows& row) {
    Json::Value json(Json::objectValue);
    json["id"] = Json::Int64{row.Int("id")};
    json["source"] = row.String("source");
    json["months"] = Json::Int64{row.Int("months")};
    json["days"] = Json::Int64{row.Int("days")};
    json["expired_before"] = base::TimeOrNull(row.OptionalTime("expired_before"));
    json["expired_after"] = base::TimeOrNull(row.OptionalTime("expired_after"));
    const std::optional<std::string> order_no = row.OptionalString("related_order_no");
    json["related_order_no"] = order_no ? Json::Value(*order_no) : Json::Value(Json::nullValue);
    const std::optional<int64_t> code_id = row.OptionalInt("related_redeem_code_id");
    json["related_redeem_code_id"] =
        code_id ? Json::Value(Json::Int64{*code_id}) : Json::Value(Json::nullValue);
    json["created_at"] = base::FormatRfc3339(row.Time("created_at"));
    return json;
}

}  // namespace inkstone::lib::admin
