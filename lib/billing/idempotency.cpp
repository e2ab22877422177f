#include "lib/billing/idempotency.h"

#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <sodium.h>

#include <memory>
#include <stdexcept>

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
    sql::PreparedStatement& select = lease.Prepare(alive_at ? kSelectLiveKeySql : kSelectKeySql);
    select.setUInt64(1, static_cast<uint64_t>(user_id));
    select.setString(2, key);
    if (alive_at) select.setString(3, base::FormatSqlDateTime(*alive_at));
    std::unique_ptr<sql::ResultSet> row(select.executeQuery());
    if (!row->next()) return std::nullopt;
    if (row->getString("request_hash").asStdString() != fingerprint) {
        throw base::ApiError(base::ErrorCode::kConflict,
                       "this Idempotency-Key was already used with a different request");
    }
    StoredResponse stored;
    stored.status = row->getInt("response_status");
    stored.body = row->getString("response_body").asStdString();
    // CompleteIdempotencyKey() runs in the transaction that inserted the row, so a visible row is complete.
    if (stored.status == 0) throw std::runtime_error("idempotency key visible before completion");
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
        throw base::ApiError::Validation(kIdempotencyHeader, "must be 1 to 128 printable ASCII characters");
    }
    return key;
}

std::string IdempotencyFingerprint(std::string_view endpoint, const Json::Value& body) {
    // jsoncpp keeps object members in a std::map, so ToJson writes keys sorted: canonical.
    std::string canonical(endpoint);
    canonical += '\n';
    canonical += http::ToJson(body);
    unsigned char digest[crypto_hash_sha256_BYTES];
    if (sodium_init() < 0) throw std::runtime_error("sodium_init failed");
    crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(canonical.data()),
                       canonical.size());
    char hex[crypto_hash_sha256_BYTES * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    return std::string(hex, crypto_hash_sha256_BYTES * 2);
}

std::optional<StoredResponse> ClaimIdempotencyKey(db::Lease& lease, int64_t user_id, const std::string& key,
                                    const std::string& fingerprint, base::TimePoint now) {
    if (fingerprint.size() != crypto_hash_sha256_BYTES * 2) {
        throw std::invalid_argument("idempotency fingerprint must be 64 hex digits");
    }
    sql::PreparedStatement& forget = lease.Prepare(kDeleteDeadKeySql);
    forget.setUInt64(1, static_cast<uint64_t>(user_id));
    forget.setString(2, key);
    forget.setString(3, base::FormatSqlDateTime(now));
    forget.executeUpdate();

    if (std::optional<StoredResponse> stored = Stored(lease, user_id, key, fingerprint)) {
        return stored;
    }
    sql::PreparedStatement& insert = lease.Prepare(kInsertKeySql);
    insert.setUInt64(1, static_cast<uint64_t>(user_id));
    insert.setString(2, key);
    insert.setString(3, fingerprint);
    insert.setString(4, base::FormatSqlDateTime(now));
    insert.setString(5, base::FormatSqlDateTime(now + kIdempotencyRetention));
    try {
        insert.executeUpdate();
        return std::nullopt;
    } catch (const sql::SQLException& e) {
        if (db::Classify(e) != db::ErrorKind::kDuplicate) throw;
    }
    // A concurrent request with this key committed while we waited on the primary key; under
    // READ COMMITTED this new read sees its row.
    std::optional<StoredResponse> stored = Stored(lease, user_id, key, fingerprint);
    if (!stored) throw std::runtime_error("idempotency key vanished after a duplicate-key error");
    return stored;
}

std::optional<StoredResponse> FindIdempotencyKey(db::Pool& pool, int64_t user_id, const std::string& key,
                                   const std::string& fingerprint, base::TimePoint now) {
    // Autocommit read: a key claimed by a request still in flight is not visible yet.
    return db::WithLease(
        pool, [&](db::Lease& lease) { return Stored(lease, user_id, key, fingerprint, now); });
}

void CompleteIdempotencyKey(db::Lease& lease, int64_t user_id, const std::string& key,
              const StoredResponse& response) {
    sql::PreparedStatement& update = lease.Prepare(kCompleteKeySql);
    update.setInt(1, response.status);
    update.setString(2, response.body);
    update.setUInt64(3, static_cast<uint64_t>(user_id));
    update.setString(4, key);
    if (update.executeUpdate() != 1) throw std::runtime_error("claimed idempotency key is gone");
}

int64_t PurgeExpiredIdempotencyKeys(db::Pool& pool, base::TimePoint now, int batch) {
    return db::WithLease(pool, [&](db::Lease& lease) {
        sql::PreparedStatement& purge = lease.Prepare(kPurgeKeysSql);
        purge.setString(1, base::FormatSqlDateTime(now));
        purge.setInt(2, batch);
        return static_cast<int64_t>(purge.executeUpdate());
    });
}

}  // namespace inkstone::lib::billing
