#include "lib/ai/dashscope_sse.h"

#include <cstring>

#include "lib/base/json.h"

namespace inkstone::lib::ai {
namespace {

using base::JsonScanner;

using Kind = UpstreamError::Kind;

constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr std::string_view kHttpStatusComment = "HTTP_STATUS/";

/// The end of the line starting at `p`: the first '\n' or '\r', or nullptr. memchr is SIMD in
/// glibc, so two passes beat one byte loop on the long `data:` lines.
const char* FindLineEnd(const char* p, const char* end) {
    const auto* lf = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    const char* limit = lf != nullptr ? lf : end;
    const auto* cr = static_cast<const char*>(std::memchr(p, '\r', static_cast<size_t>(limit - p)));
    return cr != nullptr ? cr : lf;
}

/// `HTTP_STATUS/429` → 429; 0 for any other comment.
int ParseHttpStatusComment(std::string_view comment) {
    if (comment.substr(0, kHttpStatusComment.size()) != kHttpStatusComment) return 0;
    const std::string_view digits = comment.substr(kHttpStatusComment.size());
    if (digits.size() != 3) return 0;
    int status = 0;
    for (const char c : digits) {
        if (c < '0' || c > '9') return 0;
        status = status * 10 + (c - '0');
    }
    return status >= 100 ? status : 0;
}

// ---------------------------------------------------------------------------------------------
/// A string or null (null leaves `out` untouched).
bool StringOrNull(JsonScanner& s, std::string* out) { return s.Null() || s.String(out); }

/// Error fields are read leniently: a gateway may send `"code": 500`, which is skipped.
bool LenientString(JsonScanner& s, int depth, std::string* out) {
    out->clear();
    return s.Peek() == '"' ? s.String(out) : s.Skip(depth);
}

/// Where text and finish_reason came from: choices[0] wins over the legacy output.text.
struct DocSources {
    bool choice_text = false;
    bool choice_finish = false;
};

/// `message.content`: a string, a list of parts (`{"text": ...}` appended; images skipped),
/// or null.
bool ReadContent(JsonScanner& s, int depth, std::string* text) {
    switch (s.Peek()) {
        case '"':
            return s.String(text);
        case '[':
            return s.Array(depth, [&](size_t) {
                if (s.Peek() != '{') return s.Skip(depth + 1);
                return s.Object(depth + 1, [&](std::string_view key) {
                    return key == "text" ? StringOrNull(s, text) : s.Skip(depth + 2);
                });
            });
        default:
            return s.Null();
    }
}

bool ReadChoice(JsonScanner& s, int depth, DashScopeDoc* out, DocSources* from) {
    return s.Object(depth, [&](std::string_view key) {
        if (key == "finish_reason") {
            out->finish_reason.clear();
            from->choice_finish = true;
            return StringOrNull(s, &out->finish_reason);
        }
        if (key == "message") {
            if (s.Null()) return true;
            return s.Object(depth + 1, [&](std::string_view member) {
                if (member != "content") return s.Skip(depth + 2);
                out->text.clear();
                from->choice_text = true;
                return ReadContent(s, depth + 2, &out->text);
            });
        }
        return s.Skip(depth + 1);
    });
}

bool ReadOutput(JsonScanner& s, int depth, DashScopeDoc* out, DocSources* from) {
    if (s.Null()) return true;
    out->has_output = true;
    return s.Object(depth, [&](std::string_view key) {
        if (key == "choices") {
            if (s.Null()) return true;
            return s.Array(depth + 1, [&](size_t index) {
                if (index > 0) return s.Skip(depth + 2);
                return ReadChoice(s, depth + 2, out, from);
            });
        }
        if (key == "text") {
            if (from->choice_text) return StringOrNull(s, nullptr);
            out->text.clear();
            return StringOrNull(s, &out->text);
        }
        if (key == "finish_reason") {
            if (from->choice_finish) return StringOrNull(s, nullptr);
            out->finish_reason.clear();
            return StringOrNull(s, &out->finish_reason);
        }
        return s.Skip(depth + 1);
    });
}

bool ReadUsage(JsonScanner& s, int depth, DashScopeDoc* out) {
    if (s.Null()) return true;
    out->has_usage = true;
    return s.Object(depth, [&](std::string_view key) {
        if (key == "input_tokens") return s.Null() || s.Integer(&out->usage.input_tokens);
        if (key == "output_tokens") return s.Null() || s.Integer(&out->usage.output_tokens);
        return s.Skip(depth + 1);
    });
}

bool StartsWith(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

bool Contains(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

UpstreamError ErrorFromDoc(int http_status, const DashScopeDoc& doc) {
    UpstreamError error;
    error.http_status = http_status;
    error.code = doc.code;
    error.message = doc.message.empty() ? "error without a message" : doc.message;
    error.request_id = doc.request_id;
    error.kind = ClassifyDashScopeError(http_status, error.code, error.message);
    return error;
}

UpstreamError ProtocolError(std::string message) {
    UpstreamError error;
    error.kind = Kind::kProtocol;
    error.message = std::move(message);
    return error;
}

std::string_view TrimLeft(std::string_view text) {
    const size_t begin = text.find_first_not_of(" \t\r\n");
    return begin == std::string_view::npos ? std::string_view() : text.substr(begin);
}

/// Takes the first event that has data.
class FirstEvent final : public SseEventHandler {
  public:
    bool OnEvent(const SseEvent& event) override {
        if (event.data.empty()) return true;
        found = true;
        http_status = event.http_status;
        data.assign(event.data);
        return false;
    }
    bool found = false;
    int http_status = 0;
    std::string data;
};

/// A printable excerpt of a body that is neither JSON nor SSE, for the log.
std::string Excerpt(std::string_view body) {
    constexpr size_t kMax = 200;
    std::string out;
    for (const char c : body.substr(0, kMax)) {
        out.push_back(c >= 0x20 && c < 0x7F ? c : '.');
    }
    return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// SseParser

SseParser::Status SseParser::Feed(std::string_view bytes, SseEventHandler& handler) {
    if (error_ != Status::kOk) return error_;
    const char* p = bytes.data();
    const char* const end = p + bytes.size();
    if (skip_lf_ && p < end) {
        if (*p == '\n') ++p;
        skip_lf_ = false;
    }
    while (p < end) {
        const char* eol = FindLineEnd(p, end);
        if (eol == nullptr) {
            const size_t rest = static_cast<size_t>(end - p);
            if (partial_.size() + rest > limits_.max_line_bytes) {
                return error_ = Status::kLineTooLong;
            }
            partial_.append(p, rest);
            break;
        }
        const size_t length = static_cast<size_t>(eol - p);
        if (partial_.size() + length > limits_.max_line_bytes) return error_ = Status::kLineTooLong;
        std::string_view line(p, length);
        if (!partial_.empty()) {
            partial_.append(p, length);
            line = partial_;
        }
        p = eol + 1;
        if (*eol == '\r') {
            if (p < end) {
                if (*p == '\n') ++p;
            } else {
                skip_lf_ = true;
            }
        }
        const Status status = Line(line, handler);
        partial_.clear();
        if (status == Status::kStopped) return status;
        if (status != Status::kOk) return error_ = status;
    }
    return Status::kOk;
}

SseParser::Status SseParser::Finish(SseEventHandler& handler) {
    if (error_ != Status::kOk) return error_;
    if (!partial_.empty()) {
        const Status status = Line(partial_, handler);
        partial_.clear();
        if (status == Status::kStopped) return status;
        if (status != Status::kOk) return error_ = status;
    }
    if (has_data_) return Dispatch(handler);
    ClearEvent();
    return Status::kOk;
}

bool SseParser::HasPendingEvent() const { return !partial_.empty() || has_fields_; }

SseParser::Status SseParser::Line(std::string_view line, SseEventHandler& handler) {
    if (at_start_) {
        at_start_ = false;
        if (StartsWith(line, kBom)) line.remove_prefix(kBom.size());
    }
    if (line.empty()) return Dispatch(handler);
    has_fields_ = true;
    if (line.front() == ':') {
        const std::string_view comment = line.substr(1);
        if (!comments_.empty()) comments_.push_back('\n');
        comments_.append(comment);
        if (const int status = ParseHttpStatusComment(comment); status != 0) http_status_ = status;
    } else {
        const size_t colon = line.find(':');
        const std::string_view name = line.substr(0, colon);
        std::string_view value;
        if (colon != std::string_view::npos) {
            value = line.substr(colon + 1);
            if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        }
        if (name == "data") {
            if (has_data_) data_.push_back('\n');
            data_.append(value);
            has_data_ = true;
        } else if (name == "id") {
            id_.assign(value);
        } else if (name == "event") {
            event_.assign(value);
        }
    }
    return EventBytes() > limits_.max_event_bytes ? Status::kEventTooLarge : Status::kOk;
}

SseParser::Status SseParser::Dispatch(SseEventHandler& handler) {
    if (!has_data_) {
        ClearEvent();
        return Status::kOk;
    }
    SseEvent event;
    event.id = id_;
    event.event = event_;
    event.data = data_;
    event.comments = comments_;
    event.http_status = http_status_;
    const bool go_on = handler.OnEvent(event);
    ClearEvent();
    return go_on ? Status::kOk : Status::kStopped;
}

void SseParser::ClearEvent() {
    id_.clear();
    event_.clear();
    data_.clear();
    comments_.clear();
    has_data_ = false;
    has_fields_ = false;
    http_status_ = 0;
}

size_t SseParser::EventBytes() const {
    return id_.size() + event_.size() + data_.size() + comments_.size();
}

// ---------------------------------------------------------------------------------------------
// Documents and errors

bool ParseDashScopeDoc(std::string_view json, DashScopeDoc* out) {
    out->text.clear();
    out->finish_reason.clear();
    out->has_output = false;
    out->has_usage = false;
    out->usage = Usage();
    out->request_id.clear();
    out->code.clear();
    out->message.clear();

    JsonScanner s(json);
    DocSources from;
    if (s.Peek() != '{') return false;
    const bool ok = s.Object(1, [&](std::string_view key) {
        if (key == "output") return ReadOutput(s, 2, out, &from);
        if (key == "usage") return ReadUsage(s, 2, out);
        if (key == "request_id") return LenientString(s, 2, &out->request_id);
        if (key == "code") return LenientString(s, 2, &out->code);
        if (key == "message" || key == "msg") return LenientString(s, 2, &out->message);
        return s.Skip(2);
    });
    if (!ok || !s.AtEnd()) return false;
    if (out->finish_reason == "null") out->finish_reason.clear();
    return true;
}

UpstreamError::Kind ClassifyDashScopeError(int http_status, std::string_view code,
                                           std::string_view message) {
    // Moderation hides in InvalidParameter messages too ("<400> InternalError.Algo.
    // DataInspectionFailed: ..."), so it is looked for before anything else.
    if (Contains(code, "DataInspectionFailed") || code == "data_inspection_failed" ||
        Contains(message, "DataInspectionFailed")) {
        return Kind::kContentRejected;
    }
    if (code == "InvalidApiKey" || code == "invalid_api_key" || StartsWith(code, "AccessDenied") ||
        code == "Arrearage") {
        return Kind::kAuth;
    }
    if (StartsWith(code, "Throttling") || code == "limit_burst_rate") return Kind::kRateLimited;
    if (code == "RequestTimeOut") return Kind::kTimeout;
    if (StartsWith(code, "InvalidParameter") || StartsWith(code, "BadRequest") ||
        code == "InvalidURL" || code == "ModelNotFound" || code == "UnsupportedOperation") {
        return Kind::kBadRequest;
    }
    if (StartsWith(code, "InternalError") || code == "ModelUnavailable" ||
        code == "ModelServingError") {
        return Kind::kServer;
    }
    if (http_status == 401 || http_status == 403) return Kind::kAuth;
    if (http_status == 429) return Kind::kRateLimited;
    if (http_status == 408 || http_status == 504) return Kind::kTimeout;
    if (http_status >= 400 && http_status < 500) return Kind::kBadRequest;
    return Kind::kServer;
}

UpstreamError DecodeDashScopeErrorBody(int http_status, std::string_view body,
                                       std::string_view header_request_id) {
    const std::string_view text = TrimLeft(body);
    DashScopeDoc doc;
    int status = http_status;
    bool parsed = false;
    if (!text.empty() && text.front() == '{') {
        parsed = ParseDashScopeDoc(text, &doc);
    } else if (!text.empty()) {
        SseParser parser(SseLimits{body.size() + 1, body.size() + 1});
        FirstEvent first;
        if (parser.Feed(body, first) == SseParser::Status::kOk) parser.Finish(first);
        if (first.found) {
            if (first.http_status != 0) status = first.http_status;
            parsed = ParseDashScopeDoc(first.data, &doc);
        }
    }
    UpstreamError error;
    if (parsed) {
        error = ErrorFromDoc(status, doc);
    } else {
        error.http_status = status;
        error.message = "unreadable error body: " + Excerpt(body);
        error.kind = ClassifyDashScopeError(status, {}, {});
    }
    if (error.request_id.empty()) error.request_id = std::string(header_request_id);
    return error;
}

Outcome<GenerateResult> DecodeDashScopeResult(std::string_view body) {
    DashScopeDoc doc;
    if (!ParseDashScopeDoc(body, &doc)) return ProtocolError("malformed JSON body");
    if (!doc.code.empty() && !doc.has_output) return ErrorFromDoc(200, doc);
    if (doc.finish_reason.empty()) {
        UpstreamError error = ProtocolError("body without a finish_reason");
        error.request_id = doc.request_id;
        return error;
    }
    GenerateResult result;
    result.content = std::move(doc.text);
    result.finish_reason = std::move(doc.finish_reason);
    result.usage = doc.usage;
    result.request_id = std::move(doc.request_id);
    return Outcome<GenerateResult>(std::move(result));
}

// ---------------------------------------------------------------------------------------------
// DashScopeStreamDecoder

DashScopeStreamDecoder::DashScopeStreamDecoder(StreamSink& sink, int http_status, SseLimits limits)
    : sink_(sink), http_status_(http_status), parser_(limits) {}

DashScopeStreamDecoder::State DashScopeStreamDecoder::Feed(std::string_view bytes) {
    if (state_ != State::kStreaming) return state_;
    ApplyParserStatus(parser_.Feed(bytes, *this));
    return state_;
}

DashScopeStreamDecoder::State DashScopeStreamDecoder::Finish() {
    if (state_ != State::kStreaming) return state_;
    ApplyParserStatus(parser_.Finish(*this));
    if (state_ == State::kStreaming) Fail(ProtocolError("stream ended before a finish_reason"));
    return state_;
}

void DashScopeStreamDecoder::ApplyParserStatus(SseParser::Status status) {
    switch (status) {
        case SseParser::Status::kOk:
        case SseParser::Status::kStopped:  // OnEvent already set the state
            return;
        case SseParser::Status::kLineTooLong:
            Fail(ProtocolError("SSE line too long"));
            return;
        case SseParser::Status::kEventTooLarge:
            Fail(ProtocolError("SSE event too large"));
            return;
    }
}

void DashScopeStreamDecoder::Fail(UpstreamError error) {
    if (error.request_id.empty()) error.request_id = result_.request_id;
    error.after_output = after_output_;
    error_ = std::move(error);
    state_ = State::kFailed;
}

bool DashScopeStreamDecoder::OnEvent(const SseEvent& event) {
    if (event.event == "done" || TrimLeft(event.data).empty()) return true;
    if (!ParseDashScopeDoc(event.data, &doc_)) {
        Fail(ProtocolError("malformed SSE data"));
        return false;
    }
    if (!doc_.request_id.empty()) result_.request_id = doc_.request_id;
    if (event.event == "error" || event.http_status >= 300 ||
        (!doc_.code.empty() && !doc_.has_output)) {
        Fail(ErrorFromDoc(event.http_status != 0 ? event.http_status : http_status_, doc_));
        return false;
    }
    if (doc_.has_usage) result_.usage = doc_.usage;
    if (!doc_.text.empty()) {
        after_output_ = true;
        if (!sink_.OnDelta(doc_.text)) {
            state_ = State::kStopped;
            return false;
        }
    }
    if (!doc_.finish_reason.empty()) {
        result_.finish_reason = doc_.finish_reason;
        state_ = State::kFinished;
        return false;
    }
    return true;
}

}  // namespace inkstone::lib::ai
