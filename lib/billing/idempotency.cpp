#include "lib/billing/idempotency.h"

#include <sodium.h>

#include <stdexcept>
#include <utility>

#include "lib/base/assert.h"
#include "lib/base/errors.h"

namespace inkstone::lib::billing {
namespace {

// A dead key is removed before the claim so that the key can start a new life.
constexpr char kDeleteDeadKeySql[] =
    "DELETE FROM idempotency_keys WHERE user_id = ? AND idem_key = ? AND expires_at <= ?";
constexpr char kSelectKeySql[] =
    "SELECT LOWER(HEX(request_hash)) AS request_hash, response_status, response_body "
    "FROM idempotency_keys "
    "WHERE user_id = ? AND idem_key = ?";
constexpr char kSelectLiveKeySql[] =
    "SELECT LOWER(HEX(request_hash)) AS request_hash, response_status, response_body "
    "FROM idempotency_keys "
    "WHERE user_id = ? AND idem_key = ? AND expires_at > ?";
constexpr char kInsertKeySql[] =
    "INSERT INTO idempotency_keys (user_id, idem_key, request_hash, response_status, "
    "response_body, created_at, expires_at) VALUES (?, ?, UNHEX(?), 0, '', ?, ?)";
constexpr char kCompleteKeySql[] =
    "UPDATE idempotency_keys SET response_status = ?, response_body = ? "
    "WHERE user_id = ? AND idem_key = ?";
constexpr char kPurgeKeysSql[] = "DELETE FROM idempotency_keys WHERE expires_at < ? LIMIT ?";

/// The stored response for the key, checked against this request; nullopt when there is none.
/// With `alive_at`, a key dead by then counts as none.
std::optional<StoredResponse> Stored(db::Lease& lease, int64_t user_id, const std::string& key,
                                     const std::string& fingerprint,
                                     std::optional<base::TimePoint> alive_at = std::nullopt) {
    db::Rows row = alive_at ? lease.Query(kSelectLiveKeySql, user_id, key, *alive_at)
                            : lease.Query(kSelectKeySql, user_id, key);
    if (!row.Next()) return std::nullopt;
    if (row.String("request_hash") != fingerprint) {
        throw base::ApiError(base::ErrorCode::kConflict,
                             "this Idempotency-Key was already used with a different request");
    }
    StoredResponse stored;
    stored.status = static_cast<int>(row.Int("response_status"));
    stored.body = row.String("response_body");
    // CompleteIdempotencyKey() runs in the transaction that inserted the row, so a visible row is
    // complete.
    INKSTONE_ASSERT(stored.status != 0, "idempotency key of user " + std::to_string(user_id) +
                                            " visible before completion");
    return stored;
}

}  // namespace

std::optional<std::string> IdempotencyKeyOf(const http::Request& request) {
    const auto it = request.headers.find("idempotency-key");
    if (it == request.headers.end()) return std::nullopt;
    const std::string& key = it->second;
    bool ok = !key.empty() && key.size() <= kIdempotencyKeyMaxLength;
    for (char c : key) ok = ok && c >= 0x20 && c <= 0x7E;
    if (!ok) {
        throw base::ApiError::Validation(kIdempotencyHeader,
                                         "must be 1 to 128 printable ASCII characters");
    }
    return key;
}

std::string IdempotencyFingerprint(std::string_view endpoint, const Json::Value& body) {
    // jsoncpp keeps object members in a std::map, so ToJson writes keys sorted: canonical.
    std::string canonical(endpoint);
    canonical += '\n';
    canonical += base::ToJson(body);
    unsigned char digest[crypto_hash_sha256_BYTES];
    if (sodium_init() < 0) throw std::runtime_error("sodium_init failed");
    crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(canonical.data()),
                       canonical.size());
    char hex[crypto_hash_sha256_BYTES * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    return std::string(hex, crypto_hash_sha256_BYTES * 2);
}

std::optional<IdempotentRequest> IdempotentRequestOf(const http::Request& request,
                                                     std::string_view endpoint) {
    std::optional<std::string> key = IdempotencyKeyOf(request);
    if (!key) return std::nullopt;
    return IdempotentRequest{std::move(*key), IdempotencyFingerprint(endpoint, request.json)};
}

std::optional<StoredResponse> ClaimIdempotencyKey(db::Lease& lease, int64_t user_id,
                                                  const std::string& key,
                                                  const std::string& fingerprint,
                                                  base::TimePoint now) {
    if (fingerprint.size() != crypto_hash_sha256_BYTES * 2) {
        throw std::invalid_argument("idempotency fingerprint must be 64 hex digits");
    }
    lease.Execute(kDeleteDeadKeySql, user_id, key, now);
    if (std::optional<StoredResponse> stored = Stored(lease, user_id, key, fingerprint)) {
        return stored;
    }
    try {
        lease.Execute(kInsertKeySql, user_id, key, fingerprint, now, now + kIdempotencyRetention);
        return std::nullopt;
    } catch (const db::DbError& e) {
        if (e.kind != db::ErrorKind::kDuplicate) throw;
    }
    // A concurrent request with this key committed while we waited on the primary key; under
    // READ COMMITTED this new read sees its row.
    std::optional<StoredResponse> stored = Stored(lease, user_id, key, fingerprint);
    INKSTONE_ASSERT(stored.has_value(), "idempotency key of user " + std::to_string(user_id) +
                                            " vanished after a duplicate-key error");
    return stored;
}

std::optional<StoredResponse> FindIdempotencyKey(db::Pool& pool, int64_t user_id,
                                                 const std::string& key,
                                                 const std::string& fingerprint,
                                                 base::TimePoint now) {
    // Autocommit read: a key claimed by a request still in flight is not visible yet.
    return db::WithLease(
        pool, [&](db::Lease& lease) { return Stored(lease, user_id, key, fingerprint, now); });
}

void CompleteIdempotencyKey(db::Lease& lease, int64_t user_id, const std::string& key,
                            const StoredResponse& response) {
    const uint64_t updated =
        lease.Execute(kCompleteKeySql, response.status, response.body, user_id, key);
    INKSTONE_ASSERT(updated == 1,
                    "claimed idempotency key of user " + std::to_string(user_id) + " is gone");
}

int64_t PurgeExpiredIdempotencyKeys(db::Pool& pool, base::TimePoint now, int batch) {
    return db::WithLease(pool, [&](db::Lease& lease) {
        return static_cast<int64_t>(lease.Execute(kPurgeKeysSql, now, batch));
    });
}

}  // namespace inkstone::lib::billing
