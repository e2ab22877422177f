#include "lib/generation/service.h"

#include <json/value.h>

#include <string>
#include <utility>

#include "lib/base/log.h"

namespace inkstone::lib::generation {
namespace {

/// Between the provider and the client: keeps the text for the row, forwards each delta to a
/// streaming client and notes whether one arrived. A JSON client is only collected for:
/// streaming upstream even then means the idle timeout guards every generation (a non-stream
/// upstream call sends no byte until it is done, so only the total timeout could end a silent
/// one).
class Relay final : public ai::StreamSink {
  public:
    Relay(TextClient& client, bool stream) : client_(client), stream_(stream) {}
    bool OnDelta(std::string_view text) override {
        if (stream_ && !client_.OnDelta(text)) return false;
        content_.append(text);
        delivered_ = stream_;
        return true;
    }
    const std::string& content() const { return content_; }
    bool delivered() const { return delivered_; }

  private:
    TextClient& client_;
    const bool stream_;
    std::string content_;
    bool delivered_ = false;
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

void LogClientGone(int64_t generation_id, bool delivered, const FinishResult& finish) {
    Json::Value f;
    f["generation_id"] = Json::Int64(generation_id);
    f["delivered"] = delivered;
    f["refunded"] = finish.refunded;
    base::Log(base::LogLevel::kInfo, "generation.client_gone", f);
}

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
    const std::optional<WritingTool> tool = generations_.FindTool(order.tool_type);
    if (!tool)
        throw base::ApiError::Validation("tool_type", "unknown tool_type " + order.tool_type);
    ai::Provider& provider = ProviderFor(*order.model);

    NewGeneration fresh;
    fresh.user_id = order.user_id;
    fresh.kind = order.model->kind;
    fresh.tool_type = order.tool_type;
    fresh.provider = order.model->provider;
    fresh.model = order.model->model;
    fresh.stream = order.stream;
    fresh.prompt = order.prompt;
    fresh.cost = order.model->credits;
    const StartedGeneration started = generations_.Start(fresh);
    // Every line from here on (the provider's `qwen.call` too) names the generation.
    const base::LogContext log_generation("generation_id", std::to_string(started.generation_id));
    client.Started(started);

    Relay relay(client, order.stream);
    const ai::Outcome<ai::GenerateResult> result =
        provider.Generate(CallFor(order, *tool), &relay, client);
    return Conclude(order, started, result, relay.content(), relay.delivered());
}

TextResult GenerationService::Conclude(const TextOrder& order, const StartedGeneration& started,
                                       const ai::Outcome<ai::GenerateResult>& result,
                                       const std::string& content, bool delivered) const {
    GenerationFacts facts;
    facts.credits_charged = started.credits_charged;
    facts.delivered = delivered;
    GenerationOutput output;
    output.delivered = delivered;
    TextResult text;
    text.started = started;
    if (result.ok()) {
        const ai::GenerateResult& done = result.value();
        facts.ending = Ending::kSucceeded;
        // A JSON client receives the whole text in the reply.
        output.delivered = order.stream ? delivered : true;
        output.content = content;
        output.finish_reason = done.finish_reason;
        output.input_tokens = done.usage.input_tokens;
        output.output_tokens = done.usage.output_tokens;
        output.upstream_request_id = done.request_id;
        text.content = content;
        text.finish_reason = done.finish_reason;
        text.usage = done.usage;
    } else if (result.error().kind == ai::UpstreamError::Kind::kCancelled) {
        facts.ending = Ending::kClientGone;
        if (order.stream) output.content = content;  // what the client received
        output.error_code = "client_gone";
        output.upstream_request_id = result.error().request_id;
    } else {
        LogUpstreamError(started.generation_id, result.error());
        facts.ending = Ending::kUpstreamFailed;
        facts.upstream = result.error().kind;
        output.error_code = UpstreamErrorCode(result.error());
        output.upstream_request_id = result.error().request_id;
    }

    const Verdict verdict = Settle(facts);
    const FinishResult finish = generations_.Finish(started.generation_id, verdict, output);
    if (facts.ending == Ending::kClientGone) {
        LogClientGone(started.generation_id, delivered, finish);
    }
    text.credits_charged = finish.refunded ? 0 : started.credits_charged;
    text.balance = finish.balance;
    text.error = PublicError(verdict, finish);
    return text;
}

ImageSubmitted GenerationService::SubmitImage(const ImageOrder& order) const {
    ai::Provider& provider = ProviderFor(*order.model);
    NewGeneration fresh;
    fresh.user_id = order.user_id;
    fresh.kind = ModelKind::kImage;
    fresh.provider = order.model->provider;
    fresh.model = order.model->model;
    fresh.prompt = order.prompt;
    fresh.cost = order.model->credits;
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
    generations_.SetTask(started.generation_id, submitted.value().task_id);
    return ImageSubmitted{submitted.value().task_id, submitted.value().status,
                          started.credits_charged, started.balance};
}

TaskState GenerationService::Task(int64_t user_id, std::string_view task_id) const {
    std::optional<GenerationRecord> record =
        task_id.size() <= 64 ? generations_.FindTask(user_id, task_id) : std::nullopt;
    if (!record) throw base::ApiError(base::ErrorCode::kNotFound, "task not found");
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
        generations_.TouchTask(record.id);  // try again later; the task is still upstream
        return {record, ""};
    }
    const ai::ImageTask& task = polled.value();
    GenerationFacts facts;
    facts.credits_charged = record.credits_charged;
    GenerationOutput output;
    switch (task.status) {
        case ai::TaskStatus::kPending:
        case ai::TaskStatus::kRunning:
            generations_.TouchTask(record.id);
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
