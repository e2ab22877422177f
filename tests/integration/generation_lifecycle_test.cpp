// A generation outlives its reader (README, "Generation (Qwen)", "Who pays"), over nginx with
// the simulator: reattach on the other worker with Last-Event-ID, the owner's stop before and
// after the first delta (also sent to the other worker), Idempotency-Key retries, and
// retirement (max_requests) and reload (SIGHUP) that never cut a stream. The ledger holds after
// each test.
//
// "The other worker" is forced, not hoped for: the first stack runs two workers of one thread
// each, so while a generation streams on one of them every other request is served by the
// other (X-Inkstone-Worker tells which answered).
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <future>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "lib/base/json.h"
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

int64_t Balance(const Stack& stack, const ApiUser& user) {
    return stack.client()
        .Get("/api/v1/credit/balance", user.Auth())
        .JsonBody()["credits"]
        .asInt64();
}

ApiUser UserWith110(const Stack& stack, const std::string& name) {
    ApiUser user = RegisterUser(stack.client(), name);
    RechargeAndPay(stack.client(), user, JsonObject({{"price_id", 2}}));
    return user;
}

std::string GenerationPath(int64_t id, const std::string& rest = "") {
    return "/api/v1/writing/generations/" + std::to_string(id) + rest;
}

/// The generation once it has ended (GET /writing/generations/{id}).
Json::Value Ended(const Stack& stack, const ApiUser& user, int64_t id,
                  std::chrono::seconds within = 30s) {
    const auto deadline = Clock::now() + within;
    Json::Value g;
    do {
        g = stack.client().Get(GenerationPath(id), user.Auth()).JsonBody();
        if (g["status"] != "RUNNING") break;
        std::this_thread::sleep_for(100ms);
    } while (Clock::now() < deadline);
    return g;
}

/// The user's newest generation id once one is RUNNING (a stream's id before its first delta).
int64_t RunningGeneration(const Stack& stack, const ApiUser& user) {
    const auto deadline = Clock::now() + 10s;
    while (Clock::now() < deadline) {
        const Json::Value items =
            stack.client().Get("/api/v1/writing/history", user.Auth()).JsonBody()["items"];
        if (!items.empty() && items[0]["status"] == "RUNNING") return items[0]["id"].asInt64();
        std::this_thread::sleep_for(50ms);
    }
    return 0;
}

/// A streamed POST /writing/generate on its own thread, collecting events; `stop_after` deltas
/// then hang up (-1: read to the end).
struct Streamer {
    SseCollector sse;
    std::promise<void> deltas_seen;
    int signal_at = 1;
    bool signalled = false;
    std::future<HttpResponse> done;

    void Start(const Stack& stack, const ApiUser& user, const std::string& prompt,
               int stop_after = -1, HttpHeaders headers = {}) {
        headers["Content-Type"] = "application/json";
        HttpHeaders auth = user.Auth(headers);
        HttpClient client = stack.client(60s);
        done = std::async(std::launch::async, [this, client, auth, prompt, stop_after] {
            return client.Stream("POST", "/api/v1/writing/generate",
                                 lib::base::ToJson(Body(prompt, true)), auth,
                                 [&](const std::string& chunk, Clock::time_point at) {
                                     sse.Feed(chunk, at);
                                     if (!signalled && sse.Count("delta") >= signal_at) {
                                         signalled = true;
                                         deltas_seen.set_value();
                                     }
                                     return stop_after < 0 || sse.Count("delta") < stop_after;
                                 });
        });
    }
    bool WaitDeltas(std::chrono::seconds within = 10s) {
        return deltas_seen.get_future().wait_for(within) == std::future_status::ready;
    }
};

void ExpectLedgerHolds(Stack& stack) {
    LedgerReport report = CheckLedger(stack.db());
    EXPECT_TRUE(report.violations.empty())
        << report.Summary() << "\n"
        << (report.violations.empty() ? "" : report.violations[0]);
}

// ---- two workers of one thread each ------------------------------------------------------

StackOptions SingleThreadWorkers() {
    StackOptions options;
    options.workers = 2;
    options.threads = 1;
    options.config["testing.hooks"] = "true";  // X-Inkstone-Worker
    options.config["generation.per_minute"] = "100000";
    options.config["qwen.idle_timeout_ms"] = "5000";
    options.config["qwen.total_timeout_ms"] = "60000";
    return options;
}

Stack& TwoWorkers() { return SharedStack(SingleThreadWorkers()); }

TEST(GenerationLifecycle, ReattachOnTheOtherWorkerGivesTheRestWithoutGapOrDuplicate) {
    Stack& stack = TwoWorkers();
    ApiUser user = UserWith110(stack, "reattach");
    const std::string prompt = "续读 [[sim:tokens=30,delay_ms=100]]";
    Streamer first;
    first.Start(stack, user, prompt, /*stop_after=*/5);
    const HttpResponse cut = first.done.get();
    ASSERT_TRUE(cut.aborted) << cut.body;
    ASSERT_EQ(first.sse.Count("delta"), 5);
    const long long last_id = first.sse.LastDeltaId();
    EXPECT_EQ(last_id, 5) << "delta events carry their numbers as ids";
    const int64_t id = first.sse.Find("meta")->data["generation_id"].asInt64();

    // The generation still runs on the first worker (its only thread): this request is served
    // by the other one.
    SseCollector second;
    const HttpResponse rest =
        stack.client(60s).Stream("GET", GenerationPath(id, "/stream"), "",
                                 user.Auth({{"Last-Event-ID", std::to_string(last_id)}}),
                                 [&](const std::string& chunk, Clock::time_point at) {
                                     second.Feed(chunk, at);
                                     return true;
                                 });
    ASSERT_EQ(rest.status, 200) << rest.body;
    EXPECT_NE(rest.Header("x-inkstone-worker"), "");
    EXPECT_NE(rest.Header("x-inkstone-worker"), cut.Header("x-inkstone-worker"))
        << "the reattach was not served by the other worker";
    ASSERT_NE(second.Find("done"), nullptr) << rest.body;
    EXPECT_EQ(second.Find("done")->data["status"], "SUCCEEDED");
    // Numbered 6, 7, ... 30: no gap, no duplicate.
    long long expected = last_id;
    for (const SseEvent& e : second.events) {
        if (e.event != "delta") continue;
        ASSERT_TRUE(e.id.has_value());
        EXPECT_EQ(*e.id, ++expected);
    }
    EXPECT_EQ(expected, 30);
    const Json::Value g = Ended(stack, user, id);
    EXPECT_EQ(first.sse.Text() + second.Text(), g["content"].asString());
    EXPECT_EQ(g["deltas"], 30);

    // ?after=N works the same, and a finished generation replays and ends at once.
    SseCollector replay;
    ASSERT_EQ(stack.client()
                  .Stream("GET", GenerationPath(id, "/stream?after=28"), "", user.Auth(),
                          [&](const std::string& chunk, Clock::time_point at) {
                              replay.Feed(chunk, at);
                              return true;
                          })
                  .status,
              200);
    EXPECT_EQ(replay.Count("delta"), 2);
    EXPECT_EQ(replay.LastDeltaId(), 30);
    EXPECT_NE(replay.Find("done"), nullptr);
    EXPECT_EQ(Balance(stack, user), 100);  // charged once
    ExpectLedgerHolds(stack);
}

TEST(GenerationLifecycle, OnlyTheOwnerSeesReattachesOrStops) {
    Stack& stack = TwoWorkers();
    ApiUser owner = UserWith110(stack, "owner");
    ApiUser other = RegisterUser(stack.client(), "not_the_owner");
    HttpResponse made = stack.client().Post("/api/v1/writing/generate",
                                            Body("我的 [[sim:tokens=3]]", false), owner.Auth());
    ASSERT_EQ(made.status, 200) << made.body;
    const int64_t id = made.JsonBody()["generation_id"].asInt64();
    HttpClient c = stack.client();
    EXPECT_EQ(c.Get(GenerationPath(id), other.Auth()).status, 404);
    EXPECT_EQ(c.Get(GenerationPath(id, "/stream"), other.Auth()).status, 404);
    EXPECT_EQ(c.Post(GenerationPath(id, "/cancel"), Json::Value(), other.Auth()).status, 404);
    EXPECT_EQ(c.Get(GenerationPath(id)).status, 401);
    EXPECT_EQ(c.Get(GenerationPath(999999999), owner.Auth()).status, 404);
    EXPECT_EQ(c.Get("/api/v1/writing/generations/abc", owner.Auth()).status, 404);
    EXPECT_EQ(c.Get(GenerationPath(id, "/stream?after=x"), owner.Auth()).status, 422);
    // The owner's view of a finished one; stopping it is too late.
    const Json::Value g = c.Get(GenerationPath(id), owner.Auth()).JsonBody();
    EXPECT_EQ(g["status"], "SUCCEEDED");
    EXPECT_EQ(g["end_reason"], "completed");
    EXPECT_EQ(g["credits_charged"], 10);
    EXPECT_EQ(g["balance"], 100);
    EXPECT_FALSE(g["content"].asString().empty());
    EXPECT_EQ(c.Post(GenerationPath(id, "/cancel"), Json::Value(), owner.Auth()).status, 409);
    ExpectLedgerHolds(stack);
}

TEST(GenerationLifecycle, StopBeforeTheFirstDeltaIsRefundedAndCutsUpstream) {
    Stack& stack = TwoWorkers();
    ApiUser user = UserWith110(stack, "stop_early");
    const int64_t aborted_before = stack.SimStats().aborted_streams;
    Streamer s;
    s.Start(stack, user, "慢 [[sim:tokens=5,first_delay_ms=4000]]");
    const int64_t id = RunningGeneration(stack, user);
    ASSERT_NE(id, 0);
    // Served by the other worker: the stop travels through the database.
    const HttpResponse stop =
        stack.client().Post(GenerationPath(id, "/cancel"), Json::Value(), user.Auth());
    ASSERT_EQ(stop.status, 202) << stop.body;
    EXPECT_EQ(stop.JsonBody()["cancel_requested"], true);
    const HttpResponse r = s.done.get();
    // No delta had gone out: the reply is still a plain HTTP error.
    EXPECT_EQ(r.status, 409) << r.body;
    EXPECT_EQ(r.JsonBody()["refunded"], true);
    EXPECT_EQ(r.JsonBody()["balance"], 110);
    EXPECT_NE(r.Header("x-inkstone-worker"), stop.Header("x-inkstone-worker"));
    EXPECT_EQ(stack.SimStats().aborted_streams, aborted_before + 1);
    const Json::Value g = Ended(stack, user, id);
    EXPECT_EQ(g["status"], "ABORTED");
    EXPECT_EQ(g["end_reason"], "cancelled");
    EXPECT_EQ(g["refunded"], true);
    EXPECT_EQ(Balance(stack, user), 110);
    ExpectLedgerHolds(stack);
}

TEST(GenerationLifecycle, StopAfterThreeDeltasKeepsTheTextAndTheChargeWithinASecond) {
    Stack& stack = TwoWorkers();
    ApiUser user = UserWith110(stack, "stop_late");
    const int64_t aborted_before = stack.SimStats().aborted_streams;
    Streamer s;
    s.signal_at = 3;
    s.Start(stack, user, "长 [[sim:tokens=200,delay_ms=200]]");
    ASSERT_TRUE(s.WaitDeltas());
    const int64_t id = s.sse.Find("meta")->data["generation_id"].asInt64();
    const HttpResponse stop =
        stack.client().Post(GenerationPath(id, "/cancel"), Json::Value(), user.Auth());
    const auto stopped_at = Clock::now();
    ASSERT_EQ(stop.status, 202) << stop.body;
    while (stack.SimStats().aborted_streams == aborted_before && Clock::now() - stopped_at < 5s) {
        std::this_thread::sleep_for(20ms);
    }
    const auto took =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - stopped_at);
    EXPECT_EQ(stack.SimStats().aborted_streams, aborted_before + 1);
    EXPECT_LT(took.count(), 1000) << "upstream was cut " << took.count() << " ms after the stop";
    std::cout << "[ measured ] stop on the other worker cut upstream after " << took.count()
              << " ms\n";
    const HttpResponse r = s.done.get();
    EXPECT_EQ(r.status, 200);
    ASSERT_NE(s.sse.Find("done"), nullptr) << r.body;
    EXPECT_EQ(s.sse.Find("done")->data["finish_reason"], "cancelled");
    EXPECT_EQ(s.sse.Find("done")->data["credits_charged"], 10);
    const Json::Value g = Ended(stack, user, id);
    EXPECT_EQ(g["status"], "ABORTED");
    EXPECT_EQ(g["end_reason"], "cancelled");
    EXPECT_EQ(g["refunded"], false);
    EXPECT_EQ(g["content"].asString(), s.sse.Text()) << "the partial text is kept";
    EXPECT_GE(g["deltas"].asInt(), 3);
    EXPECT_LT(g["deltas"].asInt(), 200);
    EXPECT_EQ(Balance(stack, user), 100);
    ExpectLedgerHolds(stack);
}

TEST(GenerationLifecycle, IdempotencyKeyGivesOneGenerationAndOneCharge) {
    Stack& stack = TwoWorkers();
    ApiUser user = UserWith110(stack, "idempotent");
    const HttpHeaders key = user.Auth({{"Idempotency-Key", "gen-key-1"}});
    const Json::Value body = Body("一次 [[sim:tokens=10,delay_ms=50]]", false);
    // Two at once: one on each worker.
    auto a = std::async(std::launch::async,
                        [&] { return stack.client().Post("/api/v1/writing/generate", body, key); });
    auto b = std::async(std::launch::async,
                        [&] { return stack.client().Post("/api/v1/writing/generate", body, key); });
    const HttpResponse ra = a.get();
    const HttpResponse rb = b.get();
    ASSERT_EQ(ra.status, 200) << ra.body;
    ASSERT_EQ(rb.status, 200) << rb.body;
    EXPECT_EQ(ra.JsonBody()["generation_id"], rb.JsonBody()["generation_id"]);
    EXPECT_EQ(ra.JsonBody()["content"], rb.JsonBody()["content"]);
    EXPECT_EQ(Balance(stack, user), 100);
    EXPECT_EQ(
        stack.client().Get("/api/v1/writing/history", user.Auth()).JsonBody()["total"].asInt(), 1);
    // The same key with another body.
    const HttpResponse other =
        stack.client().Post("/api/v1/writing/generate", Body("另一个", false), key);
    EXPECT_EQ(other.status, 409) << other.body;
    // A stream retried with its key replays the same generation from its first delta.
    const HttpHeaders stream_key = {{"Idempotency-Key", "gen-key-2"}};
    Streamer first;
    first.Start(stack, user, "流 [[sim:tokens=8,delay_ms=50]]", -1, stream_key);
    ASSERT_EQ(first.done.get().status, 200);
    Streamer again;
    again.Start(stack, user, "流 [[sim:tokens=8,delay_ms=50]]", -1, stream_key);
    const HttpResponse replay = again.done.get();
    ASSERT_EQ(replay.status, 200) << replay.body;
    EXPECT_EQ(again.sse.Find("meta")->data["generation_id"],
              first.sse.Find("meta")->data["generation_id"]);
    EXPECT_EQ(again.sse.Text(), first.sse.Text());
    EXPECT_NE(again.sse.Find("done"), nullptr);
    EXPECT_EQ(Balance(stack, user), 90);
    ExpectLedgerHolds(stack);
}

TEST(GenerationLifecycleCap, TheWorkerCapRefusesBeforeAnyCharge) {
    StackOptions options;
    options.workers = 1;
    options.threads = 4;
    options.config["generation.max_per_worker"] = "1";
    options.config["generation.per_minute"] = "100000";
    Stack stack(options);
    stack.Start();
    ApiUser user = UserWith110(stack, "capped");
    Streamer running;
    running.Start(stack, user, "占 [[sim:tokens=10,delay_ms=300]]");
    ASSERT_TRUE(running.WaitDeltas());
    const int64_t requests_before = stack.SimStats().requests;
    // The worker runs its one generation: the next is refused at once, nothing charged or
    // called, and other routes still have threads.
    const HttpResponse refused = stack.client().Post(
        "/api/v1/writing/generate", Body("再来 [[sim:tokens=2]]", false), user.Auth());
    EXPECT_EQ(refused.status, 503) << refused.body;
    EXPECT_EQ(refused.JsonBody()["code"], "UNAVAILABLE");
    EXPECT_EQ(refused.Header("retry-after"), "1");
    EXPECT_EQ(Balance(stack, user), 100);
    EXPECT_EQ(stack.SimStats().requests, requests_before);
    EXPECT_EQ(running.done.get().status, 200);
    // Its slot is free again once it ended.
    EXPECT_EQ(
        stack.client()
            .Post("/api/v1/writing/generate", Body("再来 [[sim:tokens=2]]", false), user.Auth())
            .status,
        200);
    EXPECT_EQ(Balance(stack, user), 90);
    ExpectLedgerHolds(stack);
}

// ---- retirement and reload ----------------------------------------------------------------

StackOptions Recycling() {
    StackOptions options;
    options.workers = 2;
    options.threads = 16;
    options.max_requests = 50;
    options.graceful_timeout_s = 2;  // a retiring worker must outwait this for its streams
    options.config["testing.hooks"] = "true";
    options.config["generation.per_minute"] = "100000";
    options.config["generation.in_flight"] = "100000";
    options.config["generation.max_per_worker"] = "16";
    options.config["qwen.idle_timeout_ms"] = "5000";
    options.config["qwen.total_timeout_ms"] = "60000";
    return options;
}

TEST(GenerationLifecycleRecycle, RetirementWaitsOutAStreamAndChargesItOnce) {
    Stack stack(Recycling());
    stack.Start();
    ApiUser user = UserWith110(stack, "retire");
    const int64_t recycles_before =
        stack.client().Get("/inkstone-status").JsonBody()["recycles"].asInt64();
    Streamer s;
    s.Start(stack, user, "二十秒 [[sim:tokens=80,delay_ms=250]]");
    ASSERT_TRUE(s.WaitDeltas());
    // 200 requests: both workers pass max_requests = 50 while the stream runs.
    for (int i = 0; i < 200; ++i) {
        EXPECT_EQ(stack.client().Get("/api/v1/health").status, 200);
    }
    const HttpResponse r = s.done.get();
    ASSERT_EQ(r.status, 200);
    ASSERT_NE(s.sse.Find("done"), nullptr) << "the stream was cut: " << r.body.substr(0, 500);
    EXPECT_EQ(s.sse.Count("delta"), 80);
    const int64_t id = s.sse.Find("meta")->data["generation_id"].asInt64();
    const Json::Value g = Ended(stack, user, id);
    EXPECT_EQ(g["status"], "SUCCEEDED");
    EXPECT_EQ(g["content"].asString(), s.sse.Text());
    EXPECT_EQ(Balance(stack, user), 100);
    const auto deadline = Clock::now() + 10s;
    int64_t recycles = recycles_before;
    while (Clock::now() < deadline) {
        recycles = stack.client().Get("/inkstone-status").JsonBody()["recycles"].asInt64();
        if (recycles > recycles_before) break;
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_GT(recycles, recycles_before) << "no worker was replaced";
    ExpectLedgerHolds(stack);
}

TEST(GenerationLifecycleRecycle, ReloadDuringTwentyStreamsCutsNone) {
    Stack stack(Recycling());
    stack.Start();
    std::vector<ApiUser> users;
    for (int i = 0; i < 20; ++i) users.push_back(UserWith110(stack, "reload_" + std::to_string(i)));
    std::vector<std::unique_ptr<Streamer>> streams;
    for (int i = 0; i < 20; ++i) {
        streams.push_back(std::make_unique<Streamer>());
        streams.back()->Start(stack, users[i], "重载 [[sim:tokens=40,delay_ms=150]]");
    }
    for (auto& s : streams) ASSERT_TRUE(s->WaitDeltas());
    const int64_t reloads = stack.client().Get("/inkstone-status").JsonBody()["reloads"].asInt64();
    stack.pool().Signal(SIGHUP);
    for (int i = 0; i < 20; ++i) {
        Streamer& s = *streams[i];
        const HttpResponse r = s.done.get();
        ASSERT_EQ(r.status, 200);
        EXPECT_NE(s.sse.Find("done"), nullptr) << i << ": " << r.body.substr(0, 300);
        EXPECT_EQ(s.sse.Count("delta"), 40) << i;
        const Json::Value g =
            Ended(stack, users[i], s.sse.Find("meta")->data["generation_id"].asInt64());
        EXPECT_EQ(g["status"], "SUCCEEDED") << i;
        EXPECT_EQ(g["content"].asString(), s.sse.Text()) << i;
        EXPECT_EQ(Balance(stack, users[i]), 100) << i;
    }
    EXPECT_EQ(stack.client().Get("/inkstone-status").JsonBody()["reloads"].asInt64(), reloads + 1);
    ExpectLedgerHolds(stack);
}

}  // namespace
}  // namespace inkstone::testing
