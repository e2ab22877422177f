#include "fcgi/dispatcher.h"

#include <gtest/gtest.h>
#include <json/reader.h>
#include <json/writer.h>

#include "lib/base/assert.h"
#include "lib/db/db.h"
#include "lib/http/json_body.h"
#include "tests/unit/fake_stream.h"

namespace inkstone::fcgi {
namespace {

using lib::base::ApiError;
using lib::http::Auth;
using lib::http::BodyKind;
using lib::http::Method;
using lib::http::Request;
using lib::http::Response;
using testing::FakeStream;

Json::Value ParseBody(const std::string& body) {
    Json::Value v;
    std::string errors;
    Json::CharReaderBuilder b;
    std::unique_ptr<Json::CharReader> r(b.newCharReader());
    EXPECT_TRUE(r->parse(body.data(), body.data() + body.size(), &v, &errors)) << body;
    return v;
}

std::string HeaderOf(const Response& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
        if (k == name) return v;
    }
    return "";
}

/// Echoes the parsed JSON after a typed read, so 422s come from the real JsonFields.
class EchoHandler final : public lib::http::Handler {
  public:
    Response Handle(const Request& req, lib::http::StreamWriter&) const override {
        lib::http::JsonFields f(req.json);
        Json::Value out;
        out["name"] = f.RequiredString("name", 1, 10);
        out["n"] = Json::Int64(f.OptionalInt("n", 0, 100).value_or(-1));
        if (req.principal) out["user"] = Json::Int64(req.principal->user_id);
        if (!req.PathParam("id").empty()) out["id"] = req.PathParam("id");
        return Response::Json(200, out);
    }
};

class ThrowingHandler final : public lib::http::Handler {
  public:
    explicit ThrowingHandler(int kind) : kind_(kind) {}
    Response Handle(const Request&, lib::http::StreamWriter&) const override {
        if (kind_ == 0)
            throw lib::db::DbError(lib::db::ErrorKind::kUnavailable, 2006, "gone: secret sql");
        if (kind_ == 1) throw std::runtime_error("boom: secret detail");
        if (kind_ == 2) throw ApiError(lib::base::ErrorCode::kConflict, "taken");
        if (kind_ == 3) throw 42;
        if (kind_ == 4) INKSTONE_ASSERT(kind_ == 0, "secret invariant context");
        throw lib::db::DbError(lib::db::ErrorKind::kOther, 1064, "syntax: secret sql");
    }

  private:
    int kind_;
};

class StreamingHandler final : public lib::http::Handler {
  public:
    Response Handle(const Request&, lib::http::StreamWriter& s) const override {
        s.Begin(200, {{"Content-Type", "text/event-stream"}});
        s.Write("data: 1\n\n");
        s.Flush();
        Response r;
        r.streamed = true;
        return r;
    }
};

class FakeAuth final : public lib::http::Authenticator {
  public:
    std::optional<lib::http::Principal> Authenticate(std::string_view token) const override {
        if (token == "good") return Make(7, "alice", "user");
        if (token == "root") return Make(1, "root", "admin");
        return std::nullopt;
    }

  private:
    static lib::http::Principal Make(int64_t id, const char* username, const char* role) {
        lib::http::Principal principal;
        principal.user_id = id;
        principal.username = username;
        principal.role = role;
        principal.token_hash = "h";
        return principal;
    }
};

class DispatcherTest : public ::testing::Test {
  protected:
    EchoHandler echo;
    ThrowingHandler db_down{0}, crash{1}, conflict{2}, weird{3}, invariant{4}, db_bug{5};
    StreamingHandler streaming;
    FakeAuth auth;
    lib::http::Router router{{
        {Method::kPost, "/api/v1/echo", &echo, Auth::kPublic, BodyKind::kJson},
        {Method::kPost, "/api/v1/items/{id}", &echo, Auth::kUser, BodyKind::kJson},
        {Method::kPost, "/api/v1/admin/echo", &echo, Auth::kAdmin, BodyKind::kJson},
        {Method::kPost, "/api/v1/small", &echo, Auth::kPublic, BodyKind::kJson, 16},
        {Method::kGet, "/api/v1/db", &db_down},
        {Method::kGet, "/api/v1/crash", &crash},
        {Method::kGet, "/api/v1/conflict", &conflict},
        {Method::kGet, "/api/v1/weird", &weird},
        {Method::kGet, "/api/v1/invariant", &invariant},
        {Method::kGet, "/api/v1/db-bug", &db_bug},
        {Method::kGet, "/api/v1/stream", &streaming},
        {Method::kPost, "/api/v1/form", &echo, Auth::kPublic, BodyKind::kForm},
    }};
    Dispatcher dispatcher{router, &auth};
    FakeStream stream;

    Response Send(Method m, const std::string& path, const std::string& body = "",
                  const std::string& content_type = "application/json",
                  const std::string& token = "") {
        Request req;
        req.method = m;
        req.method_name = std::string(lib::http::MethodName(m));
        req.path = path;
        req.body = body;
        if (!content_type.empty()) req.headers["content-type"] = content_type;
        if (!token.empty()) req.headers["authorization"] = "Bearer " + token;
        return dispatcher.Dispatch(req, stream);
    }

    static void ExpectError(const Response& r, int status, const std::string& code) {
        EXPECT_EQ(r.status, status) << r.body;
        Json::Value body = ParseBody(r.body);
        EXPECT_EQ(body["code"].asString(), code) << r.body;
        EXPECT_FALSE(body["detail"].asString().empty());
        EXPECT_EQ(HeaderOf(r, "Content-Type"), "application/json; charset=utf-8");
    }
};

TEST_F(DispatcherTest, HappyPath) {
    Response r = Send(Method::kPost, "/api/v1/echo", R"({"name":"ink","n":3,"role":"admin"})");
    EXPECT_EQ(r.status, 200);
    Json::Value body = ParseBody(r.body);
    EXPECT_EQ(body["name"], "ink");
    EXPECT_EQ(body["n"], 3);
    EXPECT_FALSE(HeaderOf(r, "X-Request-Id").empty());
}

TEST_F(DispatcherTest, NotFoundAndMethodNotAllowed) {
    ExpectError(Send(Method::kGet, "/api/v1/nope"), 404, "NOT_FOUND");
    Response r = Send(Method::kGet, "/api/v1/echo");
    ExpectError(r, 405, "METHOD_NOT_ALLOWED");
    EXPECT_EQ(HeaderOf(r, "Allow"), "POST");
}

TEST_F(DispatcherTest, MalformedJsonIs400) {
    for (const char* body :
         {"", "{", "[1]", "{\"name\":\"x\"} trailing", "nul", "{\"a\":1,\"a\":2}"}) {
        ExpectError(Send(Method::kPost, "/api/v1/echo", body), 400, "INVALID_JSON");
    }
}

TEST_F(DispatcherTest, InvalidUtf8Is400) {
    ExpectError(Send(Method::kPost, "/api/v1/echo", "{\"name\":\"\xC0\xAF\"}"), 400,
                "INVALID_JSON");
    ExpectError(Send(Method::kGet, "/api/v1/\xFF"), 400, "BAD_REQUEST");
}

TEST_F(DispatcherTest, WrongTypesAre422WithField) {
    Response r = Send(Method::kPost, "/api/v1/echo", R"({"name":5})");
    ExpectError(r, 422, "VALIDATION_ERROR");
    EXPECT_EQ(ParseBody(r.body)["field"], "name");
    r = Send(Method::kPost, "/api/v1/echo", R"({"name":"x","n":"3"})");
    ExpectError(r, 422, "VALIDATION_ERROR");
    EXPECT_EQ(ParseBody(r.body)["field"], "n");
    r = Send(Method::kPost, "/api/v1/echo", R"({})");
    EXPECT_EQ(ParseBody(r.body)["field"], "name");
}

TEST_F(DispatcherTest, ContentTypeChecks) {
    ExpectError(Send(Method::kPost, "/api/v1/echo", R"({"name":"x"})", "text/plain"), 415,
                "UNSUPPORTED_MEDIA_TYPE");
    ExpectError(Send(Method::kPost, "/api/v1/echo", R"({"name":"x"})", ""), 415,
                "UNSUPPORTED_MEDIA_TYPE");
    ExpectError(
        Send(Method::kPost, "/api/v1/echo", R"({"name":"x"})", "application/json; charset=latin1"),
        415, "UNSUPPORTED_MEDIA_TYPE");
    EXPECT_EQ(Send(Method::kPost, "/api/v1/echo", R"({"name":"x"})",
                   "Application/JSON; charset=\"UTF-8\"")
                  .status,
              200);
    ExpectError(Send(Method::kPost, "/api/v1/form", "a=b", "application/json"), 415,
                "UNSUPPORTED_MEDIA_TYPE");
}

TEST_F(DispatcherTest, BodyLimitIs413) {
    ExpectError(Send(Method::kPost, "/api/v1/small", R"({"name":"0123456789"})"), 413,
                "PAYLOAD_TOO_LARGE");
    Request req;
    req.method = Method::kPost;
    req.path = "/api/v1/echo";
    req.headers["content-type"] = "application/json";
    req.body = R"({"name":"x"})";
    ExpectError(dispatcher.Dispatch(req, stream, /*body_truncated=*/true), 413,
                "PAYLOAD_TOO_LARGE");
    EXPECT_EQ(dispatcher.MaxBodyBytes(), lib::http::kDefaultBodyLimit);
}

TEST_F(DispatcherTest, AuthRequirement) {
    Response r = Send(Method::kPost, "/api/v1/items/9", R"({"name":"x"})");
    ExpectError(r, 401, "UNAUTHORIZED");
    EXPECT_EQ(HeaderOf(r, "WWW-Authenticate"), "Bearer");
    ExpectError(
        Send(Method::kPost, "/api/v1/items/9", R"({"name":"x"})", "application/json", "bad"), 401,
        "UNAUTHORIZED");
    r = Send(Method::kPost, "/api/v1/items/9", R"({"name":"x"})", "application/json", "good");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(ParseBody(r.body)["user"], 7);
    EXPECT_EQ(ParseBody(r.body)["id"], "9");
    ExpectError(
        Send(Method::kPost, "/api/v1/admin/echo", R"({"name":"x"})", "application/json", "good"),
        403, "FORBIDDEN");
    EXPECT_EQ(
        Send(Method::kPost, "/api/v1/admin/echo", R"({"name":"x"})", "application/json", "root")
            .status,
        200);
}

TEST_F(DispatcherTest, FailuresMapWithoutLeakingInternals) {
    Response r = Send(Method::kGet, "/api/v1/db");
    ExpectError(r, 503, "UNAVAILABLE");
    EXPECT_EQ(r.body.find("secret"), std::string::npos);
    r = Send(Method::kGet, "/api/v1/crash");
    ExpectError(r, 500, "INTERNAL_ERROR");
    EXPECT_EQ(r.body.find("secret"), std::string::npos);
    ExpectError(Send(Method::kGet, "/api/v1/conflict"), 409, "CONFLICT");
    ExpectError(Send(Method::kGet, "/api/v1/weird"), 500, "INTERNAL_ERROR");
}

TEST_F(DispatcherTest, RequestIdIsEchoedOrGenerated) {
    Request req;
    req.method = Method::kGet;
    req.path = "/api/v1/conflict";
    req.headers["x-request-id"] = "abc-123";
    EXPECT_EQ(HeaderOf(dispatcher.Dispatch(req, stream), "X-Request-Id"), "abc-123");
    req.headers["x-request-id"] = "bad id\r\nInjected: 1";
    std::string generated = HeaderOf(dispatcher.Dispatch(req, stream), "X-Request-Id");
    EXPECT_EQ(generated.size(), 24u);
    EXPECT_EQ(generated.find(' '), std::string::npos);
}

TEST_F(DispatcherTest, StreamedResponsesPassThrough) {
    Response r = Send(Method::kGet, "/api/v1/stream");
    EXPECT_TRUE(r.streamed);
    EXPECT_EQ(stream.status, 200);
    EXPECT_EQ(stream.flushed, "data: 1\n\n");
}

TEST_F(DispatcherTest, StreamedRepliesCarryTheRequestIdToo) {
    Request req;
    req.method = Method::kGet;
    req.path = "/api/v1/stream";
    req.headers["x-request-id"] = "stream-42";
    dispatcher.Dispatch(req, stream);
    std::string id;
    for (const auto& [name, value] : stream.headers) {
        if (name == "X-Request-Id") id = value;
    }
    EXPECT_EQ(id, "stream-42");
}

TEST_F(DispatcherTest, BrokenInvariantIsA500AndIsCounted) {
    const uint64_t before = lib::base::InvariantViolations();
    Response r = Send(Method::kGet, "/api/v1/invariant");
    ExpectError(r, 500, "INTERNAL_ERROR");
    EXPECT_EQ(r.body.find("secret"), std::string::npos);
    EXPECT_EQ(lib::base::InvariantViolations(), before + 1);
    // The worker goes on serving.
    ExpectError(Send(Method::kGet, "/api/v1/conflict"), 409, "CONFLICT");
}

TEST_F(DispatcherTest, DbFailuresOtherThanUnavailableAre500) {
    Response r = Send(Method::kGet, "/api/v1/db-bug");
    ExpectError(r, 500, "INTERNAL_ERROR");
    EXPECT_EQ(r.body.find("secret"), std::string::npos);
}

TEST(ContentType, Parsing) {
    EXPECT_TRUE(IsJsonContentType("application/json"));
    EXPECT_TRUE(IsJsonContentType("application/json;charset=utf-8"));
    EXPECT_FALSE(IsJsonContentType("application/jsonx"));
    EXPECT_FALSE(IsJsonContentType("text/json"));
    EXPECT_TRUE(IsFormContentType("application/x-www-form-urlencoded; charset=utf-8"));
    EXPECT_FALSE(IsFormContentType("multipart/form-data"));
}

}  // namespace
}  // namespace inkstone::fcgi
