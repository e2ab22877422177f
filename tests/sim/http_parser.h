#pragma once
/// HTTP/1.1 request framing for the simulator (RFC 9112): request line, headers, a body by
/// Content-Length or `Transfer-Encoding: chunked`. A pure function over the bytes received so
/// far, so the event loop can call it after every read and the unit tests need no socket.
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace inkstone::sim {

struct HttpRequest {
    std::string method;  ///< as sent (case-sensitive, "GET", "POST", ...)
    std::string target;  ///< as sent
    std::string path;  ///< target without the query ("http://host" prefix of absolute-form removed)
    int minor_version = 1;  ///< HTTP/1.<minor>: 0 or 1
    /// In order; names lower-cased, values trimmed.
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;  ///< de-chunked
    /// HTTP/1.1 without `Connection: close`. HTTP/1.0 always closes (no keep-alive extension).
    bool keep_alive = true;

    /// The first value of header `lower_name`, "" when absent.
    std::string_view Header(std::string_view lower_name) const;
};

struct ParseLimits {
    size_t max_header_bytes = 64 * 1024;  ///< request line + headers + blank line
    size_t max_headers = 128;
    size_t max_body_bytes = 20 * 1024 * 1024;  ///< DashScope takes base64 images of ~10 MB
};

enum class ParseStatus { kIncomplete, kComplete, kError };

struct ParseResult {
    ParseStatus status = ParseStatus::kIncomplete;
    size_t consumed = 0;   ///< kComplete: bytes of the buffer this request took
    HttpRequest request;   ///< kComplete
    int error_status = 0;  ///< kError: 400, 413, 431 or 501; the connection must be closed
    std::string error;     ///< kError: what was wrong, for the log
    /// kIncomplete: the headers are in, the body is not, and the client sent
    /// `Expect: 100-continue` (it waits for `100 Continue` before sending the body).
    bool expects_continue = false;
};

/// Parses the first request in `buffer` (leading CRLFs are skipped). kIncomplete means "read
/// more"; nothing here ever reads past `buffer`, throws, or trusts a length it was sent.
ParseResult ParseHttpRequest(std::string_view buffer, const ParseLimits& limits = {});

}  // namespace inkstone::sim
