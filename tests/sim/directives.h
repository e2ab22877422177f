#pragma once
/// The simulator's steering language: `[[sim:key=value,key=value]]` blocks anywhere in the last
/// user message (or an image prompt). README "DashScope simulator"
/// documents them for people. Pure functions, no state: safe from any thread.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace inkstone::sim {

/// `error=`: fail with the real DashScope code and HTTP status.
enum class SimError {
    kInvalidApiKey,         ///< `401`: 401 InvalidApiKey
    kThrottling,            ///< `429`: 429 Throttling.RateQuota
    kInternal,              ///< `500`: 500 InternalError
    kDataInspectionFailed,  ///< `DataInspectionFailed`: 400 DataInspectionFailed
};

/// How an error before the first token is framed on a streaming request (`error_form=`; the
/// reference saw all three on the wire). kDefault picks per error, see ErrorFormFor().
enum class ErrorForm {
    kDefault,
    kJson,    ///< `json`: the real status, a flat JSON body
    kSse,     ///< `sse`: the real status, an `event:error` SSE frame as the body
    kSse200,  ///< `sse200`: 200, then an `event:error` frame carrying `:HTTP_STATUS/<real>`
};

struct Directives {
    int64_t tokens = 20;         ///< output tokens (one SSE delta each)
    int64_t delay_ms = 0;        ///< between tokens
    int64_t first_delay_ms = 0;  ///< before the first token
    std::optional<SimError> error;
    ErrorForm error_form = ErrorForm::kDefault;
    /// At most one of these three is set: after N tokens, an `event:error` frame (with `error`'s
    /// code, InternalError when unset) / the TCP connection drops / silence until the client
    /// leaves. N larger than the output means "instead of the final frame".
    std::optional<int64_t> fail_after;
    std::optional<int64_t> cut_after;
    std::optional<int64_t> hang_after;
    bool task_fail = false;          ///< `task=fail` (`task=ok` is the default)
    std::optional<int64_t> task_ms;  ///< image task duration; unset = the server's default
    /// `stamp=1`: every token is the simulator's CLOCK_REALTIME in microseconds and a space, so
    /// a benchmark can measure how late each delta reaches the reader.
    bool stamp = false;

    /// Every key=value as written (validated), in order, for the request log.
    std::vector<std::pair<std::string, std::string>> given;
};

struct ParsedPrompt {
    Directives directives;
    /// The message without its directive blocks, trimmed: what the output text is seeded from,
    /// so a prompt streams the same text whatever directives steer it.
    std::string text;
    /// Empty, or why the directives are invalid (printable ASCII, safe to echo to the client).
    std::string error;
};

/// Parses every `[[sim:...]]` block of `message`. Later keys override earlier ones. An unknown
/// key, a bad value, an unterminated block or two of fail_after/cut_after/hang_after are errors.
ParsedPrompt ParseDirectives(std::string_view message);

}  // namespace inkstone::sim
