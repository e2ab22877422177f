#include "handlers/generation.h"

#include <algorithm>
#include <string>

#include "lib/http/json_body.h"
#include "lib/base/log.h"
#include "lib/http/paging.h"
#include "lib/http/sse.h"

namespace inkstone::handlers {
namespace {

using lib::base::ApiError;
using lib::base::ErrorCode;
using lib::generation::GenerationStatus;
using lib::generation::ModelKind;
using lib::http::Response;
using SteadyClock = std::chrono::steady_clock;

constexpr size_t kMaxPromptChars = 8000;
constexpr size_t kMaxImagePromptChars = 800;
constexpr size_t kMaxImages = 4;
constexpr size_t kMaxUrlChars = 2048;
constexpr const char* kDefaultTextModel = "qwen-plus";
constexpr const char* kDefaultVisionModel = "qwen-vl-plus";
constexpr const char* kDefaultImageModel = "wanx-v1";

const lib::generation::ModelInfo* FindModel(const GenerationDeps& deps, std::string_view name) {
    for (const lib::generation::ModelInfo& m : deps.models) {
        if (m.model == name) return &m;
    }
    return nullptr;
}

lib::ai::Provider& ProviderFor(const GenerationDeps& deps, const lib::generation::ModelInfo& model) {
    lib::ai::Provider* provider = deps.providers.Find(model.provider);
    if (provider == nullptr) {
        throw ApiError(ErrorCode::kUnavailable, "the AI provider is not configured");
    }
    return *provider;
}

Json::Value UsageJson(int64_t input_tokens, int64_t output_tokens) {
    Json::Value usage;
    usage["input_tokens"] = Json::Int64(input_tokens);
    usage["output_tokens"] = Json::Int64(output_tokens);
    return usage;
}

/// The client-facing error of a failed upstream call, with the refund facts.
ApiError UpstreamFailure(const lib::ai::UpstreamError& error, const lib::generation::FinishResult& finish) {
    ApiError api = lib::ai::ToApiError(error);
    api.extra["refunded"] = finish.refunded;
    api.extra["balance"] = Json::Int64(finish.balance);
    return api;
}

void LogUpstreamError(int64_t generation_id, const lib::ai::UpstreamError& error) {
    Json::Value f;
    f["generation_id"] = Json::Int64(generation_id);
    f["kind"] = std::string(lib::ai::UpstreamErrorKindName(error.kind));
    f["http_status"] = error.http_status;
    f["code"] = error.code;
    f["upstream_request_id"] = error.request_id;
    f["after_output"] = error.after_output;
    lib::base::Log(lib::base::LogLevel::kWarn, "generation.upstream_error", f);
}

lib::generation::GenerationOutcome FailedOutcome(const lib::ai::UpstreamError& error, bool delivered) {
    lib::generation::GenerationOutcome outcome;
    outcome.status = GenerationStatus::kFailed;
    outcome.refund = true;
    outcome.delivered = delivered;
    outcome.error_code = std::string(lib::ai::UpstreamErrorKindName(error.kind));
    if (!error.code.empty()) outcome.error_code += ":" + error.code;
    outcome.upstream_request_id = error.request_id;
    return outcome;
}

lib::generation::GenerationOutcome SucceededOutcome(const lib::ai::GenerateResult& done, const std::string& content,
                                        bool delivered) {
    lib::generation::GenerationOutcome outcome;
    outcome.status = GenerationStatus::kSucceeded;
    outcome.delivered = delivered;
    outcome.content = content;
    outcome.finish_reason = done.finish_reason;
    outcome.input_tokens = done.usage.input_tokens;
    outcome.output_tokens = done.usage.output_tokens;
    outcome.upstream_request_id = done.request_id;
    return outcome;
}

/// The upstream call gives up when the client has gone (the provider wakes on the client's
/// connection), and keeps an idle stream alive with SSE comments.
class ClientWatch final : public lib::ai::CancelToken {
  public:
    ClientWatch(lib::http::StreamWriter& writer, std::chrono::milliseconds heartbeat)
        : writer_(writer), heartbeat_(heartbeat) {}
    bool IsCancelled() const override {
        if (streaming_ && SteadyClock::now() - last_write_ >= heartbeat_) {
            lib::http::SseStream sse(writer_);
            sse.Heartbeat();
            last_write_ = SteadyClock::now();
        }
        return writer_.ClientGone();
    }
    /// The provider sleeps on nginx's connection too, so a client that leaves is noticed at
    /// once rather than at the next periodic check.
    int WakeFd() const override { return writer_.ClientFd(); }
    void Wrote() {
        streaming_ = true;
        last_write_ = SteadyClock::now();
    }

  private:
    lib::http::StreamWriter& writer_;
    std::chrono::milliseconds heartbeat_;
    bool streaming_ = false;
    mutable SteadyClock::time_point last_write_{};
};

/// Forwards each upstream delta to the client as one SSE event, flushed at once. The 200
/// header and the meta event go out with the first delta, so a failure before any output can
/// still be a plain HTTP error.
class SseSink final : public lib::ai::StreamSink {
  public:
    SseSink(lib::http::StreamWriter& writer, ClientWatch& watch, Json::Value meta)
        : sse_(writer), watch_(watch), meta_(std::move(meta)) {}

    bool OnDelta(std::string_view text) override {
        if (!EnsureStarted()) return false;
        Json::Value delta;
        delta["content"] = std::string(text);
        if (!sse_.Send("delta", delta)) return false;
        delivered_ = true;
        content_.append(text);
        watch_.Wrote();
        return true;
    }
    bool EnsureStarted() {
        if (started_) return true;
        started_ = true;
        bool ok = sse_.Start() && sse_.Send("meta", meta_);
        watch_.Wrote();
        return ok;
    }
    bool Send(std::string_view event, const Json::Value& data) { return sse_.Send(event, data); }
    bool started() const { return started_; }
    bool delivered() const { return delivered_; }
    const std::string& content() const { return content_; }

  private:
    lib::http::SseStream sse_;
    ClientWatch& watch_;
    Json::Value meta_;
    bool started_ = false;
    bool delivered_ = false;
    std::string content_;
};

/// Gathers a JSON client's answer from an upstream stream: streaming upstream even then means
/// the idle timeout guards every generation (a non-stream upstream call sends no byte until it
/// is done, so only the total timeout could end a silent one).
class CollectSink final : public lib::ai::StreamSink {
  public:
    bool OnDelta(std::string_view text) override {
        content_.append(text);
        return true;
    }
    const std::string& content() const { return content_; }

  private:
    std::string content_;
};

Response Streamed() {
    Response r;
    r.streamed = true;
    return r;
}

std::string DisplayStatus(const lib::generation::GenerationRecord& record, std::string_view upstream) {
    switch (record.status) {
        case GenerationStatus::kRunning:
            return upstream.empty() ? "RUNNING" : std::string(upstream);
        case GenerationStatus::kSucceeded:
            return "SUCCEEDED";
        case GenerationStatus::kFailed:
        case GenerationStatus::kAborted:
            return record.error_code == "task_unknown" ? "UNKNOWN" : "FAILED";
    }
    return "RUNNING";
}

Json::Value TaskJson(const lib::generation::GenerationRecord& record, std::string_view upstream_status) {
    Json::Value body;
    body["task_id"] = record.task_id;
    body["status"] = DisplayStatus(record, upstream_status);
    Json::Value images(Json::arrayValue);
    for (const std::string& url : record.image_urls) {
        Json::Value image;
        image["url"] = url;
        images.append(image);
    }
    body["images"] = images;
    body["credits_charged"] = Json::Int64(record.credits_charged);
    body["refunded"] = record.refunded;
    return body;
}

/// Polls upstream once; returns the (possibly finished) record and upstream's status name.
std::pair<lib::generation::GenerationRecord, std::string> Poll(const GenerationDeps& deps,
                                                   lib::generation::GenerationRecord record) {
    const lib::generation::ModelInfo* model = FindModel(deps, record.model);
    if (model == nullptr || record.status != GenerationStatus::kRunning) return {record, ""};
    lib::ai::NoCancel never;
    lib::ai::Outcome<lib::ai::ImageTask> polled =
        ProviderFor(deps, *model).GetImageTask(record.task_id, never);
    if (!polled.ok()) {
        deps.generations.TouchTask(record.id);  // try again later; the task is still upstream
        return {record, ""};
    }
    const lib::ai::ImageTask& task = polled.value();
    lib::generation::GenerationOutcome outcome;
    switch (task.status) {
        case lib::ai::TaskStatus::kPending:
        case lib::ai::TaskStatus::kRunning:
            deps.generations.TouchTask(record.id);
            return {record, std::string(lib::ai::TaskStatusName(task.status))};
        case lib::ai::TaskStatus::kSucceeded:
            outcome.status = GenerationStatus::kSucceeded;
            outcome.delivered = true;
            outcome.image_urls = task.image_urls;
            outcome.upstream_request_id = task.request_id;
            break;
        case lib::ai::TaskStatus::kFailed:
        case lib::ai::TaskStatus::kCanceled:
        case lib::ai::TaskStatus::kUnknown:
            outcome.status = GenerationStatus::kFailed;
            outcome.refund = true;
            outcome.error_code =
                task.status == lib::ai::TaskStatus::kUnknown ? "task_unknown" : "task_failed";
            if (!task.code.empty() && task.status != lib::ai::TaskStatus::kUnknown) {
                outcome.error_code += ":" + task.code;
            }
            break;
    }
    deps.generations.Finish(record.id, outcome);
    std::optional<lib::generation::GenerationRecord> fresh =
        deps.generations.FindTask(record.user_id, record.task_id);
    return {fresh.value_or(record), ""};
}

}  // namespace

Response ModelsHandler::Handle(const lib::http::Request&, lib::http::StreamWriter&) const {
    Json::Value items(Json::arrayValue);
    for (const lib::generation::ModelInfo& m : deps_.models) {
        Json::Value item;
        item["provider"] = m.provider;
        item["model"] = m.model;
        item["kind"] = std::string(lib::generation::ModelKindName(m.kind));
        item["credits"] = Json::Int64(m.credits);
        items.append(item);
    }
    Json::Value body;
    body["items"] = items;
    return Response::Json(200, body);
}

Response ToolsHandler::Handle(const lib::http::Request&, lib::http::StreamWriter&) const {
    Json::Value items(Json::arrayValue);
    for (const lib::generation::WritingTool& tool : deps_.generations.ListTools()) {
        Json::Value item;
        item["tool_type"] = tool.tool_type;
        item["name"] = tool.name;
        item["description"] = tool.description;
        items.append(item);
    }
    Json::Value body;
    body["items"] = items;
    return Response::Json(200, body);
}

Response GenerateHandler::Handle(const lib::http::Request& request, lib::http::StreamWriter& writer) const {
    const lib::http::JsonFields fields(request.json);
    const std::string tool_type = fields.RequiredString("tool_type", 1, 32);
    const std::string prompt = fields.RequiredString("prompt", 1, kMaxPromptChars);
    const std::optional<std::string> model_name = fields.OptionalString("model", 1, 32);
    const bool stream = fields.OptionalBool("stream").value_or(false);
    const std::vector<std::string> images =
        fields.OptionalStringArray("images", kMaxImages, kMaxUrlChars)
            .value_or(std::vector<std::string>{});
    const std::optional<int64_t> max_tokens = fields.OptionalInt("max_tokens", 1, 8192);
    const std::optional<double> temperature = fields.OptionalNumber("temperature", 0.0, 1.99);
    for (const std::string& url : images) {
        if (url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0) {
            throw ApiError::Validation("images", "each image must be an http(s) URL");
        }
    }

    const std::string model_id =
        model_name.value_or(images.empty() ? kDefaultTextModel : kDefaultVisionModel);
    const lib::generation::ModelInfo* model = FindModel(deps_, model_id);
    if (model == nullptr) throw ApiError::Validation("model", "unknown model " + model_id);
    if (model->kind == ModelKind::kImage) {
        throw ApiError::Validation("model", model_id + " makes images: use POST /image/generate");
    }
    if (!images.empty() && model->kind != ModelKind::kVision) {
        throw ApiError::Validation("images", "images need a vision model such as qwen-vl-plus");
    }
    const std::optional<lib::generation::WritingTool> tool = deps_.generations.FindTool(tool_type);
    if (!tool) throw ApiError::Validation("tool_type", "unknown tool_type " + tool_type);
    lib::ai::Provider& provider = ProviderFor(deps_, *model);

    lib::generation::NewGeneration fresh;
    fresh.user_id = request.principal->user_id;
    fresh.kind = model->kind;
    fresh.tool_type = tool_type;
    fresh.provider = model->provider;
    fresh.model = model->model;
    fresh.stream = stream;
    fresh.prompt = prompt;
    fresh.cost = model->credits;
    const lib::generation::StartedGeneration started = deps_.generations.Start(fresh);

    lib::ai::GenerateRequest call;
    call.model = model->model;
    if (!tool->system_prompt.empty()) call.messages.push_back({"system", tool->system_prompt});
    call.messages.push_back({"user", tool->Render(prompt)});
    call.images = images;
    if (max_tokens) call.max_tokens = static_cast<int>(*max_tokens);
    call.temperature = temperature;

    ClientWatch watch(writer, deps_.heartbeat);
    if (!stream) {
        CollectSink collected;
        lib::ai::Outcome<lib::ai::GenerateResult> result = provider.Generate(call, &collected, watch);
        if (!result.ok()) {
            const lib::ai::UpstreamError& error = result.error();
            LogUpstreamError(started.generation_id, error);
            lib::generation::GenerationOutcome outcome = FailedOutcome(error, false);
            if (error.kind == lib::ai::UpstreamError::Kind::kCancelled) {
                outcome.status = GenerationStatus::kAborted;
            }
            throw UpstreamFailure(error, deps_.generations.Finish(started.generation_id, outcome));
        }
        const lib::ai::GenerateResult& done = result.value();
        const lib::generation::FinishResult finish = deps_.generations.Finish(
            started.generation_id, SucceededOutcome(done, collected.content(), true));
        Json::Value body;
        body["generation_id"] = Json::Int64(started.generation_id);
        body["content"] = collected.content();
        body["model"] = model->model;
        body["finish_reason"] = done.finish_reason;
        body["usage"] = UsageJson(done.usage.input_tokens, done.usage.output_tokens);
        body["credits_charged"] = Json::Int64(finish.refunded ? 0 : started.credits_charged);
        body["balance"] = Json::Int64(finish.balance);
        return Response::Json(200, body);
    }

    Json::Value meta;
    meta["generation_id"] = Json::Int64(started.generation_id);
    meta["model"] = model->model;
    meta["credits_charged"] = Json::Int64(started.credits_charged);
    meta["balance"] = Json::Int64(started.balance);
    SseSink sink(writer, watch, meta);
    lib::ai::Outcome<lib::ai::GenerateResult> result = provider.Generate(call, &sink, watch);

    if (result.ok()) {
        const lib::ai::GenerateResult& done = result.value();
        const lib::generation::FinishResult finish = deps_.generations.Finish(
            started.generation_id, SucceededOutcome(done, sink.content(), sink.delivered()));
        Json::Value end;
        end["finish_reason"] = done.finish_reason;
        end["usage"] = UsageJson(done.usage.input_tokens, done.usage.output_tokens);
        end["credits_charged"] = Json::Int64(finish.refunded ? 0 : started.credits_charged);
        end["balance"] = Json::Int64(finish.balance);
        if (sink.EnsureStarted()) sink.Send("done", end);
        return Streamed();
    }

    const lib::ai::UpstreamError& error = result.error();
    if (error.kind == lib::ai::UpstreamError::Kind::kCancelled) {
        // The client left. A delivered delta means they received what they paid for.
        lib::generation::GenerationOutcome outcome;
        outcome.status = GenerationStatus::kAborted;
        outcome.refund = !sink.delivered();
        outcome.delivered = sink.delivered();
        outcome.content = sink.content();
        outcome.error_code = "client_gone";
        outcome.upstream_request_id = error.request_id;
        const lib::generation::FinishResult finish = deps_.generations.Finish(started.generation_id, outcome);
        Json::Value f;
        f["generation_id"] = Json::Int64(started.generation_id);
        f["delivered"] = sink.delivered();
        f["refunded"] = finish.refunded;
        lib::base::Log(lib::base::LogLevel::kInfo, "generation.client_gone", f);
        if (sink.started()) return Streamed();
        throw ApiError(ErrorCode::kBadRequest, "the client closed the connection");
    }

    LogUpstreamError(started.generation_id, error);
    const lib::generation::FinishResult finish =
        deps_.generations.Finish(started.generation_id, FailedOutcome(error, sink.delivered()));
    const ApiError failure = UpstreamFailure(error, finish);
    if (!sink.started()) throw failure;
    Json::Value body = failure.Body();
    sink.Send("error", body);
    return Streamed();
}

Response HistoryHandler::Handle(const lib::http::Request& request, lib::http::StreamWriter&) const {
    const lib::http::PageRequest page = lib::http::ParsePageRequest(request);
    const lib::generation::HistoryPage history =
        deps_.generations.History(request.principal->user_id, page.limit(), page.offset());
    Json::Value items(Json::arrayValue);
    for (const lib::generation::GenerationRecord& r : history.items) {
        Json::Value item;
        item["id"] = Json::Int64(r.id);
        item["kind"] = std::string(lib::generation::ModelKindName(r.kind));
        item["tool_type"] = r.tool_type ? Json::Value(*r.tool_type) : Json::Value();
        item["model"] = r.model;
        item["status"] = std::string(lib::generation::GenerationStatusName(r.status));
        item["prompt"] = r.prompt;
        item["content"] = r.content;
        Json::Value images(Json::arrayValue);
        for (const std::string& url : r.image_urls) images.append(url);
        item["images"] = images;
        item["credits_charged"] = Json::Int64(r.credits_charged);
        item["refunded"] = r.refunded;
        item["finish_reason"] =
            r.finish_reason.empty() ? Json::Value() : Json::Value(r.finish_reason);
        item["usage"] = UsageJson(r.input_tokens, r.output_tokens);
        item["created_at"] = lib::base::FormatRfc3339(r.created_at);
        item["finished_at"] =
            r.finished_at ? Json::Value(lib::base::FormatRfc3339(*r.finished_at)) : Json::Value();
        items.append(item);
    }
    return Response::Json(200, lib::http::PageJson(items, history.total, page));
}

Response ImageGenerateHandler::Handle(const lib::http::Request& request, lib::http::StreamWriter&) const {
    const lib::http::JsonFields fields(request.json);
    const std::string prompt = fields.RequiredString("prompt", 1, kMaxImagePromptChars);
    const std::string model_id = fields.OptionalString("model", 1, 32).value_or(kDefaultImageModel);
    std::optional<std::string> size = fields.OptionalString("size", 3, 16);
    const std::optional<int64_t> n = fields.OptionalInt("n", 1, 4);
    const lib::generation::ModelInfo* model = FindModel(deps_, model_id);
    if (model == nullptr || model->kind != ModelKind::kImage) {
        throw ApiError::Validation("model", "unknown image model " + model_id);
    }
    if (size) {
        std::replace(size->begin(), size->end(), 'x', '*');
        static const char* const kSizes[] = {"1024*1024", "720*1280", "1280*720", "768*1152"};
        if (std::none_of(std::begin(kSizes), std::end(kSizes),
                         [&](const char* s) { return *size == s; })) {
            throw ApiError::Validation("size",
                                       "size must be 1024*1024, 720*1280, 1280*720 or 768*1152");
        }
    }
    lib::ai::Provider& provider = ProviderFor(deps_, *model);

    lib::generation::NewGeneration fresh;
    fresh.user_id = request.principal->user_id;
    fresh.kind = ModelKind::kImage;
    fresh.provider = model->provider;
    fresh.model = model->model;
    fresh.prompt = prompt;
    fresh.cost = model->credits;
    const lib::generation::StartedGeneration started = deps_.generations.Start(fresh);

    lib::ai::ImageRequest call;
    call.model = model->model;
    call.prompt = prompt;
    call.size = size;
    if (n) call.n = static_cast<int>(*n);
    lib::ai::NoCancel never;
    lib::ai::Outcome<lib::ai::ImageTask> submitted = provider.SubmitImageTask(call, never);
    if (!submitted.ok()) {
        LogUpstreamError(started.generation_id, submitted.error());
        throw UpstreamFailure(submitted.error(),
                              deps_.generations.Finish(started.generation_id,
                                                       FailedOutcome(submitted.error(), false)));
    }
    deps_.generations.SetTask(started.generation_id, submitted.value().task_id);
    Json::Value body;
    body["task_id"] = submitted.value().task_id;
    body["status"] = std::string(lib::ai::TaskStatusName(submitted.value().status));
    body["credits_charged"] = Json::Int64(started.credits_charged);
    body["balance"] = Json::Int64(started.balance);
    return Response::Json(202, body);
}

Response ImageTaskHandler::Handle(const lib::http::Request& request, lib::http::StreamWriter&) const {
    const std::string task_id = request.PathParam("task_id");
    std::optional<lib::generation::GenerationRecord> record =
        task_id.size() <= 64 ? deps_.generations.FindTask(request.principal->user_id, task_id)
                             : std::nullopt;
    if (!record) throw ApiError(ErrorCode::kNotFound, "task not found");
    auto [current, upstream] = Poll(deps_, *record);
    return Response::Json(200, TaskJson(current, upstream));
}

lib::generation::GenerationRecord PollImageTask(const GenerationDeps& deps, lib::generation::GenerationRecord record) {
    return Poll(deps, std::move(record)).first;
}

std::vector<lib::base::Job> GenerationJobs(const GenerationDeps& deps) {
    return {
        {"generation.recover", std::chrono::seconds(30),
         [deps] {
             while (deps.generations.RecoverStale(100) >= 100) {
             }
         }},
        {"image.poll", std::chrono::seconds(3),
         [deps] {
             for (lib::generation::GenerationRecord& r :
                  deps.generations.PendingTasks(std::chrono::seconds(3), 20)) {
                 PollImageTask(deps, std::move(r));
             }
         }},
    };
}

}  // namespace inkstone::handlers
