// Streaming through the real stack: each SSE event leaves the app and nginx as soon as it is
// written (no 8 KiB libfcgi buffer, no nginx buffering), and a client that hangs up is noticed.
#include <gtest/gtest.h>
#include <json/writer.h>

#include <chrono>
#include <thread>
#include <vector>

#include "tests/harness/shared_stack.h"

namespace inkstone::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

Stack& TheStack() {
    StackOptions options;
    options.config["testing.hooks"] = "true";
    options.config["fcgi.listen"] = "127.0.0.1:" + std::to_string(FreePort());  // TCP, not unix
    return SharedStack(options);
}

TEST(Streaming, EventsArriveOneByOneAsWritten) {
    HttpClient c = TheStack().client();
    std::vector<Clock::time_point> arrivals;
    std::string buffer;
    auto start = Clock::now();
    HttpResponse r = c.Stream("GET", "/api/v1/_test/stream?events=5&gap_ms=300", "", {},
                              [&](const std::string& chunk, Clock::time_point at) {
                                  buffer += chunk;
                                  size_t end;
                                  while ((end = buffer.find("\n\n")) != std::string::npos) {
                                      arrivals.push_back(at);
                                      buffer.erase(0, end + 2);
                                  }
                                  return true;
                              });
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.Header("content-type"), "text/event-stream; charset=utf-8");
    ASSERT_EQ(arrivals.size(), 5u) << r.body;
    EXPECT_LT(arrivals[0] - start, 250ms);  // the first event is not held back
    for (size_t i = 1; i < arrivals.size(); ++i) {
        auto gap = arrivals[i] - arrivals[i - 1];
        EXPECT_GT(gap, 200ms) << "event " << i << " was buffered with the previous one";
        EXPECT_LT(gap, 600ms) << "event " << i << " was held back";
    }
    EXPECT_NE(r.body.find("event: tick\ndata: {\"n\":4}\n\n"), std::string::npos) << r.body;
}

TEST(Streaming, ClientHangUpIsNoticed) {
    HttpClient c = TheStack().client();
    int seen = 0;
    HttpResponse r = c.Stream("GET", "/api/v1/_test/stream?events=100&gap_ms=100", "",
                              {{"X-Request-Id", "hangup-probe"}},
                              [&](const std::string& chunk, Clock::time_point) {
                                  if (chunk.find("event: tick") != std::string::npos) ++seen;
                                  return seen < 2;
                              });
    EXPECT_TRUE(r.aborted);
    std::string log_path = TheStack().pool().dir() + "/logs/inkstone.log";
    auto deadline = Clock::now() + 2s;  // the app notices within a second
    bool noticed = false;
    while (!noticed && Clock::now() < deadline) {
        std::this_thread::sleep_for(50ms);
        std::string log = ReadFile(log_path);
        size_t at = log.find("\"request_id\":\"hangup-probe\"");
        noticed = at != std::string::npos &&
                  log.rfind("test_stream_client_gone", at) > log.rfind('\n', at);
    }
    EXPECT_TRUE(noticed) << "no test_stream_client_gone line for hangup-probe";
    // And the worker lives on.
    EXPECT_EQ(c.Get("/api/v1/health").status, 200);
}

}  // namespace
}  // namespace inkstone::testing
