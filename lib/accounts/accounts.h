#pragma once
/// The accounts service (README, "Accounts and authorization"): registration, login with its
/// throttle, logout, the caller's own row, the bearer-token lookup behind TokenAuthenticator,
/// the purge of expired auth rows and the operator's role changes. It owns every statement on
/// `users`, `auth_tokens` and `login_failures` and the transactions around them; the handlers
/// (handlers/auth.cpp, handlers/admin.cpp) only parse, call one function here and render.
///
/// Passwords are hashed and verified (argon2id, ~40 ms, lib/accounts/auth.h) while no pooled
/// DB connection is held. Thread-safe: an Accounts holds no mutable state, so one instance (or
/// any number of copies) serves all request threads. Errors: base::ApiError for what a client
/// may see (401, 409, 429), db::DbError when the database fails (503 when it is down),
/// base::InvariantError for a broken invariant (an unknown role in `users`, ...).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lib/base/clock.h"
#include "lib/base/config.h"
#include "lib/db/db.h"
#include "lib/http/authenticator.h"
#include "lib/http/message.h"

namespace inkstone::lib::accounts {

// ---- Roles -------------------------------------------------------------------------------

/// `users.role`. `admin` is granted and revoked only by the operator (inkstone-admin).
enum class Role { kUser, kAdmin };

/// The stored text: "user" | "admin" (also the `role` of the API's user view and of
/// http::Principal).
std::string_view ToSql(Role role);
/// Strict: exactly "user" or "admin"; false (and `*role` untouched) for anything else. Read
/// back from the DB through db::Rows::Enum, an unknown text is a broken invariant.
bool FromSql(std::string_view text, Role* role);

// ---- Values ------------------------------------------------------------------------------

/// A `users` row as the API shows it.
struct User {
    int64_t id = 0;
    std::string username;  ///< as stored (the spelling chosen at registration)
    std::optional<std::string> email;
    Role role = Role::kUser;
    int64_t credits = 0;
    std::optional<base::TimePoint> member_expired_at;
    base::TimePoint created_at;
};

/// A freshly issued session: the user and the only copy of its bearer token (the database
/// keeps its SHA-256 only).
struct Session {
    User user;
    std::string access_token;
    int64_t expires_in_s = 0;
    base::TimePoint issued_at;  ///< when the token was issued (the "now" of the user's view)
};

/// A registration, already validated by the caller (UsernameError, PasswordError, EmailError of
/// lib/accounts/auth.h). An empty email is the caller's to turn into nullopt.
struct NewAccount {
    std::string username;
    std::string password;
    std::optional<std::string> email;
    std::string remote_addr;  ///< the client as nginx saw it (REMOTE_ADDR), for the throttle
};

/// A login attempt: any strings (the caller bounds their length); `remote_addr` is the client
/// as nginx saw it (REMOTE_ADDR).
struct LoginAttempt {
    std::string username;
    std::string password;
    std::string remote_addr;
};

enum class RoleChange { kNoSuchUser, kUnchanged, kChanged };

struct RoleChangeResult {
    RoleChange change = RoleChange::kNoSuchUser;
    std::string username;  ///< as stored; empty for kNoSuchUser
};

// ---- The login throttle (pure) -----------------------------------------------------------

/// 10 failed logins for one username (case-insensitive) from one client (ThrottleClientKey)
/// within 15 minutes → 429 RATE_LIMITED until the window has room again. Beside it, with the
/// same window, two limits that do not depend on the pair: failures from one client whatever
/// the usernames (`auth.login_failures_per_address`: a flood of random usernames), and
/// failures for one username from every client (`auth.login_failures_per_username`, a soft
/// cap: guesses spread over many addresses, e.g. the 65,536 IPv6 /64s of one /48).
inline constexpr int kLoginMaxFailures = 10;
inline constexpr std::chrono::seconds kLoginFailureWindow{15 * 60};
/// `auth.registrations_per_address` registrations from one client per hour.
inline constexpr std::chrono::seconds kRegistrationWindow{60 * 60};

/// The one message for a wrong password, an unknown user and an impossible username.
inline constexpr char kInvalidCredentialsMessage[] = "invalid username or password";

/// Seconds a throttled client must wait: until the failure at `boundary_failed_at` (the
/// 10th-newest in the window) leaves the window. At least 1.
int64_t LoginRetryAfterSeconds(base::TimePoint boundary_failed_at, base::TimePoint now);

// ---- The service -------------------------------------------------------------------------

class Accounts final {
  public:
    /// `config.token_ttl_s` is the lifetime of the tokens Register and Login issue; the other
    /// `auth.*` keys are the limits below.
    Accounts(db::Pool& pool, const base::Clock& clock, const base::AuthConfig& config = {})
        : pool_(&pool), clock_(&clock), config_(config) {}

    /// Creates a user (role `user`, 0 credits: nothing from a request can set them) and its
    /// first session. ApiError 409 CONFLICT when the username is taken (case-insensitively, by
    /// the collation), including the race of two concurrent registrations (the UNIQUE key
    /// decides). ApiError 429 RATE_LIMITED (retry_after_s) when this client address has made
    /// `auth.registrations_per_address` attempts within the hour (each attempt is recorded in
    /// `registration_attempts` before the password is hashed; a refused one is not). ApiError
    /// 503 UNAVAILABLE (retry_after_s) when no hashing slot frees up within
    /// `auth.hash_wait_ms`.
    Session Register(const NewAccount& account) const;

    /// Checks a password under the login throttle and opens a session. ApiError 401
    /// UNAUTHORIZED with kInvalidCredentialsMessage for any wrong credential; a username or
    /// password that no account can have is refused so without touching the DB or the counter.
    /// ApiError 429 RATE_LIMITED (retry_after_s) under any of the three limits (per username and
    /// client, per client, per username), 503 UNAVAILABLE (retry_after_s) when no hashing slot
    /// frees up within `auth.hash_wait_ms` (that attempt is not counted). Each attempt is recorded
    /// in `login_failures` before the password is checked, so concurrent guesses on any number of
    /// workers and hosts cannot exceed the limit; a refused (429) attempt is not recorded. A
    /// success deletes its own record and clears that username's counter for that client only,
    /// and upgrades a hash made with older parameters (PasswordNeedsRehash).
    Session Login(const LoginAttempt& attempt) const;

    /// Revokes the session whose token digest is `token_hash` (http::Principal::token_hash);
    /// the user's other sessions stay valid. Revoking twice is a no-op.
    void Logout(std::string_view token_hash) const;

    /// The user with this id; nullopt when the account no longer exists.
    std::optional<User> FindUser(int64_t user_id) const;

    /// Bearer token → Principal, by one primary-key query on auth_tokens joined with users that
    /// requires `expires_at > now` and `revoked_at IS NULL`; nullopt for an unknown, expired or
    /// revoked token. A malformed token is rejected before any DB access. There is
    /// deliberately no in-process cache: a logout or a role change made on any worker or host
    /// takes effect on the very next request everywhere. Principal::token_hash is
    /// TokenHashHex(token), Principal::role is ToSql of the stored role; the same statement
    /// fills the principal's user columns (email, credits, member_expired_at, created_at).
    /// A disabled user (users.disabled_at) has no live token: nullopt, like a revoked one.
    std::optional<http::Principal> Authenticate(std::string_view bearer_token) const;

    /// Gives the user named `username` (matched case-insensitively, like login) the role
    /// `role`, in one transaction that locks the row.
    RoleChangeResult SetRole(std::string_view username, Role role) const;

  private:
    std::chrono::milliseconds HashWait() const {
        return std::chrono::milliseconds(config_.hash_wait_ms);
    }

    db::Pool* pool_;
    const base::Clock* clock_;
    base::AuthConfig config_;
};

/// The caller's `users` row as Authenticate read it with the token (no statement of its own).
User CallerOf(const http::Principal& principal);

/// Deletes tokens that expired before `now - grace`, login failures older than their window and
/// registration attempts older than theirs,
/// at most `batch` rows of each per call (short statements; call again while it returns
/// `batch` or more). Safe to run on every host at once. Returns the number of rows deleted.
int64_t PurgeExpiredAuthRows(db::Pool& pool, base::TimePoint now,
                             std::chrono::seconds grace = std::chrono::hours(24), int batch = 1000);

/// Revokes every live token of the user inside the caller's transaction (an admin disabling
/// the account): the next request with any of them is 401 on every worker and host. Returns
/// the number of tokens revoked.
int64_t RevokeUserTokensIn(db::Transaction& tx, int64_t user_id, base::TimePoint now);

/// The http::Authenticator of every worker: Accounts::Authenticate.
///
/// Thread-safe (no mutable state). Throws db::DbError when the database fails (503 upstream).
class TokenAuthenticator final : public http::Authenticator {
  public:
    explicit TokenAuthenticator(const Accounts& accounts) : accounts_(accounts) {}

    std::optional<http::Principal> Authenticate(std::string_view bearer_token) const override {
        return accounts_.Authenticate(bearer_token);
    }

  private:
    const Accounts accounts_;
};

}  // namespace inkstone::lib::accounts
