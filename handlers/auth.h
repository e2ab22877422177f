#pragma once
/// Accounts (SPEC §4): POST /auth/register, POST /auth/login, POST /auth/logout, GET /users/me.
///
/// Every handler is a final class with its dependencies taken in the constructor and no
/// mutable state: one instance serves all request threads. Bodies are JSON objects of which
/// only `username`, `password` and `email` are ever read; `role`, `credits` and the like are
/// ignored wherever they appear. Passwords are hashed and verified (argon2id, ~40 ms) while no
/// pooled DB connection is held. DB failures escape as db::DbError (503 when the DB is down).
///
/// Login throttle: 10 failed logins for one username (case-insensitive) from one client
/// (IPv4 address or IPv6 /64) within 15 minutes → 429 RATE_LIMITED with Retry-After until
/// the window has room again. Attempts are recorded in `login_failures` before the password is
/// checked, so concurrent guesses on any number of workers and hosts cannot exceed the limit; a
/// successful login deletes its own record and clears that username's counter for that client
/// only (the person has just proved they know the password; other clients' counters remain).
/// Attempts with a username or password that no account can have (wrong length or
/// characters) are refused with the same 401 without touching the DB or the counter.
#include <json/value.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "lib/base/clock.h"
#include "lib/base/config.h"
#include "lib/db/db.h"
#include "lib/http/message.h"
#include "lib/http/router.h"

namespace inkstone::handlers {

inline constexpr int kLoginMaxFailures = 10;
inline constexpr std::chrono::seconds kLoginFailureWindow{15 * 60};

/// The one message for a wrong password, an unknown user and an impossible username.
inline constexpr char kInvalidCredentialsMessage[] = "invalid username or password";

/// A users row as the API shows it.
struct UserRecord {
    int64_t id = 0;
    std::string username;
    std::optional<std::string> email;
    std::string role;
    int64_t credits = 0;
    std::optional<lib::base::TimePoint> member_expired_at;
    lib::base::TimePoint created_at;
};

/// The caller of an Auth::kUser / kAdmin route; ApiError 401 when there is none (a route
/// wrongly marked public).
const lib::http::Principal& RequirePrincipal(const lib::http::Request& request);

/// The `/users/me` shape: `{"id", "username", "email", "role", "credits", "is_member",
/// "member_expired_at", "created_at"}`; `is_member` is `member_expired_at > now`, times are
/// RFC 3339 UTC, absent values are null.
Json::Value UserToJson(const UserRecord& user, lib::base::TimePoint now);

/// Seconds a throttled client must wait: until the failure at `boundary_failed_at` (the
/// 10th-newest in the window) leaves the window. At least 1.
int64_t LoginRetryAfterSeconds(lib::base::TimePoint boundary_failed_at, lib::base::TimePoint now);

/// Deletes tokens that expired before `now - grace` and login failures older than the window,
/// at most `batch` rows of each per call (short transactions; call again while it returns
/// `batch`). Safe to run on every host at once. Returns the number of rows deleted.
int64_t PurgeExpiredAuthRows(lib::db::Pool& pool, lib::base::TimePoint now,
                             std::chrono::seconds grace = std::chrono::hours(24), int batch = 1000);

/// POST /auth/register `{"username", "password", "email"?}` → 201
/// `{"user", "access_token", "token_type": "bearer", "expires_in"}`. 422 with `field` for a
/// rule broken, 409 CONFLICT when the username is taken (case-insensitively), including the
/// race of two concurrent registrations (the UNIQUE key decides). `email: ""` counts as absent.
class RegisterHandler final : public lib::http::Handler {
  public:
    RegisterHandler(lib::db::Pool& pool, const lib::base::Clock& clock, const lib::base::AuthConfig& config)
        : pool_(pool), clock_(clock), token_ttl_s_(config.token_ttl_s) {}

    lib::http::Response Handle(const lib::http::Request& request, lib::http::StreamWriter& stream) const override;

  private:
    lib::db::Pool& pool_;
    const lib::base::Clock& clock_;
    const int64_t token_ttl_s_;
};

/// POST /auth/login `{"username", "password"}` → 200, same shape as register. 401
/// UNAUTHORIZED with kInvalidCredentialsMessage for any wrong credential; 429 RATE_LIMITED
/// (Retry-After) under the throttle described above; 422 with `field` only when a field is
/// missing, not a string, or longer than 1024 characters. The client is Request::remote_addr.
class LoginHandler final : public lib::http::Handler {
  public:
    LoginHandler(lib::db::Pool& pool, const lib::base::Clock& clock, const lib::base::AuthConfig& config)
        : pool_(pool), clock_(clock), token_ttl_s_(config.token_ttl_s) {}

    lib::http::Response Handle(const lib::http::Request& request, lib::http::StreamWriter& stream) const override;

  private:
    lib::db::Pool& pool_;
    const lib::base::Clock& clock_;
    const int64_t token_ttl_s_;
};

/// POST /auth/logout (Auth::kUser) → 204. Revokes the presented token (the principal's
/// token_hash); the user's other sessions stay valid. 401 without a principal.
class LogoutHandler final : public lib::http::Handler {
  public:
    LogoutHandler(lib::db::Pool& pool, const lib::base::Clock& clock) : pool_(pool), clock_(clock) {}

    lib::http::Response Handle(const lib::http::Request& request, lib::http::StreamWriter& stream) const override;

  private:
    lib::db::Pool& pool_;
    const lib::base::Clock& clock_;
};

/// GET /users/me (Auth::kUser) → 200 UserToJson of the caller. 401 without a principal or
/// when the account no longer exists.
class MeHandler final : public lib::http::Handler {
  public:
    MeHandler(lib::db::Pool& pool, const lib::base::Clock& clock) : pool_(pool), clock_(clock) {}

    lib::http::Response Handle(const lib::http::Request& request, lib::http::StreamWriter& stream) const override;

  private:
    lib::db::Pool& pool_;
    const lib::base::Clock& clock_;
};

}  // namespace inkstone::handlers
