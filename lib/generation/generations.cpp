#include "lib/generation/generations.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <json/reader.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <stdexcept>

#include "lib/base/errors.h"
#include "lib/http/message.h"

namespace inkstone::lib::generation {
namespace {

constexpr char kListToolsSql[] =
    "SELECT tool_type, name, description, system_prompt, user_template FROM writing_tools "
    "WHERE active = 1 ORDER BY sort_order, id";
constexpr char kFindToolSql[] =
    "SELECT tool_type, name, description, system_prompt, user_template FROM writing_tools "
    "WHERE tool_type = ? AND active = 1";

// Start: the user row lock serialises one user's starts on every host, so the limit checks
// and the charge below see every other start of this user that committed before.
constexpr char kLockUserSql[] =
    "SELECT credits, member_expired_at FROM users WHERE id = ? FOR UPDATE";
// Both fair-use counts in one round trip (each subquery on its own index, as before).
constexpr char kCountLimitsSql[] =
    "SELECT w.recent, w.oldest, (SELECT COUNT(*) FROM generations WHERE user_id = ? "
    "AND status = 'RUNNING' AND kind <> 'image' AND created_at > ?) AS in_flight "
    "FROM (SELECT COUNT(*) AS recent, MIN(created_at) AS oldest FROM generations "
    "WHERE user_id = ? AND created_at > ?) w";
constexpr char kInsertGenerationSql[] =
    "INSERT INTO generations (user_id, kind, tool_type, provider, model, stream, status, prompt, "
    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'RUNNING', ?, ?, ?)";
constexpr char kLinkChargeSql[] =
    "UPDATE generations SET charge_id = ?, credits_charged = ? WHERE id = ?";

constexpr char kLockGenerationSql[] =
    "SELECT user_id, status, charge_id, refund_id FROM generations WHERE id = ? FOR UPDATE";
constexpr char kFinishSql[] =
    "UPDATE generations SET status = ?, delivered = ?, content = ?, images = ?, "
    "finish_reason = ?, input_tokens = ?, output_tokens = ?, upstream_request_id = ?, "
    "error_code = ?, updated_at = ?, finished_at = ? WHERE id = ? AND status = 'RUNNING'";
constexpr char kSelectFinishedSql[] =
    "SELECT g.refund_id, u.credits FROM generations g JOIN users u ON u.id = g.user_id "
    "WHERE g.id = ?";
constexpr char kLinkRefundSql[] = "UPDATE generations SET refund_id = ? WHERE id = ?";
constexpr char kSelectCreditsSql[] = "SELECT credits FROM users WHERE id = ?";

constexpr char kSetTaskSql[] =
    "UPDATE generations SET task_id = ?, updated_at = ? WHERE id = ? AND status = 'RUNNING'";
constexpr char kTouchTaskSql[] =
    "UPDATE generations SET updated_at = ? WHERE id = ? AND status = 'RUNNING'";

#define RECORD_COLUMNS                                                                         \
    "id, user_id, kind, tool_type, model, status, prompt, content, images, credits_charged, "  \
    "refund_id, finish_reason, input_tokens, output_tokens, task_id, error_code, created_at, " \
    "finished_at"
constexpr char kFindTaskSql[] =
    "SELECT " RECORD_COLUMNS " FROM generations WHERE task_id = ? AND user_id = ?";
constexpr char kPendingTasksSql[] =
    "SELECT " RECORD_COLUMNS
    " FROM generations WHERE status = 'RUNNING' AND kind = 'image' "
    "AND task_id IS NOT NULL AND updated_at < ? ORDER BY updated_at LIMIT ?";
constexpr char kStaleSql[] =
    "SELECT id FROM generations WHERE status = 'RUNNING' AND created_at < ? "
    "AND (kind <> 'image' OR task_id IS NULL) ORDER BY id LIMIT ?";
constexpr char kHistorySql[] =
    "SELECT " RECORD_COLUMNS
    " FROM generations WHERE user_id = ? ORDER BY id DESC LIMIT ? OFFSET ?";
constexpr char kHistoryCountSql[] = "SELECT COUNT(*) FROM generations WHERE user_id = ?";
#undef RECORD_COLUMNS

std::string SqlTime(base::TimePoint t) { return base::FormatSqlDateTime(t); }

std::optional<ModelKind> ParseKind(std::string_view name) {
    if (name == "text") return ModelKind::kText;
    if (name == "vision") return ModelKind::kVision;
    if (name == "image") return ModelKind::kImage;
    return std::nullopt;
}

GenerationStatus ParseStatus(std::string_view name) {
    if (name == "SUCCEEDED") return GenerationStatus::kSucceeded;
    if (name == "FAILED") return GenerationStatus::kFailed;
    if (name == "ABORTED") return GenerationStatus::kAborted;
    return GenerationStatus::kRunning;
}

std::string ImagesToJson(const std::vector<std::string>& urls) {
    Json::Value array(Json::arrayValue);
    for (const std::string& url : urls) array.append(url);
    return http::ToJson(array);
}

std::vector<std::string> ImagesFromJson(const std::string& text) {
    std::vector<std::string> out;
    if (text.empty()) return out;
    Json::Value array;
    Json::CharReaderBuilder builder;
    std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
    std::string errors;
    if (!reader->parse(text.data(), text.data() + text.size(), &array, &errors) ||
        !array.isArray()) {
        return out;
    }
    for (const Json::Value& url : array) {
        if (url.isString()) out.push_back(url.asString());
    }
    return out;
}

GenerationRecord ReadRecord(sql::ResultSet& row) {
    GenerationRecord r;
    r.id = static_cast<int64_t>(row.getUInt64("id"));
    r.user_id = static_cast<int64_t>(row.getUInt64("user_id"));
    r.kind = ParseKind(std::string(row.getString("kind"))).value_or(ModelKind::kText);
    if (!row.isNull("tool_type")) r.tool_type = std::string(row.getString("tool_type"));
    r.model = row.getString("model");
    r.status = ParseStatus(std::string(row.getString("status")));
    r.prompt = row.getString("prompt");
    if (!row.isNull("content")) r.content = row.getString("content");
    if (!row.isNull("images")) r.image_urls = ImagesFromJson(row.getString("images"));
    r.credits_charged = row.getInt64("credits_charged");
    r.refunded = !row.isNull("refund_id");
    if (!row.isNull("finish_reason")) r.finish_reason = row.getString("finish_reason");
    r.input_tokens = row.getInt64("input_tokens");
    r.output_tokens = row.getInt64("output_tokens");
    if (!row.isNull("task_id")) r.task_id = row.getString("task_id");
    if (!row.isNull("error_code")) r.error_code = row.getString("error_code");
    r.created_at = db::GetTime(row, "created_at");
    r.finished_at = db::GetOptionalTime(row, "finished_at");
    return r;
}

int64_t Credits(db::Lease& lease, int64_t user_id) {
    sql::PreparedStatement& select = lease.Prepare(kSelectCreditsSql);
    select.setUInt64(1, static_cast<uint64_t>(user_id));
    std::unique_ptr<sql::ResultSet> row(select.executeQuery());
    return row->next() ? row->getInt64(1) : 0;
}

/// The conditional `RUNNING -> outcome` UPDATE; true when this call made the change.
bool UpdateFinished(db::Lease& lease, int64_t generation_id, const GenerationOutcome& outcome,
                    base::TimePoint now) {
    sql::PreparedStatement& finish = lease.Prepare(kFinishSql);
    finish.setString(1, std::string(GenerationStatusName(outcome.status)));
    finish.setInt(2, outcome.delivered ? 1 : 0);
    finish.setString(3, outcome.content);
    if (outcome.image_urls.empty()) {
        finish.setNull(4, sql::DataType::VARCHAR);
    } else {
        finish.setString(4, ImagesToJson(outcome.image_urls));
    }
    finish.setString(5, outcome.finish_reason);
    finish.setInt64(6, outcome.input_tokens);
    finish.setInt64(7, outcome.output_tokens);
    finish.setString(8, outcome.upstream_request_id.substr(0, 64));
    finish.setString(9, outcome.error_code.substr(0, 64));
    finish.setString(10, SqlTime(now));
    finish.setString(11, SqlTime(now));
    finish.setUInt64(12, static_cast<uint64_t>(generation_id));
    return finish.executeUpdate() == 1;
}

int64_t CeilSeconds(std::chrono::system_clock::duration d) {
    auto s = std::chrono::duration_cast<std::chrono::seconds>(d + std::chrono::seconds(1) -
                                                              std::chrono::nanoseconds(1));
    return std::max<int64_t>(1, s.count());
}

}  // namespace

std::string_view ModelKindName(ModelKind kind) {
    switch (kind) {
        case ModelKind::kText:
            return "text";
        case ModelKind::kVision:
            return "vision";
        case ModelKind::kImage:
            return "image";
    }
    return "text";
}

std::string_view GenerationStatusName(GenerationStatus status) {
    switch (status) {
        case GenerationStatus::kRunning:
            return "RUNNING";
        case GenerationStatus::kSucceeded:
            return "SUCCEEDED";
        case GenerationStatus::kFailed:
            return "FAILED";
        case GenerationStatus::kAborted:
            return "ABORTED";
    }
    return "RUNNING";
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

namespace {

WritingTool ReadTool(sql::ResultSet& row) {
    return WritingTool{row.getString(1), row.getString(2), row.getString(3), row.getString(4),
                       row.getString(5)};
}

}  // namespace

std::vector<WritingTool> Generations::ListTools() const {
    return db::WithLease(pool_, [](db::Lease& lease) {
        std::vector<WritingTool> tools;
        std::unique_ptr<sql::ResultSet> rows(lease.Prepare(kListToolsSql).executeQuery());
        while (rows->next()) tools.push_back(ReadTool(*rows));
        return tools;
    });
}

std::optional<WritingTool> Generations::FindTool(std::string_view tool_type) const {
    return db::WithLease(pool_, [&](db::Lease& lease) -> std::optional<WritingTool> {
        sql::PreparedStatement& find = lease.Prepare(kFindToolSql);
        find.setString(1, std::string(tool_type));
        std::unique_ptr<sql::ResultSet> row(find.executeQuery());
        if (!row->next()) return std::nullopt;
        return ReadTool(*row);
    });
}

StartedGeneration Generations::Start(const NewGeneration& g) const {
    return db::RetryOnAborted(pool_, "generation.start", [&](db::Transaction& tx) {
        db::Lease& lease = tx.lease();
        const base::TimePoint now = clock_.Now();

        sql::PreparedStatement& lock = lease.Prepare(kLockUserSql);
        lock.setUInt64(1, static_cast<uint64_t>(g.user_id));
        std::unique_ptr<sql::ResultSet> user(lock.executeQuery());
        if (!user->next()) throw base::ApiError(base::ErrorCode::kNotFound, "user not found");
        const int64_t credits = user->getInt64("credits");
        const std::optional<base::TimePoint> member_until =
            db::GetOptionalTime(*user, "member_expired_at");
        const bool member = member_until && *member_until > now;

        sql::PreparedStatement& counts = lease.Prepare(kCountLimitsSql);
        counts.setUInt64(1, static_cast<uint64_t>(g.user_id));
        counts.setString(2, SqlTime(now - limits_.stale_after));
        counts.setUInt64(3, static_cast<uint64_t>(g.user_id));
        counts.setString(4, SqlTime(now - std::chrono::seconds(60)));
        std::unique_ptr<sql::ResultSet> window(counts.executeQuery());
        window->next();
        if (window->getInt64("recent") >= limits_.per_minute) {
            base::ApiError error(base::ErrorCode::kRateLimited, "too many generations: at most " +
                                                        std::to_string(limits_.per_minute) +
                                                        " per minute");
            error.retry_after_s =
                CeilSeconds(db::GetTime(*window, "oldest") + std::chrono::seconds(60) - now);
            throw error;
        }
        if (g.kind != ModelKind::kImage) {
            if (window->getInt64("in_flight") >= limits_.in_flight) {
                base::ApiError error(base::ErrorCode::kRateLimited, "too many generations at once: at most " +
                                                            std::to_string(limits_.in_flight) +
                                                            " in flight");
                error.retry_after_s = 1;
                throw error;
            }
        }
        if (!member && credits < g.cost) {
            base::ApiError error(base::ErrorCode::kInsufficientCredits, "not enough credits");
            error.extra["required"] = Json::Int64(g.cost);
            error.extra["balance"] = Json::Int64(credits);
            throw error;
        }

        sql::PreparedStatement& insert = lease.Prepare(kInsertGenerationSql);
        insert.setUInt64(1, static_cast<uint64_t>(g.user_id));
        insert.setString(2, std::string(ModelKindName(g.kind)));
        if (g.tool_type) {
            insert.setString(3, *g.tool_type);
        } else {
            insert.setNull(3, sql::DataType::VARCHAR);
        }
        insert.setString(4, g.provider);
        insert.setString(5, g.model);
        insert.setInt(6, g.stream ? 1 : 0);
        insert.setString(7, g.prompt);
        insert.setString(8, SqlTime(now));
        insert.setString(9, SqlTime(now));
        insert.executeUpdate();

        StartedGeneration started;
        started.generation_id = db::LastInsertId(lease);
        started.balance = credits;
        if (!member && g.cost > 0) {
            const std::string description =
                "AI生成 " + g.model + (g.tool_type ? " · " + *g.tool_type : std::string());
            billing::ChargeResult charge =
                wallet_.ChargeIn(tx, g.user_id, g.cost, description, started.generation_id);
            started.charge_id = charge.charge_id;
            started.credits_charged = g.cost;
            started.balance = charge.balance;
            sql::PreparedStatement& link = lease.Prepare(kLinkChargeSql);
            link.setUInt64(1, static_cast<uint64_t>(charge.charge_id));
            link.setInt64(2, g.cost);
            link.setUInt64(3, static_cast<uint64_t>(started.generation_id));
            link.executeUpdate();
        }
        return started;
    });
}

FinishResult Generations::Finish(int64_t generation_id, const GenerationOutcome& outcome) const {
    if (!outcome.refund) {
        if (std::optional<FinishResult> done = FinishWithoutRefund(generation_id, outcome)) {
            return *done;
        }
    }
    try {
        return FinishOnce(generation_id, outcome);
    } catch (const billing::AlreadyRefunded&) {
        // Someone refunded this charge outside a finish (a concurrent path lost nothing: our
        // transaction rolled back). Run again: the generation is finished without a refund.
        return FinishOnce(generation_id, outcome);
    }
}

std::optional<FinishResult> Generations::FinishWithoutRefund(
    int64_t generation_id, const GenerationOutcome& outcome) const {
    // Without a refund the status change is the only write, and one conditional UPDATE is
    // atomic on its own: no transaction (BEGIN, locking SELECT, COMMIT, autocommit back) is
    // needed. Anything unusual (finished by someone else meanwhile, a lock wait) goes the
    // transactional way, which reads the row under its lock and retries.
    try {
        return db::WithLease(pool_, [&](db::Lease& lease) -> std::optional<FinishResult> {
            if (!UpdateFinished(lease, generation_id, outcome, clock_.Now())) return std::nullopt;
            sql::PreparedStatement& select = lease.Prepare(kSelectFinishedSql);
            select.setUInt64(1, static_cast<uint64_t>(generation_id));
            std::unique_ptr<sql::ResultSet> row(select.executeQuery());
            if (!row->next()) throw std::runtime_error("finished generation row vanished");
            FinishResult result;
            result.finished_now = true;
            result.refunded = !row->isNull("refund_id");
            result.balance = row->getInt64("credits");
            return result;
        });
    } catch (const db::DbError& e) {
        if (e.kind != db::ErrorKind::kAborted) throw;
        return std::nullopt;
    }
}

FinishResult Generations::FinishOnce(int64_t generation_id,
                                     const GenerationOutcome& outcome) const {
    return db::RetryOnAborted(pool_, "generation.finish", [&](db::Transaction& tx) {
        db::Lease& lease = tx.lease();
        const base::TimePoint now = clock_.Now();
        sql::PreparedStatement& lock = lease.Prepare(kLockGenerationSql);
        lock.setUInt64(1, static_cast<uint64_t>(generation_id));
        std::unique_ptr<sql::ResultSet> row(lock.executeQuery());
        if (!row->next()) throw base::ApiError(base::ErrorCode::kNotFound, "generation not found");
        const int64_t user_id = static_cast<int64_t>(row->getUInt64("user_id"));
        const bool running = std::string(row->getString("status")) == "RUNNING";
        const int64_t charge_id =
            row->isNull("charge_id") ? 0 : static_cast<int64_t>(row->getUInt64("charge_id"));
        FinishResult result;
        result.refunded = !row->isNull("refund_id");
        if (!running) {
            result.balance = Credits(lease, user_id);
            return result;
        }

        result.finished_now = UpdateFinished(lease, generation_id, outcome, now);

        if (result.finished_now && outcome.refund && charge_id != 0) {
            std::optional<int64_t> refund_id =
                wallet_.RefundIn(tx, charge_id, "AI生成失败退款 #" + std::to_string(generation_id));
            if (refund_id) {
                sql::PreparedStatement& link = lease.Prepare(kLinkRefundSql);
                link.setUInt64(1, static_cast<uint64_t>(*refund_id));
                link.setUInt64(2, static_cast<uint64_t>(generation_id));
                link.executeUpdate();
            }
            result.refunded = true;
        }
        result.balance = Credits(lease, user_id);
        return result;
    });
}

void Generations::SetTask(int64_t generation_id, const std::string& task_id) const {
    db::RetryOnAborted(pool_, "generation.set_task", [&](db::Transaction& tx) {
        sql::PreparedStatement& set = tx.lease().Prepare(kSetTaskSql);
        set.setString(1, task_id);
        set.setString(2, SqlTime(clock_.Now()));
        set.setUInt64(3, static_cast<uint64_t>(generation_id));
        set.executeUpdate();
    });
}

void Generations::TouchTask(int64_t generation_id) const {
    db::RetryOnAborted(pool_, "generation.touch_task", [&](db::Transaction& tx) {
        sql::PreparedStatement& touch = tx.lease().Prepare(kTouchTaskSql);
        touch.setString(1, SqlTime(clock_.Now()));
        touch.setUInt64(2, static_cast<uint64_t>(generation_id));
        touch.executeUpdate();
    });
}

std::optional<GenerationRecord> Generations::FindTask(int64_t user_id,
                                                      std::string_view task_id) const {
    return db::WithLease(pool_, [&](db::Lease& lease) -> std::optional<GenerationRecord> {
        sql::PreparedStatement& find = lease.Prepare(kFindTaskSql);
        find.setString(1, std::string(task_id));
        find.setUInt64(2, static_cast<uint64_t>(user_id));
        std::unique_ptr<sql::ResultSet> row(find.executeQuery());
        if (!row->next()) return std::nullopt;
        return ReadRecord(*row);
    });
}

std::vector<GenerationRecord> Generations::PendingTasks(std::chrono::seconds min_age,
                                                        int limit) const {
    return db::WithLease(pool_, [&](db::Lease& lease) {
        std::vector<GenerationRecord> out;
        sql::PreparedStatement& select = lease.Prepare(kPendingTasksSql);
        select.setString(1, SqlTime(clock_.Now() - min_age));
        select.setInt(2, limit);
        std::unique_ptr<sql::ResultSet> rows(select.executeQuery());
        while (rows->next()) out.push_back(ReadRecord(*rows));
        return out;
    });
}

int64_t Generations::RecoverStale(int batch) const {
    const std::vector<int64_t> ids = db::WithLease(pool_, [&](db::Lease& lease) {
        std::vector<int64_t> stale;
        sql::PreparedStatement& select = lease.Prepare(kStaleSql);
        select.setString(1, SqlTime(clock_.Now() - limits_.stale_after));
        select.setInt(2, batch);
        std::unique_ptr<sql::ResultSet> rows(select.executeQuery());
        while (rows->next()) stale.push_back(static_cast<int64_t>(rows->getUInt64(1)));
        return stale;
    });
    int64_t finished = 0;
    for (int64_t id : ids) {
        GenerationOutcome lost;
        lost.status = GenerationStatus::kFailed;
        lost.refund = true;
        lost.error_code = "worker_lost";
        if (Finish(id, lost).finished_now) ++finished;
    }
    return finished;
}

HistoryPage Generations::History(int64_t user_id, int64_t limit, int64_t offset) const {
    return db::WithLease(pool_, [&](db::Lease& lease) {
        HistoryPage page;
        sql::PreparedStatement& count = lease.Prepare(kHistoryCountSql);
        count.setUInt64(1, static_cast<uint64_t>(user_id));
        std::unique_ptr<sql::ResultSet> total(count.executeQuery());
        if (total->next()) page.total = total->getInt64(1);
        sql::PreparedStatement& select = lease.Prepare(kHistorySql);
        select.setUInt64(1, static_cast<uint64_t>(user_id));
        select.setInt64(2, limit);
        select.setInt64(3, offset);
        std::unique_ptr<sql::ResultSet> rows(select.executeQuery());
        while (rows->next()) page.items.push_back(ReadRecord(*rows));
        return page;
    });
}

}  // namespace inkstone::lib::generation
