#include "tests/sim/http_parser.h"

#include <charconv>
#include <optional>
#include <vector>

namespace inkstone::sim {
namespace {

constexpr std::string_view kCrlf = "\r\n";

bool IsTchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        if (!IsTchar(c)) return false;
    }
    return true;
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string LowerCopy(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = Lower(c);
    return out;
}

std::string_view TrimOws(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// True when the comma-separated list `value` holds `token` (case-insensitive).
bool ListHas(std::string_view value, std::string_view token) {
    while (!value.empty()) {
        const size_t comma = value.find(',');
        const std::string_view item = TrimOws(value.substr(0, comma));
        if (LowerCopy(item) == token) return true;
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return false;
}

ParseResult Error(int status, std::string what) {
    ParseResult r;
    r.status = ParseStatus::kError;
    r.error_status = status;
    r.error = std::move(what);
    return r;
}

bool ParseRequestLine(std::string_view line, HttpRequest* req) {
    const size_t sp1 = line.find(' ');
    if (sp1 == std::string_view::npos) return false;
    const size_t sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
        return false;
    }
    const std::string_view method = line.substr(0, sp1);
    const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string_view version = line.substr(sp2 + 1);
    if (!IsToken(method) || target.empty()) return false;
    for (char c : target) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f) return false;
    }
    if (version == "HTTP/1.1") {
        req->minor_version = 1;
    } else if (version == "HTTP/1.0") {
        req->minor_version = 0;
    } else {
        return false;
    }
    req->method = std::string(method);
    req->target = std::string(target);
    std::string_view path = target;
    if (path.substr(0, 7) == "http://" || path.substr(0, 8) == "https://") {
        const size_t slash = path.find('/', path.find("//") + 2);
        path = slash == std::string_view::npos ? std::string_view("/") : path.substr(slash);
    }
    req->path = std::string(path.substr(0, path.find_first_of("?#")));
    return !req->path.empty();
}

// Hex chunk size with optional `;ext`; nullopt when malformed or absurd.
std::optional<size_t> ParseChunkSize(std::string_view line) {
    const std::string_view digits = TrimOws(line.substr(0, line.find(';')));
    if (digits.empty() || digits.size() > 15) return std::nullopt;
    size_t size = 0;
    const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), size, 16);
    if (ec != std::errc() || ptr != digits.data() + digits.size()) return std::nullopt;
    return size;
}

// Walks a chunked body starting at `buffer[pos]`. Returns kComplete with `consumed` set and
// the body in `out`, kIncomplete, or kError.
ParseStatus DecodeChunked(std::string_view buffer, size_t pos, size_t max_body, std::string* out,
                          size_t* consumed, std::string* error) {
    // First pass only measures, so a body arriving in many reads is copied once at the end.
    std::vector<std::pair<size_t, size_t>> pieces;
    size_t total = 0;
    for (;;) {
        const size_t eol = buffer.find(kCrlf, pos);
        if (eol == std::string_view::npos) {
            if (buffer.size() - pos > 1024) {
                *error = "chunk size line too long";
                return ParseStatus::kError;
            }
            return ParseStatus::kIncomplete;
        }
        const std::optional<size_t> size = ParseChunkSize(buffer.substr(pos, eol - pos));
        if (!size) {
            *error = "bad chunk size";
            return ParseStatus::kError;
        }
        pos = eol + 2;
        if (*size == 0) break;
        if (*size > max_body || total + *size > max_body) {
            *error = "body too large";
            return ParseStatus::kError;
        }
        if (buffer.size() - pos < *size + 2) return ParseStatus::kIncomplete;
        if (buffer.substr(pos + *size, 2) != kCrlf) {
            *error = "chunk not followed by CRLF";
            return ParseStatus::kError;
        }
        pieces.emplace_back(pos, *size);
        total += *size;
        pos += *size + 2;
    }
    // Trailer fields (ignored), then the blank line.
    for (int lines = 0;; ++lines) {
        const size_t eol = buffer.find(kCrlf, pos);
        if (eol == std::string_view::npos) {
            return buffer.size() - pos > 8192 ? ParseStatus::kError : ParseStatus::kIncomplete;
        }
        if (lines > 64) {
            *error = "too many trailer fields";
            return ParseStatus::kError;
        }
        const bool blank = eol == pos;
        pos = eol + 2;
        if (blank) break;
    }
    out->reserve(total);
    for (const auto& [at, size] : pieces) out->append(buffer.substr(at, size));
    *consumed = pos;
    return ParseStatus::kComplete;
}

}  // namespace

std::string_view HttpRequest::Header(std::string_view lower_name) const {
    for (const auto& [name, value] : headers) {
        if (name == lower_name) return value;
    }
    return {};
}

ParseResult ParseHttpRequest(std::string_view buffer, const ParseLimits& limits) {
    size_t start = 0;
    while (buffer.substr(start, 2) == kCrlf) start += 2;
    const size_t head_end = buffer.find("\r\n\r\n", start);
    if (head_end == std::string_view::npos) {
        if (buffer.size() - start > limits.max_header_bytes) {
            return Error(431, "header section too large");
        }
        return {};
    }
    if (head_end + 4 - start > limits.max_header_bytes) {
        return Error(431, "header section too large");
    }

    ParseResult result;
    HttpRequest& req = result.request;
    const std::string_view head = buffer.substr(start, head_end - start);
    const size_t line_end = head.find(kCrlf);
    if (!ParseRequestLine(head.substr(0, line_end), &req)) return Error(400, "bad request line");

    std::optional<size_t> content_length;
    bool chunked = false;
    bool saw_transfer_encoding = false;
    bool close = false;
    bool expect_continue = false;
    size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
        size_t eol = head.find(kCrlf, pos);
        if (eol == std::string_view::npos) eol = head.size();
        const std::string_view line = head.substr(pos, eol - pos);
        pos = eol + 2;
        if (line.empty()) return Error(400, "bad header line");
        if (line.front() == ' ' || line.front() == '\t') return Error(400, "obsolete line folding");
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) {
            return Error(400, "bad header line");
        }
        const std::string_view value = TrimOws(line.substr(colon + 1));
        for (char c : value) {
            if (c == '\0' || c == '\r' || c == '\n') return Error(400, "bad header value");
        }
        if (req.headers.size() >= limits.max_headers) return Error(431, "too many headers");
        std::string name = LowerCopy(line.substr(0, colon));
        if (name == "content-length") {
            size_t length = 0;
            const auto [ptr, ec] =
                std::from_chars(value.data(), value.data() + value.size(), length);
            if (value.empty() || ec != std::errc() || ptr != value.data() + value.size() ||
                (content_length && *content_length != length)) {
                return Error(400, "bad Content-Length");
            }
            content_length = length;
        } else if (name == "transfer-encoding") {
            if (saw_transfer_encoding || LowerCopy(value) != "chunked") {
                return Error(501, "unsupported Transfer-Encoding");
            }
            saw_transfer_encoding = chunked = true;
        } else if (name == "connection") {
            close = close || ListHas(value, "close");
        } else if (name == "expect") {
            expect_continue = LowerCopy(value) == "100-continue";
        }
        req.headers.emplace_back(std::move(name), std::string(value));
    }
    // Both framings at once is the classic request-smuggling shape; refuse it outright.
    if (chunked && content_length) return Error(400, "both Content-Length and chunked");
    if (chunked && req.minor_version == 0) return Error(400, "chunked in HTTP/1.0");
    req.keep_alive = req.minor_version == 1 && !close;

    const size_t body_start = head_end + 4;
    if (chunked) {
        size_t consumed = 0;
        std::string error;
        const ParseStatus status =
            DecodeChunked(buffer, body_start, limits.max_body_bytes, &req.body, &consumed, &error);
        if (status == ParseStatus::kError) {
            return Error(error == "body too large" ? 413 : 400,
                         error.empty() ? "bad chunking" : error);
        }
        if (status == ParseStatus::kIncomplete) {
            ParseResult waiting;
            waiting.expects_continue = expect_continue;
            return waiting;
        }
        result.consumed = consumed;
    } else {
        const size_t length = content_length.value_or(0);
        if (length > limits.max_body_bytes) return Error(413, "body too large");
        if (buffer.size() - body_start < length) {
            ParseResult waiting;
            waiting.expects_continue = expect_continue;
            return waiting;
        }
        req.body = std::string(buffer.substr(body_start, length));
        result.consumed = body_start + length;
    }
    result.status = ParseStatus::kComplete;
    return result;
}

}  // namespace inkstone::sim
