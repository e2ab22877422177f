// The money guarantees on a scaled-out deployment (README "Scaling out", issue 15): a three-node
// MariaDB Galera cluster (tests/harness/galera.h), two app hosts (two inkstone pools with their
// own configs and sockets; host A lists the nodes 0,1,2 in db.hosts, host B 1,2,0, so each
// prefers a different node) with jobs enabled on both, behind one nginx upstream that has both.
// Two more nginx instances reach one host each, so a test can send a request to a given host.
//
// Traffic goes to both hosts at once. After every test: 0 ledger violations on each of the
// three nodes, and the three agree on every user's credits, ledger_seq and ledger sum.
// Label `cluster`, RUN_SERIAL (three mariadbd, two pools, four nginx on a 2-core machine).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lib/base/json.h"
#include "tests/harness/api_user.h"
#include "tests/harness/galera.h"
#include "tests/harness/ledger_invariants.h"
#include "tests/harness/nginx.h"
#include "tests/harness/pool.h"
#include "tests/harness/simulator.h"

namespace inkstone::testing {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

int64_t Ms(SteadyClock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

Json::Value GenerateBody(const std::string& prompt) {
    return JsonObject({{"tool_type", "article"}, {"prompt", prompt}, {"stream", false}});
}

/// Runs `n` calls of `fn(i)` on `n` threads released at once.
template <class F>
void RunConcurrently(int n, F&& fn) {
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) {
        threads.emplace_back([&, i] {
            ready++;
            while (ready.load() < n) std::this_thread::yield();
            fn(i);
        });
    }
    for (auto& t : threads) t.join();
}

/// The whole deployment, started once for the suite.
struct Deployment {
    std::string dir;
    std::unique_ptr<GaleraCluster> cluster;
    std::unique_ptr<Simulator> sim;
    std::unique_ptr<AppPool> hosts[2];
    std::unique_ptr<Nginx> both;     ///< one upstream with both hosts
    std::unique_ptr<Nginx> only[2];  ///< one host each
    std::chrono::milliseconds cluster_start{0};

    /// Counters from the pools' logs (their `db.tx.retry` and `db.host_failover` lines).
    struct LogCounts {
        int64_t retries = 0;
        int64_t exhausted = 0;
        int64_t failovers = 0;
        int64_t host_failures = 0;
    };

    AppPoolOptions HostOptions(int host) const {
        AppPoolOptions o;
        o.dir = dir + (host == 0 ? "/a" : "/b");
        o.db = cluster->AppConfig(host);  // host A: nodes 0,1,2; host B: nodes 1,2,0
        o.db.sync_wait = true;
        o.workers = 2;
        o.threads = 8;
        o.config = {
            {"testing.hooks", "true"},
            {"log.level", "info"},
            {"jobs.enabled", "true"},
            {"generation.per_minute", "1000"},
            {"generation.in_flight", "1000"},
            {"generation.heartbeat_stale_s", "3"},
            // This suite is about the money, not a worker's own cap on running generations.
            {"generation.max_per_worker", "1000"},
            {"payment.max_pending_orders", "1000"},
            {"payment.order_ttl_s", "2"},
            {"qwen.base_url", sim->base_url()},
            {"qwen.api_key", sim->api_key()},
        };
        o.env = {{"QWEN_BASE_URL", sim->base_url()}, {"QWEN_API_KEY", sim->api_key()}};
        return o;
    }

    void Start() {
        dir = MakeTempDir("inkstone-cluster");
        cluster = std::make_unique<GaleraCluster>(dir + "/galera");
        cluster->Start();
        cluster_start = cluster->start_duration();
        SimulatorOptions so;
        so.dir = dir + "/sim";
        sim = std::make_unique<Simulator>(so);
        sim->Start();
        for (int h = 0; h < 2; ++h) hosts[h] = std::make_unique<AppPool>(HostOptions(h));
        hosts[0]->RunMigrations();
        for (auto& h : hosts) h->Start();
        NginxOptions n;
        n.prefix = dir + "/nginx";
        n.pool_address = hosts[0]->nginx_address();
        n.more_pool_addresses = {hosts[1]->nginx_address()};
        n.status_path = hosts[0]->status_path();
        both = std::make_unique<Nginx>(n);
        both->Start();
        for (int h = 0; h < 2; ++h) {
            NginxOptions one;
            one.prefix = dir + (h == 0 ? "/nginx-a" : "/nginx-b");
            one.pool_address = hosts[h]->nginx_address();
            one.status_path = hosts[h]->status_path();
            only[h] = std::make_unique<Nginx>(one);
            only[h]->Start();
        }
    }

    /// Restarts both pools with `config` added (a test's own limits).
    void RestartHosts(const std::map<std::string, std::string>& config) {
        for (auto& h : hosts) {
            h->Stop();
            for (const auto& [key, value] : config) h->SetConfig(key, value);
            h->Start();
        }
    }

    void Stop() {
        for (auto& n : only) {
            if (n) n->Stop();
        }
        if (both) both->Stop();
        for (auto& h : hosts) {
            if (h) h->Stop();
        }
        if (sim) sim->Stop();
        if (cluster) cluster->Stop();
    }

    LogCounts Counts() const {
        LogCounts counts;
        for (const auto& h : hosts) {
            std::istringstream lines(ReadFile(h->log_path()));
            for (std::string line; std::getline(lines, line);) {
                if (line.find("\"db.tx.retry\"") != std::string::npos) counts.retries++;
                if (line.find("\"db.tx.retries_exhausted\"") != std::string::npos) {
                    counts.exhausted++;
                }
                if (line.find("\"db.host_failover\"") != std::string::npos) counts.failovers++;
                if (line.find("\"db.host_failed\"") != std::string::npos) counts.host_failures++;
            }
        }
        return counts;
    }

    /// Sum over the running nodes of a numeric `SHOW STATUS` counter.
    int64_t NodeCounter(const std::string& name) {
        int64_t sum = 0;
        for (int n = 0; n < GaleraCluster::kNodes; ++n) {
            const std::string v = cluster->Status(n, name);
            if (!v.empty()) sum += std::stoll(v);
        }
        return sum;
    }

    HttpClient Both() const { return HttpClient(both->port(), 60s); }
    HttpClient Host(int h) const { return HttpClient(only[h]->port(), 60s); }
};

Deployment* g_deployment = nullptr;
std::string g_start_error;

class Cluster : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        if (g_deployment != nullptr || !g_start_error.empty()) return;
        auto d = std::make_unique<Deployment>();
        try {
            d->Start();
            std::printf("[cluster] 3 Galera nodes Synced in %lld ms; dir %s\n",
                        static_cast<long long>(d->cluster_start.count()), d->dir.c_str());
            g_deployment = d.release();
        } catch (const std::exception& e) {
            g_start_error = e.what();
            std::printf("[cluster] start failed, kept %s\n", d->dir.c_str());
            d->Stop();
        }
    }
    static void TearDownTestSuite() {
        if (g_deployment == nullptr) return;
        // Galera's own counters (node 0's restart in the kill test reset its share).
        const int64_t commits = g_deployment->NodeCounter("wsrep_local_commits");
        const int64_t cert_failures = g_deployment->NodeCounter("wsrep_local_cert_failures");
        const int64_t bf_aborts = g_deployment->NodeCounter("wsrep_local_bf_aborts");
        g_deployment->Stop();
        const Deployment::LogCounts counts = g_deployment->Counts();
        std::printf(
            "[cluster] totals: aborted_retries=%lld for %lld local commits (%.2f%%), "
            "cert_failures=%lld bf_aborts=%lld, exhausted=%lld host_failovers=%lld "
            "host_failures=%lld\n",
            static_cast<long long>(counts.retries), static_cast<long long>(commits),
            commits > 0 ? 100.0 * static_cast<double>(counts.retries) / commits : 0.0,
            static_cast<long long>(cert_failures), static_cast<long long>(bf_aborts),
            static_cast<long long>(counts.exhausted), static_cast<long long>(counts.failovers),
            static_cast<long long>(counts.host_failures));
        if (::testing::UnitTest::GetInstance()->Failed()) {
            std::printf("[cluster] failed: kept %s\n", g_deployment->dir.c_str());
        } else {
            RemoveTree(g_deployment->dir);
        }
        delete g_deployment;
        g_deployment = nullptr;
    }
    void SetUp() override {
        ASSERT_TRUE(g_start_error.empty()) << g_start_error;
        ASSERT_NE(g_deployment, nullptr);
    }
    void TearDown() override { ExpectLedgersHoldEverywhere(); }

    Deployment& d() { return *g_deployment; }
    GaleraCluster& cluster() { return *d().cluster; }

    std::string Sql(int node, const std::string& sql) {
        const auto rows = cluster().Query(node, sql);
        return rows.empty() || rows[0].empty() ? "" : rows[0][0];
    }

    /// 0 violations on each node, and the nodes agree (after waiting for them to sync).
    void ExpectLedgersHoldEverywhere() {
        if (g_deployment == nullptr) return;
        cluster().WaitAllSynced(120s);
        std::vector<LedgerQuery> nodes;
        for (int n = 0; n < GaleraCluster::kNodes; ++n) {
            if (!cluster().running(n)) continue;
            // Wait for the node to apply everything the cluster committed before the checks.
            nodes.push_back([this, n](const std::string& sql) {
                return cluster().Query(n, "SET STATEMENT wsrep_sync_wait = 1 FOR " + sql);
            });
        }
        for (size_t i = 0; i < nodes.size(); ++i) {
            const LedgerReport report = CheckLedger(nodes[i], "inkstone", /*multi_writer=*/true);
            EXPECT_TRUE(report.violations.empty())
                << "node " << i << ": " << report.Summary() << "\n"
                << (report.violations.empty() ? "" : report.violations[0]);
        }
        const std::vector<std::string> differences = CompareLedgers(nodes);
        EXPECT_TRUE(differences.empty())
            << differences.size()
            << " differences, first: " << (differences.empty() ? "" : differences[0]);
    }

    int64_t Balance(const HttpClient& c, const ApiUser& user) {
        const HttpResponse r = c.Get("/api/v1/credit/balance", user.Auth());
        EXPECT_EQ(r.status, 200) << r.body;
        return r.status == 200 ? r.JsonBody()["credits"].asInt64() : -1;
    }

    /// A new user with `price_id` 2 bought and paid (100 credits + 10 bonus).
    ApiUser UserWith110Credits(const std::string& name) {
        HttpClient c = d().Both();
        ApiUser user = RegisterUser(c, name);
        RechargeAndPay(c, user, JsonObject({{"price_id", 2}}));
        return user;
    }
};

TEST_F(Cluster, HundredConcurrentGenerationsOnBothHostsChargeExactlyWhatTheBalanceCovers) {
    const ApiUser user = UserWith110Credits("cl_gen100");
    const int64_t start = Balance(d().Both(), user);
    ASSERT_EQ(start, 110);
    constexpr int kRequests = 100;
    std::vector<long> statuses(kRequests);
    std::vector<std::string> bodies(kRequests);
    const HttpClient hosts[2] = {d().Host(0), d().Host(1)};
    RunConcurrently(kRequests, [&](int i) {
        const HttpResponse r = hosts[i % 2].Post(
            "/api/v1/writing/generate", GenerateBody("并发 " + std::to_string(i)), user.Auth());
        statuses[i] = r.status;
        bodies[i] = r.body;
    });
    std::map<long, int> by_status;
    for (int i = 0; i < kRequests; ++i) {
        by_status[statuses[i]]++;
        EXPECT_TRUE(statuses[i] == 200 || statuses[i] == 402 || statuses[i] == 503)
            << statuses[i] << " " << bodies[i];
    }
    EXPECT_EQ(by_status[200], 11);
    EXPECT_EQ(Sql(0,
                  "SELECT COUNT(*) FROM inkstone.credit_transactions WHERE type = 'CONSUME' "
                  "AND user_id = " +
                      std::to_string(user.id)),
              "11");
    EXPECT_EQ(Balance(d().Host(0), user), 0);
    EXPECT_EQ(Balance(d().Host(1), user), 0);
    std::string first_503;
    for (int i = 0; i < kRequests && first_503.empty(); ++i) {
        if (statuses[i] == 503) first_503 = bodies[i];
    }
    std::printf("[cluster] 100 generations on 110 credits: 200=%d 402=%d 503=%d %s\n",
                by_status[200], by_status[402], by_status[503], first_503.c_str());
}

TEST_F(Cluster, NotifyReplayedOnBothHostsCreditsOnce) {
    HttpClient c = d().Both();
    const ApiUser user = RegisterUser(c, "cl_notify");
    const int64_t before = Balance(c, user);
    const HttpResponse order =
        c.Post("/api/v1/credit/recharge",
               JsonObject({{"price_id", 1}, {"payment_method", "alipay"}}), user.Auth());
    ASSERT_EQ(order.status, 201) << order.body;
    const std::string order_no = order.JsonBody()["order_no"].asString();
    std::vector<long> statuses(20);
    const HttpClient hosts[2] = {d().Host(0), d().Host(1)};
    RunConcurrently(20, [&](int i) {
        statuses[i] =
            hosts[i % 2]
                .Post("/api/v1/payment/mock/pay", JsonObject({{"order_no", order_no}}), user.Auth())
                .status;
    });
    for (long s : statuses) EXPECT_EQ(s, 200);
    EXPECT_EQ(Balance(d().Host(0), user), before + 10);
    EXPECT_EQ(Balance(d().Host(1), user), before + 10);
    for (int n = 0; n < GaleraCluster::kNodes; ++n) {
        EXPECT_EQ(Sql(n,
                      "SET STATEMENT wsrep_sync_wait = 1 FOR SELECT COUNT(*) FROM "
                      "inkstone.credit_transactions WHERE related_order_no = '" +
                          order_no + "'"),
                  "1")
            << "node " << n;
    }
}

TEST_F(Cluster, OneIdempotencyKeyOnBothHostsMakesOneOrder) {
    const ApiUser user = RegisterUser(d().Both(), "cl_idem");
    const HttpHeaders headers = user.Auth({{"Idempotency-Key", "cluster-race-key"}});
    const Json::Value body = JsonObject({{"amount_fen", 4200}, {"payment_method", "wechat"}});
    std::vector<HttpResponse> responses(12);
    const HttpClient hosts[2] = {d().Host(0), d().Host(1)};
    RunConcurrently(12, [&](int i) {
        responses[i] = hosts[i % 2].Post("/api/v1/credit/recharge", body, headers);
    });
    std::set<std::string> order_nos;
    for (const HttpResponse& r : responses) {
        ASSERT_EQ(r.status, 201) << r.body;
        order_nos.insert(r.JsonBody()["order_no"].asString());
    }
    EXPECT_EQ(order_nos.size(), 1u);
    EXPECT_EQ(Sql(1,
                  "SET STATEMENT wsrep_sync_wait = 1 FOR SELECT COUNT(*) FROM "
                  "inkstone.recharge_orders WHERE user_id = " +
                      std::to_string(user.id)),
              "1");
}

// A charge through host A (node 0), then at once the balance through host B (node 1).
TEST_F(Cluster, BalanceReadRightAfterAChargeOnTheOtherHostIsNeverStale) {
    const ApiUser user = UserWith110Credits("cl_ryw");
    const HttpClient a = d().Host(0);
    const HttpClient b = d().Host(1);
    const auto stale_reads = [&](int rounds) {
        int stale = 0;
        for (int i = 0; i < rounds; ++i) {
            const HttpResponse charged =
                a.Post("/api/v1/_test/credit/charge", JsonObject({{"credits", 1}}), user.Auth());
            if (charged.status != 201) {
                ADD_FAILURE() << charged.status << " " << charged.body;
                return stale;
            }
            const int64_t expected = charged.JsonBody()["balance"].asInt64();
            if (Balance(b, user) != expected) ++stale;
        }
        return stale;
    };
    const int with_sync_wait = stale_reads(50);
    EXPECT_EQ(with_sync_wait, 0) << "stale reads of 50 with db.sync_wait";
    // The same without it on host B, for the record (not asserted: it is a race).
    d().hosts[1]->Stop();
    d().hosts[1]->SetConfig("db.sync_wait", "false");
    d().hosts[1]->Start();
    RechargeAndPay(d().Both(), user, JsonObject({{"price_id", 2}}));
    const int without = stale_reads(50);
    d().hosts[1]->Stop();
    d().hosts[1]->SetConfig("db.sync_wait", "true");
    d().hosts[1]->Start();
    std::printf(
        "[cluster] read-your-writes across hosts: stale %d/50 with db.sync_wait, %d/50 "
        "without\n",
        with_sync_wait, without);
}

// Generations left RUNNING by a host that died (SIGKILL), recovered by the jobs of both hosts at
// once; and recharge orders expiring while they are paid on both hosts.
TEST_F(Cluster, JobsOnBothHostsRefundEachDeadGenerationOnceAndSettleOrExpireEachOrderOnce) {
    const ApiUser user = UserWith110Credits("cl_jobs");
    constexpr int kGenerations = 4;
    std::vector<std::thread> clients;
    const HttpClient a = d().Host(0);
    for (int i = 0; i < kGenerations; ++i) {
        clients.emplace_back([&, i] {
            a.Post("/api/v1/writing/generate",
                   GenerateBody("长 " + std::to_string(i) + " [[sim:tokens=100,delay_ms=200]]"),
                   user.Auth());
        });
    }
    const std::string running_sql =
        "SELECT COUNT(*) FROM inkstone.generations WHERE user_id = " + std::to_string(user.id) +
        " AND status = 'RUNNING'";
    const auto deadline = SteadyClock::now() + 20s;
    while (Sql(0, running_sql) != std::to_string(kGenerations) && SteadyClock::now() < deadline) {
        std::this_thread::sleep_for(100ms);
    }
    ASSERT_EQ(Sql(0, running_sql), std::to_string(kGenerations));
    d().hosts[0]->Kill();  // the generations' worker dies: heartbeats stop
    for (auto& t : clients) t.join();
    d().hosts[0]->Start();

    // Orders: overdue in 2 s; half of them paid while both hosts run the expiry job.
    HttpClient c = d().Both();
    std::vector<std::string> orders;
    for (int i = 0; i < 8; ++i) {
        const HttpResponse r =
            c.Post("/api/v1/credit/recharge",
                   JsonObject({{"price_id", 1}, {"payment_method", "alipay"}}), user.Auth());
        ASSERT_EQ(r.status, 201) << r.body;
        orders.push_back(r.JsonBody()["order_no"].asString());
    }
    std::this_thread::sleep_for(2200ms);
    std::atomic<bool> stop{false};
    std::atomic<int> bad_jobs{0};
    std::vector<std::thread> jobs;
    for (int h = 0; h < 2; ++h) {
        for (int k = 0; k < 2; ++k) {
            jobs.emplace_back([&, h] {
                const HttpClient host = d().Host(h);
                while (!stop.load()) {
                    const HttpResponse r =
                        host.Post("/api/v1/_test/run-jobs", Json::Value(Json::objectValue));
                    if (r.status != 200) bad_jobs++;
                }
            });
        }
    }
    std::vector<long> pay_statuses(orders.size() / 2 * 2);
    RunConcurrently(static_cast<int>(pay_statuses.size()), [&](int i) {
        pay_statuses[i] = d().Host(i % 2)
                              .Post("/api/v1/payment/mock/pay",
                                    JsonObject({{"order_no", orders[i / 2]}}), user.Auth())
                              .status;
    });
    const std::string finished_sql =
        "SELECT COUNT(*) FROM inkstone.generations WHERE user_id = " + std::to_string(user.id) +
        " AND status <> 'RUNNING'";
    const auto recover_deadline = SteadyClock::now() + 40s;
    while (Sql(0, finished_sql) != std::to_string(kGenerations) &&
           SteadyClock::now() < recover_deadline) {
        std::this_thread::sleep_for(200ms);
    }
    std::this_thread::sleep_for(1s);  // a few more rounds of every job on both hosts
    stop = true;
    for (auto& t : jobs) t.join();
    EXPECT_EQ(bad_jobs.load(), 0);
    ASSERT_EQ(Sql(0, finished_sql), std::to_string(kGenerations));

    for (int n = 0; n < GaleraCluster::kNodes; ++n) {
        const std::string uid = std::to_string(user.id);
        // Each dead generation refunded exactly once (a second REFUND is impossible by the
        // UNIQUE key; the ledger checks say so too).
        EXPECT_EQ(Sql(n,
                      "SET STATEMENT wsrep_sync_wait = 1 FOR SELECT COUNT(*) FROM "
                      "inkstone.credit_transactions r JOIN inkstone.credit_transactions c "
                      "ON r.refund_of = c.id WHERE c.related_generation_id IN (SELECT id FROM "
                      "inkstone.generations WHERE user_id = " +
                          uid + ")"),
                  std::to_string(kGenerations))
            << "node " << n;
        // Each order ended once: the paid ones PAID with one RECHARGE row, the rest EXPIRED.
        EXPECT_EQ(Sql(n, "SELECT COUNT(*) FROM inkstone.recharge_orders WHERE user_id = " + uid +
                             " AND status NOT IN ('PAID', 'EXPIRED') AND order_no IN ('" +
                             orders[0] + "','" + orders[1] + "','" + orders[2] + "','" + orders[3] +
                             "','" + orders[4] + "','" + orders[5] + "','" + orders[6] + "','" +
                             orders[7] + "')"),
                  "0");
        EXPECT_EQ(Sql(n, "SELECT COUNT(*) FROM inkstone.recharge_orders WHERE user_id = " + uid +
                             " AND status = 'PAID'"),
                  Sql(n, "SELECT COUNT(*) FROM inkstone.credit_transactions WHERE user_id = " +
                             uid + " AND type = 'RECHARGE'"));
    }
    for (long s : pay_statuses) EXPECT_EQ(s, 200);
}

// The limits of a member (charged 0, so only WriteLockUser makes them hold across nodes).
TEST_F(Cluster, MemberInFlightCapAndPerMinuteLimitHoldAcrossHosts) {
    d().RestartHosts({{"generation.in_flight", "2"}, {"generation.per_minute", "6"}});
    HttpClient c = d().Both();
    const ApiUser user = RegisterUser(c, "cl_member");
    const HttpResponse order =
        c.Post("/api/v1/credit/membership",
               JsonObject({{"plan", "monthly"}, {"payment_method", "alipay"}}), user.Auth());
    ASSERT_EQ(order.status, 201) << order.body;
    ASSERT_EQ(
        c.Post("/api/v1/payment/mock/pay",
               JsonObject({{"order_no", order.JsonBody()["order_no"].asString()}}), user.Auth())
            .status,
        200);
    const HttpClient hosts[2] = {d().Host(0), d().Host(1)};
    // In flight: 6 slow ones at once, 3 per host: at most 2 may run.
    std::vector<long> statuses(6);
    RunConcurrently(6, [&](int i) {
        statuses[i] = hosts[i % 2]
                          .Post("/api/v1/writing/generate",
                                GenerateBody("慢 [[sim:tokens=6,delay_ms=300]]"), user.Auth())
                          .status;
    });
    int accepted = 0;
    for (long s : statuses) {
        EXPECT_TRUE(s == 200 || s == 429 || s == 503) << s;
        accepted += s == 200 ? 1 : 0;
    }
    EXPECT_GE(accepted, 1);
    EXPECT_LE(accepted, 2);
    // Per minute: more rounds of quick ones on both hosts; never more than 6 in the minute.
    int total = accepted;
    for (int round = 0; round < 4; ++round) {
        std::vector<long> quick(4);
        RunConcurrently(4, [&](int i) {
            quick[i] = hosts[i % 2]
                           .Post("/api/v1/writing/generate", GenerateBody("快 [[sim:tokens=2]]"),
                                 user.Auth())
                           .status;
        });
        for (long s : quick) {
            EXPECT_TRUE(s == 200 || s == 429 || s == 503) << s;
            total += s == 200 ? 1 : 0;
        }
    }
    EXPECT_LE(total, 6);
    EXPECT_EQ(Sql(0,
                  "SET STATEMENT wsrep_sync_wait = 1 FOR SELECT COUNT(*) <= 6 FROM "
                  "inkstone.generations WHERE user_id = " +
                      std::to_string(user.id)),
              "1");
    std::printf("[cluster] member limits: %d/6 in flight accepted, %d generations in the minute\n",
                accepted, total);
    d().RestartHosts({{"generation.in_flight", "1000"}, {"generation.per_minute", "1000"}});
}

// A node SIGKILLed under traffic through both hosts, then rejoined by IST.
TEST_F(Cluster, NodeKilledMidTrafficThenRejoinedLosesNothing) {
    constexpr int kUsers = 6;
    constexpr int kThreads = 8;
    std::vector<ApiUser> users;
    for (int i = 0; i < kUsers; ++i) {
        users.push_back(UserWith110Credits("cl_kill_" + std::to_string(i) + "_" +
                                           std::to_string(std::random_device{}() % 100000)));
    }
    const int node = 0;  // host A's first choice
    std::mutex mu;
    std::map<std::string, int> outcomes;
    std::vector<std::string> unexpected;
    std::atomic<bool> stop{false};
    std::atomic<int64_t> slowest_ms{0};
    std::atomic<int64_t> killed_at_ms{-1};
    const auto t0 = SteadyClock::now();
    // The first success of host A after the kill: how long its requests stalled.
    std::atomic<int64_t> first_a_success_after_kill_ms{-1};
    const auto worker = [&](int t) {
        std::mt19937 rng(77 + t);
        const HttpClient client = t % 2 == 0 ? d().Host(0) : d().Host(1);
        std::vector<int64_t> charges;
        while (!stop.load()) {
            const ApiUser& user = users[rng() % kUsers];
            const int dice = static_cast<int>(rng() % 100);
            std::string op;
            const auto start = SteadyClock::now();
            HttpResponse r;
            if (dice < 45) {
                op = "charge";
                r = client.Post("/api/v1/_test/credit/charge", JsonObject({{"credits", 1}}),
                                user.Auth());
                if (r.status == 201) charges.push_back(r.JsonBody()["charge_id"].asInt64());
            } else if (dice < 60 && !charges.empty()) {
                op = "refund";
                // Any user's charge: the route answers 404 for another's, which is fine too.
                r = client.Post("/api/v1/_test/credit/refund",
                                JsonObject({{"charge_id", charges.back()}}), user.Auth());
                charges.pop_back();
            } else if (dice < 75) {
                op = "recharge";
                r = client.Post("/api/v1/credit/recharge",
                                JsonObject({{"price_id", 1}, {"payment_method", "alipay"}}),
                                user.Auth());
                if (r.status == 201) {
                    r = client.Post("/api/v1/payment/mock/pay",
                                    JsonObject({{"order_no", r.JsonBody()["order_no"].asString()}}),
                                    user.Auth());
                    op = "pay";
                }
            } else if (dice < 85) {
                op = "generate";
                r = client.Post("/api/v1/writing/generate", GenerateBody("杀 [[sim:tokens=2]]"),
                                user.Auth());
            } else {
                op = "balance";
                r = client.Get("/api/v1/credit/balance", user.Auth());
            }
            const int64_t took = Ms(SteadyClock::now() - start);
            int64_t prev = slowest_ms.load();
            while (took > prev && !slowest_ms.compare_exchange_weak(prev, took)) {
            }
            const bool clean = (r.status >= 200 && r.status < 300) || r.status == 402 ||
                               r.status == 404 || r.status == 429 || r.status == 503;
            const int64_t killed = killed_at_ms.load();
            if (t % 2 == 0 && killed >= 0 && r.status >= 200 && r.status < 300) {
                const int64_t now = Ms(SteadyClock::now() - t0);
                int64_t expected = -1;
                if (Ms(start - t0) >= killed) {
                    first_a_success_after_kill_ms.compare_exchange_strong(expected, now - killed);
                }
            }
            std::lock_guard<std::mutex> lock(mu);
            outcomes[op + " " + std::to_string(r.status)]++;
            if (!clean) unexpected.push_back(op + ": " + std::to_string(r.status) + " " + r.body);
        }
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
    std::this_thread::sleep_for(3s);
    killed_at_ms = Ms(SteadyClock::now() - t0);
    cluster().Kill(node);
    std::this_thread::sleep_for(6s);
    const auto rejoin_start = SteadyClock::now();
    cluster().Rejoin(node);
    cluster().WaitSynced(node, GaleraCluster::kNodes, 120s);
    const int64_t rejoin_ms = Ms(SteadyClock::now() - rejoin_start);
    std::this_thread::sleep_for(2s);  // traffic with the node back
    stop = true;
    for (auto& t : threads) t.join();

    std::string summary;
    for (const auto& [op, n] : outcomes) summary += " " + op + "=" + std::to_string(n);
    std::printf(
        "[cluster] kill test: slowest request %lld ms, host A's first success %lld ms "
        "after the kill, rejoin (IST) %lld ms;%s\n",
        static_cast<long long>(slowest_ms.load()),
        static_cast<long long>(first_a_success_after_kill_ms.load()),
        static_cast<long long>(rejoin_ms), summary.c_str());
    EXPECT_TRUE(unexpected.empty())
        << unexpected.size()
        << " unclean answers, first: " << (unexpected.empty() ? "" : unexpected[0]);
    const Deployment::LogCounts counts = d().Counts();
    EXPECT_GE(counts.failovers, 1) << "host A never left the killed node";
    // Which hosts the pools found down or not ready, and with which error (for the record).
    std::map<std::string, int> failed;
    for (const auto& h : d().hosts) {
        std::istringstream lines(ReadFile(h->log_path()));
        for (std::string line; std::getline(lines, line);) {
            if (line.find("\"db.host_failed\"") == std::string::npos) continue;
            const size_t code = line.find("\"code\":");
            const size_t host = line.find("\"host\":\"");
            if (code == std::string::npos || host == std::string::npos) continue;
            const size_t host_end = line.find('"', host + 8);
            failed[line.substr(host + 8, host_end - host - 8) + " code " +
                   std::to_string(std::atoi(line.c_str() + code + 7))]++;
        }
    }
    std::string failed_summary;
    for (const auto& [what, n] : failed) failed_summary += " " + what + " x" + std::to_string(n);
    std::printf("[cluster] db.host_failed:%s\n", failed_summary.c_str());
    std::printf(
        "[cluster] so far: aborted_retries=%lld exhausted=%lld host_failovers=%lld "
        "host_failures=%lld\n",
        static_cast<long long>(counts.retries), static_cast<long long>(counts.exhausted),
        static_cast<long long>(counts.failovers), static_cast<long long>(counts.host_failures));
}

}  // namespace
}  // namespace inkstone::testing
