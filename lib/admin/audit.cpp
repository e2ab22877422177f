#include "lib/admin/audit.h"

#include <json/reader.h>
#include <pwd.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "lib/base/errors.h"
#include "lib/base/json.h"
#include "lib/base/utf8.h"

namespace inkstone::lib::admin {
namespace {

constexpr char kInsertAuditSql[] =
    "INSERT INTO admin_audit_log (actor, actor_user_id, action, target_type, target_id, "
    "before_json, after_json, reason, request_id, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

// NULL for a JSON null (nothing before a creation), else its compact text.
std::optional<std::string> StoredJson(const Json::Value& value) {
    if (value.isNull()) return std::nullopt;
    return base::ToJson(value);
}

// The stored text back as a value; a row this code wrote always parses.
Json::Value ReadStoredJson(const std::optional<std::string>& text) {
    if (!text) return Json::Value(Json::nullValue);
    Json::CharReaderBuilder builder;
    const std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
    Json::Value value;
    std::string errors;
    if (!reader->parse(text->data(), text->data() + text->size(), &value, &errors)) {
        return Json::Value(*text);
    }
    return value;
}

bool IsSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view Trimmed(std::string_view text) {
    while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
    while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
    return text;
}

}  // namespace

Actor Actor::User(int64_t user_id, std::string request_id) {
    Actor actor;
    actor.name = "user:" + std::to_string(user_id);
    actor.user_id = user_id;
    if (!request_id.empty()) actor.request_id = std::move(request_id);
    return actor;
}

Actor Actor::Cli(std::string unix_user) {
    Actor actor;
    actor.name = "cli:" + unix_user;
    return actor;
}

Actor ActorOf(const http::Request& request) {
    // Admin routes are Auth::kAdmin: the dispatcher has set the principal.
    const int64_t user_id = request.principal ? request.principal->user_id : 0;
    return Actor::User(user_id, request.request_id);
}

Actor CliActor() {
    const uid_t uid = geteuid();
    std::vector<char> buffer(16384);
    struct passwd entry;
    struct passwd* found = nullptr;
    if (getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr) {
        return Actor::Cli(found->pw_name);
    }
    return Actor::Cli(std::to_string(uid));
}

int64_t RecordAudit(db::Transaction& tx, const Actor& actor, const AuditEntry& entry,
                    base::TimePoint now) {
    return tx.Insert(kInsertAuditSql, actor.name, actor.user_id, entry.action, entry.target_type,
                     entry.target_id, StoredJson(entry.before), StoredJson(entry.after),
                     entry.reason, actor.request_id, now);
}

std::string CheckReason(std::string_view reason) {
    if (!base::IsValidUtf8(reason)) {
        throw base::ApiError::Validation("reason", "reason must be valid UTF-8");
    }
    if (reason.find('\0') != std::string_view::npos) {
        throw base::ApiError::Validation("reason", "reason must not contain NUL");
    }
    const std::string_view trimmed = Trimmed(reason);
    const size_t chars = base::Utf8Length(trimmed);
    if (chars == 0 || chars > kReasonMaxChars) {
        throw base::ApiError::Validation(
            "reason",
            "reason is required: 1 to " + std::to_string(kReasonMaxChars) + " characters");
    }
    return std::string(trimmed);
}

std::string ParseReason(const Json::Value& body) {
    const Json::Value& reason = body.isObject() ? body["reason"] : Json::Value::nullSingleton();
    if (!reason.isString()) {
        throw base::ApiError::Validation("reason", "reason is required: a string");
    }
    return CheckReason(reason.asString());
}

AuditFilter ParseAuditFilter(const http::Request& request) {
    const auto read = [&](std::string_view name) -> std::optional<std::string> {
        std::optional<std::string> value = request.QueryParam(name);
        if (value && value->empty()) return std::nullopt;
        if (value && value->size() > 80) {
            throw base::ApiError::Validation(std::string(name), "at most 80 characters");
        }
        return value;
    };
    AuditFilter filter;
    filter.action = read("action");
    filter.actor = read("actor");
    filter.target_type = read("target_type");
    filter.target_id = read("target_id");
    return filter;
}

namespace {

// The two statements share their WHERE. A NULL filter matches everything; each non-NULL one is an
// equality on an indexed column (action and target lead their indexes, created_at orders them).
constexpr char kCountAuditSql[] =
    "SELECT COUNT(*) AS n FROM admin_audit_log"
    " WHERE (? IS NULL OR action = ?) AND (? IS NULL OR actor = ?)"
    " AND (? IS NULL OR target_type = ?) AND (? IS NULL OR target_id = ?)";
constexpr char kListAuditSql[] =
    "SELECT id, actor, action, target_type, target_id, before_json, after_json, reason, "
    "request_id, created_at FROM admin_audit_log"
    " WHERE (? IS NULL OR action = ?) AND (? IS NULL OR actor = ?)"
    " AND (? IS NULL OR target_type = ?) AND (? IS NULL OR target_id = ?)"
    " ORDER BY id DESC LIMIT ? OFFSET ?";

}  // namespace

Json::Value ListAudit(db::Pool& pool, const AuditFilter& filter, const http::PageRequest& page) {
    return db::WithLease(pool, [&](db::Lease& lease) {
        int64_t total = 0;
        {
            db::Rows rows = lease.Query(kCountAuditSql, filter.action, filter.action, filter.actor,
                                        filter.actor, filter.target_type, filter.target_type,
                                        filter.target_id, filter.target_id);
            if (rows.Next()) total = rows.Int("n");
        }
        Json::Value items(Json::arrayValue);
        db::Rows rows =
            lease.Query(kListAuditSql, filter.action, filter.action, filter.actor, filter.actor,
                        filter.target_type, filter.target_type, filter.target_id, filter.target_id,
                        page.limit(), page.offset());
        while (rows.Next()) {
            Json::Value item(Json::objectValue);
            item["id"] = Json::Int64(rows.Int("id"));
            item["actor"] = rows.String("actor");
            item["action"] = rows.String("action");
            item["target_type"] = rows.String("target_type");
            item["target_id"] = rows.String("target_id");
            item["before"] = ReadStoredJson(rows.OptionalString("before_json"));
            item["after"] = ReadStoredJson(rows.OptionalString("after_json"));
            item["reason"] = rows.String("reason");
            const std::optional<std::string> request_id = rows.OptionalString("request_id");
            item["request_id"] = request_id ? Json::Value(*request_id) : Json::Value();
            item["created_at"] = base::FormatRfc3339(rows.Time("created_at"));
            items.append(std::move(item));
        }
        return http::PageJson(std::move(items), total, page);
    });
}

}  // namespace inkstone::lib::admin
