#pragma once
/// The admin console's audit log (docs/admin-api.md, "Audit"): who did what to which target,
/// the before/after JSON of what changed, the reason and the request id. Every admin write, from
/// the API or from inkstone-admin, inserts its row with RecordAudit inside the transaction that
/// makes the change, so the change and its record commit or roll back together. Append-only:
/// nothing in the code updates or deletes `admin_audit_log`.
///
/// Also the two helpers every admin write shares: the actor (user:<id> or cli:<unix user>) and
/// the required `reason` of a request body. Thread-safe (no state).
#include <json/value.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lib/base/clock.h"
#include "lib/db/db.h"
#include "lib/http/message.h"
#include "lib/http/paging.h"

namespace inkstone::lib::admin {

/// Who made an admin change: an admin user through the API (`user:<id>`) or the operator at
/// the command line (`cli:<unix user>`).
struct Actor {
    std::string name;                       ///< `user:42` or `cli:root`, stored as `actor`
    std::optional<int64_t> user_id;         ///< the admin's id; nullopt for the CLI
    std::optional<std::string> request_id;  ///< the API request's id; nullopt for the CLI

    static Actor User(int64_t user_id, std::string request_id);
    static Actor Cli(std::string unix_user);
};

/// The actor of an authenticated admin request (its principal and request id).
Actor ActorOf(const http::Request& request);

/// The actor of inkstone-admin: `cli:` and the name of the effective unix user
/// (getpwuid(geteuid())), or its numeric uid when it has no name.
Actor CliActor();

/// One admin write, as recorded.
struct AuditEntry {
    std::string action;       ///< `user.adjust_credits`, ... (docs/admin-api.md, "Action names")
    std::string target_type;  ///< `user`, `order`, `package`, `plan`, `model`, `tool`, `batch`
    std::string target_id;    ///< the target's id as text
    Json::Value before{Json::nullValue};  ///< what changed, before (null for a creation)
    Json::Value after{Json::nullValue};   ///< and after
    std::string reason;                   ///< ParseReason's result (1..500 characters)
};

/// Inserts the `admin_audit_log` row for `entry` by `actor` at `now` in the caller's
/// transaction and returns its id (for rows that link to it: membership_grants.audit_id, ...).
int64_t RecordAudit(db::Transaction& tx, const Actor& actor, const AuditEntry& entry,
                    base::TimePoint now);

inline constexpr size_t kReasonMaxChars = 500;

/// The required `reason` of an admin write body: a string, trimmed of surrounding white space,
/// 1..500 characters after trimming. Throws ApiError 422 with field "reason" otherwise.
std::string ParseReason(const Json::Value& body);
/// The same rule for a reason given elsewhere (inkstone-admin's --reason).
std::string CheckReason(std::string_view reason);

/// The filters of GET /admin/audit; each empty one matches everything.
struct AuditFilter {
    std::optional<std::string> action;
    std::optional<std::string> actor;
    std::optional<std::string> target_type;
    std::optional<std::string> target_id;
};

/// Reads the filters from the query (`action`, `actor`, `target_type`, `target_id`).
AuditFilter ParseAuditFilter(const http::Request& request);

/// One page of audit rows, newest first: `{"items": [{"id", "actor", "action", "target_type",
/// "target_id", "before", "after", "reason", "request_id", "created_at"}], "total", "page",
/// "page_size"}` (before/after as JSON values).
Json::Value ListAudit(db::Pool& pool, const AuditFilter& filter, const http::PageRequest& page);

}  // namespace inkstone::lib::admin
