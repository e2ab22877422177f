#pragma once
/// DashScope's native protocol as the simulator speaks it (the
/// text-generation, multimodal, error and image-task shapes): request validation, the deterministic
/// text, and the exact wire shapes of responses, SSE frames, errors and async tasks. Pure functions
/// (TextGenerator is a value), so the unit tests check every shape without a socket; the server
/// only sequences them in time.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tests/sim/directives.h"

namespace inkstone::sim {

enum class ModelKind { kText, kVision, kImage };

struct ModelInfo {
    std::string_view name;
    ModelKind kind;
    int64_t max_output_tokens;  ///< upper bound of `parameters.max_tokens`
};

/// qwen-turbo, qwen-plus, qwen-max (text), qwen-vl-plus (vision), wanx-v1 (image); nullptr else.
const ModelInfo* FindModel(std::string_view name);

/// A DashScope error: the HTTP status and the flat body's `code` and `message`.
struct ApiFailure {
    int status = 400;
    std::string code;
    std::string message;
};

ApiFailure InvalidApiKeyFailure();
ApiFailure NotFoundFailure();
ApiFailure MethodNotAllowedFailure();
ApiFailure MalformedHttpFailure(int http_status);
/// A generation endpoint called with `X-DashScope-Async: enable`, or image synthesis without it.
ApiFailure AsyncMismatchFailure(bool async_requested);
/// The failure an `error=` directive asks for. `after_output` picks the "Output data..." text
/// of DataInspectionFailed (moderation of the answer rather than the prompt).
ApiFailure DirectiveFailure(SimError error, bool after_output);
/// `error=X` without `fail_after` on a stream: how the error is framed when `error_form` is
/// kDefault. 401 as JSON (the gateway refuses before any stream exists), 429 as 200 +
/// `event:error` (the qwen-code capture), 500 and DataInspectionFailed as a non-2xx SSE body
/// (the third-party capture (b)): all three forms a client must handle, by default.
ErrorForm ErrorFormFor(SimError error);

enum class Endpoint { kText, kMultimodal };

struct GenerationRequest {
    const ModelInfo* model = nullptr;
    Endpoint endpoint = Endpoint::kText;
    bool message_format = false;  ///< `result_format: "message"` (always for multimodal)
    bool incremental = false;     ///< `incremental_output` (streams only)
    std::optional<int64_t> max_tokens;
    std::string prompt;  ///< the last user message, directives removed (the text's seed)
    Directives directives;
    int64_t input_tokens = 0;  ///< text estimate plus image_tokens
    int64_t image_tokens = 0;  ///< multimodal only
};

/// Validates a text- or multimodal-generation body: model (BadRequest.EmptyModel, `Model not
/// exist.`, `url error` for the wrong endpoint), input (BadRequest.EmptyInput, the
/// prompt/messages rule), messages, parameters (result_format, incremental_output,
/// max_tokens, temperature, top_p) and the directives, each with DashScope's code and text.
std::variant<GenerationRequest, ApiFailure> ParseGenerationRequest(Endpoint endpoint,
                                                                   std::string_view body);

struct ImageRequest {
    const ModelInfo* model = nullptr;
    std::string prompt;  ///< directives removed
    int n = 1;           ///< `parameters.n`, 1..4
    Directives directives;
};

std::variant<ImageRequest, ApiFailure> ParseImageRequest(std::string_view body);

/// How a generation ends after `deltas` tokens.
enum class Ending { kFinish, kFail, kCut, kHang };

struct OutputPlan {
    int64_t deltas = 0;  ///< tokens sent before the ending
    Ending ending = Ending::kFinish;
    std::string_view finish_reason = "stop";  ///< kFinish: "stop", or "length" (max_tokens cut)
};

/// tokens= capped by max_tokens ("length"), then ended by fail_after/cut_after/hang_after.
OutputPlan PlanOutput(const GenerationRequest& request);

/// The answer's tokens: a fixed mix of CJK, ASCII, punctuation, newlines, quotes and an emoji,
/// drawn by a PRNG seeded from the prompt's hash, so the same prompt always gives the same text
/// (stream or not, any directives). Each Next() is one token, i.e. one SSE delta.
class TextGenerator {
  public:
    explicit TextGenerator(std::string_view prompt);
    std::string_view Next();

  private:
    uint64_t state_;
};

/// `{"code":...,"message":...,"request_id":...}`
std::string ErrorJson(const ApiFailure& failure, std::string_view request_id);

/// `id:<id>\nevent:<event>\n:HTTP_STATUS/<status>\ndata:<data>\n\n` (no space after colons).
std::string SseFrame(int64_t id, std::string_view event, int status, std::string_view data);

/// Where a generation stands: the content to send (a delta or everything so far), the output
/// tokens so far, and `finish_reason` ("null" as a string while generating).
struct Progress {
    std::string_view content;
    int64_t output_tokens = 0;
    std::string_view finish_reason = "null";
};

/// The `data:` JSON of one `event:result` frame, in the field order of the [STREAM]/[D4J]
/// captures, usage cumulative.
std::string StreamChunkJson(const GenerationRequest& request, std::string_view request_id,
                            const Progress& progress);
/// The non-streaming 200 body: `output.text` or `output.choices[0].message` (content list for
/// multimodal), usage, request_id.
std::string CompletionJson(const GenerationRequest& request, std::string_view request_id,
                           const Progress& progress);

/// `{"output":{"task_status":"PENDING","task_id":...},"request_id":...}`
std::string TaskSubmitJson(std::string_view task_id, std::string_view request_id);

enum class TaskStatus { kPending, kRunning, kSucceeded, kFailed, kUnknown };

struct TaskView {
    std::string task_id;
    TaskStatus status = TaskStatus::kUnknown;
    std::string submit_time;     ///< "2025-05-18 16:26:27.871"; all three empty for kUnknown
    std::string scheduled_time;  ///< from kRunning on
    std::string end_time;        ///< kSucceeded / kFailed
    int n = 1;
    std::vector<std::string> urls;  ///< kSucceeded
};

/// `GET /api/v1/tasks/{id}`'s body for each status ([BGGEN]/[D4J] shapes; task_metrics,
/// usage.image_count; FAILED carries code/message inside output).
std::string TaskStatusJson(const TaskView& task, std::string_view request_id);

/// A random UUID (version 4), the shape of DashScope's request and task ids.
std::string NewUuid();

/// Appends `s` as a JSON string literal (quotes included). Bytes >= 0x80 pass through, so `s`
/// must be valid UTF-8.
void AppendJsonString(std::string* out, std::string_view s);

}  // namespace inkstone::sim
