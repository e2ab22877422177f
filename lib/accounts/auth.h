#pragma once
/// Account primitives: password hashing (argon2id, libsodium), bearer tokens and the pure
/// validation rules for account fields. The DB-backed service that uses them (and the token
/// authenticator) is lib/accounts/accounts.h.
///
/// Every function here is thread-safe. libsodium is initialised on first use (sodium_init() is
/// itself idempotent and thread-safe); a failing initialisation throws std::runtime_error.
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "lib/base/compare.h"

namespace inkstone::lib::accounts {

// ---- Passwords ---------------------------------------------------------------------------

/// argon2id parameters for new hashes. Measured with a timing program on the development
/// machine (2 cores, libsodium 1.0.18, one verify at a time):
///   t=2 m=19 MiB 15.8 ms | t=3 m=19 MiB 21 ms | t=2 m=32 MiB 29 ms | t=3 m=32 MiB 38 ms |
///   t=2 m=64 MiB 61 ms   | t=3 m=64 MiB 82 ms
/// t=3, m=32 MiB (~38 ms per verify) is above OWASP's argon2id floor (m=19 MiB, t=2) and
/// leaves room under the ~100 ms login budget when both cores are busy. Each hash or verify
/// in flight holds `kPasswordMemLimit` bytes. Stored hashes carry their own parameters, so
/// changing these affects new hashes only; logins upgrade old ones (PasswordNeedsRehash).
inline constexpr unsigned long long kPasswordOpsLimit = 3;
inline constexpr size_t kPasswordMemLimit = size_t{32} << 20;

/// How long a hash or verify waits for one of the process's hashing slots (one per core) by
/// default (`auth.hash_wait_ms`).
inline constexpr std::chrono::milliseconds kDefaultHashWait{250};

/// An encoded argon2id hash (`$argon2id$v=19$m=32768,t=3,p=1$...`, < 128 ASCII chars).
/// Slow (~40 ms, CPU and memory bound): never call it while holding a pooled DB connection.
/// Runs in one of the process's hashing slots (one per core); when none frees up within
/// `max_wait` it throws base::ApiError 503 UNAVAILABLE with retry_after_s = 1 and hashes
/// nothing, so a flood cannot park every request thread here. Throws std::runtime_error when
/// libsodium cannot allocate the memory.
std::string HashPassword(std::string_view password,
                         std::chrono::milliseconds max_wait = kDefaultHashWait);

/// True iff `password` matches `stored_hash` (a malformed hash is a mismatch). As slow as
/// HashPassword, and bounded the same way; the comparison inside libsodium is constant-time.
bool VerifyPassword(std::string_view stored_hash, std::string_view password,
                    std::chrono::milliseconds max_wait = kDefaultHashWait);

/// Spends the same time as a VerifyPassword against a real account and returns false, so the
/// response time does not reveal whether a username exists.
bool DummyVerifyPassword(std::string_view password,
                         std::chrono::milliseconds max_wait = kDefaultHashWait);

/// True when `stored_hash` was made with other parameters or another algorithm than the ones
/// above (or is malformed), i.e. it should be replaced after a successful login.
bool PasswordNeedsRehash(std::string_view stored_hash);

// ---- Bearer tokens -----------------------------------------------------------------------

inline constexpr size_t kTokenBytes = 32;   ///< random bytes in a token (256 bits)
inline constexpr size_t kTokenLength = 43;  ///< base64url, no padding

/// A fresh token: 32 bytes from libsodium's CSPRNG, base64url without padding (43 chars).
std::string GenerateToken();

/// True iff `token` is exactly what GenerateToken produces: 43 chars of [A-Za-z0-9_-] that
/// decode canonically (zero padding bits) to 32 bytes. Cheap; run it before any DB access.
bool IsWellFormedToken(std::string_view token);

/// The session id stored for a token: SHA-256 of its 32 decoded bytes, as 64 lower-case hex
/// digits (stored as BINARY(32) via UNHEX). nullopt when the token is not well-formed.
std::optional<std::string> TokenHashHex(std::string_view token);

/// Constant-time equality for secrets and their digests (lib/base/compare.h).
using base::ConstantTimeEquals;

// ---- Validation (pure) -------------------------------------------------------------------

inline constexpr size_t kUsernameMinChars = 3;
inline constexpr size_t kUsernameMaxChars = 32;
inline constexpr size_t kPasswordMinChars = 8;
inline constexpr size_t kPasswordMaxChars = 128;
inline constexpr size_t kEmailMaxChars = 254;

/// Each returns nullopt when the value is acceptable, else a message for people naming the
/// rule it breaks (for a 422 with `field`).
/// Username: 3–32 characters of [A-Za-z0-9_].
std::optional<std::string> UsernameError(std::string_view username);
/// Password: valid UTF-8, 8–128 code points, no NUL; anything else is allowed.
std::optional<std::string> PasswordError(std::string_view password);
/// Email (optional field, checked only when given): valid UTF-8, at most 254 code points,
/// exactly one `@` with something on both sides, no whitespace or control characters.
std::optional<std::string> EmailError(std::string_view email);

/// The case-folded username used for lookups that are not done by the collation (the login
/// throttle). ASCII lower-case; meaningful for valid usernames only.
std::string NormalizeUsername(std::string_view username);

/// The client part of the login throttle key, from REMOTE_ADDR: an IPv4 address as is (also
/// when IPv4-mapped), an IPv6 address reduced to its /64 (`2001:db8:1:2::/64`: one subscriber
/// gets a whole /64, so per-address counting would be trivial to dodge), anything unparsable
/// as its first 64 bytes.
std::string ThrottleClientKey(std::string_view remote_addr);

}  // namespace inkstone::lib::accounts
