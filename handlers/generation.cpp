#include "handlers/generation.h"

#include <algorithm>
#include <string>

#include "handlers/generation_views.h"
#include "lib/http/json_body.h"
#include "lib/http/paging.h"
#include "lib/http/sse.h"

namespace inkstone::handlers {
namespace {

using lib::base::ApiError;
using lib::generation::ModelInfo;
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

// The jobs' bounds per run: recovery finishes at most kRecoverBatch generations per batch and
// the poller polls kPollBatch tasks per run (tasks polled in the last kPollMinAge are skipped).
constexpr int kRecoverBatch = 100;
constexpr lib::base::BatchBudget kRecoverBudget{20, std::chrono::seconds(10)};
constexpr int kPollBatch = 20;
constexpr std::chrono::seconds kPollMinAge{3};

/// The SSE side of a streamed generation: forwards each delta as one event, flushed at once,
/// keeps an idle stream alive with comments, and tells the provider when the client has gone
/// (the provider also sleeps on nginx's connection, so a client that leaves is noticed at once
/// rather than at the next periodic check). The 200 header and the meta event go out with the
/// first delta, so a failure before any output can still be a plain HTTP error.
class SseClient final : public lib::generation::TextClient {
  public:
    SseClient(lib::http::StreamWriter& writer, std::chrono::milliseconds heartbeat,
              std::string model)
        : writer_(writer), sse_(writer), heartbeat_(heartbeat), model_(std::move(model)) {}

    void Started(const lib::generation::StartedGeneration& started) override {
        meta_ = views::MetaJson(started, model_);
    }
    bool OnDelta(std::string_view text) override {
        if (!EnsureStarted()) return false;
        Json::Value delta;
        delta["content"] = std::string(text);
        if (!sse_.Send("delta", delta)) return false;
        last_write_ = SteadyClock::now();
        return true;
    }
    bool IsCancelled() const override {
        if (started_ && SteadyClock::now() - last_write_ >= heartbeat_) {
            lib::http::SseStream(writer_).Heartbeat();
            last_write_ = SteadyClock::now();
        }
        return writer_.ClientGone();
    }
    int WakeFd() const override { return writer_.ClientFd(); }

    bool EnsureStarted() {
        if (started_) return true;
        started_ = true;
        const bool ok = sse_.Start() && sse_.Send("meta", meta_);
        last_write_ = SteadyClock::now();
        return ok;
    }
    bool Send(std::string_view event, const Json::Value& data) { return sse_.Send(event, data); }
    bool started() const { return started_; }

  private:
    lib::http::StreamWriter& writer_;
    lib::http::SseStream sse_;
    const std::chrono::milliseconds heartbeat_;
    const std::string model_;
    Json::Value meta_;
    bool started_ = false;
    mutable SteadyClock::time_point last_write_{};
};

/// A JSON client: it gets the whole text in the reply; only its going away matters meanwhile.
class JsonClient final : public lib::generation::TextClient {
  public:
    explicit JsonClient(lib::http::StreamWriter& writer) : writer_(writer) {}
    void Started(const lib::generation::StartedGeneration&) override {}
    bool OnDelta(std::string_view) override { return true; }
    bool IsCancelled() const override { return writer_.ClientGone(); }
    int WakeFd() const override { return writer_.ClientFd(); }

  private:
    lib::http::StreamWriter& writer_;
};

Response Streamed() {
    Response r;
    r.streamed = true;
    return r;
}

/// The model of a text generation: `model`, or the default for text (vision with images).
const ModelInfo& TextModel(const lib::generation::GenerationService& service,
                           const std::optional<std::string>& name, bool with_images) {
    const std::string model_id =
        name.value_or(with_images ? kDefaultVisionModel : kDefaultTextModel);
    const ModelInfo* model = lib::generation::FindModel(service.Models(), model_id);
    if (model == nullptr) throw ApiError::Validation("model", "unknown model " + model_id);
    if (model->kind == ModelKind::kImage) {
        throw ApiError::Validation("model", model_id + " makes images: use POST /image/generate");
    }
    if (with_images && model->kind != ModelKind::kVision) {
        throw ApiError::Validation("images", "images need a vision model such as qwen-vl-plus");
    }
    return *model;
}

lib::generation::TextOrder ParseTextOrder(const lib::generation::GenerationService& service,
                                          const lib::http::Request& request) {
    const lib::http::JsonFields fields(request.json);
    lib::generation::TextOrder order;
    order.user_id = request.principal->user_id;
    order.tool_type = fields.RequiredString("tool_type", 1, 32);
    order.prompt = fields.RequiredString("prompt", 1, kMaxPromptChars);
    const std::optional<std::string> model_name = fields.OptionalString("model", 1, 32);
    order.stream = fields.OptionalBool("stream").value_or(false);
    order.images = fields.OptionalStringArray("images", kMaxImages, kMaxUrlChars)
                       .value_or(std::vector<std::string>{});
    if (std::optional<int64_t> max_tokens = fields.OptionalInt("max_tokens", 1, 8192)) {
        order.max_tokens = static_cast<int>(*max_tokens);
    }
    order.temperature = fields.OptionalNumber("temperature", 0.0, 1.99);
    for (const std::string& url : order.images) {
        if (url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0) {
            throw ApiError::Validation("images", "each image must be an http(s) URL");
        }
    }
    order.model = &TextModel(service, model_name, !order.images.empty());
    return order;
}

}  // namespace

Response ModelsHandler::Handle(const lib::http::Request&, lib::http::StreamWriter&) const {
    Json::Value items(Json::arrayValue);
    for (const ModelInfo& m : service_.Models()) items.append(views::ModelJson(m));
    Json::Value body;
    body["items"] = items;
    return Response::Json(200, body);
}

Response ToolsHandler::Handle(const lib::http::Request&, lib::http::StreamWriter&) const {
    Json::Value items(Json::arrayValue);
    for (const lib::generation::WritingTool& tool : service_.Tools()) {
        items.append(views::ToolJson(tool));
    }
    Json::Value body;
    body["items"] = items;
    return Response::Json(200, body);
}

Response GenerateHandler::Handle(const lib::http::Request& request,
                                 lib::http::StreamWriter& writer) const {
    const lib::generation::TextOrder order = ParseTextOrder(service_, request);
    return order.stream ? AnswerStream(order, writer) : AnswerJson(order, writer);
}

Response GenerateHandler::AnswerJson(const lib::generation::TextOrder& order,
                                     lib::http::StreamWriter& writer) const {
    JsonClient client(writer);
    const lib::generation::TextResult result = service_.Write(order, client);
    if (result.error) throw *result.error;
    return Response::Json(200, views::GenerationJson(result, order.model->model));
}

Response GenerateHandler::AnswerStream(const lib::generation::TextOrder& order,
                                       lib::http::StreamWriter& writer) const {
    SseClient client(writer, heartbeat_, order.model->model);
    const lib::generation::TextResult result = service_.Write(order, client);
    if (!result.error) {
        if (client.EnsureStarted()) client.Send("done", views::DoneJson(result));
        return Streamed();
    }
    // Before the first delta the failure is still a plain HTTP error; after it, an event (a
    // client that left hears neither).
    if (!client.started()) throw *result.error;
    client.Send("error", result.error->Body());
    return Streamed();
}

Response HistoryHandler::Handle(const lib::http::Request& request, lib::http::StreamWriter&) const {
    const lib::http::PageRequest page = lib::http::ParsePageRequest(request);
    const lib::generation::HistoryPage history =
        service_.History(request.principal->user_id, page.limit(), page.offset());
    Json::Value items(Json::arrayValue);
    for (const lib::generation::GenerationRecord& r : history.items) {
        items.append(views::HistoryItemJson(r));
    }
    return Response::Json(200, lib::http::PageJson(items, history.total, page));
}

Response ImageGenerateHandler::Handle(const lib::http::Request& request,
                                      lib::http::StreamWriter&) const {
    const lib::http::JsonFields fields(request.json);
    lib::generation::ImageOrder order;
    order.user_id = request.principal->user_id;
    order.prompt = fields.RequiredString("prompt", 1, kMaxImagePromptChars);
    const std::string model_id = fields.OptionalString("model", 1, 32).value_or(kDefaultImageModel);
    order.size = fields.OptionalString("size", 3, 16);
    if (std::optional<int64_t> n = fields.OptionalInt("n", 1, 4)) order.n = static_cast<int>(*n);
    order.model = lib::generation::FindModel(service_.Models(), model_id);
    if (order.model == nullptr || order.model->kind != ModelKind::kImage) {
        throw ApiError::Validation("model", "unknown image model " + model_id);
    }
    if (order.size) {
        std::replace(order.size->begin(), order.size->end(), 'x', '*');
        static const char* const kSizes[] = {"1024*1024", "720*1280", "1280*720", "768*1152"};
        if (std::none_of(std::begin(kSizes), std::end(kSizes),
                         [&](const char* s) { return *order.size == s; })) {
            throw ApiError::Validation("size",
                                       "size must be 1024*1024, 720*1280, 1280*720 or 768*1152");
        }
    }
    return Response::Json(202, views::SubmittedJson(service_.SubmitImage(order)));
}

Response ImageTaskHandler::Handle(const lib::http::Request& request,
                                  lib::http::StreamWriter&) const {
    return Response::Json(200, views::TaskJson(service_.Task(request.principal->user_id,
                                                             request.PathParam("task_id"))));
}

std::vector<lib::base::Job> GenerationJobs(const GenerationDeps& deps) {
    const lib::generation::GenerationService service = deps.Service();
    return {
        {"generation.recover", std::chrono::seconds(30),
         [service] {
             lib::base::RunBatches(kRecoverBudget, kRecoverBatch,
                                   [&] { return service.Recover(kRecoverBatch); });
         }},
        {"image.poll", std::chrono::seconds(3),
         [service] { service.PollPending(kPollMinAge, kPollBatch); }},
    };
}

}  // namespace inkstone::handlers
