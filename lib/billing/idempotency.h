#pragma once
/// `Idempotency-Key` for POSTs that create something (README, "Credits, orders and
/// memberships"): the same key and request within 24 h get the first response (same status, same
/// body), the same key with another request is a 409 CONFLICT, and of two concurrent requests
/// with one key exactly one creates anything.
///
/// How: the key row (PRIMARY KEY (user_id, idem_key)) is inserted in the same transaction as
/// whatever the request creates, and the response is stored in it before that transaction
/// commits. A concurrent request with the same key blocks on the primary key until the first
/// commits (then reads its stored response) or rolls back (then goes on itself). Keys are
/// scoped to the user; a key is dead 24 h after its first use.
///
/// Thread-safe (no state). DB failures escape as db::DbError (inside a transaction, the caller's
/// RetryOnAborted retries the aborted ones).
#include <json/value.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lib/base/clock.h"
#include "lib/db/db.h"
#include "lib/http/message.h"

namespace inkstone::lib::billing {

inline constexpr char kIdempotencyHeader[] = "Idempotency-Key";
inline constexpr std::chrono::hours kIdempotencyRetention{24};
inline constexpr size_t kIdempotencyKeyMaxLength = 128;

/// The request's Idempotency-Key, or nullopt when the header is absent. A present key must be
/// 1–128 printable ASCII characters (0x20–0x7E), else ApiError 422 with field
/// "Idempotency-Key".
std::optional<std::string> IdempotencyKeyOf(const http::Request& request);

/// What makes two requests "the same": SHA-256 of `endpoint`, a newline, and the body as
/// canonical JSON (object keys sorted, no whitespace), so key order and spacing do not matter.
/// 64 lower-case hex digits.
std::string IdempotencyFingerprint(std::string_view endpoint, const Json::Value& body);

struct StoredResponse {
    int status = 0;
    std::string body;  ///< JSON text, exactly as first sent
};

/// Inside the creating transaction, before creating anything. nullopt: the key is now this
/// request's; create, then CompleteIdempotencyKey() in the same transaction. A response: the key's
/// first response for the same fingerprint (a replay): create nothing and send it. Throws ApiError
/// 409 CONFLICT when the key was first used for another request. A concurrent first use blocks
/// here until that one commits or rolls back.
std::optional<StoredResponse> ClaimIdempotencyKey(db::Lease& lease, int64_t user_id,
                                                  const std::string& key,
                                                  const std::string& fingerprint,
                                                  base::TimePoint now);

/// Outside any transaction, before work that must not be repeated for a replay (asking a
/// payment provider to create an order): the key's stored first response when the key is alive
/// and was used for the same fingerprint, nullopt when it is unused, dead or still being used by
/// a request in flight (Claim then decides). Throws ApiError 409 CONFLICT like Claim.
std::optional<StoredResponse> FindIdempotencyKey(db::Pool& pool, int64_t user_id,
                                                 const std::string& key,
                                                 const std::string& fingerprint,
                                                 base::TimePoint now);

/// A request's key and its fingerprint, as order creation takes them.
struct IdempotentRequest {
    std::string key;
    std::string fingerprint;  ///< IdempotencyFingerprint of the endpoint and the body
};

/// IdempotencyKeyOf(request) with the fingerprint of `endpoint` and the request's JSON body;
/// nullopt when the header is absent. ApiError 422 like IdempotencyKeyOf.
std::optional<IdempotentRequest> IdempotentRequestOf(const http::Request& request,
                                                     std::string_view endpoint);

/// Stores the response of a claimed key, in the transaction that claimed it.
void CompleteIdempotencyKey(db::Lease& lease, int64_t user_id, const std::string& key,
                            const StoredResponse& response);

/// Deletes up to `batch` keys that died before `now`; returns how many. Safe on every host.
int64_t PurgeExpiredIdempotencyKeys(db::Pool& pool, base::TimePoint now, int batch);

}  // namespace inkstone::lib::billing
