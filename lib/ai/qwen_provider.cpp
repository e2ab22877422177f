#include "lib/ai/qwen_provider.h"

#include <json/reader.h>
#include <json/value.h>
#include <json/writer.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>

#include "lib/base/log.h"
#include "lib/base/metrics.h"
#include "lib/net/http_client.h"

namespace inkstone::lib::ai {
namespace {

using Kind = UpstreamError::Kind;
using SteadyClock = std::chrono::steady_clock;

constexpr std::string_view kTextPath = "/services/aigc/text-generation/generation";
constexpr std::string_view kMultimodalPath = "/services/aigc/multimodal-generation/generation";
constexpr std::string_view kImagePath = "/services/aigc/text2image/image-synthesis";
constexpr std::string_view kTasksPath = "/tasks/";
constexpr size_t kMaxRequestIdChars = 128;

bool StartsWith(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

bool IsMultimodal(const GenerateRequest& request) {
    return !request.images.empty() || StartsWith(request.model, "qwen-vl");
}

/// Compact JSON with doubles at 15 significant digits, so temperature 0.7 goes out as `0.7`,
/// not `0.69999999999999996`.
std::string RequestJson(const Json::Value& value) {
    static const Json::StreamWriterBuilder builder = [] {
        Json::StreamWriterBuilder b;
        b["indentation"] = "";
        b["emitUTF8"] = true;
        b["precision"] = 15;
        return b;
    }();
    return Json::writeString(builder, value);
}

std::string Authorization(const base::QwenConfig& config) {
    return "Authorization: Bearer " + config.api_key;
}

Json::Value TextPart(const std::string& text) {
    Json::Value part(Json::objectValue);
    part["text"] = text;
    return part;
}

UpstreamError MakeError(Kind kind, std::string message) {
    UpstreamError error;
    error.kind = kind;
    error.message = std::move(message);
    return error;
}

// ---------------------------------------------------------------------------------------------
// One exchange over lib/net

/// Collects the deltas of a non-stream call that upstream answered with SSE anyway.
class Collector final : public StreamSink {
  public:
    bool OnDelta(std::string_view text) override {
        if (text.size() > limit - content.size()) {
            overflow = true;
            return false;
        }
        content.append(text);
        return true;
    }
    std::string content;
    size_t limit = 0;
    bool overflow = false;
};

bool Is2xx(long status) { return status >= 200 && status < 300; }

/// Everything one HTTP exchange needs and produces. lib/net calls it as the answer arrives and
/// whenever it waits: there it checks the cancel token and the idle timer.
struct Exchange final : net::CallHandler {
    // Inputs.
    bool generation = false;     // a generation: a 2xx body may be SSE
    StreamSink* sink = nullptr;  // set: a streamed generation
    bool idle_timeout = false;   // apply config.idle_timeout_ms
    size_t max_body_bytes = 0;
    size_t max_error_body_bytes = 0;
    SseLimits sse;
    const CancelToken* cancel = nullptr;
    std::chrono::milliseconds idle_limit{0};
    std::chrono::milliseconds tick{100};          // the longest wait between cancel checks
    std::chrono::milliseconds finish_grace{100};  // after the finish frame, for the body's end

    // What arrived.
    enum class Mode { kUndecided, kSse, kBuffer } mode = Mode::kUndecided;
    long status = 0;
    std::string body;  // a JSON body, or the start of a non-2xx body
    bool body_overflow = false;
    std::optional<DashScopeStreamDecoder> decoder;
    Collector collector;  // the decoder's sink when `sink` is null
    std::string header_request_id;
    SteadyClock::time_point last_byte = SteadyClock::now();
    std::optional<SteadyClock::time_point> finished_at;
    std::optional<SteadyClock::time_point> first_output;  ///< the first delta decoded

    // How it ended.
    std::optional<UpstreamError> setup_error;
    net::CallResult result;
    bool cancelled = false;
    bool idle_expired = false;

    void OnNewResponse() override {
        last_byte = SteadyClock::now();
        header_request_id.clear();  // a new response (after a 100 Continue, say)
    }

    void OnHeader(std::string_view name, std::string_view value) override {
        last_byte = SteadyClock::now();
        if (name == "x-request-id" && !value.empty()) {
            header_request_id.assign(value.substr(0, kMaxRequestIdChars));
        }
    }

    bool OnBody(long http_status, std::string_view bytes) override {
        last_byte = SteadyClock::now();
        status = http_status;
        if (mode == Mode::kUndecided) {
            DecideMode(bytes);
            if (mode == Mode::kUndecided) return true;
        }
        if (mode == Mode::kSse) {
            // Stopping here aborts the transfer: an error frame, garbage or a sink that stopped
            // ends the call now. After the finish frame the rest of the body is read (and
            // ignored) so the connection can be reused.
            const auto state = decoder->Feed(bytes);
            if (!first_output && decoder->after_output()) first_output = last_byte;
            // Feeding writes to the client, which may block on a slow reader: the idle timer
            // measures upstream's silence only, so it restarts when our own write returns.
            last_byte = SteadyClock::now();
            return state == DashScopeStreamDecoder::State::kStreaming ||
                   state == DashScopeStreamDecoder::State::kFinished;
        }
        const size_t limit = Is2xx(status) ? max_body_bytes : max_error_body_bytes;
        if (body.size() + bytes.size() > limit) {
            // A 2xx body this large is garbage; of an error body the start is enough.
            body.append(bytes.substr(0, limit - body.size()));
            body_overflow = Is2xx(status);
            return false;
        }
        body.append(bytes);
        return true;
    }

    std::optional<std::chrono::milliseconds> NextWait() override {
        if (cancel->IsCancelled()) {
            cancelled = true;
            return std::nullopt;
        }
        const auto now = SteadyClock::now();
        auto wait = tick;
        if (decoder && decoder->state() == DashScopeStreamDecoder::State::kFinished) {
            // Everything is here; give the end of the body one poll to arrive (for keep-alive),
            // then stop waiting for a server that keeps the body open.
            if (!finished_at) finished_at = now;
            if (now - *finished_at >= finish_grace) return std::nullopt;
            return std::min(wait, finish_grace);
        }
        if (idle_timeout) {
            const auto silent = now - last_byte;
            if (silent >= idle_limit) {
                idle_expired = true;
                return std::nullopt;
            }
            wait =
                std::min(wait, std::chrono::ceil<std::chrono::milliseconds>(idle_limit - silent));
        }
        return wait;
    }

    int WakeFd() const override { return cancel->WakeFd(); }

  private:
    /// Decides what the body is from the status and its first significant byte, whatever the
    /// request asked for: a 2xx generation body that does not start with '{' is SSE; everything
    /// else is buffered (a JSON document, or an error body that DecodeDashScopeErrorBody reads
    /// in any of its forms).
    void DecideMode(std::string_view bytes) {
        if (generation && Is2xx(status)) {
            const size_t first = bytes.find_first_not_of(" \t\r\n");
            if (first == std::string_view::npos) return;  // only blank so far: wait
            if (bytes[first] != '{') {
                collector.limit = max_body_bytes;
                StreamSink& target = sink != nullptr ? *sink : collector;
                decoder.emplace(target, static_cast<int>(status), sse);
                mode = Mode::kSse;
                return;
            }
        }
        mode = Mode::kBuffer;
    }
};

/// Runs one exchange: the call's timeouts from the config, the cancel checks every tick (or on
/// the cancel's wake descriptor at once).
void Perform(const HttpCall& call, const base::QwenConfig& config,
             const QwenProvider::Options& options, const CancelToken& cancel, Exchange& ex) {
    if (cancel.IsCancelled()) {
        ex.cancelled = true;
        return;
    }
    net::Call request;
    request.method = call.method;
    request.url = call.url;
    request.headers = call.headers;
    request.body = call.body;
    request.connect_timeout = std::chrono::milliseconds(config.connect_timeout_ms);
    request.total_timeout = std::chrono::milliseconds(config.total_timeout_ms);
    ex.cancel = &cancel;
    ex.idle_limit = std::chrono::milliseconds(config.idle_timeout_ms);
    ex.tick = cancel.WakeFd() >= 0 ? options.wake_fd_poll_interval : options.poll_interval;
    ex.finish_grace = options.poll_interval;
    ex.last_byte = SteadyClock::now();
    ex.result = net::Perform(request, ex);
    // A response without a body never reached OnBody, which records the status.
    if (ex.status == 0) ex.status = ex.result.status;
}

/// What went wrong with an exchange, or nullopt when a complete 2xx body is here. Covers every
/// path that is not about the 2xx body's content.
std::optional<UpstreamError> TransportFailure(const Exchange& ex, const base::QwenConfig& config) {
    if (ex.setup_error) return ex.setup_error;
    if (ex.cancelled) return MakeError(Kind::kCancelled, "cancelled");
    // A status arrived: an error body says more than how the transfer ended.
    if (ex.status != 0 && !Is2xx(ex.status)) {
        return DecodeDashScopeErrorBody(static_cast<int>(ex.status), ex.body, ex.header_request_id);
    }
    if (ex.idle_expired) {
        return MakeError(Kind::kTimeout,
                         "no data for " + std::to_string(config.idle_timeout_ms) + " ms");
    }
    if (ex.body_overflow) return MakeError(Kind::kProtocol, "body too large");
    switch (ex.result.end) {
        case net::CallEnd::kComplete:
            return std::nullopt;
        case net::CallEnd::kTimeout:
            return MakeError(Kind::kTimeout, ex.result.error);
        case net::CallEnd::kStopped:
            return MakeError(Kind::kNetwork, "transfer did not finish");
        case net::CallEnd::kAborted:
            return MakeError(Kind::kNetwork, "transfer aborted");
        case net::CallEnd::kTransport:
            break;
    }
    return MakeError(Kind::kNetwork, ex.result.error);
}

std::string Redacted(std::string text, const std::string& secret) {
    if (secret.empty()) return text;
    for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
        text.replace(at, secret.size(), "[redacted]");
        at += 10;
    }
    return text;
}

/// Logs one call and keeps the key out of the error's text.
template <typename T>
Outcome<T> Finish(Outcome<T> outcome, std::string_view endpoint, const base::QwenConfig& config,
                  const Exchange& ex, SteadyClock::time_point started, Json::Value fields) {
    fields["endpoint"] = std::string(endpoint);
    fields["http_status"] = static_cast<Json::Int>(ex.status);
    {
        const std::string model =
            fields["model"].isString() ? fields["model"].asString() : std::string(endpoint);
        const std::string_view result =
            outcome.ok() ? std::string_view("ok") : UpstreamErrorKindName(outcome.error().kind);
        base::metrics::Count("inkstone_upstream_requests_total",
                             {{"model", model}, {"outcome", result}});
        base::metrics::Observe("inkstone_upstream_duration_seconds", {{"model", model}},
                               std::chrono::duration<double>(SteadyClock::now() - started).count());
        if (ex.first_output) {
            base::metrics::Observe(
                "inkstone_upstream_first_token_seconds", {{"model", model}},
                std::chrono::duration<double>(*ex.first_output - started).count());
        }
    }
    fields["ms"] = static_cast<Json::Int64>(
        std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - started)
            .count());
    if (outcome.ok()) {
        base::Log(base::LogLevel::kInfo, "qwen.call", fields);
        return outcome;
    }
    UpstreamError error = outcome.error();
    error.message = Redacted(std::move(error.message), config.api_key);
    error.code = Redacted(std::move(error.code), config.api_key);
    error.request_id = Redacted(std::move(error.request_id), config.api_key);
    if (error.request_id.empty()) error.request_id = ex.header_request_id;
    fields["kind"] = std::string(UpstreamErrorKindName(error.kind));
    fields["upstream_status"] = error.http_status;
    fields["code"] = error.code;
    fields["message"] = error.message;
    fields["upstream_request_id"] = error.request_id;
    fields["after_output"] = error.after_output;
    base::Log(error.kind == Kind::kCancelled ? base::LogLevel::kInfo : base::LogLevel::kWarn,
              "qwen.call_failed", fields);
    return error;
}

Outcome<GenerateResult> InterpretGenerate(Exchange& ex, const base::QwenConfig& config) {
    // Only the caller's sink delivers output; the collector of a non-stream call does not.
    const bool after_output = ex.sink != nullptr && ex.decoder && ex.decoder->after_output();
    const auto failed = [&](UpstreamError error) {
        error.after_output = after_output;
        return Outcome<GenerateResult>(std::move(error));
    };
    const auto finished = [&]() {
        GenerateResult result = ex.decoder->result();
        if (ex.sink == nullptr) result.content = std::move(ex.collector.content);
        return Outcome<GenerateResult>(std::move(result));
    };
    using State = DashScopeStreamDecoder::State;
    if (ex.decoder) {
        // The decoder knows best once it has seen a finish, an error frame or a stopped sink:
        // a cancel, cut or timeout after those changes nothing.
        switch (ex.decoder->state()) {
            case State::kFinished:
                return finished();
            case State::kFailed:
                return failed(ex.decoder->error());
            case State::kStopped:
                if (ex.collector.overflow)
                    return failed(MakeError(Kind::kProtocol, "too much text"));
                return failed(MakeError(Kind::kCancelled, "the sink stopped the stream"));
            case State::kStreaming:
                break;
        }
    }
    if (auto failure = TransportFailure(ex, config)) return failed(std::move(*failure));
    switch (ex.mode) {
        case Exchange::Mode::kSse:
            if (ex.decoder->Finish() == State::kFinished) return finished();
            return failed(ex.decoder->error());
        case Exchange::Mode::kBuffer: {
            Outcome<GenerateResult> outcome = DecodeDashScopeResult(ex.body);
            if (outcome.ok() && ex.sink != nullptr) {
                // A streamed call answered with one JSON document: hand it over as one delta.
                // The text is complete, so a sink that stops here changes nothing.
                if (!outcome.value().content.empty()) ex.sink->OnDelta(outcome.value().content);
                outcome.value().content.clear();
            }
            return outcome;
        }
        case Exchange::Mode::kUndecided:
            break;
    }
    return failed(MakeError(Kind::kProtocol, "empty body"));
}

Outcome<ImageTask> InterpretTask(const Exchange& ex, const base::QwenConfig& config) {
    if (auto failure = TransportFailure(ex, config)) return std::move(*failure);
    return DecodeImageTaskBody(ex.body);
}

std::optional<TaskStatus> ParseTaskStatus(std::string_view name) {
    if (name == "PENDING") return TaskStatus::kPending;
    if (name == "RUNNING" || name == "SUSPENDED") return TaskStatus::kRunning;
    if (name == "SUCCEEDED") return TaskStatus::kSucceeded;
    if (name == "FAILED") return TaskStatus::kFailed;
    if (name == "CANCELED") return TaskStatus::kCanceled;
    if (name == "UNKNOWN") return TaskStatus::kUnknown;
    return std::nullopt;
}

std::string StringMember(const Json::Value& object, const char* name) {
    const Json::Value& value = object[name];
    return value.isString() ? value.asString() : std::string();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Request building

HttpCall BuildGenerateCall(const base::QwenConfig& config, const GenerateRequest& request,
                           bool stream) {
    const bool multimodal = IsMultimodal(request);
    HttpCall call;
    call.method = "POST";
    call.url = config.base_url + std::string(multimodal ? kMultimodalPath : kTextPath);
    call.headers = {Authorization(config), "Content-Type: application/json"};
    if (stream) {
        call.headers.emplace_back("Accept: text/event-stream");
        call.headers.emplace_back("X-DashScope-SSE: enable");
    } else {
        call.headers.emplace_back("Accept: application/json");
    }

    size_t image_target = request.messages.size();  // the last user message gets the images
    for (size_t i = request.messages.size(); i-- > 0;) {
        if (request.messages[i].role == "user") {
            image_target = i;
            break;
        }
    }
    Json::Value messages(Json::arrayValue);
    const auto add_images = [&](Json::Value& content) {
        for (const std::string& url : request.images) {
            Json::Value part(Json::objectValue);
            part["image"] = url;
            content.append(part);
        }
    };
    for (size_t i = 0; i < request.messages.size(); ++i) {
        const ChatMessage& message = request.messages[i];
        Json::Value entry(Json::objectValue);
        entry["role"] = message.role;
        if (multimodal) {
            Json::Value content(Json::arrayValue);
            if (i == image_target) add_images(content);
            content.append(TextPart(message.content));
            entry["content"] = content;
        } else {
            entry["content"] = message.content;
        }
        messages.append(entry);
    }
    if (multimodal && image_target == request.messages.size() && !request.images.empty()) {
        Json::Value entry(Json::objectValue);
        entry["role"] = "user";
        Json::Value content(Json::arrayValue);
        add_images(content);
        entry["content"] = content;
        messages.append(entry);
    }

    Json::Value body(Json::objectValue);
    body["model"] = request.model;
    body["input"]["messages"] = messages;
    Json::Value& parameters = body["parameters"];
    parameters["result_format"] = "message";
    if (request.max_tokens) parameters["max_tokens"] = *request.max_tokens;
    if (request.temperature) parameters["temperature"] = *request.temperature;
    if (stream) {
        parameters["incremental_output"] = true;
        parameters["stream"] = true;
    }
    call.body = RequestJson(body);
    return call;
}

HttpCall BuildImageSubmitCall(const base::QwenConfig& config, const ImageRequest& request) {
    HttpCall call;
    call.method = "POST";
    call.url = config.base_url + std::string(kImagePath);
    call.headers = {Authorization(config), "Content-Type: application/json",
                    "Accept: application/json", "X-DashScope-Async: enable"};
    Json::Value body(Json::objectValue);
    body["model"] = request.model;
    body["input"]["prompt"] = request.prompt;
    if (request.negative_prompt) body["input"]["negative_prompt"] = *request.negative_prompt;
    Json::Value& parameters = body["parameters"];
    parameters = Json::Value(Json::objectValue);
    if (request.size) parameters["size"] = *request.size;
    if (request.n) parameters["n"] = *request.n;
    call.body = RequestJson(body);
    return call;
}

HttpCall BuildTaskQueryCall(const base::QwenConfig& config, std::string_view task_id) {
    HttpCall call;
    call.method = "GET";
    call.url = config.base_url + std::string(kTasksPath) + std::string(task_id);
    call.headers = {Authorization(config), "Accept: application/json"};
    return call;
}

bool IsValidTaskId(std::string_view task_id) {
    if (task_id.empty() || task_id.size() > 128) return false;
    return std::all_of(task_id.begin(), task_id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    });
}

Outcome<ImageTask> DecodeImageTaskBody(std::string_view body) {
    Json::CharReaderBuilder builder;
    Json::CharReaderBuilder::strictMode(&builder.settings_);
    builder["stackLimit"] = 64;
    const std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
    Json::Value root;
    std::string errors;
    if (!reader->parse(body.data(), body.data() + body.size(), &root, &errors) ||
        !root.isObject()) {
        return MakeError(Kind::kProtocol, "malformed task JSON");
    }
    const Json::Value& output = root["output"];
    if (!output.isObject()) {
        UpstreamError error;
        error.http_status = 200;
        error.code = StringMember(root, "code");
        error.message = StringMember(root, "message");
        error.request_id = StringMember(root, "request_id");
        if (error.code.empty()) return MakeError(Kind::kProtocol, "task JSON without output");
        error.kind = ClassifyDashScopeError(200, error.code, error.message);
        return error;
    }
    ImageTask task;
    task.task_id = StringMember(output, "task_id");
    const std::optional<TaskStatus> status = ParseTaskStatus(StringMember(output, "task_status"));
    if (task.task_id.empty() || !status) {
        return MakeError(Kind::kProtocol, "task JSON without task_id or a known task_status");
    }
    task.status = *status;
    task.code = StringMember(output, "code");
    task.message = StringMember(output, "message");
    task.request_id = StringMember(root, "request_id");
    const Json::Value& results = output["results"];
    if (results.isArray()) {
        for (const Json::Value& result : results) {
            if (result.isObject() && result["url"].isString()) {
                task.image_urls.push_back(result["url"].asString());
            }
        }
    }
    const Json::Value& count = root["usage"]["image_count"];
    if (count.isIntegral() && count.asInt64() >= 0) task.image_count = count.asInt64();
    return task;
}

// ---------------------------------------------------------------------------------------------
// QwenProvider

QwenProvider::QwenProvider(base::QwenConfig config, Options options)
    : config_(std::move(config)), options_(options) {
    if (!StartsWith(config_.base_url, "http://") && !StartsWith(config_.base_url, "https://")) {
        throw base::ConfigError("qwen.base_url must be an http:// or https:// URL");
    }
    while (!config_.base_url.empty() && config_.base_url.back() == '/') config_.base_url.pop_back();
    net::Init();
}

Outcome<GenerateResult> QwenProvider::Generate(const GenerateRequest& request, StreamSink* sink,
                                               const CancelToken& cancel) {
    const HttpCall call = BuildGenerateCall(config_, request, sink != nullptr);
    const std::string_view endpoint =
        IsMultimodal(request) ? "multimodal-generation" : "text-generation";
    Json::Value fields(Json::objectValue);
    fields["model"] = request.model;
    fields["stream"] = sink != nullptr;
    const auto started = SteadyClock::now();
    Exchange ex;
    if (config_.api_key.empty()) {
        return Finish<GenerateResult>(MakeError(Kind::kAuth, "qwen.api_key is not set"), endpoint,
                                      config_, ex, started, fields);
    }
    ex.generation = true;
    ex.sink = sink;
    ex.idle_timeout = sink != nullptr;
    ex.max_body_bytes = options_.max_body_bytes;
    ex.max_error_body_bytes = options_.max_error_body_bytes;
    ex.sse = options_.sse;
    Perform(call, config_, options_, cancel, ex);
    Outcome<GenerateResult> outcome = InterpretGenerate(ex, config_);
    if (outcome.ok()) {
        const GenerateResult& result = outcome.value();
        fields["upstream_request_id"] = result.request_id;
        fields["finish_reason"] = result.finish_reason;
        fields["input_tokens"] = static_cast<Json::Int64>(result.usage.input_tokens);
        fields["output_tokens"] = static_cast<Json::Int64>(result.usage.output_tokens);
    }
    return Finish(std::move(outcome), endpoint, config_, ex, started, fields);
}

Outcome<ImageTask> QwenProvider::SubmitImageTask(const ImageRequest& request,
                                                 const CancelToken& cancel) {
    const HttpCall call = BuildImageSubmitCall(config_, request);
    Json::Value fields(Json::objectValue);
    fields["model"] = request.model;
    const auto started = SteadyClock::now();
    Exchange ex;
    if (config_.api_key.empty()) {
        return Finish<ImageTask>(MakeError(Kind::kAuth, "qwen.api_key is not set"),
                                 "image-synthesis", config_, ex, started, fields);
    }
    ex.idle_timeout = true;  // task answers come at once: silence means trouble
    ex.max_body_bytes = options_.max_body_bytes;
    ex.max_error_body_bytes = options_.max_error_body_bytes;
    Perform(call, config_, options_, cancel, ex);
    Outcome<ImageTask> outcome = InterpretTask(ex, config_);
    if (outcome.ok()) {
        fields["task_id"] = outcome.value().task_id;
        fields["upstream_request_id"] = outcome.value().request_id;
    }
    return Finish(std::move(outcome), "image-synthesis", config_, ex, started, fields);
}

Outcome<ImageTask> QwenProvider::GetImageTask(std::string_view task_id, const CancelToken& cancel) {
    Json::Value fields(Json::objectValue);
    const auto started = SteadyClock::now();
    Exchange ex;
    if (!IsValidTaskId(task_id)) {
        return Finish<ImageTask>(MakeError(Kind::kBadRequest, "invalid task id"), "tasks", config_,
                                 ex, started, fields);
    }
    const HttpCall call = BuildTaskQueryCall(config_, task_id);
    fields["task_id"] = std::string(task_id);
    if (config_.api_key.empty()) {
        return Finish<ImageTask>(MakeError(Kind::kAuth, "qwen.api_key is not set"), "tasks",
                                 config_, ex, started, fields);
    }
    ex.idle_timeout = true;  // task answers come at once: silence means trouble
    ex.max_body_bytes = options_.max_body_bytes;
    ex.max_error_body_bytes = options_.max_error_body_bytes;
    Perform(call, config_, options_, cancel, ex);
    Outcome<ImageTask> outcome = InterpretTask(ex, config_);
    if (outcome.ok()) {
        fields["status"] = std::string(TaskStatusName(outcome.value().status));
        fields["upstream_request_id"] = outcome.value().request_id;
    }
    return Finish(std::move(outcome), "tasks", config_, ex, started, fields);
}

}  // namespace inkstone::lib::ai
