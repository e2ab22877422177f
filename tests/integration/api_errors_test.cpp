// The plumbing's error contract over real HTTP: nginx → pool → dispatcher, every failure a JSON
// error with the status and code of the one error table (lib/base/errors.h; README, "Layers"),
// never HTML, never a 5xx for bad input.
#include <gtest/gtest.h>
#include <json/writer.h>

#include <set>
#include <string>
#include <thread>

#include "tests/harness/shared_stack.h"

namespace inkstone::testing {
namespace {

Stack& TheStack() {
    StackOptions options;
    options.config["testing.hooks"] = "true";
    options.config["fcgi.slow_request_ms"] = "500";
    return SharedStack(options);
}

void ExpectJsonError(const HttpResponse& r, long status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_NE(r.Header("content-type").find("application/json"), std::string::npos)
        << r.Header("content-type");
    Json::Value body = r.JsonBody();
    EXPECT_EQ(body["code"].asString(), code) << r.body;
    EXPECT_FALSE(body["detail"].asString().empty()) << r.body;
}

TEST(ApiErrors, HealthIsOk) {
    HttpResponse r = TheStack().client().Get("/api/v1/health");
    ASSERT_EQ(r.status, 200) << r.body;
    Json::Value body = r.JsonBody();
    EXPECT_EQ(body["status"], "ok");
    EXPECT_EQ(body["db"], "ok");
    EXPECT_TRUE(body["version"].isString());
    EXPECT_FALSE(r.Header("x-request-id").empty());
}

TEST(ApiErrors, UnknownPathIs404AndWrongMethodIs405) {
    HttpClient c = TheStack().client();
    ExpectJsonError(c.Get("/api/v1/nope"), 404, "NOT_FOUND");
    ExpectJsonError(c.Get("/api/v1/health/"), 404, "NOT_FOUND");
    ExpectJsonError(c.Get("/api/v1/../v1/nope"), 404, "NOT_FOUND");
    // nginx's own, still JSON (outside /api/ every path is the web app, README "Web app")
    ExpectJsonError(c.Get("/api/elsewhere"), 404, "NOT_FOUND");
    HttpResponse r = c.Request("DELETE", "/api/v1/health");
    ExpectJsonError(r, 405, "METHOD_NOT_ALLOWED");
    EXPECT_EQ(r.Header("allow"), "GET");
}

TEST(ApiErrors, MalformedJsonIs400) {
    HttpClient c = TheStack().client();
    for (const char* body : {"{", "{\"username\": }", "[]", "{\"a\":1} x", "\"str\""}) {
        ExpectJsonError(c.Request("POST", "/api/v1/auth/register", body), 400, "INVALID_JSON");
    }
}

TEST(ApiErrors, InvalidUtf8) {
    HttpClient c = TheStack().client();
    ExpectJsonError(c.Request("POST", "/api/v1/auth/register", "{\"username\":\"a\xff\xfe\"}"), 400,
                    "INVALID_JSON");
    std::string raw = RawExchange(TheStack().port(),
                                  "GET /api/v1/he\xc3\x28lth HTTP/1.1\r\nHost: x\r\n"
                                  "Connection: close\r\n\r\n");
    EXPECT_NE(raw.find(" 400 "), std::string::npos) << "[" << raw << "]";
    EXPECT_NE(raw.find("BAD_REQUEST"), std::string::npos) << raw;
}

TEST(ApiErrors, BodyTooLargeIs413FromAppAndNginx) {
    HttpClient c = TheStack().client();
    std::string body = "{\"username\":\"" + std::string(70 * 1024, 'a') + "\"}";
    ExpectJsonError(c.Request("POST", "/api/v1/auth/register", body), 413, "PAYLOAD_TOO_LARGE");
    std::string huge = "{\"username\":\"" + std::string(3 * 1024 * 1024, 'a') + "\"}";
    ExpectJsonError(c.Request("POST", "/api/v1/auth/register", huge), 413, "PAYLOAD_TOO_LARGE");
}

TEST(ApiErrors, WrongContentTypeIs415) {
    HttpClient c = TheStack().client();
    ExpectJsonError(
        c.Request("POST", "/api/v1/auth/register", "{}", {{"Content-Type", "text/plain"}}), 415,
        "UNSUPPORTED_MEDIA_TYPE");
    ExpectJsonError(c.Request("POST", "/api/v1/auth/register", "username=x",
                              {{"Content-Type", "application/x-www-form-urlencoded"}}),
                    415, "UNSUPPORTED_MEDIA_TYPE");
}

TEST(ApiErrors, WrongTypeIs422WithField) {
    HttpClient c = TheStack().client();
    Json::Value body;
    body["username"] = 12345;
    body["password"] = "long enough password";
    HttpResponse r = c.Post("/api/v1/auth/register", body);
    ExpectJsonError(r, 422, "VALIDATION_ERROR");
    EXPECT_EQ(r.JsonBody()["field"], "username");
}

TEST(ApiErrors, RequestIdIsEchoed) {
    HttpClient c = TheStack().client();
    EXPECT_EQ(c.Get("/api/v1/health", {{"X-Request-Id", "trace-42"}}).Header("x-request-id"),
              "trace-42");
    EXPECT_EQ(c.Get("/api/v1/nope", {{"X-Request-Id", "trace-43"}}).Header("x-request-id"),
              "trace-43");
}

TEST(ApiErrors, RequestsAreLoggedOneLineEach) {
    HttpClient c = TheStack().client();
    c.Get("/api/v1/health", {{"X-Request-Id", "log-line-probe"}});
    std::string log = ReadFile(TheStack().pool().dir() + "/logs/inkstone.log");
    size_t at = log.find("\"request_id\":\"log-line-probe\"");
    ASSERT_NE(at, std::string::npos);
    size_t start = log.rfind('\n', at) + 1;
    std::string line = log.substr(start, log.find('\n', at) - start);
    for (const char* field : {"\"method\":\"GET\"", "\"path\":\"/api/v1/health\"", "\"status\":200",
                              "\"duration_us\":"}) {
        EXPECT_NE(line.find(field), std::string::npos) << line;
    }
}

TEST(ApiErrors, StatusPageReportsThePool) {
    HttpClient c = TheStack().client();
    HttpResponse r = c.Get("/inkstone-status");
    ASSERT_EQ(r.status, 200) << r.body;
    Json::Value s = r.JsonBody();
    EXPECT_EQ(s["processes"].asInt(), 2);
    EXPECT_EQ(s["workers"].size(), 2u);
    EXPECT_EQ(s["idle_threads"].asInt() + s["busy_threads"].asInt(), 16);
    EXPECT_GE(s["busy_threads"].asInt(), 1);  // this very request
    uint64_t before = s["accepted_requests"].asUInt64();
    for (int i = 0; i < 5; ++i) c.Get("/api/v1/health");
    EXPECT_GE(c.Get("/inkstone-status").JsonBody()["accepted_requests"].asUInt64(), before + 6);
}

TEST(ApiErrors, SlowRequestsAreCounted) {
    HttpClient c = TheStack().client();
    uint64_t before = c.Get("/inkstone-status").JsonBody()["slow_requests"].asUInt64();
    ASSERT_EQ(c.Get("/api/v1/_test/sleep?ms=600").status, 200);  // slow_request_ms = 500 here
    EXPECT_EQ(c.Get("/inkstone-status").JsonBody()["slow_requests"].asUInt64(), before + 1);
}

TEST(ApiErrors, ClientAbortDoesNotKillAWorker) {
    Stack& stack = TheStack();
    HttpClient impatient(stack.port(), std::chrono::milliseconds(200));
    Json::Value before = stack.client().Get("/inkstone-status").JsonBody();
    for (int i = 0; i < 3; ++i) {
        HttpResponse r = impatient.Get("/api/v1/_test/sleep?ms=700");
        EXPECT_EQ(r.status, 0);  // we hung up first
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(900));
    Json::Value after = stack.client().Get("/inkstone-status").JsonBody();
    EXPECT_EQ(after["restarts"], before["restarts"]);
    auto pids = [](const Json::Value& status) {
        std::set<int> out;
        for (const Json::Value& w : status["workers"]) out.insert(w["pid"].asInt());
        return out;
    };
    EXPECT_EQ(pids(after), pids(before));
}

}  // namespace
}  // namespace inkstone::testing
