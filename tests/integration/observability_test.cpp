// What an operator follows a request by, over the real stack (nginx, the pool, the DashScope
// simulator): every reply carries X-Request-Id, streamed ones too, and the log line of the
// upstream call names our request id and the generation beside DashScope's own (README, "Layers").
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "lib/http/message.h"
#include "tests/harness/api_user.h"
#include "tests/harness/shared_stack.h"

namespace inkstone::testing {
namespace {

using namespace std::chrono_literals;

Stack& TheStack() {
    StackOptions options;
    options.config["testing.hooks"] = "true";
    return SharedStack(options);
}

std::string ReadAll(const std::string& path) {
    std::ifstream in(path);
    std::stringstream out;
    out << in.rdbuf();
    return out.str();
}

/// The log line of `event` that carries `"request_id":"<id>"`, or "" (waits up to 2 s: the
/// line is written as the call finishes).
std::string LogLineFor(const std::string& event, const std::string& id) {
    const std::string log_path = TheStack().pool().dir() + "/logs/inkstone.log";
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    while (std::chrono::steady_clock::now() < deadline) {
        std::istringstream lines(ReadAll(log_path));
        for (std::string line; std::getline(lines, line);) {
            if (line.find("\"event\":\"" + event + "\"") != std::string::npos &&
                line.find("\"request_id\":\"" + id + "\"") != std::string::npos) {
                return line;
            }
        }
        std::this_thread::sleep_for(50ms);
    }
    return "";
}

ApiUser FundedUser(const std::string& name) {
    HttpClient c = TheStack().client();
    ApiUser user = RegisterUser(c, name);
    RechargeAndPay(c, user, JsonObject({{"price_id", 2}}));
    return user;
}

Json::Value Generate(const std::string& prompt, bool stream) {
    return JsonObject({{"tool_type", "article"}, {"prompt", prompt}, {"stream", stream}});
}

TEST(Observability, StreamedRepliesCarryTheRequestId) {
    ApiUser user = FundedUser("obs_stream");
    HttpResponse r = TheStack().client().Stream(
        "POST", "/api/v1/writing/generate",
        lib::base::ToJson(Generate("streamed [[sim:tokens=3]]", true)),
        user.Auth({{"Content-Type", "application/json"}, {"X-Request-Id", "obs-stream-1"}}),
        [](const std::string&, std::chrono::steady_clock::time_point) { return true; });
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.Header("content-type").find("text/event-stream"), std::string::npos);
    EXPECT_EQ(r.Header("x-request-id"), "obs-stream-1");
}

TEST(Observability, TheUpstreamCallIsLoggedWithOurRequestIdAndDashScopes) {
    ApiUser user = FundedUser("obs_log");
    HttpResponse r = TheStack().client().Post(
        "/api/v1/writing/generate", Generate("logged [[sim:tokens=2]]", false),
        user.Auth({{"Content-Type", "application/json"}, {"X-Request-Id", "obs-call-1"}}));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.Header("x-request-id"), "obs-call-1");
    const std::string line = LogLineFor("qwen.call", "obs-call-1");
    ASSERT_FALSE(line.empty()) << "no qwen.call line carries request_id obs-call-1";
    // DashScope's id is named as such, never in our request_id field.
    EXPECT_NE(line.find("\"upstream_request_id\":\""), std::string::npos) << line;
    EXPECT_EQ(line.find("\"upstream_request_id\":\"\""), std::string::npos) << line;
    EXPECT_EQ(line.find("\"upstream_request_id\":\"obs-call-1\""), std::string::npos) << line;
    // And the generation it was made for.
    const std::string generation_id = std::to_string(r.JsonBody()["generation_id"].asInt64());
    EXPECT_NE(line.find("\"generation_id\":\"" + generation_id + "\""), std::string::npos) << line;
}

}  // namespace
}  // namespace inkstone::testing
