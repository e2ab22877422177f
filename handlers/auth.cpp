#include "handlers/auth.h"

#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <memory>
#include <stdexcept>
#include <utility>

#include "lib/accounts/auth.h"
#include "lib/base/errors.h"
#include "lib/http/json_body.h"

namespace inkstone::handlers {
namespace {

using lib::base::ApiError;
using lib::base::ErrorCode;
using lib::base::TimePoint;
namespace db = lib::db;

constexpr char kSelectUsernameTakenSql[] = "SELECT 1 FROM users WHERE username = ?";
// role and credits are constants here: nothing from the request body can reach them.
constexpr char kInsertUserSql[] =
    "INSERT INTO users (username, email, password_hash, role, credits, created_at, updated_at) "
    "VALUES (?, ?, ?, 'user', 0, ?, ?)";
constexpr char kSelectUserSql[] =
    "SELECT id, username, email, role, credits, member_expired_at, created_at "
    "FROM users WHERE id = ?";
constexpr char kInsertTokenSql[] =
    "INSERT INTO auth_tokens (token_hash, user_id, created_at, expires_at) "
    "VALUES (UNHEX(?), ?, ?, ?)";
constexpr char kRevokeTokenSql[] =
    "UPDATE auth_tokens SET revoked_at = ? WHERE token_hash = UNHEX(?) AND revoked_at IS NULL";

constexpr char kInsertLoginAttemptSql[] =
    "INSERT INTO login_failures (username_key, client_key, failed_at) VALUES (?, ?, ?)";
// The failure that must leave the window before this client may try again: the 10th-newest
// among the others (OFFSET kLoginMaxFailures - 1). No row means there is room.
constexpr char kSelectLoginBoundarySql[] =
    "SELECT failed_at FROM login_failures "
    "WHERE username_key = ? AND client_key = ? AND failed_at > ? AND id <> ? "
    "ORDER BY failed_at DESC, id DESC LIMIT 1 OFFSET ?";
constexpr char kDeleteLoginAttemptSql[] = "DELETE FROM login_failures WHERE id = ?";
constexpr char kClearLoginFailuresSql[] =
    "DELETE FROM login_failures WHERE username_key = ? AND client_key = ?";
constexpr char kSelectLoginUserSql[] = "SELECT id, password_hash FROM users WHERE username = ?";
constexpr char kUpgradePasswordHashSql[] =
    "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ? AND password_hash = ?";

constexpr char kPurgeTokensSql[] = "DELETE FROM auth_tokens WHERE expires_at < ? LIMIT ?";
constexpr char kPurgeLoginFailuresSql[] = "DELETE FROM login_failures WHERE failed_at < ? LIMIT ?";

// Login takes any string up to this length, so that a credential no account can have is a
// plain 401 like any wrong one; only absurd input is a 422.
constexpr size_t kLoginFieldMaxChars = 1024;

using db::WithLease;

std::string SqlTime(TimePoint t) { return lib::base::FormatSqlDateTime(t); }

UserRecord ReadUser(sql::ResultSet& row) {
    UserRecord user;
    user.id = static_cast<int64_t>(row.getUInt64("id"));
    user.username = row.getString("username").asStdString();
    if (!row.isNull("email")) user.email = row.getString("email").asStdString();
    user.role = row.getString("role").asStdString();
    user.credits = row.getInt64("credits");
    user.member_expired_at = db::GetOptionalTime(row, "member_expired_at");
    user.created_at = db::GetTime(row, "created_at");
    return user;
}

std::optional<UserRecord> SelectUser(db::Lease& lease, int64_t user_id) {
    sql::PreparedStatement& select = lease.Prepare(kSelectUserSql);
    select.setUInt64(1, static_cast<uint64_t>(user_id));
    std::unique_ptr<sql::ResultSet> row(select.executeQuery());
    if (!row->next()) return std::nullopt;
    return ReadUser(*row);
}

// Stores the digest of a fresh token and returns the token itself, which exists nowhere else.
std::string IssueToken(db::Lease& lease, int64_t user_id, TimePoint now, int64_t ttl_s) {
    std::string token = lib::accounts::GenerateToken();
    const std::optional<std::string> digest = lib::accounts::TokenHashHex(token);
    if (!digest) throw std::logic_error("GenerateToken produced a malformed token");
    sql::PreparedStatement& insert = lease.Prepare(kInsertTokenSql);
    insert.setString(1, *digest);
    insert.setUInt64(2, static_cast<uint64_t>(user_id));
    insert.setString(3, SqlTime(now));
    insert.setString(4, SqlTime(now + std::chrono::seconds(ttl_s)));
    insert.executeUpdate();
    return token;
}

lib::http::Response SessionResponse(int status, const UserRecord& user, const std::string& token,
                              int64_t ttl_s, TimePoint now) {
    Json::Value body(Json::objectValue);
    body["user"] = UserToJson(user, now);
    body["access_token"] = token;
    body["token_type"] = "bearer";
    body["expires_in"] = Json::Int64{ttl_s};
    lib::http::Response response = lib::http::Response::Json(status, body);
    // RFC 6749 §5.1: responses carrying a token must not be cached.
    response.headers.emplace_back("Cache-Control", "no-store");
    return response;
}

ApiError InvalidCredentials() {
    return ApiError(ErrorCode::kUnauthorized, kInvalidCredentialsMessage);
}

struct LoginCandidate {
    std::optional<int64_t> user_id;
    std::string password_hash;
};

}  // namespace

const lib::http::Principal& RequirePrincipal(const lib::http::Request& request) {
    if (!request.principal) throw ApiError(ErrorCode::kUnauthorized, "authentication required");
    return *request.principal;
}

Json::Value UserToJson(const UserRecord& user, TimePoint now) {
    Json::Value json(Json::objectValue);
    json["id"] = Json::Int64{user.id};
    json["username"] = user.username;
    json["email"] = user.email ? Json::Value(*user.email) : Json::Value(Json::nullValue);
    json["role"] = user.role;
    json["credits"] = Json::Int64{user.credits};
    json["is_member"] = user.member_expired_at.has_value() && *user.member_expired_at > now;
    json["member_expired_at"] = user.member_expired_at
                                    ? Json::Value(lib::base::FormatRfc3339(*user.member_expired_at))
                                    : Json::Value(Json::nullValue);
    json["created_at"] = lib::base::FormatRfc3339(user.created_at);
    return json;
}

int64_t LoginRetryAfterSeconds(TimePoint boundary_failed_at, TimePoint now) {
    const auto remaining = boundary_failed_at + kLoginFailureWindow - now;
    const int64_t seconds = std::chrono::ceil<std::chrono::seconds>(remaining).count();
    return seconds < 1 ? 1 : seconds;
}

int64_t PurgeExpiredAuthRows(db::Pool& pool, TimePoint now, std::chrono::seconds grace, int batch) {
    return WithLease(pool, [&](db::Lease& lease) {
        sql::PreparedStatement& tokens = lease.Prepare(kPurgeTokensSql);
        tokens.setString(1, SqlTime(now - grace));
        tokens.setInt(2, batch);
        int64_t deleted = tokens.executeUpdate();
        sql::PreparedStatement& failures = lease.Prepare(kPurgeLoginFailuresSql);
        failures.setString(1, SqlTime(now - kLoginFailureWindow));
        failures.setInt(2, batch);
        deleted += failures.executeUpdate();
        return deleted;
    });
}

lib::http::Response RegisterHandler::Handle(const lib::http::Request& request, lib::http::StreamWriter&) const {
    const Json::Value& body = request.json;  // parsed and checked by the dispatcher
    const lib::http::JsonFields fields(body);
    // JsonFields checks type and length (its messages name the bounds); lib's rules check the
    // rest and stay the single definition of a valid value.
    const std::string username =
        fields.RequiredString("username", lib::accounts::kUsernameMinChars, lib::accounts::kUsernameMaxChars);
    if (auto problem = lib::accounts::UsernameError(username)) {
        throw ApiError::Validation("username", *problem);
    }
    const std::string password =
        fields.RequiredString("password", lib::accounts::kPasswordMinChars, lib::accounts::kPasswordMaxChars);
    if (auto problem = lib::accounts::PasswordError(password)) {
        throw ApiError::Validation("password", *problem);
    }
    std::optional<std::string> email = fields.OptionalString("email", 0, lib::accounts::kEmailMaxChars);
    if (email && email->empty()) email.reset();
    if (email) {
        if (auto problem = lib::accounts::EmailError(*email)) throw ApiError::Validation("email", *problem);
    }

    const ApiError taken(ErrorCode::kConflict, "username is already taken");
    // Cheap early answer that spares an argon2 run; the UNIQUE key below is what decides.
    const bool exists = WithLease(pool_, [&](db::Lease& lease) {
        sql::PreparedStatement& select = lease.Prepare(kSelectUsernameTakenSql);
        select.setString(1, username);
        std::unique_ptr<sql::ResultSet> row(select.executeQuery());
        return row->next();
    });
    if (exists) throw taken;

    const std::string password_hash = lib::accounts::HashPassword(password);
    const TimePoint now = clock_.Now();

    std::pair<UserRecord, std::string> created =
        db::RetryOnAborted(pool_, "auth.register", [&](db::Transaction& tx) {
            db::Lease& lease = tx.lease();
            sql::PreparedStatement& insert = lease.Prepare(kInsertUserSql);
            insert.setString(1, username);
            if (email) {
                insert.setString(2, *email);
            } else {
                insert.setNull(2, sql::DataType::VARCHAR);
            }
            insert.setString(3, password_hash);
            insert.setString(4, SqlTime(now));
            insert.setString(5, SqlTime(now));
            try {
                insert.executeUpdate();
            } catch (const sql::SQLException& e) {
                if (db::Classify(e) == db::ErrorKind::kDuplicate) throw taken;
                throw;
            }
            const int64_t user_id = db::LastInsertId(lease);
            std::string token = IssueToken(lease, user_id, now, token_ttl_s_);
            std::optional<UserRecord> user = SelectUser(lease, user_id);
            if (!user) throw std::runtime_error("inserted user not visible in its transaction");
            return std::make_pair(std::move(*user), std::move(token));
        });
    return SessionResponse(201, created.first, created.second, token_ttl_s_, now);
}

lib::http::Response LoginHandler::Handle(const lib::http::Request& request, lib::http::StreamWriter&) const {
    const Json::Value& body = request.json;  // parsed and checked by the dispatcher
    const lib::http::JsonFields fields(body);
    const std::string username = fields.RequiredString("username", 0, kLoginFieldMaxChars);
    const std::string password = fields.RequiredString("password", 0, kLoginFieldMaxChars);
    // No account can have these, so there is nothing to guess and nothing to count.
    if (lib::accounts::UsernameError(username) || lib::accounts::PasswordError(password)) throw InvalidCredentials();

    const std::string username_key = lib::accounts::NormalizeUsername(username);
    const std::string client_key = lib::accounts::ThrottleClientKey(request.remote_addr);
    const TimePoint attempt_at = clock_.Now();

    // The attempt is recorded before the password is checked and counted against the others
    // afterwards, so concurrent guesses on many hosts see each other and cannot overshoot.
    const LoginCandidate candidate = WithLease(pool_, [&](db::Lease& lease) {
        sql::PreparedStatement& insert = lease.Prepare(kInsertLoginAttemptSql);
        insert.setString(1, username_key);
        insert.setString(2, client_key);
        insert.setString(3, SqlTime(attempt_at));
        insert.executeUpdate();
        const auto attempt_id = static_cast<uint64_t>(db::LastInsertId(lease));

        sql::PreparedStatement& boundary = lease.Prepare(kSelectLoginBoundarySql);
        boundary.setString(1, username_key);
        boundary.setString(2, client_key);
        boundary.setString(3, SqlTime(attempt_at - kLoginFailureWindow));
        boundary.setUInt64(4, attempt_id);
        boundary.setInt(5, kLoginMaxFailures - 1);
        std::unique_ptr<sql::ResultSet> blocking(boundary.executeQuery());
        if (blocking->next()) {
            const TimePoint boundary_at = db::GetTime(*blocking, "failed_at");
            // A refused attempt is not a guess: it must not extend the lock-out.
            sql::PreparedStatement& forget = lease.Prepare(kDeleteLoginAttemptSql);
            forget.setUInt64(1, attempt_id);
            forget.executeUpdate();
            ApiError error(ErrorCode::kRateLimited,
                           "too many failed logins for this account from your address; "
                           "try again later");
            error.retry_after_s = static_cast<int>(LoginRetryAfterSeconds(boundary_at, attempt_at));
            throw error;
        }

        LoginCandidate found;
        sql::PreparedStatement& select = lease.Prepare(kSelectLoginUserSql);
        select.setString(1, username);
        std::unique_ptr<sql::ResultSet> row(select.executeQuery());
        if (row->next()) {
            found.user_id = static_cast<int64_t>(row->getUInt64("id"));
            found.password_hash = row->getString("password_hash").asStdString();
        }
        return found;
    });

    // Unknown users cost the same argon2 run as known ones. On failure the recorded attempt
    // stays as the failure.
    const bool ok = candidate.user_id ? lib::accounts::VerifyPassword(candidate.password_hash, password)
                                      : lib::accounts::DummyVerifyPassword(password);
    if (!ok) throw InvalidCredentials();

    std::optional<std::string> upgraded_hash;
    if (lib::accounts::PasswordNeedsRehash(candidate.password_hash)) {
        upgraded_hash = lib::accounts::HashPassword(password);
    }

    const TimePoint now = clock_.Now();
    std::pair<UserRecord, std::string> session =
        db::RetryOnAborted(pool_, "auth.login", [&](db::Transaction& tx) {
            db::Lease& lease = tx.lease();
            if (upgraded_hash) {
                // Guarded by the old hash so a concurrent password change is never undone.
                sql::PreparedStatement& upgrade = lease.Prepare(kUpgradePasswordHashSql);
                upgrade.setString(1, *upgraded_hash);
                upgrade.setString(2, SqlTime(now));
                upgrade.setUInt64(3, static_cast<uint64_t>(*candidate.user_id));
                upgrade.setString(4, candidate.password_hash);
                upgrade.executeUpdate();
            }
            sql::PreparedStatement& clear = lease.Prepare(kClearLoginFailuresSql);
            clear.setString(1, username_key);
            clear.setString(2, client_key);
            clear.executeUpdate();
            std::string token = IssueToken(lease, *candidate.user_id, now, token_ttl_s_);
            std::optional<UserRecord> user = SelectUser(lease, *candidate.user_id);
            // Deleted between the check and now: as good as never having existed.
            if (!user) throw InvalidCredentials();
            return std::make_pair(std::move(*user), std::move(token));
        });
    return SessionResponse(200, session.first, session.second, token_ttl_s_, now);
}

lib::http::Response LogoutHandler::Handle(const lib::http::Request& request, lib::http::StreamWriter&) const {
    const lib::http::Principal& principal = RequirePrincipal(request);
    const TimePoint now = clock_.Now();
    WithLease(pool_, [&](db::Lease& lease) {
        sql::PreparedStatement& revoke = lease.Prepare(kRevokeTokenSql);
        revoke.setString(1, SqlTime(now));
        revoke.setString(2, principal.token_hash);
        return revoke.executeUpdate();
    });
    return lib::http::Response::NoContent();
}

lib::http::Response MeHandler::Handle(const lib::http::Request& request, lib::http::StreamWriter&) const {
    const lib::http::Principal& principal = RequirePrincipal(request);
    const std::optional<UserRecord> user =
        WithLease(pool_, [&](db::Lease& lease) { return SelectUser(lease, principal.user_id); });
    if (!user) throw ApiError(ErrorCode::kUnauthorized, "authentication required");
    lib::http::Response response = lib::http::Response::Json(200, UserToJson(*user, clock_.Now()));
    response.headers.emplace_back("Cache-Control", "no-store");
    return response;
}

}  // namespace inkstone::handlers
