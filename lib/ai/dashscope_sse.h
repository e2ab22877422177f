#pragma once
/// Reading DashScope responses: an incremental Server-Sent Events parser, a reader for the
/// fields inkstone needs from DashScope's JSON documents, and a stream decoder that turns a
/// native SSE stream into deltas, usage, a finish reason or an UpstreamError.
///
/// Wire facts (DashScope's native protocol, as the simulator in tests/sim speaks it): frames look
/// like `id:1\nevent:result\n:HTTP_STATUS/200\ndata:{...}\n\n`; `finish_reason` is the *string*
/// "null" until the last frame; usage is cumulative; errors come as a non-2xx JSON body, a
/// non-2xx SSE body, or a 200 stream with an `event:error` frame.
///
/// Nothing here allocates per byte: the parsers reuse their buffers across events, so after
/// the first few events a stream is decoded without allocating at all.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "lib/ai/provider.h"

namespace inkstone::lib::ai {

struct SseLimits {
    size_t max_line_bytes = 1 << 20;   ///< longer line → kLineTooLong
    size_t max_event_bytes = 1 << 20;  ///< id + event + data + comments of one event
};

/// One dispatched event. The views point into the parser and are valid only during the
/// OnEvent call.
struct SseEvent {
    std::string_view id;        ///< this event's `id` (empty if it had none; not carried over)
    std::string_view event;     ///< `event` type; empty if none (the WHATWG default "message")
    std::string_view data;      ///< all `data` lines joined with '\n'
    std::string_view comments;  ///< the text of every comment line (after ':'), '\n'-joined
    int http_status = 0;        ///< from a `:HTTP_STATUS/NNN` comment of this event; 0 if none
};

class SseEventHandler {
  public:
    virtual ~SseEventHandler() = default;
    /// Return false to stop parsing (Feed then returns kStopped).
    virtual bool OnEvent(const SseEvent& event) = 0;
};

/// An incremental SSE parser (the WHATWG event-stream grammar). Bytes may be split anywhere:
/// inside a line, a UTF-8 sequence or a `\r\n`. Lines end with `\n`, `\r\n` or `\r`; a field
/// is `name:value`, `name: value` (one leading space dropped) or `name` alone; a line starting
/// with ':' is a comment; a blank line dispatches the event if it had at least one `data`
/// line. Unknown fields (`retry`, `status`) are ignored; a leading UTF-8 BOM is skipped.
///
/// Memory is bounded: a line longer than max_line_bytes or an event larger than
/// max_event_bytes is an error, after which every call returns that error.
/// Not thread-safe (one stream, one parser).
class SseParser {
  public:
    enum class Status { kOk, kStopped, kLineTooLong, kEventTooLarge };

    explicit SseParser(SseLimits limits = {}) : limits_(limits) {}

    /// Parses `bytes`, calling `handler` for each complete event. After kStopped the rest of
    /// `bytes` is dropped; the parser may be fed again (it resumes after the stopping event).
    Status Feed(std::string_view bytes, SseEventHandler& handler);
    /// End of input: a last line without a line end is taken as complete and a pending event
    /// with data is dispatched (lenient: DashScope error bodies may lack the final blank line).
    Status Finish(SseEventHandler& handler);
    /// True when bytes of an undispatched event are held (a partial line or fields).
    bool HasPendingEvent() const;

  private:
    Status Line(std::string_view line, SseEventHandler& handler);
    Status Dispatch(SseEventHandler& handler);
    void ClearEvent();
    size_t EventBytes() const;

    SseLimits limits_;
    Status error_ = Status::kOk;
    bool at_start_ = true;  // nothing seen yet: a BOM may come
    bool skip_lf_ = false;  // the last line ended with '\r'; a '\n' next belongs to it
    std::string partial_;   // the start of a line split across Feed calls
    std::string id_, event_, data_, comments_;
    bool has_data_ = false;
    bool has_fields_ = false;
    int http_status_ = 0;
};

/// The fields inkstone reads from one DashScope JSON document: an SSE `data` payload, a
/// non-stream body, or an error body.
struct DashScopeDoc {
    /// `output.choices[0].message.content` (a string, or the `text` parts of a content list,
    /// concatenated), else `output.text`.
    std::string text;
    /// `output.choices[0].finish_reason`, else `output.finish_reason`; empty while generating
    /// (absent, JSON null, or the string "null").
    std::string finish_reason;
    bool has_output = false;  ///< an `output` object was present
    bool has_usage = false;
    Usage usage;  ///< `usage.input_tokens` / `usage.output_tokens`
    std::string request_id;
    std::string code;     ///< error documents: `code`
    std::string message;  ///< error documents: `message` (or `msg`)
};

/// Reads `json` into `out` (reusing its buffers). Everything else in the document is skipped
/// but still checked. Returns false for anything that is not one JSON object (strict RFC 8259,
/// valid UTF-8, at most 64 levels deep), or when one of the fields above has the wrong type.
bool ParseDashScopeDoc(std::string_view json, DashScopeDoc* out);

/// DashScope's error vocabulary → a kind. Pure. The code decides first (DataInspectionFailed
/// anywhere in code or message → kContentRejected; InvalidApiKey/AccessDenied*/Arrearage →
/// kAuth; Throttling* → kRateLimited; RequestTimeOut → kTimeout; InvalidParameter*,
/// BadRequest*, InvalidURL, ModelNotFound → kBadRequest; InternalError*, Model{Unavailable,
/// ServingError} → kServer), then the status (401/403 → kAuth, 429 → kRateLimited,
/// 408/504 → kTimeout, other 4xx → kBadRequest, anything else → kServer).
UpstreamError::Kind ClassifyDashScopeError(int http_status, std::string_view code,
                                           std::string_view message);

/// The UpstreamError for a non-2xx response: a flat JSON body `{"code","message",
/// "request_id"}`, an SSE-framed body (the first event with data; its `:HTTP_STATUS/NNN`
/// wins over `http_status`), or anything else (classified by status alone; the first bytes
/// go into `message` for the log). `header_request_id` (x-request-id) is the fallback id.
UpstreamError DecodeDashScopeErrorBody(int http_status, std::string_view body,
                                       std::string_view header_request_id = {});

/// The result of a 2xx non-stream generation body. A document carrying a `code` but no
/// `output` is an upstream error; malformed JSON or a missing finish_reason is kProtocol.
Outcome<GenerateResult> DecodeDashScopeResult(std::string_view body);

/// Decodes the body of a 2xx streamed generation (native SSE, incremental_output true) and
/// hands each non-empty delta to the sink as soon as its frame is complete.
///
/// Rules: frames with `event:error`, a `:HTTP_STATUS/NNN` >= 300, or a `code` and no `output`
/// are upstream errors; `event:done` and data-less events are ignored; usage and request_id
/// take the last value; the first frame with a finish_reason ends the stream (later bytes are
/// ignored). Unparseable data, an oversized line or event, or an end of body before a
/// finish_reason is kProtocol. Not thread-safe.
class DashScopeStreamDecoder final : private SseEventHandler {
  public:
    enum class State {
        kStreaming,  ///< more frames expected
        kFinished,   ///< a frame carried the finish_reason: result() is complete
        kFailed,     ///< error() says why
        kStopped,    ///< the sink returned false
    };

    /// `http_status` is the response status, used for error frames without `:HTTP_STATUS`.
    explicit DashScopeStreamDecoder(StreamSink& sink, int http_status = 200, SseLimits limits = {});

    /// Feeds body bytes; returns the state after them. Once not kStreaming, bytes are ignored.
    State Feed(std::string_view bytes);
    /// The body ended. kStreaming becomes kFinished (if the last, unterminated frame
    /// finished) or kFailed with kProtocol.
    State Finish();

    State state() const { return state_; }
    /// finish_reason, usage and request_id (content stays empty: the text went to the sink).
    const GenerateResult& result() const { return result_; }
    /// Meaningful in kFailed; after_output is already set.
    const UpstreamError& error() const { return error_; }
    /// At least one delta was handed to the sink.
    bool after_output() const { return after_output_; }

  private:
    bool OnEvent(const SseEvent& event) override;
    void Fail(UpstreamError error);
    void ApplyParserStatus(SseParser::Status status);

    StreamSink& sink_;
    int http_status_;
    SseParser parser_;
    DashScopeDoc doc_;
    GenerateResult result_;
    UpstreamError error_;
    State state_ = State::kStreaming;
    bool after_output_ = false;
};

}  // namespace inkstone::lib::ai
