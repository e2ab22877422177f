#include "lib/generation/generations.h"

#include <json/reader.h>

#include <algorithm>
#include <charconv>
#include <memory>

#include "lib/base/assert.h"
#include "lib/base/errors.h"
#include "lib/base/metrics.h"
#include "lib/billing/money.h"
#include "lib/http/message.h"

namespace inkstone::lib::generation {
namespace {

constexpr char kListToolsSql[] =
    "SELECT tool_type, name, description, system_prompt, user_template FROM writing_tools "
    "WHERE active = 1 ORDER BY sort_order, id";
// An admin's per-model prices (sql/007_admin.sql); a model without a row costs its config price.
constexpr char kListModelPricesSql[] = "SELECT model, credits FROM model_prices";

// Both fair-use counts in one round trip (each subquery on its own index, as before).
constexpr char kCountLimitsSql[] =
    "SELECT w.recent, w.oldest, (SELECT COUNT(*) FROM generations WHERE user_id = ? "
    "AND status = 'RUNNING' AND kind <> 'image' AND heartbeat_at > ?) AS in_flight "
    "FROM (SELECT COUNT(*) AS recent, MIN(created_at) AS oldest FROM generations "
    "WHERE user_id = ? AND created_at > ?) w";
// The row carries what it will be charged; the charge (the CONSUME ledger row) points at the
// generation through related_generation_id, so no UPDATE links them afterwards.
constexpr char kInsertGenerationSql[] =
    "INSERT INTO generations (user_id, kind, tool_type, provider, model, stream, status, prompt, "
    "credits_charged, heartbeat_at, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, 'RUNNING', ?, ?, ?, ?, ?)";

constexpr char kLockGenerationSql[] =
    "SELECT g.user_id, g.status, g.refund_id, COALESCE(g.charge_id, (SELECT t.id FROM "
    "credit_transactions t WHERE t.related_generation_id = g.id AND t.type = 'CONSUME')) "
    "AS charge_id FROM generations g WHERE g.id = ? FOR UPDATE";
// A NULL content keeps the stored text (and its deltas): recovery keeps what a dead worker stored.
constexpr char kFinishSql[] =
    "UPDATE generations SET status = ?, end_reason = ?, delivered = ?, "
    "content = COALESCE(?, content), deltas = IF(?, ?, deltas), "
    "delta_ends = IF(?, ?, delta_ends), "
    "first_delta_at = IF(? AND first_delta_at IS NULL, ?, first_delta_at), images = ?, "
    "finish_reason = ?, input_tokens = ?, output_tokens = ?, upstream_request_id = ?, "
    "error_code = ?, updated_at = ?, finished_at = ? WHERE id = ? AND status = 'RUNNING' "
    "AND refund_id IS NULL";
// The flush, the heartbeat and the cancel check in one statement: 0 rows means stop.
constexpr char kSaveProgressSql[] =
    "UPDATE generations SET content = CONCAT(COALESCE(content, ''), ?), "
    "delta_ends = CONCAT(COALESCE(delta_ends, ''), ?), deltas = ?, "
    "first_delta_at = IF(? > 0 AND first_delta_at IS NULL, ?, first_delta_at), "
    "heartbeat_at = ?, updated_at = ? "
    "WHERE id = ? AND status = 'RUNNING' AND cancel_requested_at IS NULL";
constexpr char kRequestCancelSql[] =
    "UPDATE generations SET cancel_requested_at = ? WHERE id = ? AND user_id = ? "
    "AND status = 'RUNNING' AND kind <> 'image' AND cancel_requested_at IS NULL";
constexpr char kCancelStateSql[] =
    "SELECT status, kind FROM generations WHERE id = ? AND user_id = ?";
constexpr char kCancelsRequestedSql[] =
    "SELECT id FROM generations WHERE status = 'RUNNING' AND cancel_requested_at IS NOT NULL";
constexpr char kSelectFinishedSql[] =
    "SELECT g.refund_id, u.credits FROM generations g JOIN users u ON u.id = g.user_id "
    "WHERE g.id = ?";
constexpr char kLinkRefundSql[] = "UPDATE generations SET refund_id = ? WHERE id = ?";
constexpr char kSelectCreditsSql[] = "SELECT credits FROM users WHERE id = ?";

constexpr char kSetTaskSql[] =
    "UPDATE generations SET task_id = ?, task_status = ?, updated_at = ? WHERE id = ? "
    "AND status = 'RUNNING'";
// A NULL status keeps the last one upstream reported (a failed poll tells nothing new).
constexpr char kTouchTaskSql[] =
    "UPDATE generations SET task_status = COALESCE(?, task_status), updated_at = ? WHERE id = ? "
    "AND status = 'RUNNING'";

#define RECORD_COLUMNS                                                                           \
    "id, user_id, kind, tool_type, model, status, prompt, content, images, credits_charged, "    \
    "refund_id, finish_reason, input_tokens, output_tokens, task_id, error_code, created_at, "   \
    "finished_at, stream, deltas, delta_ends, first_delta_at, cancel_requested_at, end_reason, " \
    "task_status, updated_at"
constexpr char kFindTaskSql[] =
    "SELECT " RECORD_COLUMNS " FROM generations WHERE task_id = ? AND user_id = ?";
constexpr char kPendingTasksSql[] =
    "SELECT " RECORD_COLUMNS
    " FROM generations WHERE status = 'RUNNING' AND kind = 'image' "
    "AND task_id IS NOT NULL AND updated_at < ? ORDER BY updated_at LIMIT ?";
constexpr char kFindSql[] = "SELECT " RECORD_COLUMNS
                            ", (SELECT credits FROM users WHERE users.id = generations.user_id) "
                            "AS balance FROM generations WHERE id = ? AND user_id = ?";
constexpr char kStaleSql[] =
    "SELECT id, credits_charged, first_delta_at FROM generations WHERE status = 'RUNNING' AND "
    "((kind <> 'image' AND heartbeat_at < ?) OR (kind = 'image' AND task_id IS NULL AND "
    "created_at < ?)) ORDER BY id LIMIT ?";
constexpr char kHistorySql[] =
    "SELECT " RECORD_COLUMNS
    " FROM generations WHERE user_id = ? ORDER BY id DESC LIMIT ? OFFSET ?";
constexpr char kHistoryCountSql[] = "SELECT COUNT(*) AS total FROM generations WHERE user_id = ?";
#undef RECORD_COLUMNS

std::optional<std::string> ImagesToJson(const std::vector<std::string>& urls) {
    if (urls.empty()) return std::nullopt;
    Json::Value array(Json::arrayValue);
    for (const std::string& url : urls) array.append(url);
    return base::ToJson(array);
}

/// The `images` column: a JSON array of URLs, as ImagesToJson wrote it.
std::vector<std::string> ImagesFromJson(int64_t generation_id, const std::string& text) {
    Json::Value array;
    Json::CharReaderBuilder builder;
    std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
    std::string errors;
    const bool parsed = reader->parse(text.data(), text.data() + text.size(), &array, &errors);
    INKSTONE_ASSERT(parsed && array.isArray(),
                    "generation " + std::to_string(generation_id) + ": images is not an array");
    std::vector<std::string> out;
    for (const Json::Value& url : array) {
        INKSTONE_ASSERT(url.isString(), "generation " + std::to_string(generation_id) +
                                            ": an image URL is not a string");
        out.push_back(url.asString());
    }
    return out;
}

GenerationRecord ReadRecord(const db::Rows& row) {
    GenerationRecord r;
    r.id = row.Int("id");
    r.user_id = row.Int("user_id");
    r.kind = row.Enum<ModelKind>("kind");
    r.tool_type = row.OptionalString("tool_type");
    r.model = row.String("model");
    r.status = row.Enum<GenerationStatus>("status");
    r.prompt = row.String("prompt");
    r.content = row.OptionalString("content").value_or("");
    if (std::optional<std::string> images = row.OptionalString("images")) {
        r.image_urls = ImagesFromJson(r.id, *images);
    }
    r.credits_charged = row.Int("credits_charged");
    r.refunded = !row.IsNull("refund_id");
    r.finish_reason = row.OptionalString("finish_reason").value_or("");
    r.input_tokens = row.Int("input_tokens");
    r.output_tokens = row.Int("output_tokens");
    r.task_id = row.OptionalString("task_id").value_or("");
    r.error_code = row.OptionalString("error_code").value_or("");
    r.created_at = row.Time("created_at");
    r.finished_at = row.OptionalTime("finished_at");
    r.stream = row.Bool("stream");
    r.deltas = row.Int("deltas");
    r.delta_ends = row.OptionalString("delta_ends").value_or("");
    r.first_delta_at = row.OptionalTime("first_delta_at");
    r.cancel_requested = !row.IsNull("cancel_requested_at");
    r.end_reason = row.OptionalEnum<EndReason>("end_reason");
    r.task_status = row.OptionalString("task_status").value_or("");
    r.updated_at = row.Time("updated_at");
    return r;
}

/// The generation of a stored Idempotency-Key response, as Start wrote it.
int64_t ReplayedGenerationId(const billing::StoredResponse& stored) {
    Json::Value body;
    Json::CharReaderBuilder builder;
    std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
    std::string errors;
    const bool parsed =
        reader->parse(stored.body.data(), stored.body.data() + stored.body.size(), &body, &errors);
    // Another endpoint's key with the same fingerprint cannot happen: the endpoint is in it.
    INKSTONE_ASSERT(parsed && body.isObject() && body["generation_id"].isIntegral(),
                    "idempotency key of a generation without generation_id: " + stored.body);
    return body["generation_id"].asInt64();
}

int64_t Credits(db::Lease& lease, int64_t user_id) {
    db::Rows row = lease.Query(kSelectCreditsSql, user_id);
    // generations.user_id is a foreign key: the user of a generation exists.
    INKSTONE_ASSERT(row.Next(), "no user " + std::to_string(user_id));
    return row.Int("credits");
}

/// The conditional `RUNNING -> verdict` UPDATE; true when this call made the change.
bool UpdateFinished(db::Lease& lease, int64_t generation_id, const Verdict& verdict,
                    const GenerationOutput& output, base::TimePoint now) {
    const bool text = output.content.has_value();
    return lease.Execute(kFinishSql, verdict.status, verdict.reason, output.delivered,
                         output.content, text, output.deltas, text, output.delta_ends,
                         output.delivered, now, ImagesToJson(output.image_urls),
                         output.finish_reason, output.input_tokens, output.output_tokens,
                         output.upstream_request_id.substr(0, 64), output.error_code.substr(0, 64),
                         now, now, generation_id) == 1;
}

int64_t CeilSeconds(std::chrono::system_clock::duration d) {
    auto s = std::chrono::duration_cast<std::chrono::seconds>(d + std::chrono::seconds(1) -
                                                              std::chrono::nanoseconds(1));
    return std::max<int64_t>(1, s.count());
}

/// 429 past the per-minute or (text/vision) in-flight limit; members too.
void CheckLimits(db::Transaction& tx, const GenerationLimits& limits, int64_t user_id,
                 ModelKind kind, base::TimePoint now) {
    db::Rows window = tx.Query(kCountLimitsSql, user_id, now - limits.heartbeat_stale, user_id,
                               now - std::chrono::seconds(60));
    INKSTONE_ASSERT(window.Next(), "the fair-use counts returned no row");
    if (window.Int("recent") >= limits.per_minute) {
        base::ApiError error(
            base::ErrorCode::kRateLimited,
            "too many generations: at most " + std::to_string(limits.per_minute) + " per minute");
        error.retry_after_s = CeilSeconds(window.Time("oldest") + std::chrono::seconds(60) - now);
        throw error;
    }
    if (kind != ModelKind::kImage && window.Int("in_flight") >= limits.in_flight) {
        base::ApiError error(base::ErrorCode::kRateLimited,
                             "too many generations at once: at most " +
                                 std::to_string(limits.in_flight) + " in flight");
        error.retry_after_s = 1;
        throw error;
    }
}

}  // namespace

std::string_view ToSql(ModelKind kind) {
    switch (kind) {
        case ModelKind::kText:
            return "text";
        case ModelKind::kVision:
            return "vision";
        case ModelKind::kImage:
            return "image";
    }
    INKSTONE_INVARIANT_FAILED("ModelKind " + std::to_string(static_cast<int>(kind)));
}

bool FromSql(std::string_view text, ModelKind* kind) {
    for (ModelKind k : {ModelKind::kText, ModelKind::kVision, ModelKind::kImage}) {
        if (text == ToSql(k)) {
            *kind = k;
            return true;
        }
    }
    return false;
}

std::vector<ModelInfo> ModelCatalog(const base::Config& config) {
    const int64_t base = config.credit.cost_per_generation;
    std::vector<ModelInfo> models = {
        {"qwen", "qwen-turbo", ModelKind::kText, base},
        {"qwen", "qwen-plus", ModelKind::kText, base},
        {"qwen", "qwen-max", ModelKind::kText, base},
        {"qwen", "qwen-vl-plus", ModelKind::kVision, base},
        {"qwen", "wanx-v1", ModelKind::kImage, base},
    };
    // "qwen-max=20,wanx-v1=30"
    std::string_view spec = config.ai.model_credits;
    while (!spec.empty()) {
        size_t comma = spec.find(',');
        std::string_view item = spec.substr(0, comma);
        spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (item.empty()) continue;
        size_t eq = item.find('=');
        if (eq == std::string_view::npos) {
            throw base::ConfigError("ai.model_credits: expected model=credits, got \"" +
                                    std::string(item) + "\"");
        }
        std::string_view name = item.substr(0, eq);
        std::string_view number = item.substr(eq + 1);
        int64_t credits = -1;
        auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), credits);
        if (ec != std::errc() || ptr != number.data() + number.size() || credits < 0 ||
            credits > 1000000) {
            throw base::ConfigError("ai.model_credits: credits for " + std::string(name) +
                                    " must be an integer from 0 to 1000000");
        }
        auto it = std::find_if(models.begin(), models.end(),
                               [&](const ModelInfo& m) { return m.model == name; });
        if (it == models.end()) {
            throw base::ConfigError("ai.model_credits: unknown model " + std::string(name));
        }
        it->credits = credits;
    }
    return models;
}

std::string WritingTool::Render(std::string_view prompt) const {
    static constexpr std::string_view kPlaceholder = "{prompt}";
    std::string out;
    std::string_view rest = user_template;
    bool placed = false;
    for (size_t at; (at = rest.find(kPlaceholder)) != std::string_view::npos;) {
        out.append(rest.substr(0, at));
        out.append(prompt);
        rest.remove_prefix(at + kPlaceholder.size());
        placed = true;
    }
    out.append(rest);
    if (!placed) {
        if (!out.empty()) out += "\n";
        out.append(prompt);
    }
    return out;
}

std::vector<size_t> DeltaEnds(int64_t generation_id, std::string_view delta_ends,
                              size_t text_size) {
    std::vector<size_t> ends;
    size_t previous = 0;
    while (!delta_ends.empty()) {
        const size_t comma = delta_ends.find(',');
        INKSTONE_ASSERT(
            comma != std::string_view::npos,
            "generation " + std::to_string(generation_id) + ": delta_ends unterminated");
        size_t end = 0;
        const auto [ptr, ec] = std::from_chars(delta_ends.data(), delta_ends.data() + comma, end);
        INKSTONE_ASSERT(ec == std::errc() && ptr == delta_ends.data() + comma && end >= previous &&
                            end <= text_size,
                        "generation " + std::to_string(generation_id) + ": bad delta end " +
                            std::string(delta_ends.substr(0, comma)));
        ends.push_back(end);
        previous = end;
        delta_ends.remove_prefix(comma + 1);
    }
    return ends;
}

const ModelInfo* FindModel(const std::vector<ModelInfo>& models, std::string_view model) {
    for (const ModelInfo& m : models) {
        if (m.model == model) return &m;
    }
    return nullptr;
}

namespace {

WritingTool ReadTool(const db::Rows& row) {
    return WritingTool{row.String("tool_type"), row.String("name"), row.String("description"),
                       row.String("system_prompt"), row.String("user_template")};
}

}  // namespace

std::vector<WritingTool> Generations::ListTools() const {
    return db::WithLease(pool_, [](db::Lease& lease) {
        std::vector<WritingTool> tools;
        db::Rows rows = lease.Query(kListToolsSql);
        while (rows.Next()) tools.push_back(ReadTool(rows));
        return tools;
    });
}

namespace {

std::map<std::string, int64_t, std::less<>> ReadModelPrices(db::Pool& pool) {
    return db::WithLease(pool, [](db::Lease& lease) {
        std::map<std::string, int64_t, std::less<>> prices;
        db::Rows rows = lease.Query(kListModelPricesSql);
        while (rows.Next()) prices[rows.String("model")] = rows.Int("credits");
        return prices;
    });
}

}  // namespace

std::shared_ptr<const Generations::ToolCache> Generations::Catalog(int64_t catalog_version) const {
    const auto now = std::chrono::steady_clock::now();
    {
        std::lock_guard<std::mutex> lock(tools_->mutex);
        if (tools_->loaded && tools_->version == catalog_version &&
            now - tools_->loaded_at < kToolsFreshFor) {
            auto copy = std::make_shared<ToolCache>();
            copy->tools = tools_->tools;
            copy->model_credits = tools_->model_credits;
            return copy;
        }
    }
    // One read of the whole (short) lists serves every start on this worker until the catalog
    // moves. Read outside the lock: with the database away, starts fail on their own, not in a
    // queue behind one another.
    auto fresh = std::make_shared<ToolCache>();
    fresh->tools = ListTools();
    fresh->model_credits = ReadModelPrices(pool_);
    std::lock_guard<std::mutex> lock(tools_->mutex);
    tools_->tools = fresh->tools;
    tools_->model_credits = fresh->model_credits;
    tools_->version = catalog_version;
    tools_->loaded = true;
    tools_->loaded_at = now;
    return fresh;
}

std::optional<WritingTool> Generations::FindTool(std::string_view tool_type,
                                                 int64_t catalog_version) const {
    const std::shared_ptr<const ToolCache> catalog = Catalog(catalog_version);
    for (const WritingTool& tool : catalog->tools) {
        if (tool.tool_type == tool_type) return tool;
    }
    return std::nullopt;
}

int64_t Generations::ModelCredits(const ModelInfo& model, int64_t catalog_version) const {
    const std::shared_ptr<const ToolCache> catalog = Catalog(catalog_version);
    const auto found = catalog->model_credits.find(model.model);
    return found == catalog->model_credits.end() ? model.credits : found->second;
}

std::vector<ModelInfo> Generations::PricedModels(const std::vector<ModelInfo>& models) const {
    const auto prices = ReadModelPrices(pool_);
    std::vector<ModelInfo> priced = models;
    for (ModelInfo& model : priced) {
        const auto found = prices.find(model.model);
        if (found != prices.end()) model.credits = found->second;
    }
    return priced;
}

StartedGeneration Generations::Start(const NewGeneration& g) const {
    return db::RetryOnAborted(pool_, "generation.start", [&](db::Transaction& tx) {
        const base::TimePoint now = clock_.Now();
        if (g.idempotency) {
            // Before the user lock, as order creation does: a concurrent retry waits here for
            // the first request's commit, then finds its generation.
            if (std::optional<billing::StoredResponse> stored = billing::ClaimIdempotencyKey(
                    tx.lease(), g.user_id, g.idempotency->key, g.idempotency->fingerprint, now)) {
                StartedGeneration replay;
                replay.replayed = true;
                replay.generation_id = ReplayedGenerationId(*stored);
                return replay;
            }
        }
        // The user row lock (the wallet's) serialises one user's starts on every host, so the
        // limit checks and the charge below see every other start of this user that committed
        // before; the charge then reuses the locked row (no second read).
        std::optional<billing::LockedAccount> account = wallet_.LockAccountIn(tx, g.user_id);
        if (!account) throw base::ApiError(base::ErrorCode::kNotFound, "user not found");
        // Read under the lock that an admin's disable also takes: a start that reached here
        // with a token read before the disable committed is still refused.
        if (account->disabled) {
            throw base::ApiError::Specific(base::ErrorCode::kForbidden, "ACCOUNT_DISABLED",
                                           "this account is disabled");
        }
        const bool member = billing::IsMember(account->member_expired_at, now);
        CheckLimits(tx, limits_, g.user_id, g.kind, now);

        const int64_t credits = CreditsToCharge(member, g.cost);
        StartedGeneration started;
        started.generation_id =
            tx.Insert(kInsertGenerationSql, g.user_id, g.kind, g.tool_type, g.provider, g.model,
                      g.stream, g.prompt, credits, now, now, now);
        started.balance = account->credits;
        if (credits > 0) {
            // The wallet's debit is the one 402 check (INSUFFICIENT_CREDITS with `required` and
            // `balance`): it throws, and the row inserted above rolls back with it.
            const std::string description =
                "AI生成 " + g.model + (g.tool_type ? " · " + *g.tool_type : std::string());
            const billing::ChargeResult charge =
                wallet_.ChargeLockedIn(tx, *account, credits, description, started.generation_id);
            started.charge_id = charge.charge_id;
            started.credits_charged = credits;
            started.balance = charge.balance;
        } else {
            // No debit writes the user's row: the limits checked above held only under a lock
            // that, on Galera, another node does not see. Writing the row lets certification
            // abort one of two starts that both passed the checks on different nodes.
            billing::WriteLockUser(tx.lease(), g.user_id);
        }
        if (g.idempotency) {
            Json::Value body;
            body["generation_id"] = Json::Int64(started.generation_id);
            billing::CompleteIdempotencyKey(tx.lease(), g.user_id, g.idempotency->key,
                                            billing::StoredResponse{202, base::ToJson(body)});
        }
        return started;
    });
}

FinishResult Generations::Finish(int64_t generation_id, const Verdict& verdict,
                                 const GenerationOutput& output,
                                 std::optional<int64_t> balance_after_charge) const {
    const FinishResult result = [&] {
        if (!verdict.refund) {
            if (std::optional<FinishResult> done =
                    FinishWithoutRefund(generation_id, verdict, output, balance_after_charge)) {
                return *done;
            }
        }
        try {
            return FinishOnce(generation_id, verdict, output);
        } catch (const billing::AlreadyRefunded&) {
            // Someone refunded this charge outside a finish (a concurrent path lost nothing:
            // our transaction rolled back). Run again: finished without a refund.
            return FinishOnce(generation_id, verdict, output);
        }
    }();
    if (result.finished_now) {
        base::metrics::Count("inkstone_generations_total", {{"status", ToSql(verdict.status)}});
    }
    return result;
}

std::optional<FinishResult> Generations::FinishWithoutRefund(
    int64_t generation_id, const Verdict& verdict, const GenerationOutput& output,
    std::optional<int64_t> balance_after_charge) const {
    // Without a refund the status change is the only write, and one conditional UPDATE is
    // atomic on its own: no transaction (BEGIN, locking SELECT, COMMIT, autocommit back) is
    // needed. Anything unusual (finished by someone else meanwhile, a lock wait) goes the
    // transactional way, which reads the row under its lock and retries.
    try {
        return db::WithLease(pool_, [&](db::Lease& lease) -> std::optional<FinishResult> {
            if (!UpdateFinished(lease, generation_id, verdict, output, clock_.Now())) {
                return std::nullopt;
            }
            if (balance_after_charge) {
                // The UPDATE matched a RUNNING row without a refund, so none happened: the
                // balance is the one the start answered (no read-back).
                FinishResult result;
                result.finished_now = true;
                result.balance = *balance_after_charge;
                return result;
            }
            db::Rows row = lease.Query(kSelectFinishedSql, generation_id);
            INKSTONE_ASSERT(row.Next(),
                            "finished generation " + std::to_string(generation_id) + " vanished");
            FinishResult result;
            result.finished_now = true;
            result.refunded = !row.IsNull("refund_id");
            result.balance = row.Int("credits");
            return result;
        });
    } catch (const db::DbError& e) {
        if (e.kind != db::ErrorKind::kAborted) throw;
        return std::nullopt;
    }
}

FinishResult Generations::FinishOnce(int64_t generation_id, const Verdict& verdict,
                                     const GenerationOutput& output) const {
    return db::RetryOnAborted(pool_, "generation.finish", [&](db::Transaction& tx) {
        db::Rows row = tx.Query(kLockGenerationSql, generation_id);
        if (!row.Next()) throw base::ApiError(base::ErrorCode::kNotFound, "generation not found");
        const int64_t user_id = row.Int("user_id");
        const bool running = row.Enum<GenerationStatus>("status") == GenerationStatus::kRunning;
        const std::optional<int64_t> charge_id = row.OptionalInt("charge_id");
        FinishResult result;
        result.refunded = !row.IsNull("refund_id");
        if (running) {
            result.finished_now =
                UpdateFinished(tx.lease(), generation_id, verdict, output, clock_.Now());
        }
        if (result.finished_now && verdict.refund && charge_id) {
            const std::optional<int64_t> refund_id = wallet_.RefundIn(
                tx, *charge_id, "AI生成失败退款 #" + std::to_string(generation_id));
            if (refund_id) tx.Execute(kLinkRefundSql, *refund_id, generation_id);
            result.refunded = true;
        }
        result.balance = Credits(tx.lease(), user_id);
        return result;
    });
}

std::vector<bool> Generations::SaveProgress(const std::vector<ProgressFlush>& flushes) const {
    return db::RetryOnAborted(pool_, "generation.progress", [&](db::Transaction& tx) {
        const base::TimePoint now = clock_.Now();
        std::vector<bool> kept;
        kept.reserve(flushes.size());
        for (const ProgressFlush& f : flushes) {
            kept.push_back(tx.Execute(kSaveProgressSql, f.text, f.delta_ends, f.deltas, f.deltas,
                                      now, now, now, f.generation_id) == 1);
        }
        return kept;
    });
}

CancelOutcome Generations::RequestCancel(int64_t user_id, int64_t generation_id) const {
    return db::WithLease(pool_, [&](db::Lease& lease) {
        if (lease.Execute(kRequestCancelSql, clock_.Now(), generation_id, user_id) == 1) {
            return CancelOutcome::kRequested;
        }
        db::Rows row = lease.Query(kCancelStateSql, generation_id, user_id);
        if (!row.Next() || row.Enum<ModelKind>("kind") == ModelKind::kImage) {
            throw base::ApiError(base::ErrorCode::kNotFound, "generation not found");
        }
        // Still RUNNING: its stop was requested before (asking twice is the same stop).
        return row.Enum<GenerationStatus>("status") == GenerationStatus::kRunning
                   ? CancelOutcome::kRequested
                   : CancelOutcome::kEnded;
    });
}

std::vector<int64_t> Generations::CancelsRequested() const {
    return db::WithLease(pool_, [&](db::Lease& lease) {
        std::vector<int64_t> ids;
        db::Rows rows = lease.Query(kCancelsRequestedSql);
        while (rows.Next()) ids.push_back(rows.Int("id"));
        return ids;
    });
}

std::optional<GenerationRecord> Generations::Find(int64_t user_id, int64_t generation_id) const {
    return db::WithLease(pool_, [&](db::Lease& lease) -> std::optional<GenerationRecord> {
        db::Rows row = lease.Query(kFindSql, generation_id, user_id);
        if (!row.Next()) return std::nullopt;
        GenerationRecord record = ReadRecord(row);
        record.balance = row.Int("balance");
        return record;
    });
}

void Generations::SetTask(int64_t generation_id, const std::string& task_id,
                          std::string_view task_status) const {
    db::WithLease(pool_, [&](db::Lease& lease) {
        lease.Execute(kSetTaskSql, task_id, task_status, clock_.Now(), generation_id);
    });
}

void Generations::TouchTask(int64_t generation_id,
                            std::optional<std::string_view> task_status) const {
    db::WithLease(pool_, [&](db::Lease& lease) {
        lease.Execute(kTouchTaskSql, task_status, clock_.Now(), generation_id);
    });
}

std::optional<GenerationRecord> Generations::FindTask(int64_t user_id,
                                                      std::string_view task_id) const {
    return db::WithLease(pool_, [&](db::Lease& lease) -> std::optional<GenerationRecord> {
        db::Rows row = lease.Query(kFindTaskSql, task_id, user_id);
        if (!row.Next()) return std::nullopt;
        return ReadRecord(row);
    });
}

std::vector<GenerationRecord> Generations::PendingTasks(std::chrono::seconds min_age,
                                                        int limit) const {
    return db::WithLease(pool_, [&](db::Lease& lease) {
        std::vector<GenerationRecord> out;
        db::Rows rows = lease.Query(kPendingTasksSql, clock_.Now() - min_age, limit);
        while (rows.Next()) out.push_back(ReadRecord(rows));
        return out;
    });
}

int64_t Generations::RecoverStale(int batch) const {
    struct Stale {
        int64_t id;
        int64_t credits_charged;
        bool delivered;
    };
    const std::vector<Stale> stale = db::WithLease(pool_, [&](db::Lease& lease) {
        std::vector<Stale> out;
        const base::TimePoint now = clock_.Now();
        db::Rows rows = lease.Query(kStaleSql, now - limits_.heartbeat_stale,
                                    now - limits_.image_submit_stale, batch);
        while (rows.Next()) {
            out.push_back(
                {rows.Int("id"), rows.Int("credits_charged"), !rows.IsNull("first_delta_at")});
        }
        return out;
    });
    int64_t finished = 0;
    for (const Stale& s : stale) {
        GenerationFacts lost;
        lost.ending = Ending::kWorkerLost;
        lost.credits_charged = s.credits_charged;
        lost.delivered = s.delivered;
        GenerationOutput output;  // no content: the text the dead worker stored is kept
        output.delivered = s.delivered;
        output.error_code = "worker_lost";
        if (Finish(s.id, Settle(lost), output).finished_now) ++finished;
    }
    return finished;
}

HistoryPage Generations::History(int64_t user_id, int64_t limit, int64_t offset) const {
    return db::WithLease(pool_, [&](db::Lease& lease) {
        HistoryPage page;
        db::Rows total = lease.Query(kHistoryCountSql, user_id);
        if (total.Next()) page.total = total.Int("total");
        db::Rows rows = lease.Query(kHistorySql, user_id, limit, offset);
        while (rows.Next()) page.items.push_back(ReadRecord(rows));
        return page;
    });
}

}  // namespace inkstone::lib::generation
