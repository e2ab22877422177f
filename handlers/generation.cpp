#include "handlers/generation.h"

#include <poll.h>

#include <algorithm>
#include <charconv>
#include <string>
#include <thread>

#include "handlers/generation_views.h"
#include "lib/billing/idempotency.h"
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

/// The SSE side of a streamed generation: forwards each delta as one event with its number as
/// the event id, flushed at once, and keeps an idle stream alive with comments. The 200 header
/// and the meta event go out with the first delta, so a failure before any output can still be
/// a plain HTTP error. A client that leaves is only no longer written to: the generation goes
/// on (README, "Who pays").
class SseClient final : public lib::generation::TextClient {
  public:
    SseClient(lib::http::StreamWriter& writer, std::chrono::milliseconds heartbeat,
              std::string model)
        : writer_(writer), sse_(writer), heartbeat_(heartbeat), model_(std::move(model)) {}

    void Started(const lib::generation::StartedGeneration& started) override {
        meta_ = views::MetaJson(started, model_);
    }
    bool OnDelta(std::string_view text, int64_t seq) override {
        if (!EnsureStarted()) return false;
        if (!sse_.Send("delta", views::DeltaJson(text), seq)) return false;
        last_write_ = SteadyClock::now();
        return true;
    }
    void Idle() override {
        if (started_ && SteadyClock::now() - last_write_ >= heartbeat_) {
            sse_.Heartbeat();
            last_write_ = SteadyClock::now();
        }
    }

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
    SteadyClock::time_point last_write_{};
};

/// A JSON client: it gets the whole text in the reply; it may leave meanwhile (the generation
/// is stored and charged all the same).
class JsonClient final : public lib::generation::TextClient {
  public:
    void Started(const lib::generation::StartedGeneration&) override {}
    bool OnDelta(std::string_view, int64_t) override { return true; }
};

/// The reattach side (GET /writing/generations/{id}/stream, and an Idempotency-Key retry of a
/// stream): `meta`, the deltas with their numbers, then `done` or `error`, as the first stream
/// sent them.
class SseFollower final : public lib::generation::FollowClient {
  public:
    SseFollower(lib::http::StreamWriter& writer, std::chrono::milliseconds heartbeat)
        : writer_(writer), sse_(writer), heartbeat_(heartbeat) {}

    bool Begin(const lib::generation::GenerationRecord& record) override {
        Json::Value meta;
        meta["generation_id"] = Json::Int64(record.id);
        meta["model"] = record.model;
        meta["status"] = std::string(ToSql(record.status));
        meta["deltas"] = Json::Int64(record.deltas);
        meta["credits_charged"] = Json::Int64(record.refunded ? 0 : record.credits_charged);
        meta["balance"] = Json::Int64(record.balance);
        last_write_ = SteadyClock::now();
        return sse_.Start() && sse_.Send("meta", meta);
    }
    bool Delta(std::string_view text, int64_t seq) override {
        last_write_ = SteadyClock::now();
        return sse_.Send("delta", views::DeltaJson(text), seq);
    }
    void End(const lib::generation::GenerationRecord& record) override {
        const views::EndEvent end = views::FollowEndEvent(record);
        sse_.Send(end.name, end.data);
    }
    bool Wait(std::chrono::milliseconds wait) override {
        // Sleeps on nginx's connection, so a reader that leaves ends the follow at once.
        const int fd = writer_.ClientFd();
        if (fd >= 0) {
            pollfd p{fd, POLLRDHUP, 0};
            poll(&p, 1, static_cast<int>(wait.count()));
        } else {
            std::this_thread::sleep_for(wait);
        }
        if (writer_.ClientGone()) return false;
        if (SteadyClock::now() - last_write_ >= heartbeat_) {
            last_write_ = SteadyClock::now();
            return sse_.Heartbeat();
        }
        return true;
    }

  private:
    lib::http::StreamWriter& writer_;
    lib::http::SseStream sse_;
    const std::chrono::milliseconds heartbeat_;
    SteadyClock::time_point last_write_{};
};

/// The generation id of /writing/generations/{id}...: digits only, else 404 like an unknown id.
int64_t GenerationIdOf(const lib::http::Request& request) {
    const std::string text = request.PathParam("id");
    int64_t id = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || id <= 0) {
        throw ApiError(lib::base::ErrorCode::kNotFound, "generation not found");
    }
    return id;
}

/// Where a reattach starts: `Last-Event-ID` (what an EventSource sends back), else `?after=N`,
/// else 0 (from the first delta).
int64_t ResumeAfter(const lib::http::Request& request) {
    std::string text = request.Header("last-event-id");
    const char* field = "Last-Event-ID";
    if (text.empty()) {
        text = request.QueryParam("after").value_or("");
        field = "after";
    }
    if (text.empty()) return 0;
    int64_t after = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), after);
    if (ec != std::errc() || ptr != text.data() + text.size() || after < 0) {
        throw ApiError::Validation(field,
                                   std::string(field) + " must be a delta number (0, 1, ...)");
    }
    return after;
}

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
    order.catalog_version = request.principal->catalog_version;
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
    for (const ModelInfo& m : service_.PricedModels()) items.append(views::ModelJson(m));
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
    lib::generation::TextOrder order = ParseTextOrder(service_, request);
    order.idempotency = lib::billing::IdempotentRequestOf(request, "POST /writing/generate");
    return order.stream ? AnswerStream(order, request, writer) : AnswerJson(order, request, writer);
}

Response GenerateHandler::AnswerJson(const lib::generation::TextOrder& order,
                                     const lib::http::Request& request,
                                     lib::http::StreamWriter&) const {
    JsonClient client;
    const lib::generation::TextResult result = service_.Write(order, client);
    if (result.started.replayed) {
        return Replayed(request.principal->user_id, result.started.generation_id);
    }
    if (result.error) throw *result.error;
    return Response::Json(200, views::GenerationJson(result, order.model->model));
}

Response GenerateHandler::AnswerStream(const lib::generation::TextOrder& order,
                                       const lib::http::Request& request,
                                       lib::http::StreamWriter& writer) const {
    SseClient client(writer, heartbeat_, order.model->model);
    const lib::generation::TextResult result = service_.Write(order, client);
    if (result.started.replayed) {
        // The retry of a stream reads the first request's generation from its first delta.
        SseFollower follower(writer, heartbeat_);
        service_.Follow(request.principal->user_id, result.started.generation_id, 0, follower);
        return Streamed();
    }
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

Response GenerateHandler::Replayed(int64_t user_id, int64_t generation_id) const {
    // The first request may still be running (on any worker): its reply is the finished row.
    const auto give_up = SteadyClock::now() + replay_wait_;
    lib::generation::GenerationRecord record = service_.Get(user_id, generation_id);
    while (record.status == lib::generation::GenerationStatus::kRunning &&
           SteadyClock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
        record = service_.Get(user_id, generation_id);
    }
    if (record.status == lib::generation::GenerationStatus::kRunning) {
        ApiError busy(lib::base::ErrorCode::kUnavailable,
                      "the first request's generation is still running");
        busy.retry_after_s = 5;
        busy.extra["generation_id"] = Json::Int64(generation_id);
        throw busy;
    }
    if (std::optional<ApiError> error = views::EndedError(record)) throw *error;
    return Response::Json(200, views::GenerationJson(record));
}

Response GenerationHandler::Handle(const lib::http::Request& request,
                                   lib::http::StreamWriter&) const {
    return Response::Json(200, views::GenerationDetailJson(service_.Get(request.principal->user_id,
                                                                        GenerationIdOf(request))));
}

Response GenerationStreamHandler::Handle(const lib::http::Request& request,
                                         lib::http::StreamWriter& writer) const {
    const int64_t id = GenerationIdOf(request);
    const int64_t after = ResumeAfter(request);
    // A 404 is still a plain HTTP error: the stream starts with the first read of the row.
    SseFollower follower(writer, heartbeat_);
    service_.Follow(request.principal->user_id, id, after, follower);
    return Streamed();
}

Response CancelGenerationHandler::Handle(const lib::http::Request& request,
                                         lib::http::StreamWriter&) const {
    const int64_t id = GenerationIdOf(request);
    const int64_t user_id = request.principal->user_id;
    if (service_.Cancel(user_id, id) == lib::generation::CancelOutcome::kEnded) {
        ApiError ended(lib::base::ErrorCode::kConflict, "the generation has already ended");
        ended.extra["generation_id"] = Json::Int64(id);
        throw ended;
    }
    Json::Value body;
    body["generation_id"] = Json::Int64(id);
    body["cancel_requested"] = true;
    return Response::Json(202, body);
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
    order.catalog_version = request.principal->catalog_version;
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
        {"generation.recover", std::chrono::seconds(deps.recover_every_s),
         [service] {
             lib::base::RunBatches(kRecoverBudget, kRecoverBatch,
                                   [&] { return service.Recover(kRecoverBatch); });
         }},
        {"image.poll", std::chrono::seconds(3),
         [service] { service.PollPending(kPollMinAge, kPollBatch); }},
    };
}

}  // namespace inkstone::handlers
