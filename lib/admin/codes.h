#pragma once
/// Redemption codes (兑换码, docs/admin-api.md "Redemption codes"): an admin creates a batch of
/// N codes, each worth `credits` or `days` of membership, with an expiry and a note; a user
/// redeems one with POST /credit/redeem.
///
/// A code is 20 symbols of kCodeAlphabet (31 symbols without 0/O/1/I/L: 20 × log2(31) ≈ 99
/// random bits from libsodium's CSPRNG), shown as `XXXXX-XXXXX-XXXXX-XXXXX` and stored
/// normalised (upper case, no separators) under a UNIQUE key.
///
/// A code is used exactly once whatever the concurrency: the redeem transaction locks the user's
/// row first (Wallet::LockAccountIn, the order every wallet path takes), then claims the code
/// with one conditional `UPDATE ... WHERE used_at IS NULL` (joined with its batch: not disabled,
/// not expired), and writes the REDEEM ledger row (credits) or the REDEEM membership grant
/// (days) in the same transaction; both are UNIQUE on the code's id, so a second success is
/// impossible even if the claim were bypassed. Of N concurrent redeems of one code exactly one
/// succeeds and every other is 409 CODE_USED.
///
/// Failed redeems (unknown, used, expired or disabled codes) are rows in `redeem_failures`,
/// counted per user and per client address in a sliding window (`redeem.*` config, like the
/// login throttle): past either limit the next redeem is 429 TOO_MANY_ATTEMPTS with Retry-After,
/// checked before the code is looked at, so a valid code is refused too until the window has
/// room. The count is read before the attempt and the failure written after it, so concurrent
/// failures can overshoot a limit by at most the requests in flight at that moment.
///
/// Every admin write (create, disable) records its audit row (lib/admin/audit.h) in the same
/// transaction; the API handlers (handlers/admin_codes.cpp) and inkstone-admin call the same
/// functions. Thread-safe (no state). Errors: ApiError for what a client may see (404, 409,
/// 422, 429); db::DbError when the database fails.
#include <json/value.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/admin/audit.h"
#include "lib/base/clock.h"
#include "lib/base/config.h"
#include "lib/db/db.h"
#include "lib/http/paging.h"

namespace inkstone::lib::admin {

/// The symbols of a code: digits and upper-case letters without 0, O, 1, I and L.
inline constexpr std::string_view kCodeAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
inline constexpr size_t kCodeSymbols = 20;  ///< 20 × log2(31) ≈ 99 bits
inline constexpr size_t kCodeGroup = 5;     ///< shown in groups of 5 joined by '-'
inline constexpr int kMaxBatchCodes = 10000;
inline constexpr int64_t kMaxCodeCredits = 1'000'000'000;
inline constexpr int kMaxCodeDays = 3650;
inline constexpr size_t kMaxNoteChars = 255;

/// A fresh code, normalised (kCodeSymbols symbols of kCodeAlphabet, uniform, from the CSPRNG).
std::string NewCode();
/// `XXXXX-XXXXX-XXXXX-XXXXX` of a normalised code.
std::string DisplayCode(std::string_view code);
/// What a user typed, normalised: dashes and white space dropped, letters upper-cased. nullopt
/// when the rest is not exactly kCodeSymbols symbols of kCodeAlphabet (no code can be it).
std::optional<std::string> NormalizeCode(std::string_view input);

/// `YYYY-MM-DD` (the code works through the end of that UTC day: 23:59:59Z) or an ISO-8601 time
/// `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`. nullopt for anything else.
std::optional<base::TimePoint> ParseExpiry(std::string_view text);

/// A batch to create: `count` codes worth exactly one of `credits` (1..1e9) or `days`
/// (1..3650), redeemable until `expires_at` (inclusive; in the future, at most 10 years ahead).
struct NewBatch {
    int count = 0;
    int64_t credits = 0;
    int days = 0;
    base::TimePoint expires_at;
    std::string note;  ///< 0..255 characters
};

/// POST /admin/codes/batches' body (`count`, `credits` | `days`, `expires_at`, `note`): 422 with
/// `field` for anything wrong. The `reason` is the caller's (ParseReason).
NewBatch ParseNewBatch(const Json::Value& body);

struct CreatedBatch {
    Json::Value batch;               ///< as ListBatches shows it
    std::vector<std::string> codes;  ///< display form, in creation order
};

/// Creates the batch in one transaction: the batch row, its codes (multi-row INSERTs of 500;
/// a chunk that hits the UNIQUE key, which is astronomically unlikely, is drawn again) and the
/// audit row `codes.create` (target `batch`; the codes themselves are not in the audit row).
/// 422 for a NewBatch outside the rules above (relative to the clock).
CreatedBatch CreateBatch(db::Pool& pool, const base::Clock& clock, const Actor& actor,
                         const NewBatch& batch, const std::string& reason);

/// GET /admin/codes/batches: one page, newest first, of `{"id", "note", "credits", "days",
/// "code_count", "used_count", "expires_at", "disabled", "disabled_at", "created_by",
/// "created_at"}`, with the usual paging fields.
Json::Value ListBatches(db::Pool& pool, const http::PageRequest& page);

/// GET /admin/codes/batches/{id}: `{"batch", "codes": [{"code", "used_by", "used_at"}], "total",
/// "page", "page_size"}` (codes in creation order, display form). 404 NOT_FOUND for an unknown id.
Json::Value GetBatch(db::Pool& pool, int64_t batch_id, const http::PageRequest& page);

/// The whole batch as CSV: the header `code,credits,days,expires_at,used_by,used_at` and one
/// line per code (display form, times ISO-8601 UTC, empty used_by/used_at when unused). 404
/// NOT_FOUND for an unknown id. A read: no audit row.
std::string ExportCsv(db::Pool& pool, int64_t batch_id);

/// Disables the batch (none of its unused codes can be redeemed any more) with the audit row
/// `codes.disable`. Already disabled: no change, no audit row. Returns the batch as
/// ListBatches shows it; 404 NOT_FOUND for an unknown id.
Json::Value DisableBatch(db::Pool& pool, const base::Clock& clock, const Actor& actor,
                         int64_t batch_id, const std::string& reason);

/// The failure limits of Redeem (config `redeem.*`).
struct RedeemLimits {
    int per_user = 10;
    int per_address = 30;
    std::chrono::seconds window{900};

    static RedeemLimits FromConfig(const base::RedeemConfig& config);
};

struct RedeemResult {
    int64_t credits_added = 0;
    int days_added = 0;
    int64_t balance = 0;  ///< the user's credits afterwards
    std::optional<base::TimePoint> member_expired_at;
};

/// POST /credit/redeem for `user_id` from `client_key` (accounts::ThrottleClientKey of the
/// client address): 429 TOO_MANY_ATTEMPTS (Retry-After) under the failure limits; 404
/// CODE_NOT_FOUND for an unknown or malformed code, 409 CODE_USED for a used one, 409
/// CODE_EXPIRED for one whose batch expired or was disabled (each recorded as a failure);
/// otherwise the code is claimed and its credits (a REDEEM ledger row) or days (a membership
/// extension from max(now, current expiry) and a REDEEM grant) given, in one transaction.
RedeemResult Redeem(db::Pool& pool, const base::Clock& clock, const RedeemLimits& limits,
                    int64_t user_id, const std::string& client_key, std::string_view input);

/// Deletes failed redeems older than `window`, at most `batch` per call; returns how many.
/// Safe on every host at once.
int64_t PurgeRedeemFailures(db::Pool& pool, base::TimePoint now, std::chrono::seconds window,
                            int batch);

}  // namespace inkstone::lib::admin
