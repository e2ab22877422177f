#pragma once
/// Plain request and response values. Only the libfcgi adapter in fcgi/ builds them from the
/// wire; handlers and tests build them directly.
#include <json/value.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/base/clock.h"
#include "lib/base/errors.h"
#include "lib/base/json.h"

namespace inkstone::lib::http {

enum class Method { kGet, kHead, kPost, kPut, kPatch, kDelete, kOptions, kOther };

Method ParseMethod(std::string_view m);
std::string_view MethodName(Method m);

/// The authenticated caller, filled by the dispatcher before a handler runs.
struct Principal {
    int64_t user_id = 0;
    std::string username;
    std::string role;        ///< "user" | "admin"
    std::string token_hash;  ///< identifies the session (for logout)
    /// The rest of the user's row, read in the same statement as the token (so a handler that
    /// only shows it, like GET /credit/balance or GET /users/me, needs no statement of its
    /// own). As fresh as any read at the start of the request; a handler that changes credits
    /// still decides under its own row lock.
    std::optional<std::string> email;
    int64_t credits = 0;
    std::optional<base::TimePoint> member_expired_at;
    base::TimePoint created_at;
    /// `catalog_version.version`, read by the same statement: a worker compares it with the
    /// version its cached catalog (writing tools, model prices) was loaded at and reloads when
    /// it moved, so an admin's change is seen by the next request on every worker and host.
    int64_t catalog_version = 0;
};

struct Request {
    Method method = Method::kGet;
    std::string method_name;  ///< as received
    std::string path;         ///< decoded path without the query, e.g. /api/v1/health
    std::string query;        ///< raw query string without '?'
    std::map<std::string, std::string> headers;  ///< lower-case names: "content-type", ...
    std::string body;
    std::string remote_addr;
    std::string request_id;
    std::map<std::string, std::string> path_params;  ///< from `{name}` segments of the route
    /// The parsed body for routes that take JSON (the dispatcher fills it; an object).
    Json::Value json{Json::objectValue};
    std::optional<Principal> principal;

    /// Header value or empty.
    std::string Header(std::string_view lower_name) const;
    /// Decoded query parameter, or nullopt.
    std::optional<std::string> QueryParam(std::string_view name) const;
    /// Path parameter, or empty.
    std::string PathParam(std::string_view name) const;
};

struct Response {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    /// True when the handler already sent everything through the StreamWriter.
    bool streamed = false;

    static Response Json(int status, const Json::Value& body);
    static Response Error(const base::ApiError& error);
    static Response NoContent();
    static Response Text(int status, std::string content_type, std::string body);
};

/// How a handler streams (SSE): Begin once, then Write/Flush; every call reports whether the
/// client is still there. Implementations are not thread-safe: one request, one thread.
class StreamWriter {
  public:
    virtual ~StreamWriter() = default;
    /// Sends status and headers. Returns false if the client is gone.
    virtual bool Begin(int status,
                       const std::vector<std::pair<std::string, std::string>>& headers) = 0;
    /// Queues bytes. Returns false if the client is gone.
    virtual bool Write(std::string_view chunk) = 0;
    /// Pushes everything queued to nginx now. Returns false if the client is gone.
    virtual bool Flush() = 0;
    /// True once a write failed or the peer closed the connection (checked without blocking).
    virtual bool ClientGone() = 0;
    /// A descriptor that turns readable when the client goes away (the connection to nginx),
    /// for waiting on it; -1 when there is none (then only ClientGone() tells).
    virtual int ClientFd() const { return -1; }
};

}  // namespace inkstone::lib::http
