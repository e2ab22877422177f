// libFuzzer target for request parsing: arbitrary bytes become method, path, query, headers and
// body, and go through the real dispatcher, router, JSON parser and field validation. Any crash,
// sanitizer report or 5xx for this input is a bug.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fcgi/dispatcher.h"
#include "lib/base/log.h"
#include "lib/http/json_body.h"
#include "lib/http/router.h"

namespace {

using namespace inkstone;

class NullStream final : public lib::http::StreamWriter {
  public:
    bool Begin(int, const std::vector<std::pair<std::string, std::string>>&) override {
        return true;
    }
    bool Write(std::string_view) override { return true; }
    bool Flush() override { return true; }
    bool ClientGone() override { return false; }
};

class FieldsHandler final : public lib::http::Handler {
  public:
    lib::http::Response Handle(const lib::http::Request& req,
                               lib::http::StreamWriter&) const override {
        lib::http::JsonFields f(req.json);
        Json::Value out;
        out["a"] = f.RequiredString("username", 3, 32);
        out["b"] = Json::Int64(f.OptionalInt("amount_fen", 100, 5000000).value_or(0));
        out["c"] = f.OptionalBool("stream").value_or(false);
        out["d"] = f.OptionalNumber("temperature", 0, 2).value_or(0);
        auto images = f.OptionalStringArray("images", 4, 2048);
        out["e"] = images ? static_cast<int>(images->size()) : 0;
        if (auto q = req.QueryParam("page")) out["q"] = *q;
        out["p"] = req.PathParam("id");
        return lib::http::Response::Json(200, out);
    }
};

const FieldsHandler kHandler;
const lib::http::Router kRouter({
    {lib::http::Method::kPost, "/api/v1/x", &kHandler, lib::http::Auth::kPublic,
     lib::http::BodyKind::kJson},
    {lib::http::Method::kPost, "/api/v1/x/{id}", &kHandler, lib::http::Auth::kPublic,
     lib::http::BodyKind::kJson},
    {lib::http::Method::kGet, "/api/v1/x/{id}", &kHandler, lib::http::Auth::kUser},
});
const fcgi::Dispatcher kDispatcher(kRouter, nullptr);

/// Takes bytes up to the next 0x00 separator.
std::string Next(const uint8_t*& data, size_t& size) {
    std::string out;
    while (size > 0 && *data != 0) {
        out.push_back(static_cast<char>(*data));
        ++data;
        --size;
    }
    if (size > 0) {
        ++data;
        --size;
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const bool quiet = [] {
        lib::base::LogInit(
            lib::base::LogConfig{"", "error"});  // one log line per request would dominate
        return true;
    }();
    (void)quiet;
    lib::http::Request req;
    req.method_name = Next(data, size);
    req.method = lib::http::ParseMethod(req.method_name);
    std::string uri = Next(data, size);
    size_t q = uri.find('?');
    req.path = uri.substr(0, q);
    req.query = q == std::string::npos ? "" : uri.substr(q + 1);
    req.headers["content-type"] = Next(data, size);
    req.headers["authorization"] = Next(data, size);
    req.body.assign(reinterpret_cast<const char*>(data), size);
    NullStream stream;
    lib::http::Response r = kDispatcher.Dispatch(req, stream);
    if (r.status >= 500) std::abort();
    return 0;
}
