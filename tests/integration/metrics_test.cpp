// GET /metrics over real HTTP (README, "Metrics"): known traffic through a pool of 2 workers
// moves the counters by exactly what it did, summed over both workers, and a SIGKILLed worker's
// counts survive it (they live in the master's shared table). Also: the text format, and who may
// read the page.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "tests/harness/api_user.h"
#include "tests/harness/fastcgi_client.h"
#include "tests/harness/ledger_invariants.h"
#include "tests/harness/process.h"
#include "tests/harness/shared_stack.h"

namespace inkstone::testing {
namespace {

using namespace std::chrono_literals;

const int kPoolPort = FreePort();

Stack& TheStack() {
    StackOptions options;
    // Over TCP, so the test can also talk FastCGI to the pool as if from another address.
    options.config["fcgi.listen"] = "127.0.0.1:" + std::to_string(kPoolPort);
    options.config["fcgi.allow"] = "127.0.0.1";
    options.workers = 2;
    options.threads = 4;
    options.config["testing.hooks"] = "true";  // X-Inkstone-Worker, /_test/credit/*
    // Each request on a new connection, so both workers answer (a kept one goes to one worker).
    options.upstream_keepalive = 0;
    options.config["generation.per_minute"] = "100000";
    options.config["generation.in_flight"] = "100000";
    options.config["fcgi.metrics_bearer_secret"] = "scrape-secret-for-tests";
    return SharedStack(options);
}

HttpClient Client() { return TheStack().client(); }

/// Every sample of a scrape: `name{labels}` → value.
using Samples = std::map<std::string, double>;

Samples Scrape() {
    const HttpResponse r = Client().Get("/metrics");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_THAT(r.Header("content-type"), ::testing::HasSubstr("text/plain; version=0.0.4"));
    Samples out;
    size_t pos = 0;
    while (pos < r.body.size()) {
        size_t end = r.body.find('\n', pos);
        if (end == std::string::npos) end = r.body.size();
        const std::string line = r.body.substr(pos, end - pos);
        pos = end + 1;
        if (line.empty() || line[0] == '#') continue;
        const size_t space = line.rfind(' ');
        out[line.substr(0, space)] = std::stod(line.substr(space + 1));
    }
    return out;
}

double Delta(const Samples& before, const Samples& after, const std::string& series) {
    const auto a = after.find(series);
    const auto b = before.find(series);
    return (a == after.end() ? 0 : a->second) - (b == before.end() ? 0 : b->second);
}

std::set<int> WorkerPids() {
    std::set<int> out;
    const Json::Value status = Client().Get("/inkstone-status").JsonBody();
    for (const Json::Value& w : status["workers"]) out.insert(w["pid"].asInt());
    return out;
}

class Metrics : public ::testing::Test {
  protected:
    void TearDown() override {
        const LedgerReport report = CheckLedger(TheStack().db());
        EXPECT_THAT(report.violations, ::testing::IsEmpty()) << report.Summary();
    }
};

TEST_F(Metrics, KnownTrafficMovesTheCountersExactlyAcrossWorkersAndAKill) {
    const ApiUser user = RegisterUser(Client(), "metrics_user");
    const Samples before = Scrape();

    // A paid recharge (100 + 10 credits, 1000 fen, mock Alipay), 4 generations of 10 credits,
    // 2 test charges of 3 that are refunded, a forged WeChat notify, and balance reads until
    // both workers answered some.
    RechargeAndPay(Client(), user, JsonObject({{"price_id", 2}}));
    for (int i = 0; i < 4; ++i) {
        const HttpResponse g = Client().Post(
            "/api/v1/writing/generate",
            JsonObject({{"tool_type", "article"}, {"prompt", "metrics [[sim:tokens=3]]"}}),
            user.Auth());
        ASSERT_EQ(g.status, 200) << g.body;
    }
    for (int i = 0; i < 2; ++i) {
        const HttpResponse charge =
            Client().Post("/api/v1/_test/credit/charge", JsonObject({{"credits", 3}}), user.Auth());
        ASSERT_EQ(charge.status, 201) << charge.body;
        const HttpResponse refund =
            Client().Post("/api/v1/_test/credit/refund",
                          JsonObject({{"charge_id", charge.JsonBody()["charge_id"]}}), user.Auth());
        ASSERT_EQ(refund.status, 200) << refund.body;
    }
    EXPECT_EQ(Client()
                  .Request("POST", "/api/v1/payment/wechat/notify", R"({"id":"x"})",
                           {{"Content-Type", "application/json"}})
                  .status,
              401);
    std::set<std::string> answered_by;
    int balance_reads = 0;
    while (answered_by.size() < 2 && balance_reads < 200) {
        const HttpResponse b = Client().Get("/api/v1/credit/balance", user.Auth());
        ASSERT_EQ(b.status, 200);
        answered_by.insert(b.Header("x-inkstone-worker"));
        ++balance_reads;
    }
    ASSERT_EQ(answered_by.size(), 2u) << "one worker answered every read";

    const Samples after = Scrape();
    const auto delta = [&](const std::string& series) { return Delta(before, after, series); };
    EXPECT_EQ(delta(R"(inkstone_orders_created_total{kind="recharge",method="alipay"})"), 1);
    EXPECT_EQ(delta(R"(inkstone_orders_paid_total{kind="recharge",provider="mock"})"), 1);
    EXPECT_EQ(delta(R"(inkstone_revenue_fen_total{provider="mock"})"), 1000);
    EXPECT_EQ(delta(R"(inkstone_credits_issued_total{source="recharge"})"), 100);
    EXPECT_EQ(delta(R"(inkstone_credits_issued_total{source="bonus"})"), 10);
    EXPECT_EQ(delta("inkstone_credits_charged_total"), 4 * 10 + 2 * 3);
    EXPECT_EQ(delta("inkstone_credits_refunded_total"), 2 * 3);
    EXPECT_EQ(delta(R"(inkstone_generations_total{status="SUCCEEDED"})"), 4);
    EXPECT_EQ(delta(R"(inkstone_upstream_requests_total{model="qwen-plus",outcome="ok"})"), 4);
    EXPECT_EQ(delta(R"(inkstone_upstream_duration_seconds_count{model="qwen-plus"})"), 4);
    EXPECT_EQ(
        delta(
            R"(inkstone_payment_notifies_total{provider="alipay",kind="payment",via="notify",outcome="settled",reason=""})"),
        1);
    EXPECT_EQ(
        delta(
            R"(inkstone_payment_notifies_total{provider="wechat",kind="payment",via="notify",outcome="unauthentic",reason="missing_header"})"),
        1);
    EXPECT_EQ(
        delta(
            R"(inkstone_http_requests_total{route="/api/v1/credit/balance",method="GET",status="2xx"})"),
        balance_reads);
    EXPECT_EQ(
        delta(
            R"(inkstone_http_requests_total{route="/api/v1/writing/generate",method="POST",status="2xx"})"),
        4);
    EXPECT_EQ(
        delta(R"(inkstone_http_request_duration_seconds_count{route="/api/v1/credit/balance"})"),
        balance_reads);
    EXPECT_GE(after.at(R"(inkstone_pool_workers{state="ready"})"), 2);

    // A worker killed outright takes none of the counts with it.
    const std::set<int> pids = WorkerPids();
    ASSERT_EQ(pids.size(), 2u) << Client().Get("/inkstone-status").body;
    const int victim = *pids.begin();
    ASSERT_EQ(kill(victim, SIGKILL), 0);
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
        const std::set<int> now = WorkerPids();
        if (now.size() == 2 && !now.count(victim)) break;
        std::this_thread::sleep_for(50ms);
    }
    const Samples survived = Scrape();
    for (
        const char* series :
        {"inkstone_credits_charged_total",
         R"(inkstone_http_requests_total{route="/api/v1/credit/balance",method="GET",status="2xx"})",
         R"(inkstone_generations_total{status="SUCCEEDED"})"}) {
        EXPECT_EQ(Delta(after, survived, series), 0) << series;
    }
    EXPECT_EQ(Delta(after, survived, "inkstone_pool_worker_restarts_total"), 1);
    // And the replacement counts on into the same table.
    for (int i = 0; i < 6; ++i)
        ASSERT_EQ(Client().Get("/api/v1/credit/balance", user.Auth()).status, 200);
    const Samples later = Scrape();
    EXPECT_EQ(
        Delta(
            survived, later,
            R"(inkstone_http_requests_total{route="/api/v1/credit/balance",method="GET",status="2xx"})"),
        6);
}

TEST_F(Metrics, TheTextFormatHasEveryFamilyWithHelpTypeAndCumulativeBuckets) {
    ASSERT_EQ(Client().Get("/api/v1/health").status, 200);
    const HttpResponse r = Client().Get("/metrics");
    ASSERT_EQ(r.status, 200);
    for (const char* line :
         {"# TYPE inkstone_http_requests_total counter\n",
          "# TYPE inkstone_http_request_duration_seconds histogram\n",
          "# TYPE inkstone_pool_threads gauge\n", "# TYPE inkstone_credits_charged_total counter\n",
          "# HELP inkstone_orders_refunded_total ", "inkstone_pool_threads{state=\"busy\"} ",
          "inkstone_http_request_duration_seconds_bucket{route=\"/api/v1/health\",le=\"+Inf\"} "}) {
        EXPECT_THAT(r.body, ::testing::HasSubstr(line));
    }
    // Unknown paths are counted under one label, never by path.
    EXPECT_EQ(Client().Get("/api/v1/no/such/path/12345").status, 404);
    const Samples s = Scrape();
    for (const auto& [series, value] : s) {
        EXPECT_EQ(series.find("12345"), std::string::npos) << series;
    }
    EXPECT_GE(s.at("inkstone_http_requests_total{route=\"(none)\",method=\"-\",status=\"4xx\"}"),
              1);
}

TEST_F(Metrics, OnlyLoopbackOrTheBearerMayRead) {
    EXPECT_EQ(Client().Get("/metrics").status, 200);  // nginx passes 127.0.0.1
    // A FastCGI peer sets REMOTE_ADDR: as nginx would for a client from elsewhere.
    const auto ask = [](std::map<std::string, std::string> params) {
        params["REMOTE_ADDR"] = "203.0.113.7";
        return FastCgiExchange("127.0.0.1", kPoolPort, FastCgiGet("/metrics", params)).reply;
    };
    const std::string remote = ask({});
    EXPECT_NE(remote.find("Status: 403"), std::string::npos) << remote.substr(0, 200);
    EXPECT_EQ(remote.find("inkstone_pool_threads"), std::string::npos);
    const std::string wrong = ask({{"HTTP_AUTHORIZATION", "Bearer nope"}});
    EXPECT_NE(wrong.find("Status: 403"), std::string::npos) << wrong.substr(0, 200);
    const std::string bearer = ask({{"HTTP_AUTHORIZATION", "Bearer scrape-secret-for-tests"}});
    EXPECT_NE(bearer.find("inkstone_pool_threads"), std::string::npos) << bearer.substr(0, 200);
}

}  // namespace
}  // namespace inkstone::testing
