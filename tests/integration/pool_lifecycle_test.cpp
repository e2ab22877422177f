// The process manager over real HTTP: crashes, drains, reloads, recycling, fast exit and the
// database going away and coming back. Each test owns its stack, since it breaks something.
#include <gtest/gtest.h>
#include <json/writer.h>
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <set>
#include <thread>
#include <vector>

#include "tests/harness/api_user.h"
#include "tests/harness/ledger_invariants.h"
#include "tests/harness/shared_stack.h"

namespace inkstone::testing {
namespace {

using namespace std::chrono_literals;

StackOptions Options(int workers = 2, int threads = 8) {
    StackOptions options = GtestStackOptions();
    options.workers = workers;
    options.threads = threads;
    options.config["testing.hooks"] = "true";
    return options;
}

Json::Value Status(Stack& stack) { return stack.client().Get("/inkstone-status").JsonBody(); }

std::set<int> WorkerPids(const Json::Value& status) {
    std::set<int> out;
    for (const Json::Value& w : status["workers"]) out.insert(w["pid"].asInt());
    return out;
}

bool Alive(int pid) { return kill(pid, 0) == 0; }

/// Polls `pred` every 50 ms until it holds or `timeout` passes.
template <class Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return pred();
}

TEST(PoolLifecycle, KilledWorkerIsReplaced) {
    Stack stack(Options());
    stack.Start();
    Json::Value before = Status(stack);
    std::set<int> pids = WorkerPids(before);
    ASSERT_EQ(pids.size(), 2u);
    int victim = *pids.begin();
    ASSERT_EQ(kill(victim, SIGKILL), 0);

    ASSERT_TRUE(WaitFor(
        [&] {
            Json::Value s = Status(stack);
            std::set<int> now = WorkerPids(s);
            return now.size() == 2 && !now.count(victim) && s["restarts"].asInt() >= 1;
        },
        5s))
        << Status(stack);
    HttpClient c = stack.client();
    for (int i = 0; i < 40; ++i) ASSERT_EQ(c.Get("/api/v1/health").status, 200) << i;
}

TEST(PoolLifecycle, CrashLoopBacksOff) {
    Stack stack(Options(1, 2));
    stack.Start();
    // Kill the single worker as soon as each replacement appears; restarts must slow down.
    std::vector<std::chrono::steady_clock::time_point> seen;
    int last = -1;
    auto deadline = std::chrono::steady_clock::now() + 4s;
    while (std::chrono::steady_clock::now() < deadline) {
        Json::Value s = Status(stack);
        if (s["workers"].size() == 1) {
            int pid = s["workers"][0]["pid"].asInt();
            if (pid != last && pid > 0) {
                seen.push_back(std::chrono::steady_clock::now());
                last = pid;
                kill(pid, SIGKILL);
            }
        }
        std::this_thread::sleep_for(20ms);
    }
    // Without backoff this loop would see a new worker every ~50 ms (~80 in 4 s).
    EXPECT_GE(seen.size(), 3u);
    EXPECT_LE(seen.size(), 12u);
    // And once left alone, the pool recovers and serves again.
    ASSERT_TRUE(WaitFor([&] { return stack.client().Get("/api/v1/health").status == 200; }, 15s));
}

TEST(PoolLifecycle, SigquitDrainsInFlightRequest) {
    Stack stack(Options());
    stack.Start();
    HttpClient c = stack.client();
    auto slow =
        std::async(std::launch::async, [&] { return c.Get("/api/v1/_test/sleep?ms=1500"); });
    ASSERT_TRUE(WaitFor([&] { return Status(stack)["busy_threads"].asInt() >= 2; }, 3s));
    std::set<int> pids = WorkerPids(Status(stack));
    stack.pool().Signal(SIGQUIT);

    HttpResponse r = slow.get();
    EXPECT_EQ(r.status, 200) << r.body << r.error;
    EXPECT_EQ(r.JsonBody()["slept_ms"], 1500);
    ASSERT_TRUE(stack.pool().WaitExit(10s));
    for (int pid : pids) EXPECT_FALSE(Alive(pid)) << pid;
    // With the pool gone nginx answers for it, in JSON.
    HttpResponse after = c.Get("/api/v1/health");
    EXPECT_EQ(after.status, 502);
    EXPECT_EQ(after.JsonBody()["code"], "UPSTREAM_ERROR");
}

TEST(PoolLifecycle, SighupUnderLoadDropsNothing) {
    Stack stack(Options(2, 8));
    stack.Start();
    std::atomic<bool> stop{false};
    std::atomic<int> ok{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> load;
    for (int t = 0; t < 6; ++t) {
        load.emplace_back([&, t] {
            HttpClient c = stack.client();
            while (!stop) {
                // A mix of instant and in-flight-across-the-reload requests.
                HttpResponse r =
                    c.Get(t % 3 == 0 ? "/api/v1/_test/sleep?ms=300" : "/api/v1/health");
                (r.status == 200 ? ok : failed)++;
                if (r.status != 200) {
                    std::fprintf(stderr, "failed during reload: %ld %s %s\n", r.status,
                                 r.body.c_str(), r.error.c_str());
                }
            }
        });
    }
    std::this_thread::sleep_for(500ms);
    std::set<int> first = WorkerPids(Status(stack));
    for (int i = 0; i < 3; ++i) {
        stack.pool().Signal(SIGHUP);
        std::this_thread::sleep_for(800ms);
    }
    stop = true;
    for (auto& t : load) t.join();

    EXPECT_EQ(failed.load(), 0);
    EXPECT_GT(ok.load(), 100);
    Json::Value s = Status(stack);
    EXPECT_EQ(s["reloads"].asInt(), 3);
    EXPECT_EQ(s["generation"].asInt(), 4);
    ASSERT_TRUE(WaitFor([&] { return Status(stack)["processes"].asInt() == 2; }, 5s));
    for (int pid : WorkerPids(Status(stack))) EXPECT_FALSE(first.count(pid));
    for (int pid : first) EXPECT_TRUE(WaitFor([&] { return !Alive(pid); }, 5s)) << pid;
}

TEST(PoolLifecycle, ReloadPicksUpNewConfig) {
    Stack stack(Options(2, 4));
    stack.Start();
    ASSERT_EQ(Status(stack)["processes"].asInt(), 2);
    stack.pool().SetConfig("fcgi.workers", "3");
    stack.pool().Signal(SIGHUP);
    ASSERT_TRUE(WaitFor([&] { return Status(stack)["processes"].asInt() == 3; }, 5s));
    // A broken config is refused and the running one keeps serving.
    stack.pool().SetConfig("fcgi.threads", "not-a-number");
    stack.pool().Signal(SIGHUP);
    std::this_thread::sleep_for(500ms);
    Json::Value s = Status(stack);
    EXPECT_EQ(s["reloads"].asInt(), 1);
    EXPECT_EQ(s["processes"].asInt(), 3);
    EXPECT_EQ(stack.client().Get("/api/v1/health").status, 200);
}

// With upstream keepalive (`keepalive N` + `fastcgi_keep_conn on`, rendered on request) nginx sends
// the next request over a connection it kept, which never shows on the listening socket: the thread
// holding it must wait on the connection itself, or one client's second request waits until some
// other connection happens to arrive (with a single client: forever).
TEST(PoolLifecycle, KeptConnectionsAreServed) {
    StackOptions options = Options(1, 4);
    options.upstream_keepalive = 1;
    Stack stack(options);
    stack.Start();
    const std::string upstream = ReadFile(stack.nginx().prefix() + "/conf/inkstone-upstream.conf");
    const std::string locations =
        ReadFile(stack.nginx().prefix() + "/conf/inkstone-locations.conf");
    ASSERT_NE(upstream.find("\n    keepalive "), std::string::npos);
    ASSERT_NE(locations.find("fastcgi_keep_conn on;"), std::string::npos);

    HttpClient c = stack.client(10s);
    for (int i = 0; i < 20; ++i) {
        const HttpResponse r = c.Get("/api/v1/health");
        ASSERT_EQ(r.status, 200) << i << " " << r.error;
    }
    EXPECT_GE(Status(stack)["accepted_requests"].asInt(), 20);
    // Threads idling on kept connections still drain.
    EXPECT_TRUE(stack.pool().Stop(10s));
}

// Upstream keepalive is on by default, so workers that retire (fcgi.max_requests) and reloads
// happen while nginx holds kept connections to them. nginx may send a request on an idle kept
// connection at any moment and never resends a POST it already sent: a worker that closed a
// kept connection as it drained gave exactly that POST nginx's 502. Here every POST charges a
// credit, workers retire every few dozen requests and the pool reloads under the load: every
// answer must be the application's, and the ledger must hold exactly the charges answered 201.
TEST(PoolLifecycle, KeptConnectionsSurviveRetirementAndReload) {
    StackOptions options = Options(2, 4);
    options.max_requests = 40;
    options.config["jobs.enabled"] = "false";
    options.config["log.level"] = "warn";
    Stack stack(options);
    stack.Start();
    const std::string upstream = ReadFile(stack.nginx().prefix() + "/conf/inkstone-upstream.conf");
    ASSERT_NE(upstream.find("\n    keepalive 2;"), std::string::npos) << upstream;

    HttpClient setup = stack.client();
    std::vector<ApiUser> users;
    for (int i = 0; i < 4; ++i) {
        users.push_back(RegisterUser(setup, "kept_" + std::to_string(i)));
        RechargeAndPay(setup, users.back(), JsonObject({{"price_id", 4}}));
    }

    std::atomic<bool> stop{false};
    std::atomic<int> charged{0};
    std::atomic<int> refused{0};
    std::atomic<int> unexpected{0};
    std::vector<std::thread> load;
    for (int t = 0; t < 8; ++t) {
        load.emplace_back([&, t] {
            HttpClient c = stack.client(10s);
            const ApiUser& user = users[static_cast<size_t>(t) % users.size()];
            while (!stop) {
                const HttpResponse r = c.Post("/api/v1/_test/credit/charge",
                                              JsonObject({{"credits", 1}}), user.Auth());
                if (r.status == 201) {
                    charged++;
                } else if (r.status == 402 && r.JsonBody()["code"] == "INSUFFICIENT_CREDITS") {
                    refused++;  // the application's answer too, once a user's credits ran out
                } else if (unexpected++ < 5) {
                    std::fprintf(stderr, "POST during retirement: %ld %s %s\n", r.status,
                                 r.body.c_str(), r.error.c_str());
                }
            }
        });
    }
    for (int i = 0; i < 4; ++i) {
        std::this_thread::sleep_for(1500ms);
        stack.pool().Signal(SIGHUP);
    }
    std::this_thread::sleep_for(1500ms);
    stop = true;
    for (auto& t : load) t.join();

    EXPECT_EQ(unexpected.load(), 0);
    EXPECT_GT(charged.load(), 200);
    std::fprintf(stderr, "charged %d, refused (no credits left) %d\n", charged.load(),
                 refused.load());
    const Json::Value s = Status(stack);
    EXPECT_EQ(s["reloads"].asInt(), 4) << s;
    EXPECT_GE(s["recycles"].asInt(), 5) << s;
    EXPECT_EQ(s["restarts"].asInt(), 0) << s;
    const LedgerReport report = CheckLedger(stack.db());
    EXPECT_TRUE(report.violations.empty()) << report.Summary();
    EXPECT_EQ(report.charges, charged.load()) << report.Summary();
}

TEST(PoolLifecycle, WorkersRetireAfterMaxRequests) {
    StackOptions options = Options(1, 4);
    options.max_requests = 25;
    Stack stack(options);
    stack.Start();
    HttpClient c = stack.client();
    for (int i = 0; i < 100; ++i) ASSERT_EQ(c.Get("/api/v1/health").status, 200) << i;
    // A retiring worker exits once its last request is done, just after answering it.
    ASSERT_TRUE(WaitFor([&] { return Status(stack)["recycles"].asInt() >= 3; }, 5s))
        << Status(stack);
    Json::Value s = Status(stack);
    for (const Json::Value& w : s["workers"]) {
        EXPECT_LE(w["accepted_requests"].asInt(), 25 + 4) << s;  // at most one per thread late
    }
    EXPECT_EQ(s["restarts"].asInt(), 0) << s;
    EXPECT_GE(s["accepted_requests"].asInt(), 100);
}

TEST(PoolLifecycle, SigtermLeavesNothingRunning) {
    Stack stack(Options());
    stack.Start();
    std::set<int> pids = WorkerPids(Status(stack));
    int master = stack.pool().pid();
    std::string socket = stack.pool().dir() + "/run/inkstone.sock";
    struct stat st {};
    ASSERT_EQ(stat(socket.c_str(), &st), 0);
    HttpClient c = stack.client();
    auto in_flight =
        std::async(std::launch::async, [&] { return c.Get("/api/v1/_test/sleep?ms=5000"); });
    ASSERT_TRUE(WaitFor([&] { return Status(stack)["busy_threads"].asInt() >= 2; }, 3s));

    auto t0 = std::chrono::steady_clock::now();
    stack.pool().Signal(SIGTERM);
    ASSERT_TRUE(stack.pool().WaitExit(5s));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);  // fast: does not wait for the sleeper
    EXPECT_FALSE(Alive(master));
    for (int pid : pids) EXPECT_TRUE(WaitFor([&] { return !Alive(pid); }, 2s)) << pid;
    EXPECT_NE(stat(socket.c_str(), &st), 0) << "socket file left behind";
    EXPECT_NE(in_flight.get().status, 200);
}

TEST(PoolLifecycle, UsrOneReopensTheLog) {
    Stack stack(Options());
    stack.Start();
    std::string log = stack.pool().dir() + "/logs/inkstone.log";
    ASSERT_EQ(std::rename(log.c_str(), (log + ".1").c_str()), 0);
    stack.pool().Signal(SIGUSR1);
    std::this_thread::sleep_for(300ms);
    stack.client().Get("/api/v1/health", {{"X-Request-Id", "after-rotate"}});
    ASSERT_TRUE(
        WaitFor([&] { return ReadFile(log).find("after-rotate") != std::string::npos; }, 3s));
    EXPECT_EQ(ReadFile(log + ".1").find("after-rotate"), std::string::npos);
}

TEST(PoolLifecycle, HealthFollowsTheDatabase) {
    // With upstream keepalive, as a deployment that turns it on: kept connections make
    // requests stick to one worker, which is what exposed stale pooled connections.
    StackOptions options = Options();
    options.upstream_keepalive = -1;
    Stack stack(options);
    stack.Start();
    HttpClient c = stack.client();
    ASSERT_EQ(c.Get("/api/v1/health").status, 200);

    stack.db().Kill();
    HttpResponse down;
    ASSERT_TRUE(WaitFor(
        [&] {
            down = c.Get("/api/v1/health");
            return down.status == 503;
        },
        10s));
    EXPECT_EQ(down.JsonBody()["code"], "UNAVAILABLE");
    EXPECT_EQ(down.JsonBody()["db"], "down");

    stack.db().Restart();
    ASSERT_TRUE(WaitFor([&] { return c.Get("/api/v1/health").status == 200; }, 15s));
    // Every worker and pooled connection recovers, not just one.
    for (int i = 0; i < 30; ++i) EXPECT_EQ(c.Get("/api/v1/health").status, 200) << i;
}

}  // namespace
}  // namespace inkstone::testing
