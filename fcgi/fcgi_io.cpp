#include "fcgi/fcgi_io.h"

#include <poll.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace inkstone::fcgi {
namespace {

constexpr size_t kDrainLimit = 8 * 1024 * 1024;

std::string Param(FCGX_Request& fcgi, const char* name) {
    const char* value = FCGX_GetParam(name, fcgi.envp);
    return value == nullptr ? std::string() : std::string(value);
}

/// HTTP_X_REQUEST_ID → x-request-id
std::string HeaderName(std::string_view cgi_name) {
    std::string out;
    out.reserve(cgi_name.size());
    for (char c : cgi_name) {
        out.push_back(c == '_' ? '-'
                               : static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    return out;
}

bool PutAll(FCGX_Stream* out, std::string_view data) {
    while (!data.empty()) {
        int chunk = static_cast<int>(std::min<size_t>(data.size(), 1 << 20));
        if (FCGX_PutStr(data.data(), chunk, out) != chunk) return false;
        data.remove_prefix(static_cast<size_t>(chunk));
    }
    return true;
}

std::string StatusAndHeaders(int status,
                             const std::vector<std::pair<std::string, std::string>>& headers) {
    std::string head = "Status: " + std::to_string(status) + " " + ReasonPhrase(status) + "\r\n";
    for (const auto& [name, value] : headers) {
        // A header value never carries CR/LF into the response (header injection).
        if (name.find_first_of("\r\n:") != std::string::npos) continue;
        if (value.find_first_of("\r\n") != std::string::npos) continue;
        head += name;
        head += ": ";
        head += value;
        head += "\r\n";
    }
    head += "\r\n";
    return head;
}

}  // namespace

const char* ReasonPhrase(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 201:
            return "Created";
        case 202:
            return "Accepted";
        case 204:
            return "No Content";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 402:
            return "Payment Required";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 409:
            return "Conflict";
        case 413:
            return "Payload Too Large";
        case 415:
            return "Unsupported Media Type";
        case 422:
            return "Unprocessable Entity";
        case 429:
            return "Too Many Requests";
        case 500:
            return "Internal Server Error";
        case 502:
            return "Bad Gateway";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        default:
            return "Status";
    }
}

bool ReadRequest(FCGX_Request& fcgi, size_t max_body, lib::http::Request& out) {
    out.method_name = Param(fcgi, "REQUEST_METHOD");
    out.method = lib::http::ParseMethod(out.method_name);
    out.remote_addr = Param(fcgi, "REMOTE_ADDR");

    // The raw request URI, parsed here rather than with nginx regexes. An absolute-form
    // target (GET http://host/path) keeps only its path.
    std::string uri = Param(fcgi, "REQUEST_URI");
    if (uri.rfind("http://", 0) == 0 || uri.rfind("https://", 0) == 0) {
        size_t slash = uri.find('/', uri.find("//") + 2);
        uri = slash == std::string::npos ? "/" : uri.substr(slash);
    }
    size_t q = uri.find('?');
    out.path = uri.substr(0, q);
    out.query = q == std::string::npos ? std::string() : uri.substr(q + 1);
    size_t hash = out.query.find('#');
    if (hash != std::string::npos) out.query.resize(hash);

    for (char** env = fcgi.envp; env != nullptr && *env != nullptr; ++env) {
        std::string_view entry(*env);
        size_t eq = entry.find('=');
        if (eq == std::string_view::npos) continue;
        std::string_view name = entry.substr(0, eq);
        if (name.rfind("HTTP_", 0) == 0) {
            out.headers[HeaderName(name.substr(5))] = std::string(entry.substr(eq + 1));
        }
    }
    std::string content_type = Param(fcgi, "CONTENT_TYPE");
    if (!content_type.empty()) out.headers["content-type"] = content_type;
    std::string content_length = Param(fcgi, "CONTENT_LENGTH");
    if (!content_length.empty()) out.headers["content-length"] = content_length;

    // Read the body up to the limit + 1, then drain (bounded) whatever nginx still sends.
    bool truncated = false;
    char buf[16384];
    size_t drained = 0;
    while (true) {
        int n = FCGX_GetStr(buf, sizeof buf, fcgi.in);
        if (n <= 0) break;
        size_t room = max_body + 1 > out.body.size() ? max_body + 1 - out.body.size() : 0;
        size_t take = std::min(room, static_cast<size_t>(n));
        out.body.append(buf, take);
        if (take < static_cast<size_t>(n)) {
            truncated = true;
            drained += static_cast<size_t>(n) - take;
            if (drained > kDrainLimit) break;
        }
    }
    if (out.body.size() > max_body) truncated = true;
    return truncated;
}

bool WriteResponse(FCGX_Request& fcgi, const lib::http::Response& response, bool head_only) {
    std::vector<std::pair<std::string, std::string>> headers = response.headers;
    if (response.status != 204 && response.status != 304) {
        headers.emplace_back("Content-Length", std::to_string(response.body.size()));
    }
    std::string head = StatusAndHeaders(response.status, headers);
    if (!PutAll(fcgi.out, head)) return false;
    if (!head_only && response.status != 204 && !PutAll(fcgi.out, response.body)) return false;
    // No FCGX_FFlush: FCGX_Finish_r sends what is buffered together with the end-of-stream and
    // end-request records, one write (and one wakeup of nginx) per reply instead of two.
    return FCGX_GetError(fcgi.out) == 0;
}

bool FcgiStreamWriter::Begin(int status,
                             const std::vector<std::pair<std::string, std::string>>& headers) {
    if (gone_) return false;
    begun_ = true;
    std::vector<std::pair<std::string, std::string>> all = headers;
    all.emplace_back("X-Accel-Buffering", "no");
    all.emplace_back("Cache-Control", "no-cache");
    all.insert(all.end(), extra_headers_.begin(), extra_headers_.end());
    if (!PutAll(fcgi_.out, StatusAndHeaders(status, all))) gone_ = true;
    return Flush();
}

bool FcgiStreamWriter::Write(std::string_view chunk) {
    if (gone_) return false;
    if (!PutAll(fcgi_.out, chunk)) gone_ = true;
    return !gone_;
}

bool FcgiStreamWriter::Flush() {
    if (gone_) return false;
    if (FCGX_FFlush(fcgi_.out) != 0 || FCGX_GetError(fcgi_.out) != 0) gone_ = true;
    return !gone_;
}

bool FcgiStreamWriter::ClientGone() {
    if (gone_) return true;
    // The body was read to its end, so anything readable now is nginx closing the connection
    // (it does so when the browser goes away) or an FCGI_ABORT_REQUEST record.
    struct pollfd p {};
    p.fd = fcgi_.ipcFd;
    p.events = POLLIN | POLLRDHUP;
    if (p.fd < 0) {
        gone_ = true;
    } else if (poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR))) {
        gone_ = true;
    }
    return gone_;
}

}  // namespace inkstone::fcgi
