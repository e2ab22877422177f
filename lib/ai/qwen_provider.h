#pragma once
/// The Qwen provider: DashScope's native HTTP API on libcurl.
///
/// Endpoints (relative to qwen.base_url):
///   POST /services/aigc/text-generation/generation        qwen-turbo, qwen-plus, qwen-max
///   POST /services/aigc/multimodal-generation/generation  qwen-vl-* or any request with images
///   POST /services/aigc/text2image/image-synthesis        wanx-v1 (X-DashScope-Async: enable)
///   GET  /tasks/{task_id}
/// Streaming uses `X-DashScope-SSE: enable` with `incremental_output: true` and
/// `result_format: "message"`.
///
/// Connections: each thread keeps one curl multi handle and one easy handle for its lifetime,
/// so its connections (and DNS answers) are reused across calls (keep-alive). Nothing is
/// shared between threads, so there are no locks.
///
/// Timeouts: connect (qwen.connect_timeout_ms) and total (qwen.total_timeout_ms) are curl's;
/// the idle timeout (qwen.idle_timeout_ms: no byte received for that long, the wait for the
/// first byte included) is ours, measured in milliseconds by the transfer loop, which also
/// checks the CancelToken at least every poll_interval (100 ms) while upstream is silent, or
/// wakes on its WakeFd() when it has one.
/// The idle timeout applies to streamed generations and to image-task calls (answered at once),
/// not to non-stream generations: those receive nothing until upstream has generated the whole
/// answer, so only the total timeout bounds them.
///
/// A response is read by its shape, not by what was asked: a 2xx body starting with '{' is one
/// JSON document (a streamed call then gets its text as a single delta), anything else is SSE
/// (a non-stream call then gets the deltas joined in `content`).
///
/// The API key is sent only in `Authorization: Bearer`; it is never logged and never put in
/// an UpstreamError (upstream text that echoes it is redacted).
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "lib/ai/dashscope_sse.h"
#include "lib/ai/provider.h"
#include "lib/base/config.h"

namespace inkstone::lib::ai {

/// One HTTP request, as built for DashScope (pure data, so tests can assert it exactly).
struct HttpCall {
    std::string method;  ///< "POST" or "GET"
    std::string url;
    std::vector<std::string> headers;  ///< "Name: value"
    std::string body;                  ///< compact JSON; empty for GET
};

/// The generation request. Text models get `{"role","content":"..."}` messages; the multimodal
/// endpoint (a `qwen-vl` model or any images) gets content lists, with the images first in the
/// last user message: `[{"image":url},...,{"text":"..."}]`. Parameters: result_format
/// "message", max_tokens and temperature when set, and when streaming incremental_output true
/// and stream true (the SDK's shape) plus the `X-DashScope-SSE: enable` and
/// `Accept: text/event-stream` headers.
HttpCall BuildGenerateCall(const base::QwenConfig& config, const GenerateRequest& request,
                           bool stream);
/// The async image-synthesis submit (`X-DashScope-Async: enable`).
HttpCall BuildImageSubmitCall(const base::QwenConfig& config, const ImageRequest& request);
/// The task poll: GET with only Authorization and Accept (X-DashScope-Async here is a 403).
HttpCall BuildTaskQueryCall(const base::QwenConfig& config, std::string_view task_id);

/// A task document (the submit answer or a poll answer) → ImageTask. A 200 document with a
/// `code` and no `output` is an upstream error; malformed JSON, a missing task_id or an
/// unknown task_status is kProtocol. SUSPENDED counts as RUNNING.
Outcome<ImageTask> DecodeImageTaskBody(std::string_view body);

/// True for ids that may go into the task URL: [A-Za-z0-9_-]{1,128}.
bool IsValidTaskId(std::string_view task_id);

class QwenProvider final : public Provider {
  public:
    struct Options {
        /// The longest the transfer loop sleeps before it checks the cancel token and the idle
        /// timer again.
        std::chrono::milliseconds poll_interval{100};
        /// The same when the cancel token has a WakeFd(): the loop wakes on it at once, so
        /// the periodic check only serves the token's own timers (stream heartbeats). At
        /// 2,000 open streams the 100 ms tick alone cost the pool ~20,000 wakeups a second.
        std::chrono::milliseconds wake_fd_poll_interval{1000};
        size_t max_body_bytes = 4 << 20;         ///< larger JSON body → kProtocol
        size_t max_error_body_bytes = 64 << 10;  ///< the rest of a non-2xx body is dropped
        SseLimits sse;                           ///< per-line and per-event limits of a stream
    };

    /// Throws ConfigError when base_url is not an http(s) URL. An empty api_key is accepted
    /// (every call then fails with kAuth without going upstream), so a host without a key can
    /// still serve everything but generation.
    explicit QwenProvider(base::QwenConfig config) : QwenProvider(std::move(config), Options()) {}
    QwenProvider(base::QwenConfig config, Options options);

    Outcome<GenerateResult> Generate(const GenerateRequest& request, StreamSink* sink,
                                     const CancelToken& cancel) override;
    Outcome<ImageTask> SubmitImageTask(const ImageRequest& request,
                                       const CancelToken& cancel) override;
    Outcome<ImageTask> GetImageTask(std::string_view task_id, const CancelToken& cancel) override;

  private:
    base::QwenConfig config_;
    Options options_;
};

}  // namespace inkstone::lib::ai
