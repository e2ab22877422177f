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
    std::optional<int64_t> user_id;
    std::string password_hash;
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
constexpr char kDeleteLoginAttemptSql[] = "DELETE FROM login_failures WHERE id = ?";
constexpr char kSelectLoginUserSql[] = "SELECT id, password_hash FROM users WHERE username = ?";

std::optional<TimePoint> ThrottleBoundary(db::Lease& lease, const ThrottleKey& key,
                                          int64_t attempt_id, TimePoint attempt_at) {
    db::Rows rows =
        lease.Query(kSelectLoginBoundarySql, key.username_key, key.client_key,
                    attempt_at - kLoginFailureWindow, attempt_id, kLoginMaxFailures - 1);
    if (!rows.Next()) return std::nullopt;
    return rows.Time("failed_at");
}

// The attempt is recorded before the password is checked and counted against the others
// afterwards, so concurrent guesses on many hosts see each other and cannot overshoot. The
// recorded row is the failure unless the login succeeds (which clears it).
LoginCandidate RecordAttempt(db::Pool& pool, const ThrottleKey& key, std::string_view username,
                             TimePoint attempt_at) {
    return db::WithLease(pool, [&](db::Lease& lease) {
        const int64_t attempt_id =
            lease.Insert(kInsertLoginAttemptSql, key.username_key, key.client_key, attempt_at);
        if (const std::optional<TimePoint> boundary =
                ThrottleBoundary(lease, key, attempt_id, attempt_at)) {
            // A refused attempt is not a guess: it must not extend the lock-out.
            lease.Execute(kDeleteLoginAttemptSql, attempt_id);
            ApiError error(ErrorCode::kRateLimited,
                           "too many failed logins for this account from your address; "
                           "try again later");
            error.retry_after_s = static_cast<int>(LoginRetryAfterSeconds(*boundary, attempt_at));
            throw error;
        }
        LoginCandidate found;
        db::Rows rows = lease.Query(kSelectLoginUserSql, username);
        if (rows.Next()) {
            found.user_id = rows.Int("id");
            found.password_hash = rows.String("password_hash");
        }
        return found;
    });
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
    "LOWER(HEX(t.token_hash)) AS token_hash "
    "FROM auth_tokens t JOIN users u ON u.id = t.user_id "
    "WHERE t.token_hash = UNHEX(?) AND t.revoked_at IS NULL AND t.expires_at > ?";

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
    const bool exists = db::WithLease(*pool_, [&](db::Lease& lease) {
        return lease.Query(kSelectUsernameTakenSql, account.username).Next();
    });
    if (exists) throw UsernameTaken();

    const std::string password_hash = HashPassword(account.password);
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
        std::optional<Session> session = OpenSession(tx.lease(), user_id, now, token_ttl_s_);
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
    const LoginCandidate candidate = RecordAttempt(*pool_, key, attempt.username, clock_->Now());

    // Unknown users cost the same argon2 run as known ones. On failure the recorded attempt
    // stays as the failure.
    const bool ok = candidate.user_id ? VerifyPassword(candidate.password_hash, attempt.password)
                                      : DummyVerifyPassword(attempt.password);
    if (!ok) throw InvalidCredentials();

    std::optional<std::string> upgraded_hash;
    if (PasswordNeedsRehash(candidate.password_hash)) {
        upgraded_hash = HashPassword(attempt.password);
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
            OpenSession(tx.lease(), *candidate.user_id, now, token_ttl_s_);
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
        return principal;
    });
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

int64_t PurgeExpiredAuthRows(db::Pool& pool, TimePoint now, std::chrono::seconds grace, int batch) {
    return db::WithLease(pool, [&](db::Lease& lease) {
        uint64_t deleted = lease.Execute(kPurgeTokensSql, now - grace, batch);
        deleted += lease.Execute(kPurgeLoginFailuresSql, now - kLoginFailureWindow, batch);
        return static_cast<int64_t>(deleted);
    });
}

}  // namespace inkstone::lib::accounts
