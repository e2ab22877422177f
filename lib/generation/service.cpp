#include "lib/generation/service.h"

#include <json/value.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "lib/base/assert.h"
#include "lib/base/log.h"
#include "lib/db/db.h"

namespace inkstone::lib::generation {
namespace {

using SteadyClock = std::chrono::steady_clock;

/// Between the provider and the client, on the generating thread: hands each delta to the
/// board (which stores it, lib/generation/live.h), forwards it to a streaming client while it
/// listens, and stops the call when the owner asked to. A JSON client is only collected for:
/// streaming upstream even then means the idle timeout guards every generation.
class Progress final : public ai::StreamSink, public ai::CancelToken {
  public:
    Progress(TextClient& client, bool stream, LiveGeneration& live)
        : client_(client), stream_(stream), live_(live) {}

    bool OnDelta(std::string_view text) override {
        const int64_t seq = live_.Append(text);
        if (stream_ && listening_ && !client_.OnDelta(text, seq)) listening_ = false;
        return !live_.stopped();
    }

    /// The provider asks this at least once a second while it waits: the stream's keep-alive
    /// goes out here.
    bool IsCancelled() const override {
        if (listening_) client_.Idle();
        return live_.stopped();
    }
    int WakeFd() const override { return live_.WakeFd(); }

  private:
    TextClient& client_;
    const bool stream_;
    LiveGeneration& live_;
    bool listening_ = true;
};

ai::GenerateRequest CallFor(const TextOrder& order, const WritingTool& tool) {
    ai::GenerateRequest call;
    call.model = order.model->model;
    if (!tool.system_prompt.empty()) call.messages.push_back({"system", tool.system_prompt});
    call.messages.push_back({"user", tool.Render(order.prompt)});
    call.images = order.images;
    call.max_tokens = order.max_tokens;
    call.temperature = order.temperature;
    return call;
}

/// The verdict's public error with the facts of the finish: `refunded` as the ledger has it
/// (the same as the verdict unless another owner finished the generation first) and `balance`.
std::optional<base::ApiError> PublicError(const Verdict& verdict, const FinishResult& finish) {
    if (!verdict.error) return std::nullopt;
    base::ApiError error = *verdict.error;
    error.extra["refunded"] = finish.refunded;
    error.extra["balance"] = Json::Int64(finish.balance);
    return error;
}

void LogStopped(int64_t generation_id, int64_t deltas, const FinishResult& finish) {
    Json::Value f;
    f["generation_id"] = Json::Int64(generation_id);
    f["deltas"] = Json::Int64(deltas);
    f["refunded"] = finish.refunded;
    base::Log(base::LogLevel::kInfo, "generation.stopped", f);
}

/// Removes the generation from the board when its call ends, however it ends.
class Registered {
  public:
    Registered(LiveBoard& board, int64_t id, bool stream)
        : board_(board), id_(id), live_(board.Register(id, stream)) {}
    ~Registered() { Done(); }
    /// The call has ended: the board stores nothing more (the finish writes the whole text).
    void Done() {
        if (!done_) board_.Unregister(id_);
        done_ = true;
    }
    LiveGeneration& live() const { return *live_; }

  private:
    LiveBoard& board_;
    const int64_t id_;
    const std::shared_ptr<LiveGeneration> live_;
    bool done_ = false;
};

}  // namespace

void LogUpstreamError(int64_t generation_id, const ai::UpstreamError& error) {
    Json::Value f;
    f["generation_id"] = Json::Int64(generation_id);
    f["kind"] = std::string(ai::UpstreamErrorKindName(error.kind));
    f["http_status"] = error.http_status;
    f["code"] = error.code;
    f["upstream_request_id"] = error.request_id;
    f["after_output"] = error.after_output;
    base::Log(base::LogLevel::kWarn, "generation.upstream_error", f);
}

std::string UpstreamErrorCode(const ai::UpstreamError& error) {
    std::string code(ai::UpstreamErrorKindName(error.kind));
    if (!error.code.empty()) code += ":" + error.code;
    return code;
}

ai::Provider& GenerationService::ProviderFor(const ModelInfo& model) const {
    ai::Provider* provider = providers_.Find(model.provider);
    if (provider == nullptr) {
        throw base::ApiError(base::ErrorCode::kUnavailable, "the AI provider is not configured");
    }
    return *provider;
}

TextResult GenerationService::Write(const TextOrder& order, TextClient& client) const {
    const std::optional<WritingTool> tool =
        generations_.FindTool(order.tool_type, order.catalog_version);
    if (!tool)
        throw base::ApiError::Validation("tool_type", "unknown tool_type " + order.tool_type);
    ai::Provider& provider = ProviderFor(*order.model);
    // Before anything is charged: over this worker's cap the request is refused as it is.
    const LiveBoard::Slot slot = board_.Reserve();

    NewGeneration fresh;
    fresh.user_id = order.user_id;
    fresh.kind = order.model->kind;
    fresh.tool_type = order.tool_type;
    fresh.provider = order.model->provider;
    fresh.model = order.model->model;
    fresh.stream = order.stream;
    fresh.prompt = order.prompt;
    fresh.cost = generations_.ModelCredits(*order.model, order.catalog_version);
    fresh.idempotency = order.idempotency;
    TextResult text;
    text.started = generations_.Start(fresh);
    const StartedGeneration& started = text.started;
    if (started.replayed) return text;
    // Every line from here on (the provider's `qwen.call` too) names the generation.
    const base::LogContext log_generation("generation_id", std::to_string(started.generation_id));
    Registered registered(board_, started.generation_id, order.stream);
    client.Started(started);

    Progress progress(client, order.stream, registered.live());
    const ai::Outcome<ai::GenerateResult> result =
        provider.Generate(CallFor(order, *tool), &progress, progress);
    registered.Done();

    GenerationOutput output;
    // Every ending keeps the text that arrived: the whole answer, the part before a stop, or
    // the part before upstream failed (marked by the status and end_reason).
    std::string content;
    registered.live().Received(&content, &output.delta_ends, &output.deltas);
    GenerationFacts facts;
    facts.credits_charged = started.credits_charged;
    facts.delivered = output.deltas > 0;
    output.delivered = facts.delivered;
    output.content = content;
    text.content = std::move(content);
    if (result.ok()) {
        const ai::GenerateResult& done = result.value();
        facts.ending = Ending::kSucceeded;
        output.finish_reason = done.finish_reason;
        output.input_tokens = done.usage.input_tokens;
        output.output_tokens = done.usage.output_tokens;
        output.upstream_request_id = done.request_id;
        text.finish_reason = done.finish_reason;
        text.usage = done.usage;
    } else if (result.error().kind == ai::UpstreamError::Kind::kCancelled) {
        facts.ending = Ending::kCancelled;
        output.finish_reason = "cancelled";
        output.error_code = "cancelled";
        output.upstream_request_id = result.error().request_id;
        text.finish_reason = "cancelled";
    } else {
        LogUpstreamError(started.generation_id, result.error());
        facts.ending = Ending::kUpstreamFailed;
        facts.upstream = result.error().kind;
        output.error_code = UpstreamErrorCode(result.error());
        output.upstream_request_id = result.error().request_id;
    }

    const Verdict verdict = Settle(facts);
    const FinishResult finish =
        FinishRetrying(started.generation_id, verdict, output, started.balance);
    if (facts.ending == Ending::kCancelled) {
        LogStopped(started.generation_id, output.deltas, finish);
    }
    text.credits_charged = finish.refunded ? 0 : started.credits_charged;
    text.balance = finish.balance;
    text.error = PublicError(verdict, finish);
    return text;
}

FinishResult GenerationService::FinishRetrying(int64_t generation_id, const Verdict& verdict,
                                               const GenerationOutput& output,
                                               std::optional<int64_t> balance_after_charge) const {
    // Generations::Finish already retries deadlocks a few times; this outlasts a database
    // restart or a full pool. Every attempt is the same conditional UPDATE, so a retry after
    // an unknown outcome changes nothing twice.
    const auto give_up = SteadyClock::now() + timing_.finish_retry_for;
    std::chrono::milliseconds backoff(100);
    while (true) {
        try {
            return generations_.Finish(generation_id, verdict, output, balance_after_charge);
        } catch (const db::DbError& e) {
            if (e.kind != db::ErrorKind::kUnavailable && e.kind != db::ErrorKind::kAborted) throw;
            if (SteadyClock::now() + backoff >= give_up) throw;
            Json::Value f;
            f["generation_id"] = Json::Int64(generation_id);
            f["error"] = e.what();
            f["retry_in_ms"] = Json::Int64(backoff.count());
            base::Log(base::LogLevel::kWarn, "generation.finish_retry", f);
            std::this_thread::sleep_for(backoff);
            backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
        }
    }
}

GenerationRecord GenerationService::Get(int64_t user_id, int64_t generation_id) const {
    std::optional<GenerationRecord> record = generations_.Find(user_id, generation_id);
    if (!record) throw base::ApiError(base::ErrorCode::kNotFound, "generation not found");
    return std::move(*record);
}

void GenerationService::Follow(int64_t user_id, int64_t generation_id, int64_t after,
                               FollowClient& client) const {
    GenerationRecord record = Get(user_id, generation_id);
    if (!client.Begin(record)) return;
    int64_t sent = std::max<int64_t>(after, 0);
    while (true) {
        // Deltas the reader already has (it may be ahead of the stored text: it read them live)
        // are skipped; the rest go out one event each, with their own numbers.
        if (record.deltas > sent) {
            const std::vector<size_t> ends =
                DeltaEnds(record.id, record.delta_ends, record.content.size());
            INKSTONE_ASSERT(static_cast<int64_t>(ends.size()) == record.deltas,
                            "generation " + std::to_string(record.id) + ": " +
                                std::to_string(ends.size()) + " delta ends for " +
                                std::to_string(record.deltas) + " deltas");
            for (int64_t seq = sent + 1; seq <= record.deltas; ++seq) {
                const size_t begin = seq == 1 ? 0 : ends[seq - 2];
                const size_t end = ends[seq - 1];
                if (!client.Delta(std::string_view(record.content).substr(begin, end - begin),
                                  seq)) {
                    return;
                }
            }
            sent = record.deltas;
        }
        if (record.status != GenerationStatus::kRunning) {
            client.End(record);
            return;
        }
        if (!client.Wait(timing_.follow_every)) return;
        record = Get(user_id, generation_id);
    }
}

CancelOutcome GenerationService::Cancel(int64_t user_id, int64_t generation_id) const {
    const CancelOutcome outcome = generations_.RequestCancel(user_id, generation_id);
    // Running here: stopped at once; elsewhere the other worker's board reads the flag.
    if (outcome == CancelOutcome::kRequested) board_.StopLocal(generation_id);
    return outcome;
}

ImageSubmitted GenerationService::SubmitImage(const ImageOrder& order) const {
    ai::Provider& provider = ProviderFor(*order.model);
    NewGeneration fresh;
    fresh.user_id = order.user_id;
    fresh.kind = ModelKind::kImage;
    fresh.provider = order.model->provider;
    fresh.model = order.model->model;
    fresh.prompt = order.prompt;
    // Per image: a task of n images costs n times the model's price (refunded whole if it fails).
    fresh.cost =
        generations_.ModelCredits(*order.model, order.catalog_version) * order.n.value_or(1);
    const StartedGeneration started = generations_.Start(fresh);
    const base::LogContext log_generation("generation_id", std::to_string(started.generation_id));

    ai::ImageRequest call;
    call.model = order.model->model;
    call.prompt = order.prompt;
    call.size = order.size;
    call.n = order.n;
    ai::NoCancel never;
    const ai::Outcome<ai::ImageTask> submitted = provider.SubmitImageTask(call, never);
    if (!submitted.ok()) {
        const ai::UpstreamError& error = submitted.error();
        LogUpstreamError(started.generation_id, error);
        GenerationFacts facts;
        facts.ending = Ending::kUpstreamFailed;
        facts.upstream = error.kind;
        facts.credits_charged = started.credits_charged;
        GenerationOutput output;
        output.error_code = UpstreamErrorCode(error);
        output.upstream_request_id = error.request_id;
        const Verdict verdict = Settle(facts);
        throw *PublicError(verdict, generations_.Finish(started.generation_id, verdict, output));
    }
    generations_.SetTask(started.generation_id, submitted.value().task_id,
                         ai::TaskStatusName(submitted.value().status));
    return ImageSubmitted{submitted.value().task_id, submitted.value().status,
                          started.credits_charged, started.balance};
}

TaskState GenerationService::Task(int64_t user_id, std::string_view task_id) const {
    std::optional<GenerationRecord> record =
        task_id.size() <= 64 ? generations_.FindTask(user_id, task_id) : std::nullopt;
    if (!record) throw base::ApiError(base::ErrorCode::kNotFound, "task not found");
    // A polling loop is answered from the row while it was checked upstream moments ago (by
    // this user, another poll, or the background poller): it cannot spend DashScope's quota.
    if (record->status == GenerationStatus::kRunning &&
        clock_.Now() - record->updated_at < kTaskFreshFor) {
        return {*record, record->task_status};
    }
    return Poll(std::move(*record));
}

TaskState GenerationService::Poll(GenerationRecord record) const {
    const ModelInfo* model = FindModel(models_, record.model);
    if (model == nullptr || record.status != GenerationStatus::kRunning) return {record, ""};
    const base::LogContext log_generation("generation_id", std::to_string(record.id));
    ai::NoCancel never;
    const ai::Outcome<ai::ImageTask> polled =
        ProviderFor(*model).GetImageTask(record.task_id, never);
    if (!polled.ok()) {
        // Try again later; the task is still upstream.
        generations_.TouchTask(record.id, std::nullopt);
        return {record, record.task_status};
    }
    const ai::ImageTask& task = polled.value();
    GenerationFacts facts;
    facts.credits_charged = record.credits_charged;
    GenerationOutput output;
    switch (task.status) {
        case ai::TaskStatus::kPending:
        case ai::TaskStatus::kRunning:
            generations_.TouchTask(record.id, ai::TaskStatusName(task.status));
            return {record, std::string(ai::TaskStatusName(task.status))};
        case ai::TaskStatus::kSucceeded:
            facts.ending = Ending::kSucceeded;
            output.delivered = true;
            output.image_urls = task.image_urls;
            output.upstream_request_id = task.request_id;
            break;
        case ai::TaskStatus::kFailed:
        case ai::TaskStatus::kCanceled:
            facts.ending = Ending::kTaskFailed;
            output.error_code = "task_failed";
            if (!task.code.empty()) output.error_code += ":" + task.code;
            break;
        case ai::TaskStatus::kUnknown:
            facts.ending = Ending::kTaskFailed;
            output.error_code = "task_unknown";
            break;
    }
    generations_.Finish(record.id, Settle(facts), output);
    std::optional<GenerationRecord> fresh = generations_.FindTask(record.user_id, record.task_id);
    return {fresh.value_or(record), ""};
}

int64_t GenerationService::PollPending(std::chrono::seconds min_age, int limit) const {
    int64_t polled = 0;
    for (GenerationRecord& record : generations_.PendingTasks(min_age, limit)) {
        Poll(std::move(record));
        ++polled;
    }
    return polled;
}

}  // namespace inkstone::lib::generation
