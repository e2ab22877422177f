#pragma once
/// A small HTTP/1.1 client for the tests (libcurl), always to 127.0.0.1:PORT, never through a
/// proxy whatever the environment says.
///
/// Thread-safe: every call uses its own curl handle, so concurrent tests may share one client.
#include <json/value.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace inkstone::testing {

struct HttpResponse {
    long status = 0;  ///< 0 when no response arrived (see `error`)
    /// Header names in lower case; a repeated header's values are joined with ", ".
    std::map<std::string, std::string> headers;
    std::string body;
    std::string error;     ///< curl's message when the transfer failed, else empty
    bool aborted = false;  ///< a Stream() callback asked to stop

    /// `headers[name]` for a lower-case `name`, "" when absent.
    std::string Header(const std::string& name) const;
    /// The body parsed as JSON. Throws std::runtime_error quoting status and body when it is not.
    Json::Value JsonBody() const;
};

/// Request headers by name. A name mapped to "" suppresses a header curl would send itself.
using HttpHeaders = std::map<std::string, std::string>;

/// Called for every chunk of the body as it arrives, with the time it arrived. Return false to
/// hang up mid-stream (the response is then marked `aborted`).
using ChunkCallback =
    std::function<bool(const std::string& chunk, std::chrono::steady_clock::time_point at)>;

class HttpClient {
  public:
    /// `timeout` bounds a whole exchange, connection to last byte.
    explicit HttpClient(int port, std::chrono::milliseconds timeout = std::chrono::seconds(30));

    /// `path` starts with '/' and may carry a query. A non-empty body without a Content-Type
    /// header is sent as application/json. Transport failures do not throw: status 0, `error`.
    HttpResponse Request(const std::string& method, const std::string& path,
                         const std::string& body = "", const HttpHeaders& headers = {}) const;
    HttpResponse Get(const std::string& path, const HttpHeaders& headers = {}) const;
    HttpResponse Post(const std::string& path, const Json::Value& body,
                      const HttpHeaders& headers = {}) const;
    /// Request() that hands each body chunk to `on_chunk` as it arrives (SSE); the chunks are
    /// also collected in `body`.
    HttpResponse Stream(const std::string& method, const std::string& path, const std::string& body,
                        const HttpHeaders& headers, const ChunkCallback& on_chunk) const;

    int port() const { return port_; }
    std::string BaseUrl() const;

  private:
    int port_;
    std::chrono::milliseconds timeout_;
};

/// Writes `bytes` as-is to 127.0.0.1:port and returns everything the server sends until it
/// closes the connection or `timeout` passes (send `Connection: close`; there is no half-close,
/// which nginx would take as an abort): for requests curl refuses to send (garbled request lines,
/// bad chunking). Throws std::system_error when it cannot connect.
std::string RawExchange(int port, const std::string& bytes,
                        std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace inkstone::testing
