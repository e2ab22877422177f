#pragma once
/// The AI provider interface, its value types, and the service map of providers by name.
///
/// A provider turns one generation (or image task) into one upstream call. It never charges,
/// refunds or writes to the database: the caller decides that from the Outcome, from whether
/// its StreamSink handed a delta to the client, and from UpstreamError::after_output.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/base/config.h"
#include "lib/base/errors.h"

namespace inkstone::lib::ai {

struct ChatMessage {
    std::string role;  ///< "system" | "user" | "assistant"
    std::string content;
};

struct GenerateRequest {
    std::string model;                  ///< "qwen-turbo", "qwen-plus", "qwen-max", "qwen-vl-plus"
    std::vector<ChatMessage> messages;  ///< usually a system prompt and one user message
    /// Image URLs for vision models; they are attached to the last user message. A non-empty
    /// list (or a `qwen-vl*` model) selects the multimodal endpoint.
    std::vector<std::string> images;
    std::optional<int> max_tokens;
    std::optional<double> temperature;
};

struct Usage {
    int64_t input_tokens = 0;
    int64_t output_tokens = 0;
};

struct GenerateResult {
    /// The whole text of a non-stream call. Empty for a streamed call: the text went to the
    /// sink delta by delta, and the provider keeps none of it.
    std::string content;
    std::string finish_reason;  ///< "stop", "length", "tool_calls", ...; never empty on success
    Usage usage;                ///< the last (cumulative) usage upstream reported
    std::string request_id;     ///< upstream request id, for the generations row and support
};

/// Why an upstream call failed. `message` is upstream's text (or ours), for logs only: it may
/// hold user content (moderation messages quote nothing today, but nobody promises that), so it
/// never goes to a client. The API key is never in any field.
struct UpstreamError {
    enum class Kind {
        kAuth,             ///< our key was refused (401 InvalidApiKey, 403, Arrearage): our config
        kRateLimited,      ///< 429 Throttling.*: upstream is busy
        kBadRequest,       ///< 400 InvalidParameter, unknown model, ...: our request was wrong
        kContentRejected,  ///< DataInspectionFailed: moderation refused the input or the output
        kServer,           ///< 5xx or another unexpected status
        kTimeout,          ///< connect, idle-read or total timeout
        kNetwork,          ///< connection refused or reset, DNS, TLS, cut mid-body
        kProtocol,         ///< garbage, oversized, or a stream that ended without finishing
        kCancelled,        ///< the CancelToken fired, or the sink asked to stop
    };
    Kind kind = Kind::kProtocol;
    int http_status =
        0;             ///< upstream HTTP status (or `:HTTP_STATUS/NNN` of an SSE frame); 0 = none
    std::string code;  ///< upstream code, e.g. "Throttling.RateQuota"; empty when none
    std::string message;        ///< for logs, never for clients
    std::string request_id;     ///< upstream request id when known
    bool after_output = false;  ///< at least one delta went to the sink before this error
};

/// Stable lower-case name of a kind ("rate_limited"), for logs and the generations row.
std::string_view UpstreamErrorKindName(UpstreamError::Kind kind);

/// The API error a client sees for an upstream failure (README, "Generation (Qwen)"). Pure.
///   kAuth, kBadRequest, kServer, kNetwork, kProtocol → 502 UPSTREAM_ERROR
///   kRateLimited → 503 UPSTREAM_BUSY;  kContentRejected → 422 CONTENT_REJECTED
///   kTimeout → 504 UPSTREAM_TIMEOUT;   kCancelled → 502 UPSTREAM_ERROR (nobody is listening)
/// `detail` is a fixed sentence per kind: upstream text, codes and keys never reach a client.
/// The caller adds `refunded` (and `balance`) to `extra`.
base::ApiError ToApiError(const UpstreamError& error);

/// A value or an UpstreamError.
template <typename T>
class Outcome {
  public:
    Outcome(T value) : value_(std::move(value)) {}              // NOLINT: implicit on purpose
    Outcome(UpstreamError error) : error_(std::move(error)) {}  // NOLINT: implicit on purpose

    bool ok() const { return value_.has_value(); }
    const T& value() const { return *value_; }             ///< only when ok()
    T& value() { return *value_; }                         ///< only when ok()
    const UpstreamError& error() const { return error_; }  ///< only when !ok()

  private:
    std::optional<T> value_;
    UpstreamError error_;
};

/// Receives the text of a streamed generation as it arrives.
class StreamSink {
  public:
    virtual ~StreamSink() = default;
    /// One non-empty piece of text (valid UTF-8), in order, on the thread that called
    /// Generate. Return false to stop: the upstream call is abandoned and Generate returns
    /// kCancelled (with after_output = true). Must not throw (it runs inside libcurl's
    /// callback, which C frames cannot unwind through) and must not call the provider again.
    virtual bool OnDelta(std::string_view text) = 0;
};

/// Asks a running call to stop. Providers check it whenever upstream sends something and at
/// least every 100 ms while upstream is silent (every second when the token has a WakeFd()),
/// and then abandon the call (closing its connection) and return kCancelled.
class CancelToken {
  public:
    virtual ~CancelToken() = default;
    /// Must be cheap and must not block; called on the thread running the call.
    virtual bool IsCancelled() const = 0;
    /// A descriptor that becomes readable when the token may have become cancelled (a client's
    /// connection closing), or -1. Providers wait on it besides upstream's sockets, so such a
    /// cancel is seen at once and the periodic check can be rare. Stays owned by the token.
    virtual int WakeFd() const { return -1; }
};

/// Never cancels.
class NoCancel final : public CancelToken {
  public:
    bool IsCancelled() const override { return false; }
};

/// Cancelled once Cancel() was called, from any thread. Thread-safe.
class CancelFlag final : public CancelToken {
  public:
    void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }
    bool IsCancelled() const override { return cancelled_.load(std::memory_order_relaxed); }

  private:
    std::atomic<bool> cancelled_{false};
};

struct ImageRequest {
    std::string model;  ///< "wanx-v1"
    std::string prompt;
    std::optional<std::string> negative_prompt;
    std::optional<std::string> size;  ///< "1024*1024" (DashScope spelling)
    std::optional<int> n;             ///< number of images
};

enum class TaskStatus { kPending, kRunning, kSucceeded, kFailed, kCanceled, kUnknown };

/// "PENDING", "RUNNING", ... (DashScope spelling).
std::string_view TaskStatusName(TaskStatus status);

struct ImageTask {
    std::string task_id;
    TaskStatus status = TaskStatus::kPending;
    std::vector<std::string> image_urls;  ///< SUCCEEDED only; they expire after about 24 h
    int64_t image_count = 0;  ///< usage.image_count: images upstream bills (SUCCEEDED only)
    std::string code;         ///< FAILED: upstream's reason, for logs
    std::string message;      ///< FAILED: upstream's text, for logs
    std::string request_id;
};

/// One AI provider. Implementations are thread-safe: one instance serves every request thread
/// of a process at once. Every call blocks its thread until it is done, failed, timed out or
/// cancelled; none throws for anything upstream does (std::bad_alloc aside).
class Provider {
  public:
    virtual ~Provider() = default;

    /// Runs one generation. `sink` null → non-stream: upstream answers with one JSON document
    /// and `content` holds the whole text. `sink` set → streamed: each delta goes to the sink
    /// as it arrives and `content` stays empty. Every failure says in after_output whether a
    /// delta had gone to the sink before it (mid-stream error frame, cut, idle timeout, a sink
    /// that returned false, cancellation after some output).
    virtual Outcome<GenerateResult> Generate(const GenerateRequest& request, StreamSink* sink,
                                             const CancelToken& cancel) = 0;
    /// Submits an asynchronous image task; the result is the PENDING (or RUNNING) task.
    virtual Outcome<ImageTask> SubmitImageTask(const ImageRequest& request,
                                               const CancelToken& cancel) = 0;
    /// Polls a task. An unknown or expired id is a task with status kUnknown, not an error.
    /// An id that is not [A-Za-z0-9_-]{1,128} is kBadRequest with no upstream call.
    virtual Outcome<ImageTask> GetImageTask(std::string_view task_id,
                                            const CancelToken& cancel) = 0;
};

/// Builds the provider called `name` from the config, or returns nullptr when there is no such
/// provider. The built-in providers are one table in provider.cpp ("qwen" first).
/// Throws ConfigError when the provider's config is unusable.
std::unique_ptr<Provider> MakeProvider(std::string_view name, const base::Config& config);

/// The names MakeProvider knows, in table order.
std::vector<std::string> ProviderNames();

/// The service map of a process: one provider instance per name, built once at startup and
/// read by every request thread (reads are thread-safe; Add is for startup and tests only).
class ProviderMap {
  public:
    ProviderMap() = default;
    /// Every built-in provider, built from `config`. Throws ConfigError like MakeProvider.
    explicit ProviderMap(const base::Config& config);

    /// Adds or replaces a provider (tests put fakes here).
    void Add(std::string name, std::unique_ptr<Provider> provider);
    /// The provider called `name`, or nullptr.
    Provider* Find(std::string_view name) const;

  private:
    std::map<std::string, std::unique_ptr<Provider>, std::less<>> providers_;
};

}  // namespace inkstone::lib::ai
