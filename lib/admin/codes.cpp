#include "lib/admin/codes.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <set>
#include <stdexcept>
#include <utility>

#include "lib/admin/users.h"
#include "lib/base/errors.h"
#include "lib/base/json.h"
#include "lib/base/utf8.h"
#include "lib/billing/wallet.h"
#include "lib/http/json_body.h"

namespace inkstone::lib::admin {
namespace {

using base::ApiError;
using base::ErrorCode;
using base::TimePoint;

// A batch as the list shows it, with how many of its codes are used.
constexpr char kSelectBatchSql[] =
    "SELECT b.id, b.note, b.credits, b.days, b.code_count, b.expires_at, b.disabled_at, "
    "b.created_by, b.created_at, (SELECT COUNT(*) FROM redeem_codes c WHERE c.batch_id = b.id "
    "AND c.used_at IS NOT NULL) AS used_count FROM redeem_batches b WHERE b.id = ?";
constexpr char kListBatchesSql[] =
    "SELECT b.id, b.note, b.credits, b.days, b.code_count, b.expires_at, b.disabled_at, "
    "b.created_by, b.created_at, (SELECT COUNT(*) FROM redeem_codes c WHERE c.batch_id = b.id "
    "AND c.used_at IS NOT NULL) AS used_count FROM redeem_batches b "
    "ORDER BY b.id DESC LIMIT ? OFFSET ?";
constexpr char kCountBatchesSql[] = "SELECT COUNT(*) AS n FROM redeem_batches";
constexpr char kInsertBatchSql[] =
    "INSERT INTO redeem_batches (note, credits, days, code_count, expires_at, created_by, "
    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)";
// One chunk of codes in one statement: the codes travel as one JSON array parameter, so the
// statement text (the prepared-statement cache key) is the same for every chunk size.
// JSON_TABLE: MariaDB 10.6+, MySQL 8.0+.
constexpr char kInsertCodesSql[] =
    "INSERT INTO redeem_codes (batch_id, code) SELECT ?, j.code FROM JSON_TABLE(?, '$[*]' "
    "COLUMNS (code VARCHAR(32) PATH '$')) AS j";
constexpr char kPageCodesSql[] =
    "SELECT code, used_by, used_at FROM redeem_codes WHERE batch_id = ? ORDER BY id "
    "LIMIT ? OFFSET ?";
constexpr char kAllCodesSql[] =
    "SELECT code, used_by, used_at FROM redeem_codes WHERE batch_id = ? ORDER BY id";
constexpr char kLockBatchSql[] = "SELECT disabled_at FROM redeem_batches WHERE id = ? FOR UPDATE";
constexpr char kDisableBatchSql[] = "UPDATE redeem_batches SET disabled_at = ? WHERE id = ?";

constexpr char kFindCodeSql[] =
    "SELECT c.id, c.used_at, b.credits, b.days, b.expires_at, b.disabled_at "
    "FROM redeem_codes c JOIN redeem_batches b ON b.id = c.batch_id WHERE c.code = ?";
constexpr char kCodeStateSql[] = "SELECT c.used_at FROM redeem_codes c WHERE c.id = ?";
// The claim: of any number of concurrent redeems of one code, exactly one changes the row
// (the others wait for its row lock, then see used_at set and change nothing).
constexpr char kClaimCodeSql[] =
    "UPDATE redeem_codes c JOIN redeem_batches b ON b.id = c.batch_id "
    "SET c.used_by = ?, c.used_at = ? "
    "WHERE c.id = ? AND c.used_at IS NULL AND b.disabled_at IS NULL AND b.expires_at >= ?";

constexpr char kInsertFailureSql[] =
    "INSERT INTO redeem_failures (user_id, client_key, failed_at) VALUES (?, ?, ?)";
// The failure that must leave the window before this user (client) may try again: the
// limit-th newest in the window. No row means there is room.
constexpr char kUserBoundarySql[] =
    "SELECT failed_at FROM redeem_failures WHERE user_id = ? AND failed_at > ? "
    "ORDER BY failed_at DESC, id DESC LIMIT 1 OFFSET ?";
constexpr char kClientBoundarySql[] =
    "SELECT failed_at FROM redeem_failures WHERE client_key = ? AND failed_at > ? "
    "ORDER BY failed_at DESC, id DESC LIMIT 1 OFFSET ?";
constexpr char kPurgeFailuresSql[] = "DELETE FROM redeem_failures WHERE failed_at < ? LIMIT ?";

constexpr size_t kInsertChunk = 500;
constexpr int kChunkAttempts = 3;
constexpr auto kMaxExpiryAhead = std::chrono::hours(24 * 3660);

Json::Value BatchRow(const db::Rows& row) {
    Json::Value json(Json::objectValue);
    json["id"] = Json::Int64{row.Int("id")};
    json["note"] = row.String("note");
    json["credits"] = Json::Int64{row.Int("credits")};
    json["days"] = Json::Int64{row.Int("days")};
    json["code_count"] = Json::Int64{row.Int("code_count")};
    json["used_count"] = Json::Int64{row.Int("used_count")};
    json["expires_at"] = base::FormatRfc3339(row.Time("expires_at"));
    const std::optional<TimePoint> disabled_at = row.OptionalTime("disabled_at");
    json["disabled"] = disabled_at.has_value();
    json["disabled_at"] = base::TimeOrNull(disabled_at);
    json["created_by"] = row.String("created_by");
    json["created_at"] = base::FormatRfc3339(row.Time("created_at"));
    return json;
}

Json::Value ReadBatch(db::Lease& lease, int64_t batch_id) {
    db::Rows rows = lease.Query(kSelectBatchSql, batch_id);
    if (!rows.Next()) throw ApiError(ErrorCode::kNotFound, "batch not found");
    return BatchRow(rows);
}

/// Uniform symbols of kCodeAlphabet from libsodium's CSPRNG, a buffer of random bytes at a
/// time: a byte below 248 (= 8 × 31) gives byte % 31, unbiased; the rest are dropped.
class SymbolSource {
  public:
    SymbolSource() {
        if (sodium_init() < 0) throw std::runtime_error("sodium_init failed");
    }
    char Next() {
        constexpr unsigned kLimit = 256 - 256 % kCodeAlphabet.size();
        for (;;) {
            if (pos_ == buf_.size()) {
                randombytes_buf(buf_.data(), buf_.size());
                pos_ = 0;
            }
            const unsigned byte = buf_[pos_++];
            if (byte < kLimit) return kCodeAlphabet[byte % kCodeAlphabet.size()];
        }
    }
    std::string Code() {
        std::string code(kCodeSymbols, ' ');
        for (char& c : code) c = Next();
        return code;
    }

  private:
    std::array<unsigned char, 512> buf_{};
    size_t pos_ = 512;
};

/// `count` codes, distinct among themselves and from `taken`.
std::vector<std::string> DrawCodes(SymbolSource& source, size_t count,
                                   std::set<std::string>* taken) {
    std::vector<std::string> codes;
    codes.reserve(count);
    while (codes.size() < count) {
        std::string code = source.Code();
        if (taken->insert(code).second) codes.push_back(std::move(code));
    }
    return codes;
}

std::string JsonArrayOf(const std::vector<std::string>& codes) {
    // Codes are alphanumeric: no escaping needed.
    std::string json = "[";
    for (size_t i = 0; i < codes.size(); ++i) {
        if (i > 0) json += ',';
        json += '"';
        json += codes[i];
        json += '"';
    }
    json += ']';
    return json;
}

bool ReadDigits(std::string_view text, size_t pos, size_t n, int* value) {
    if (pos + n > text.size()) return false;
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
        if (text[i] < '0' || text[i] > '9') return false;
        v = v * 10 + (text[i] - '0');
    }
    *value = v;
    return true;
}

ApiError CodeNotFound() {
    return ApiError::Specific(ErrorCode::kNotFound, "CODE_NOT_FOUND", "no such code");
}
ApiError CodeUsed() {
    return ApiError::Specific(ErrorCode::kConflict, "CODE_USED", "this code has been used");
}
ApiError CodeExpired() {
    return ApiError::Specific(ErrorCode::kConflict, "CODE_EXPIRED",
                              "this code has expired or was withdrawn");
}

template <class Key>
std::optional<TimePoint> Boundary(db::Lease& lease, const char* sql, const Key& key, TimePoint now,
                                  const RedeemLimits& limits, int limit) {
    db::Rows rows = lease.Query(sql, key, now - limits.window, limit - 1);
    if (!rows.Next()) return std::nullopt;
    return rows.Time("failed_at");
}

/// 429 when either limit is full: until the failure that must leave the window does.
void CheckThrottle(db::Pool& pool, const RedeemLimits& limits, int64_t user_id,
                   const std::string& client_key, TimePoint now) {
    const auto [boundary, message] = db::WithLease(pool, [&](db::Lease& lease) {
        if (std::optional<TimePoint> b =
                Boundary(lease, kClientBoundarySql, client_key, now, limits, limits.per_address)) {
            return std::make_pair(b, "too many failed redeems from your address; try again later");
        }
        return std::make_pair(
            Boundary(lease, kUserBoundarySql, user_id, now, limits, limits.per_user),
            "too many failed redeems; try again later");
    });
    if (!boundary) return;
    ApiError error = ApiError::Specific(ErrorCode::kRateLimited, "TOO_MANY_ATTEMPTS", message);
    const int64_t wait =
        std::chrono::ceil<std::chrono::seconds>(*boundary + limits.window - now).count();
    error.retry_after_s = static_cast<int>(std::max<int64_t>(wait, 1));
    error.extra["retry_after_s"] = error.retry_after_s;
    throw error;
}

void RecordFailure(db::Pool& pool, int64_t user_id, const std::string& client_key, TimePoint at) {
    db::WithLease(pool, [&](db::Lease& lease) {
        return lease.Insert(kInsertFailureSql, user_id, client_key, at);
    });
}

struct FoundCode {
    int64_t id = 0;
    bool used = false;
    int64_t credits = 0;
    int days = 0;
    TimePoint expires_at;
    bool disabled = false;
};

}  // namespace

std::string NewCode() {
    SymbolSource source;
    return source.Code();
}

std::string DisplayCode(std::string_view code) {
    std::string out;
    out.reserve(code.size() + code.size() / kCodeGroup);
    for (size_t i = 0; i < code.size(); ++i) {
        if (i > 0 && i % kCodeGroup == 0) out += '-';
        out += code[i];
    }
    return out;
}

std::optional<std::string> NormalizeCode(std::string_view input) {
    std::string code;
    for (const char c : input) {
        if (c == '-' || c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
        if (code.size() == kCodeSymbols) return std::nullopt;
        const char upper = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
        if (kCodeAlphabet.find(upper) == std::string_view::npos) return std::nullopt;
        code += upper;
    }
    if (code.size() != kCodeSymbols) return std::nullopt;
    return code;
}

std::optional<TimePoint> ParseExpiry(std::string_view text) {
    if (text.size() == 10) return base::ParseSqlDateTime(std::string(text) + " 23:59:59");
    if (text.size() < 20 || (text[10] != 'T' && text[10] != 't')) return std::nullopt;
    std::string local(text.substr(0, 19));
    local[10] = ' ';
    size_t pos = 19;
    if (text[pos] == '.') {
        size_t end = pos + 1;
        while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
        if (end == pos + 1 || end - pos - 1 > 6) return std::nullopt;
        local += text.substr(pos, end - pos);
        pos = end;
    }
    std::chrono::minutes offset{0};
    const std::string_view zone = text.substr(pos);
    if (zone == "Z" || zone == "z") {
        // UTC
    } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
        int hours = 0;
        int minutes = 0;
        if (!ReadDigits(zone, 1, 2, &hours) || !ReadDigits(zone, 4, 2, &minutes) || hours > 23 ||
            minutes > 59) {
            return std::nullopt;
        }
        offset = std::chrono::minutes(hours * 60 + minutes);
        if (zone[0] == '-') offset = -offset;
    } else {
        return std::nullopt;
    }
    const std::optional<TimePoint> t = base::ParseSqlDateTime(local);
    if (!t) return std::nullopt;
    return *t - offset;
}

NewBatch ParseNewBatch(const Json::Value& body) {
    const http::JsonFields fields(body);
    NewBatch batch;
    batch.count = static_cast<int>(fields.RequiredInt("count", 1, kMaxBatchCodes));
    batch.credits = fields.OptionalInt("credits", 1, kMaxCodeCredits).value_or(0);
    batch.days = static_cast<int>(fields.OptionalInt("days", 1, kMaxCodeDays).value_or(0));
    if ((batch.credits > 0) == (batch.days > 0)) {
        throw ApiError::Validation(batch.credits > 0 ? "days" : "credits",
                                   "give exactly one of credits and days");
    }
    const std::string expires = fields.RequiredString("expires_at", 1, 40);
    const std::optional<TimePoint> expires_at = ParseExpiry(expires);
    if (!expires_at) {
        throw ApiError::Validation("expires_at", "expires_at must be YYYY-MM-DD or an ISO time");
    }
    batch.expires_at = *expires_at;
    batch.note = fields.OptionalString("note", 0, kMaxNoteChars).value_or("");
    return batch;
}

CreatedBatch CreateBatch(db::Pool& pool, const base::Clock& clock, const Actor& actor,
                         const NewBatch& batch, const std::string& reason) {
    if (batch.count < 1 || batch.count > kMaxBatchCodes) {
        throw ApiError::Validation("count", "count must be 1 to " + std::to_string(kMaxBatchCodes));
    }
    if ((batch.credits > 0) == (batch.days > 0) || batch.credits < 0 || batch.days < 0) {
        throw ApiError::Validation("credits", "give exactly one of credits and days");
    }
    if (batch.credits > kMaxCodeCredits) {
        throw ApiError::Validation("credits", "credits must be 1 to 1000000000");
    }
    if (batch.days > kMaxCodeDays) {
        throw ApiError::Validation("days", "days must be 1 to " + std::to_string(kMaxCodeDays));
    }
    const TimePoint now = clock.Now();
    if (batch.expires_at <= now) {
        throw ApiError::Validation("expires_at", "expires_at must be in the future");
    }
    if (batch.expires_at > now + kMaxExpiryAhead) {
        throw ApiError::Validation("expires_at", "expires_at must be within 10 years");
    }
    if (!base::IsValidUtf8(batch.note) || base::Utf8Length(batch.note) > kMaxNoteChars) {
        throw ApiError::Validation("note", "note must be at most 255 characters");
    }
    SymbolSource source;
    return db::RetryOnAborted(pool, "admin.codes_create", [&](db::Transaction& tx) {
        const int64_t batch_id = tx.Insert(kInsertBatchSql, batch.note, batch.credits, batch.days,
                                           batch.count, batch.expires_at, actor.name, now);
        std::set<std::string> taken;
        std::vector<std::string> all;
        all.reserve(static_cast<size_t>(batch.count));
        for (size_t done = 0; done < static_cast<size_t>(batch.count);) {
            const size_t n = std::min(kInsertChunk, static_cast<size_t>(batch.count) - done);
            for (int attempt = 1;; ++attempt) {
                std::vector<std::string> chunk = DrawCodes(source, n, &taken);
                try {
                    const uint64_t inserted =
                        tx.Execute(kInsertCodesSql, batch_id, JsonArrayOf(chunk));
                    if (inserted != n) {
                        throw std::runtime_error("redeem code chunk: inserted " +
                                                 std::to_string(inserted) + " of " +
                                                 std::to_string(n));
                    }
                    all.insert(all.end(), chunk.begin(), chunk.end());
                    break;
                } catch (const db::DbError& e) {
                    // A code that already exists in another batch (about 2^-99 per code): the
                    // failed statement wrote nothing; draw the chunk again.
                    if (e.kind != db::ErrorKind::kDuplicate || attempt == kChunkAttempts) throw;
                }
            }
            done += n;
        }
        AuditEntry entry;
        entry.action = "codes.create";
        entry.target_type = "batch";
        entry.target_id = std::to_string(batch_id);
        entry.after["count"] = batch.count;
        entry.after["credits"] = Json::Int64{batch.credits};
        entry.after["days"] = batch.days;
        entry.after["expires_at"] = base::FormatRfc3339(batch.expires_at);
        entry.after["note"] = batch.note;
        entry.reason = reason;
        RecordAudit(tx, actor, entry, now);
        CreatedBatch created;
        created.batch = ReadBatch(tx.lease(), batch_id);
        created.codes.reserve(all.size());
        for (const std::string& code : all) created.codes.push_back(DisplayCode(code));
        return created;
    });
}

Json::Value ListBatches(db::Pool& pool, const http::PageRequest& page) {
    return db::WithLease(pool, [&](db::Lease& lease) {
        int64_t total = 0;
        {
            db::Rows count = lease.Query(kCountBatchesSql);
            if (count.Next()) total = count.Int("n");
        }
        Json::Value items(Json::arrayValue);
        db::Rows rows = lease.Query(kListBatchesSql, page.limit(), page.offset());
        while (rows.Next()) items.append(BatchRow(rows));
        return http::PageJson(std::move(items), total, page);
    });
}

Json::Value GetBatch(db::Pool& pool, int64_t batch_id, const http::PageRequest& page) {
    return db::WithLease(pool, [&](db::Lease& lease) {
        const Json::Value batch = ReadBatch(lease, batch_id);
        Json::Value codes(Json::arrayValue);
        db::Rows rows = lease.Query(kPageCodesSql, batch_id, page.limit(), page.offset());
        while (rows.Next()) {
            Json::Value code(Json::objectValue);
            code["code"] = DisplayCode(rows.String("code"));
            code["used_by"] = base::IntOrNull(rows.OptionalInt("used_by"));
            code["used_at"] = base::TimeOrNull(rows.OptionalTime("used_at"));
            codes.append(std::move(code));
        }
        Json::Value body = http::PageJson(std::move(codes), batch["code_count"].asInt64(), page);
        body["codes"] = body["items"];
        body.removeMember("items");
        body["batch"] = batch;
        return body;
    });
}

std::string ExportCsv(db::Pool& pool, int64_t batch_id) {
    return db::WithLease(pool, [&](db::Lease& lease) {
        const Json::Value batch = ReadBatch(lease, batch_id);
        const std::string tail = "," + std::to_string(batch["credits"].asInt64()) + "," +
                                 std::to_string(batch["days"].asInt64()) + "," +
                                 batch["expires_at"].asString() + ",";
        std::string csv = "code,credits,days,expires_at,used_by,used_at\n";
        csv.reserve(csv.size() + static_cast<size_t>(batch["code_count"].asInt64()) *
                                     (kCodeSymbols + 4 + tail.size() + 24));
        db::Rows rows = lease.Query(kAllCodesSql, batch_id);
        while (rows.Next()) {
            csv += DisplayCode(rows.String("code"));
            csv += tail;
            const std::optional<int64_t> used_by = rows.OptionalInt("used_by");
            if (used_by) csv += std::to_string(*used_by);
            csv += ',';
            const std::optional<TimePoint> used_at = rows.OptionalTime("used_at");
            if (used_at) csv += base::FormatRfc3339(*used_at);
            csv += '\n';
        }
        return csv;
    });
}

Json::Value DisableBatch(db::Pool& pool, const base::Clock& clock, const Actor& actor,
                         int64_t batch_id, const std::string& reason) {
    return db::RetryOnAborted(pool, "admin.codes_disable", [&](db::Transaction& tx) {
        bool disabled = false;
        {
            db::Rows rows = tx.Query(kLockBatchSql, batch_id);
            if (!rows.Next()) throw ApiError(ErrorCode::kNotFound, "batch not found");
            disabled = rows.OptionalTime("disabled_at").has_value();
        }
        if (!disabled) {
            const TimePoint now = clock.Now();
            tx.Execute(kDisableBatchSql, now, batch_id);
            AuditEntry entry;
            entry.action = "codes.disable";
            entry.target_type = "batch";
            entry.target_id = std::to_string(batch_id);
            entry.before["disabled"] = false;
            entry.after["disabled"] = true;
            entry.reason = reason;
            RecordAudit(tx, actor, entry, now);
        }
        return ReadBatch(tx.lease(), batch_id);
    });
}

RedeemLimits RedeemLimits::FromConfig(const base::RedeemConfig& config) {
    RedeemLimits limits;
    limits.per_user = config.failures_per_user;
    limits.per_address = config.failures_per_address;
    limits.window = std::chrono::seconds(config.failure_window_s);
    return limits;
}

RedeemResult Redeem(db::Pool& pool, const base::Clock& clock, const RedeemLimits& limits,
                    int64_t user_id, const std::string& client_key, std::string_view input) {
    CheckThrottle(pool, limits, user_id, client_key, clock.Now());
    const auto failed = [&](ApiError error) {
        RecordFailure(pool, user_id, client_key, clock.Now());
        return error;
    };

    const std::optional<std::string> code = NormalizeCode(input);
    if (!code) throw failed(CodeNotFound());
    const std::optional<FoundCode> found =
        db::WithLease(pool, [&](db::Lease& lease) -> std::optional<FoundCode> {
            db::Rows rows = lease.Query(kFindCodeSql, *code);
            if (!rows.Next()) return std::nullopt;
            FoundCode f;
            f.id = rows.Int("id");
            f.used = rows.OptionalTime("used_at").has_value();
            f.credits = rows.Int("credits");
            f.days = static_cast<int>(rows.Int("days"));
            f.expires_at = rows.Time("expires_at");
            f.disabled = rows.OptionalTime("disabled_at").has_value();
            return f;
        });
    if (!found) throw failed(CodeNotFound());
    if (found->used) throw failed(CodeUsed());
    if (found->disabled || found->expires_at < clock.Now()) throw failed(CodeExpired());

    const billing::Wallet wallet(pool, clock);
    const std::string description =
        "Redemption code ending " + code->substr(kCodeSymbols - kCodeGroup);
    std::optional<RedeemResult> result;
    try {
        result = db::RetryOnAborted(
            pool, "credit.redeem", [&](db::Transaction& tx) -> std::optional<RedeemResult> {
                // The user's row first, as every wallet path, then the code's.
                std::optional<billing::LockedAccount> account = wallet.LockAccountIn(tx, user_id);
                if (!account) throw ApiError(ErrorCode::kNotFound, "user not found");
                const TimePoint now = clock.Now();
                if (tx.Execute(kClaimCodeSql, user_id, now, found->id, now) == 0) {
                    return std::nullopt;
                }
                RedeemResult r;
                if (found->credits > 0) {
                    billing::LedgerLinks links;
                    links.related_redeem_code_id = found->id;
                    const billing::ChargeResult posted =
                        wallet.PostLockedIn(tx, *account, billing::LedgerType::kRedeem,
                                            found->credits, description, links);
                    r.credits_added = found->credits;
                    r.balance = posted.balance;
                } else {
                    MembershipGrant grant;
                    grant.days = found->days;
                    const TimePoint until = MembershipUntil(account->member_expired_at, grant, now);
                    GrantLinks links;
                    links.related_redeem_code_id = found->id;
                    ApplyMembershipGrantIn(tx, *account, grant, "REDEEM", until, links, now);
                    r.days_added = found->days;
                    r.balance = account->credits;
                }
                r.member_expired_at = account->member_expired_at;
                return r;
            });
    } catch (const db::DbError& e) {
        // The UNIQUE key on the code's ledger row or grant: someone else's redeem won.
        if (e.kind == db::ErrorKind::kDuplicate) throw failed(CodeUsed());
        throw;
    }
    if (result) return *result;
    // The claim changed nothing: used meanwhile, or its batch expired or was disabled.
    const bool used = db::WithLease(pool, [&](db::Lease& lease) {
        db::Rows rows = lease.Query(kCodeStateSql, found->id);
        return rows.Next() && rows.OptionalTime("used_at").has_value();
    });
    throw failed(used ? CodeUsed() : CodeExpired());
}

int64_t PurgeRedeemFailures(db::Pool& pool, TimePoint now, std::chrono::seconds window, int batch) {
    return db::WithLease(pool, [&](db::Lease& lease) {
        return static_cast<int64_t>(lease.Execute(kPurgeFailuresSql, now - window, batch));
    });
}

}  // namespace inkstone::lib::admin
