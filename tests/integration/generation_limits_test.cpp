// Generation under failure and fair use, each on a stack of its own: a worker SIGKILLed in the
// middle of a stream is refunded by recovery exactly once, after its heartbeat stopped; the
// per-minute and in-flight limits hold for members too.
#include <gtest/gtest.h>
#include <json/writer.h>
#include <signal.h>

#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "lib/http/message.h"
#include "tests/harness/api_user.h"
#include "tests/harness/ledger_invariants.h"
#include "tests/harness/shared_stack.h"
#include "tests/harness/sse_collector.h"

namespace inkstone::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

Json::Value Body(const std::string& prompt, bool stream) {
    return JsonObject({{"tool_type", "article"}, {"prompt", prompt}, {"stream", stream}});
}

int64_t Balance(Stack& stack, const ApiUser& user) {
    return stack.client()
        .Get("/api/v1/credit/balance", user.Auth())
        .JsonBody()["credits"]
        .asInt64();
}

TEST(GenerationRecovery, KilledWorkerMidStreamIsRefundedOnceAfterItsHeartbeatStops) {
    StackOptions options = GtestStackOptions();
    options.workers = 1;
    options.config["testing.hooks"] = "true";
    // Heartbeats every second; a generation silent for 3 s has no live worker.
    options.config["generation.heartbeat_stale_s"] = "3";
    options.config["jobs.enabled"] = "false";  // recovery runs when the test says so
    Stack stack(options);
    stack.Start();
    HttpClient c = stack.client();
    ApiUser user = RegisterUser(c, "killed_stream");
    RechargeAndPay(c, user, JsonObject({{"price_id", 2}}));
    ASSERT_EQ(Balance(stack, user), 110);

    const int worker = c.Get("/inkstone-status").JsonBody()["workers"][0]["pid"].asInt();
    std::promise<void> enough;
    SseCollector sse;
    bool signalled = false;
    auto stream = std::async(std::launch::async, [&] {
        return c.Stream("POST", "/api/v1/writing/generate",
                        lib::base::ToJson(Body("长文 [[sim:tokens=100,delay_ms=100]]", true)),
                        user.Auth({{"Content-Type", "application/json"}}),
                        [&](const std::string& chunk, Clock::time_point at) {
                            sse.Feed(chunk, at);
                            // Past the first flush after the first delta (one a second).
                            if (!signalled && sse.Count("delta") >= 15) {
                                signalled = true;
                                enough.set_value();
                            }
                            return true;
                        });
    });
    ASSERT_EQ(enough.get_future().wait_for(10s), std::future_status::ready);
    ASSERT_EQ(kill(worker, SIGKILL), 0);
    const auto killed = Clock::now();
    stream.get();
    EXPECT_EQ(Balance(stack, user), 100);  // charged, not yet recovered

    // While its heartbeat is fresh the generation may still be alive somewhere: not recovered.
    ASSERT_EQ(c.Post("/api/v1/_test/run-jobs", Json::Value(Json::objectValue)).status, 200);
    EXPECT_EQ(Balance(stack, user), 100);
    auto running = stack.db().Query(
        "SELECT status, deltas, content FROM inkstone.generations ORDER BY id DESC LIMIT 1");
    ASSERT_EQ(running.size(), 1u);
    EXPECT_EQ(running[0][0], "RUNNING");
    EXPECT_GE(std::stoi(running[0][1]), 2) << "the text was not stored as it arrived";
    const std::string stored = running[0][2];
    EXPECT_FALSE(stored.empty());
    EXPECT_EQ(sse.Text().rfind(stored, 0), 0u) << "the stored text is not what the reader got";

    // Past the bound (3 s after the last heartbeat, which came at most 1 s before the kill).
    std::this_thread::sleep_until(killed + 4500ms);
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(c.Post("/api/v1/_test/run-jobs", Json::Value(Json::objectValue)).status, 200);
    }
    EXPECT_EQ(Balance(stack, user), 110);
    auto rows = stack.db().Query(
        "SELECT status, error_code, end_reason, refund_id IS NOT NULL, content "
        "FROM inkstone.generations");
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0][0], "FAILED");
    EXPECT_EQ(rows[0][1], "worker_lost");
    EXPECT_EQ(rows[0][2], "worker_lost");
    EXPECT_EQ(rows[0][3], "1");
    EXPECT_EQ(rows[0][4], stored) << "recovery must keep the text the dead worker stored";
    auto refunds =
        stack.db().Query("SELECT COUNT(*) FROM inkstone.credit_transactions WHERE type = 'REFUND'");
    EXPECT_EQ(refunds[0][0], "1");
    LedgerReport report = CheckLedger(stack.db());
    EXPECT_TRUE(report.violations.empty()) << report.Summary();
}

TEST(GenerationLimits, PerMinuteAndInFlightHoldForMembersToo) {
    StackOptions options = GtestStackOptions();
    options.config["generation.per_minute"] = "6";
    options.config["generation.in_flight"] = "2";
    Stack stack(options);
    stack.Start();
    HttpClient c = stack.client();
    ApiUser user = RegisterUser(c, "limited_member");
    HttpResponse order =
        c.Post("/api/v1/credit/membership",
               JsonObject({{"plan", "monthly"}, {"payment_method", "alipay"}}), user.Auth());
    ASSERT_EQ(order.status, 201);
    ASSERT_EQ(c.Post("/api/v1/payment/mock/pay",
                     JsonObject({{"order_no", order.JsonBody()["order_no"]}}), user.Auth())
                  .status,
              200);

    // Two slow generations in flight; a third is refused at once.
    auto slow = [&] {
        return c.Post("/api/v1/writing/generate", Body("慢 [[sim:tokens=4,delay_ms=400]]", false),
                      user.Auth());
    };
    auto a = std::async(std::launch::async, slow);
    auto b = std::async(std::launch::async, slow);
    std::this_thread::sleep_for(500ms);
    HttpResponse third = c.Post("/api/v1/writing/generate", Body("第三个", false), user.Auth());
    EXPECT_EQ(third.status, 429) << third.body;
    EXPECT_EQ(third.JsonBody()["code"], "RATE_LIMITED");
    EXPECT_FALSE(third.Header("retry-after").empty());
    EXPECT_EQ(a.get().status, 200);
    EXPECT_EQ(b.get().status, 200);

    // 6 per minute: 2 done, 1 refused (counts as started? no: refused before the row), 4 more.
    int ok = 0;
    HttpResponse last;
    for (int i = 0; i < 6; ++i) {
        last = c.Post("/api/v1/writing/generate", Body("快", false), user.Auth());
        if (last.status == 200) ++ok;
    }
    EXPECT_EQ(ok, 4);
    EXPECT_EQ(last.status, 429);
    int retry_after = std::stoi(last.Header("retry-after"));
    EXPECT_GE(retry_after, 1);
    EXPECT_LE(retry_after, 60);
}

}  // namespace
}  // namespace inkstone::testing
