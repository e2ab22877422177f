#include "fcgi/dispatcher.h"

#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <exception>
#include <random>

#include "lib/base/assert.h"
#include "lib/base/errors.h"
#include "lib/base/log.h"
#include "lib/base/metrics.h"
#include "lib/base/utf8.h"
#include "lib/http/json_body.h"

namespace inkstone::fcgi {
namespace {

using lib::base::ApiError;
using lib::base::ErrorCode;
using lib::http::Response;

std::string ToLower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string_view Trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

/// Media type `type` with parameters; only a charset of utf-8 is allowed.
bool MediaTypeIs(std::string_view content_type, std::string_view type) {
    std::string lower = ToLower(content_type);
    std::string_view rest = lower;
    size_t semi = rest.find(';');
    if (Trim(rest.substr(0, semi)) != type) return false;
    while (semi != std::string_view::npos) {
        rest = rest.substr(semi + 1);
        semi = rest.find(';');
        std::string_view param = Trim(rest.substr(0, semi));
        if (param.empty()) continue;
        size_t eq = param.find('=');
        if (eq == std::string_view::npos) return false;
        std::string_view name = Trim(param.substr(0, eq));
        std::string_view value = Trim(param.substr(eq + 1));
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
            value = value.substr(1, value.size() - 2);
        }
        if (name == "charset" && value != "utf-8" && value != "utf8") return false;
    }
    return true;
}

/// The token of an `Authorization: Bearer <token>` header, or empty.
std::string_view BearerToken(const std::string& header) {
    std::string_view h = Trim(header);
    if (h.size() < 7) return {};
    if (ToLower(h.substr(0, 7)) != "bearer ") return {};
    return Trim(h.substr(7));
}

Response ServiceUnavailableOrInternal(const lib::base::ServiceError& e) {
    Json::Value f;
    f["source"] = std::string(e.source);
    f["native_code"] = e.native_code;
    f["error"] = e.what();
    lib::base::Log(lib::base::LogLevel::kError, "service_error", f);
    if (e.public_code == ErrorCode::kUnavailable) {
        return Response::Error(
            ApiError(ErrorCode::kUnavailable, "the service is temporarily unavailable, try again"));
    }
    return Response::Error(ApiError(ErrorCode::kInternal, "internal error"));
}

Response Internal() { return Response::Error(ApiError(ErrorCode::kInternal, "internal error")); }

/// The handler's stream, with the request's id in the header block like every other reply.
class RequestStream final : public lib::http::StreamWriter {
  public:
    RequestStream(lib::http::StreamWriter& inner, const std::string& request_id)
        : inner_(inner), request_id_(request_id) {}
    bool Begin(int status,
               const std::vector<std::pair<std::string, std::string>>& headers) override {
        std::vector<std::pair<std::string, std::string>> all = headers;
        all.emplace_back("X-Request-Id", request_id_);
        return inner_.Begin(status, all);
    }
    bool Write(std::string_view chunk) override { return inner_.Write(chunk); }
    bool Flush() override { return inner_.Flush(); }
    bool ClientGone() override { return inner_.ClientGone(); }
    int ClientFd() const override { return inner_.ClientFd(); }

  private:
    lib::http::StreamWriter& inner_;
    const std::string& request_id_;
};

}  // namespace

bool IsJsonContentType(std::string_view content_type) {
    return MediaTypeIs(content_type, "application/json");
}

bool IsFormContentType(std::string_view content_type) {
    return MediaTypeIs(content_type, "application/x-www-form-urlencoded");
}

std::string RequestIdFor(const std::string& supplied) {
    bool ok = !supplied.empty() && supplied.size() <= 128;
    for (char c : supplied) {
        if (!ok) break;
        ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
             c == ':';
    }
    if (ok) return supplied;
    // A request id only has to be unique, not secret (it is sent back in X-Request-Id), so a
    // per-thread generator seeded once from the CSPRNG replaces a getrandom(2) per request.
    // Seeded lazily in the thread itself, i.e. after fork: no two workers share a sequence.
    thread_local std::mt19937_64 generator = [] {
        uint64_t seed = 0;
        randombytes_buf(&seed, sizeof seed);
        return std::mt19937_64(seed);
    }();
    unsigned char bytes[12];
    const uint64_t high = generator();
    const uint64_t low = generator();
    std::memcpy(bytes, &high, 8);
    std::memcpy(bytes + 8, &low, 4);
    char hex[sizeof bytes * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, bytes, sizeof bytes);
    return hex;
}

Dispatcher::Dispatcher(const lib::http::Router& router,
                       const lib::http::Authenticator* authenticator)
    : router_(router), authenticator_(authenticator) {
    for (const lib::http::Route& route : router_.routes()) {
        max_body_ = std::max(max_body_, route.body_limit);
    }
}

Response Dispatcher::Dispatch(lib::http::Request& request, lib::http::StreamWriter& stream,
                              bool body_truncated) const {
    auto start = std::chrono::steady_clock::now();
    request.request_id = RequestIdFor(request.Header("x-request-id"));
    // Every line logged while this request runs (a provider's upstream call, a retried
    // transaction, a broken invariant) names it.
    lib::base::LogContext log_request("request_id", request.request_id);
    RequestStream request_stream(stream, request.request_id);
    Response response;
    const std::string* pattern = nullptr;
    try {
        response = Route(request, request_stream, body_truncated, &pattern);
    } catch (const ApiError& e) {
        response = Response::Error(e);
    } catch (const lib::base::ServiceError& e) {
        response = ServiceUnavailableOrInternal(e);
    } catch (const lib::base::InvariantError&) {
        response = Internal();  // logged and counted where it was detected
    } catch (const std::exception& e) {
        Json::Value f;
        f["error"] = e.what();
        lib::base::Log(lib::base::LogLevel::kError, "unhandled_exception", f);
        response = Internal();
    } catch (...) {
        lib::base::Log(lib::base::LogLevel::kError, "unhandled_exception");
        response = Internal();
    }
    if (!response.streamed) response.headers.emplace_back("X-Request-Id", request.request_id);

    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    Json::Value f;
    f["method"] = request.method_name;
    f["path"] =
        lib::base::IsValidUtf8(request.path) ? request.path : std::string("(invalid utf-8)");
    f["status"] = response.status;
    f["duration_us"] = Json::Int64(us);
    if (request.principal) f["user_id"] = Json::Int64(request.principal->user_id);
    f["request_id"] = request.request_id;
    lib::base::Log(lib::base::LogLevel::kInfo, "request", f);
    // By route pattern, never by path: the label set stays bounded whatever clients send.
    const std::string_view route = pattern != nullptr ? std::string_view(*pattern) : "(none)";
    lib::base::metrics::Count("inkstone_http_requests_total",
                              {{"route", route},
                               {"method", pattern != nullptr ? request.method_name : "-"},
                               {"status", lib::base::metrics::StatusClass(response.status)}});
    lib::base::metrics::Observe("inkstone_http_request_duration_seconds", {{"route", route}},
                                static_cast<double>(us) / 1e6);
    return response;
}

Response Dispatcher::Route(lib::http::Request& request, lib::http::StreamWriter& stream,
                           bool body_truncated, const std::string** pattern) const {
    if (!lib::base::IsValidUtf8(request.path) || !lib::base::IsValidUtf8(request.query)) {
        throw ApiError(ErrorCode::kBadRequest, "the request URI is not valid UTF-8");
    }
    lib::http::Router::Match match = router_.Find(request.method, request.path);
    if (match.outcome == lib::http::Router::Outcome::kNotFound) {
        throw ApiError(ErrorCode::kNotFound, "not found");
    }
    if (match.outcome == lib::http::Router::Outcome::kMethodNotAllowed) {
        Response r = Response::Error(ApiError(ErrorCode::kMethodNotAllowed, "method not allowed"));
        r.headers.emplace_back("Allow", match.allow);
        return r;
    }
    const lib::http::Route& route = *match.route;
    *pattern = &route.pattern;
    request.path_params = std::move(match.params);

    if (body_truncated || request.body.size() > route.body_limit) {
        throw ApiError(ErrorCode::kPayloadTooLarge,
                       "request body exceeds " + std::to_string(route.body_limit) + " bytes");
    }
    switch (route.body) {
        case lib::http::BodyKind::kNone:
        case lib::http::BodyKind::kAny:
            break;
        case lib::http::BodyKind::kJson:
            if (!IsJsonContentType(request.Header("content-type"))) {
                throw ApiError(ErrorCode::kUnsupportedMediaType,
                               "Content-Type must be application/json");
            }
            request.json = lib::http::ParseJsonObject(request.body);
            break;
        case lib::http::BodyKind::kForm:
            if (!IsFormContentType(request.Header("content-type"))) {
                throw ApiError(ErrorCode::kUnsupportedMediaType,
                               "Content-Type must be application/x-www-form-urlencoded");
            }
            break;
    }

    if (route.auth != lib::http::Auth::kPublic) {
        const std::string authorization = request.Header("authorization");
        std::string_view token = BearerToken(authorization);
        std::optional<lib::http::Principal> principal;
        if (!token.empty() && authenticator_ != nullptr) {
            principal = authenticator_->Authenticate(token);
        }
        if (!principal) {
            Response r = Response::Error(
                ApiError(ErrorCode::kUnauthorized, "missing, invalid or expired token"));
            r.headers.emplace_back("WWW-Authenticate", "Bearer");
            return r;
        }
        if (route.auth == lib::http::Auth::kAdmin && principal->role != "admin") {
            throw ApiError(ErrorCode::kForbidden, "administrator role required");
        }
        request.principal = std::move(principal);
    }
    return route.handler->Handle(request, stream);
}

}  // namespace inkstone::fcgi
