#include "lib/accounts/accounts.h"

#include <string>
#include <utility>

#include "lib/accounts/auth.h"
#include "lib/base/assert.h"
#include "lib/base/errors.h"

namespace inkstone::lib::accounts {
namespace {

using base::ApiError;
using base::ErrorCode;
using base::TimePoint;

ApiError AccountDisabled() {
    return ApiError::Specific(ErrorCode::kForbidden, "ACCOUNT_DISABLED",
                              "this account is disabled");
}

ApiError InvalidCredentials() {
    return ApiError(ErrorCode::kUnauthorized, kInvalidCredentialsMessage);
}

// ---- Users and tokens, shared by register and login --------------------------------------

constexpr char kSelectUserSql[] =
    "SELECT id, username, email, role, credits, member_expired_at, created_at "
    "FROM users WHERE id = ?";

std::optional<User> SelectUser(db::Lease& lease, int64_t user_id) {
    db::Rows rows = lease.Query(kSelectUserSql, user_id);
    if (!rows.Next()) return std::nullopt;
    User user;
    user.id = rows.Int("id");
    user.username = rows.String("username");
    user.email = rows.OptionalString("email");
    user.role = rows.Enum<Role>("role");
    user.credits = rows.Int("credits");
    user.member_expired_at = rows.OptionalTime("member_expired_at");
    user.created_at = rows.Time("created_at");
    return user;
}

constexpr char kInsertTokenSql[] =
    "INSERT INTO auth_tokens (token_hash, user_id, created_at, expires_at) "
    "VALUES (UNHEX(?), ?, ?, ?)";

// Stores the digest of a fresh token and returns the token itself, which exists nowhere else.
std::string IssueToken(db::Lease& lease, int64_t user_id, TimePoint now, int64_t ttl_s) {
    std::string token = GenerateToken();
    const std::optional<std::string> digest = TokenHashHex(token);
    INKSTONE_ASSERT(digest.has_value(), "GenerateToken produced a malformed token");
    lease.Execute(kInsertTokenSql, *digest, user_id, now, now + std::chrono::seconds(ttl_s));
    return token;
}

// The token and the user row, read back in the transaction that wrote the token; nullopt when
// the user no longer exists.
std::optional<Session> OpenSession(db::Lease& lease, int64_t user_id, TimePoint now,
                                   int64_t ttl_s) {
    Session session;
    session.access_token = IssueToken(lease, user_id, now, ttl_s);
    session.expires_in_s = ttl_s;
    session.issued_at = now;
    std::optional<User> user = SelectUser(lease, user_id);
    if (!user) return std::nullopt;
    session.user = std::move(*user);
    return session;
}

// ---- Register ----------------------------------------------------------------------------

constexpr char kSelectUsernameTakenSql[] = "SELECT 1 FROM users WHERE username = ?";
// role and credits are constants here: nothing from the request body can reach them.
constexpr char kInsertUserSql[] =
    "INSERT INTO users (username, email, password_hash, role, credits, created_at, updated_at) "
    "VALUES (?, ?, ?, 'user', 0, ?, ?)";

ApiError UsernameTaken() { return ApiError(ErrorCode::kConflict, "username is already taken"); }

// ---- Login -------------------------------------------------------------------------------

struct LoginCandidate {
    int64_t attempt_id = 0;  ///< the recorded attempt (login_failures.id)
    std::optional<int64_t> user_id;
    std::string password_hash;
    bool disabled = false;  ///< users.disabled_at is set (the admin console disabled it)
};

struct ThrottleKey {
    std::string username_key;
    std::string client_key;
};

constexpr char kInsertLoginAttemptSql[] =
    "INSERT INTO login_failures (username_key, client_key, failed_at) VALUES (?, ?, ?)";
// The failure that must leave the window before this client may try again: the 10th-newest
// among the others (OFFSET kLoginMaxFailures - 1). No row means there is room.
constexpr char kSelectLoginBoundarySql[] =
    "SELECT failed_at FROM login_failures "
    "WHERE username_key = ? AND client_key = ? AND failed_at > ? AND id <> ? "
    "ORDER BY failed_at DESC, id DESC LIMIT 1 OFFSET ?";
// The same boundary for the two limits that do not depend on the pair: one client whatever the
// usernames, one username whatever the clients.
constexpr char kSelectClientBoundarySql[] =
    "SELECT failed_at FROM login_failures "
    "WHERE client_key = ? AND failed_at > ? AND id <> ? "
    "ORDER BY failed_at DESC, id DESC LIMIT 1 OFFSET ?";
constexpr char kSelectUsernameBoundarySql[] =
    "SELECT failed_at FROM login_failures "
    "WHERE username_key = ? AND failed_at > ? AND id <> ? "
    "ORDER BY failed_at DESC, id DESC LIMIT 1 OFFSET ?";
constexpr char kDeleteLoginAttemptSql[] = "DELETE FROM login_failures WHERE id = ?";
constexpr char kSelectLoginUserSql[] =
    "SELECT id, password_hash, disabled_at IS NOT NULL AS disabled FROM users WHERE username = ?";

struct LoginLimits {
    int per_address;
    int per_username;
};

// Which limit the attempt just recorded runs into, if any: the failure that must leave the
// window first (the latest boundary of the limits that are full), and the message to give.
struct Refusal {
    TimePoint boundary;
    const char* message;
};

std::optional<TimePoint> Boundary(db::Lease& lease, const char* sql, const std::string& key,
                                  int64_t attempt_id, TimePoint attempt_at, int limit) {
    db::Rows rows = lease.Query(sql, key, attempt_at - kLoginFailureWindow, attempt_id, limit - 1);
    if (!rows.Next()) return std::nullopt;
    return rows.Time("failed_at");
}

std::optional<Refusal> ThrottleRefusal(db::Lease& lease, const ThrottleKey& key,
                                       const LoginLimits& limits, int64_t attempt_id,
                                       TimePoint attempt_at) {
    // The client's own limit first: it is what a flood from one address runs into, and it does
    // not depend on which usernames the flood tries.
    if (const std::optional<TimePoint> boundary =
            Boundary(lease, kSelectClientBoundarySql, key.client_key, attempt_id, attempt_at,
                     limits.per_address)) {
        return Refusal{*boundary, "too many failed logins from your address; try again later"};
    }
    {
        db::Rows rows =
            lease.Query(kSelectLoginBoundarySql, key.username_key, key.client_key,
                        attempt_at - kLoginFailureWindow, attempt_id, kLoginMaxFailures - 1);
        if (rows.Next()) {
            return Refusal{rows.Time("failed_at"),
                           "too many failed logins for this account from your address; "
                           "try again later"};
        }
    }
    if (const std::optional<TimePoint> boundary =
            Boundary(lease, kSelectUsernameBoundarySql, key.username_key, attempt_id, attempt_at,
                     limits.per_username)) {
        return Refusal{*boundary, "too many failed logins for this account; try again later"};
    }
    return std::nullopt;
}

// The attempt is recorded before the password is checked and counted against the others
// afterwards, so concurrent guesses on many hosts see each other and cannot overshoot. The
// recorded row is the failure unless the login succeeds (which clears it).
LoginCandidate RecordAttempt(db::Pool& pool, const ThrottleKey& key, const LoginLimits& limits,
                             std::string_view username, TimePoint attempt_at) {
    const auto refused = [&](const Refusal& refusal) {
        ApiError error(ErrorCode::kRateLimited, refusal.message);
        error.retry_after_s =
            static_cast<int>(LoginRetryAfterSeconds(refusal.boundary, attempt_at));
        return error;
    };
    return db::WithLease(pool, [&](db::Lease& lease) {
        // A limit that is full already refuses with reads alone (no row has id 0): a flood from
        // one address then costs three index range scans per attempt and no write.
        if (const std::optional<Refusal> refusal =
                ThrottleRefusal(lease, key, limits, 0, attempt_at)) {
            throw refused(*refusal);
        }
        const int64_t attempt_id =
            lease.Insert(kInsertLoginAttemptSql, key.username_key, key.client_key, attempt_at);
        if (const std::optional<Refusal> refusal =
                ThrottleRefusal(lease, key, limits, attempt_id, attempt_at)) {
            // A refused attempt is not a guess: it must not extend the lock-out.
            lease.Execute(kDeleteLoginAttemptSql, attempt_id);
            throw refused(*refusal);
        }
        LoginCandidate found;
        found.attempt_id = attempt_id;
        db::Rows rows = lease.Query(kSelectLoginUserSql, username);
        if (rows.Next()) {
            found.user_id = rows.Int("id");
            found.password_hash = rows.String("password_hash");
            found.disabled = rows.Bool("disabled");
        }
        return found;
    });
}

// ---- Registration throttle ---------------------------------------------------------------

constexpr char kInsertRegistrationAttemptSql[] =
    "INSERT INTO registration_attempts (client_key, attempted_at) VALUES (?, ?)";
constexpr char kSelectRegistrationBoundarySql[] =
    "SELECT attempted_at FROM registration_attempts "
    "WHERE client_key = ? AND attempted_at > ? AND id <> ? "
    "ORDER BY attempted_at DESC, id DESC LIMIT 1 OFFSET ?";
constexpr char kDeleteRegistrationAttemptSql[] = "DELETE FROM registration_attempts WHERE id = ?";

// Recorded before the password is hashed, like a login attempt; returns the attempt's id.
std::optional<TimePoint> RegistrationBoundary(db::Lease& lease, const std::string& client_key,
                                              int limit, int64_t attempt_id, TimePoint now) {
    db::Rows rows = lease.Query(kSelectRegistrationBoundarySql, client_key,
                                now - kRegistrationWindow, attempt_id, limit - 1);
    if (!rows.Next()) return std::nullopt;
    return rows.Time("attempted_at");
}

int64_t RecordRegistration(db::Lease& lease, const std::string& client_key, int limit,
                           TimePoint now) {
    // As for logins: a full window refuses with a read alone, a race is caught after the write.
    std::optional<TimePoint> boundary = RegistrationBoundary(lease, client_key, limit, 0, now);
    int64_t attempt_id = 0;
    if (!boundary) {
        attempt_id = lease.Insert(kInsertRegistrationAttemptSql, client_key, now);
        boundary = RegistrationBoundary(lease, client_key, limit, attempt_id, now);
        if (!boundary) return attempt_id;
        lease.Execute(kDeleteRegistrationAttemptSql, attempt_id);
    }
    ApiError error(ErrorCode::kRateLimited,
                   "too many registrations from your address; try again later");
    const int64_t wait =
        std::chrono::ceil<std::chrono::seconds>(*boundary + kRegistrationWindow - now).count();
    error.retry_after_s = static_cast<int>(wait < 1 ? 1 : wait);
    throw error;
}

constexpr char kClearLoginFailuresSql[] =
    "DELETE FROM login_failures WHERE username_key = ? AND client_key = ?";
constexpr char kUpgradePasswordHashSql[] =
    "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ? AND password_hash = ?";

// ---- Authenticate ------------------------------------------------------------------------

// Joined with users so the role is read fresh with the token: granting or revoking admin takes
// effect on the next request, like a logout.
// It also carries the user columns the common handlers show (credits, membership, the
// profile), so an authenticated read is this one round trip.
constexpr char kSelectSessionSql[] =
    "SELECT u.id, u.username, u.email, u.role, u.credits, u.member_expired_at, u.created_at, "
    "(SELECT version FROM catalog_version WHERE id = 1) AS catalog_version, "
    "LOWER(HEX(t.token_hash)) AS token_hash "
    "FROM auth_tokens t JOIN users u ON u.id = t.user_id "
    "WHERE t.token_hash = UNHEX(?) AND t.revoked_at IS NULL AND t.expires_at > ? "
    "AND u.disabled_at IS NULL";

}  // namespace

std::string_view ToSql(Role role) {
    switch (role) {
        case Role::kUser:
            return "user";
        case Role::kAdmin:
            return "admin";
    }
    INKSTONE_INVARIANT_FAILED("Role " + std::to_string(static_cast<int>(role)));
}

bool FromSql(std::string_view text, Role* role) {
    if (text == "user") {
        *role = Role::kUser;
    } else if (text == "admin") {
        *role = Role::kAdmin;
    } else {
        return false;
    }
    return true;
}

int64_t LoginRetryAfterSeconds(TimePoint boundary_failed_at, TimePoint now) {
    const auto remaining = boundary_failed_at + kLoginFailureWindow - now;
    const int64_t seconds = std::chrono::ceil<std::chrono::seconds>(remaining).count();
    return seconds < 1 ? 1 : seconds;
}

Session Accounts::Register(const NewAccount& account) const {
    // Cheap early answer that spares an argon2 run; the UNIQUE key below is what decides.
    const std::string client_key = ThrottleClientKey(account.remote_addr);
    const TimePoint attempted_at = clock_->Now();
    int64_t attempt_id = 0;
    const bool exists = db::WithLease(*pool_, [&](db::Lease& lease) {
        attempt_id =
            RecordRegistration(lease, client_key, config_.registrations_per_address, attempted_at);
        return lease.Query(kSelectUsernameTakenSql, account.username).Next();
    });
    if (exists) throw UsernameTaken();

    std::string password_hash;
    try {
        password_hash = HashPassword(account.password, HashWait());
    } catch (const ApiError&) {
        // Turned away before any work: not an attempt that should count against the address.
        db::WithLease(*pool_, [&](db::Lease& lease) {
            return lease.Execute(kDeleteRegistrationAttemptSql, attempt_id);
        });
        throw;
    }
    const TimePoint now = clock_->Now();
    return db::RetryOnAborted(*pool_, "auth.register", [&](db::Transaction& tx) {
        int64_t user_id = 0;
        try {
            user_id =
                tx.Insert(kInsertUserSql, account.username, account.email, password_hash, now, now);
        } catch (const db::DbError& e) {
            if (e.kind == db::ErrorKind::kDuplicate) throw UsernameTaken();
            throw;
        }
        std::optional<Session> session = OpenSession(tx.lease(), user_id, now, config_.token_ttl_s);
        INKSTONE_ASSERT(session.has_value(),
                        "user " + std::to_string(user_id) + " not visible in its transaction");
        return std::move(*session);
    });
}

Session Accounts::Login(const LoginAttempt& attempt) const {
    // No account can have these, so there is nothing to guess and nothing to count.
    if (UsernameError(attempt.username) || PasswordError(attempt.password)) {
        throw InvalidCredentials();
    }
    const ThrottleKey key{NormalizeUsername(attempt.username),
                          ThrottleClientKey(attempt.remote_addr)};
    const LoginLimits limits{config_.login_failures_per_address,
                             config_.login_failures_per_username};
    const LoginCandidate candidate =
        RecordAttempt(*pool_, key, limits, attempt.username, clock_->Now());

    // Unknown users cost the same argon2 run as known ones. On failure the recorded attempt
    // stays as the failure; an attempt turned away for want of a hashing slot checked nothing,
    // so it is no failure.
    bool ok = false;
    try {
        ok = candidate.user_id
                 ? VerifyPassword(candidate.password_hash, attempt.password, HashWait())
                 : DummyVerifyPassword(attempt.password, HashWait());
    } catch (const ApiError&) {
        db::WithLease(*pool_, [&](db::Lease& lease) {
            return lease.Execute(kDeleteLoginAttemptSql, candidate.attempt_id);
        });
        throw;
    }
    if (!ok) throw InvalidCredentials();
    // Told only after the password matched, so it reveals nothing to a guesser.
    if (candidate.disabled) throw AccountDisabled();

    std::optional<std::string> upgraded_hash;
    if (PasswordNeedsRehash(candidate.password_hash)) {
        try {
            upgraded_hash = HashPassword(attempt.password, HashWait());
        } catch (const ApiError&) {
            // The upgrade waits for the next login; this one succeeds without it.
        }
    }

    const TimePoint now = clock_->Now();
    return db::RetryOnAborted(*pool_, "auth.login", [&](db::Transaction& tx) {
        if (upgraded_hash) {
            // Guarded by the old hash so a concurrent password change is never undone.
            tx.Execute(kUpgradePasswordHashSql, *upgraded_hash, now, *candidate.user_id,
                       candidate.password_hash);
        }
        tx.Execute(kClearLoginFailuresSql, key.username_key, key.client_key);
        std::optional<Session> session =
            OpenSession(tx.lease(), *candidate.user_id, now, config_.token_ttl_s);
        // Deleted between the check and now: as good as never having existed.
        if (!session) throw InvalidCredentials();
        return std::move(*session);
    });
}

constexpr char kRevokeTokenSql[] =
    "UPDATE auth_tokens SET revoked_at = ? WHERE token_hash = UNHEX(?) AND revoked_at IS NULL";

void Accounts::Logout(std::string_view token_hash) const {
    const TimePoint now = clock_->Now();
    db::WithLease(
        *pool_, [&](db::Lease& lease) { return lease.Execute(kRevokeTokenSql, now, token_hash); });
}

std::optional<User> Accounts::FindUser(int64_t user_id) const {
    return db::WithLease(*pool_, [&](db::Lease& lease) { return SelectUser(lease, user_id); });
}

std::optional<http::Principal> Accounts::Authenticate(std::string_view bearer_token) const {
    const std::optional<std::string> token_hash = TokenHashHex(bearer_token);
    if (!token_hash) return std::nullopt;
    const TimePoint now = clock_->Now();
    return db::WithLease(*pool_, [&](db::Lease& lease) -> std::optional<http::Principal> {
        db::Rows rows = lease.Query(kSelectSessionSql, *token_hash, now);
        if (!rows.Next()) return std::nullopt;
        // The row was found by the digest, never by the token; comparing the digest again in
        // constant time guards against any collation or conversion surprise on the way.
        if (!ConstantTimeEquals(rows.String("token_hash"), *token_hash)) return std::nullopt;
        http::Principal principal;
        principal.user_id = rows.Int("id");
        principal.username = rows.String("username");
        principal.role = std::string(ToSql(rows.Enum<Role>("role")));
        principal.token_hash = *token_hash;
        principal.email = rows.OptionalString("email");
        principal.credits = rows.Int("credits");
        principal.member_expired_at = rows.OptionalTime("member_expired_at");
        principal.created_at = rows.Time("created_at");
        principal.catalog_version = rows.OptionalInt("catalog_version").value_or(0);
        return principal;
    });
}

constexpr char kRevokeUserTokensSql[] =
    "UPDATE auth_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL";

int64_t RevokeUserTokensIn(db::Transaction& tx, int64_t user_id, TimePoint now) {
    return static_cast<int64_t>(tx.Execute(kRevokeUserTokensSql, now, user_id));
}

User CallerOf(const http::Principal& principal) {
    User user;
    user.id = principal.user_id;
    user.username = principal.username;
    user.email = principal.email;
    INKSTONE_ASSERT(FromSql(principal.role, &user.role), "principal role " + principal.role);
    user.credits = principal.credits;
    user.member_expired_at = principal.member_expired_at;
    user.created_at = principal.created_at;
    return user;
}

constexpr char kSelectUserForUpdateSql[] =
    "SELECT id, username, role FROM users WHERE username = ? FOR UPDATE";
constexpr char kUpdateRoleSql[] = "UPDATE users SET role = ?, updated_at = ? WHERE id = ?";

RoleChangeResult Accounts::SetRole(std::string_view username, Role role) const {
    const TimePoint now = clock_->Now();
    return db::RetryOnAborted(*pool_, "admin.set_role", [&](db::Transaction& tx) {
        RoleChangeResult result;
        int64_t user_id = 0;
        {
            db::Rows rows = tx.Query(kSelectUserForUpdateSql, username);
            if (!rows.Next()) return result;
            result.username = rows.String("username");
            if (rows.Enum<Role>("role") == role) {
                result.change = RoleChange::kUnchanged;
                return result;
            }
            user_id = rows.Int("id");
        }
        tx.Execute(kUpdateRoleSql, role, now, user_id);
        result.change = RoleChange::kChanged;
        return result;
    });
}

constexpr char kPurgeTokensSql[] = "DELETE FROM auth_tokens WHERE expires_at < ? LIMIT ?";
constexpr char kPurgeLoginFailuresSql[] = "DELETE FROM login_failures WHERE failed_at < ? LIMIT ?";
constexpr char kPurgeRegistrationAttemptsSql[] =
    "DELETE FROM registration_attempts WHERE attempted_at < ? LIMIT ?";

int64_t PurgeExpiredAuthRows(db::Pool& pool, TimePoint now, std::chrono::seconds grace, int batch) {
    return db::WithLease(pool, [&](db::Lease& lease) {
        uint64_t deleted = lease.Execute(kPurgeTokensSql, now - grace, batch);
        deleted += lease.Execute(kPurgeLoginFailuresSql, now - kLoginFailureWindow, batch);
        deleted += lease.Execute(kPurgeRegistrationAttemptsSql, now - kRegistrationWindow, batch);
        return static_cast<int64_t>(deleted);
    });
}

}  // namespace inkstone::lib::accounts
