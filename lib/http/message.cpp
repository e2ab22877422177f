#include "lib/http/message.h"

#include <cgicc/CgiUtils.h>
#include <json/writer.h>

#include <array>
#include <memory>
#include <sstream>

namespace inkstone::lib::http {
namespace {

constexpr std::array<std::pair<std::string_view, Method>, 7> kMethods{{
    {"GET", Method::kGet},
    {"HEAD", Method::kHead},
    {"POST", Method::kPost},
    {"PUT", Method::kPut},
    {"PATCH", Method::kPatch},
    {"DELETE", Method::kDelete},
    {"OPTIONS", Method::kOptions},
}};

}  // namespace

Method ParseMethod(std::string_view m) {
    for (const auto& [name, method] : kMethods) {
        if (name == m) return method;
    }
    return Method::kOther;
}

std::string_view MethodName(Method m) {
    for (const auto& [name, method] : kMethods) {
        if (method == m) return name;
    }
    return "OTHER";
}

std::string Request::Header(std::string_view lower_name) const {
    auto it = headers.find(std::string(lower_name));
    return it == headers.end() ? std::string() : it->second;
}

std::optional<std::string> Request::QueryParam(std::string_view name) const {
    std::string_view rest = query;
    while (!rest.empty()) {
        size_t amp = rest.find('&');
        std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
        size_t eq = pair.find('=');
        std::string key = cgicc::form_urldecode(std::string(pair.substr(0, eq)));
        if (key == name) {
            return eq == std::string_view::npos
                       ? std::string()
                       : cgicc::form_urldecode(std::string(pair.substr(eq + 1)));
        }
    }
    return std::nullopt;
}

std::string Request::PathParam(std::string_view name) const {
    auto it = path_params.find(std::string(name));
    return it == path_params.end() ? std::string() : it->second;
}

Response Response::Json(int status, const Json::Value& body) {
    Response r;
    r.status = status;
    r.headers.emplace_back("Content-Type", "application/json; charset=utf-8");
    r.body = base::ToJson(body);
    return r;
}

Response Response::Error(const base::ApiError& error) {
    Response r = Json(base::HttpStatus(error.code), error.Body());
    if (error.retry_after_s > 0) {
        r.headers.emplace_back("Retry-After", std::to_string(error.retry_after_s));
    }
    return r;
}

Response Response::NoContent() {
    Response r;
    r.status = 204;
    return r;
}

Response Response::Text(int status, std::string content_type, std::string body) {
    Response r;
    r.status = status;
    r.headers.emplace_back("Content-Type", std::move(content_type));
    r.body = std::move(body);
    return r;
}

}  // namespace inkstone::lib::http
