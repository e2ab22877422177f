// The wallet under concurrent load over HTTP: 16 client threads for several seconds doing random
// recharges, payments (replays included), memberships, charges, refunds and expiry runs on a few
// users, through nginx and two worker processes. Afterwards the ledger invariants must hold for
// every user, and the ledger must agree with what the clients were told.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "tests/harness/api_user.h"
#include "tests/harness/ledger_invariants.h"
#include "tests/harness/shared_stack.h"

namespace inkstone::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kThreads = 16;
constexpr int kUsers = 4;
constexpr auto kDuration = 6s;

/// What the clients were told, to compare with the ledger afterwards.
struct Tally {
    std::mutex mu;
    std::vector<std::pair<std::string, int>> orders;  ///< order_no, user index
    std::vector<std::pair<int64_t, int>> charges;     ///< charge ids answered 201, and whose
    std::map<std::string, int> ops;                   ///< "charge 201" → count
    std::vector<std::string> unexpected;              ///< responses no operation may give
    int64_t settled_now = 0;
    int64_t refunded_now = 0;

    void Count(const std::string& op, long status) {
        std::lock_guard<std::mutex> lock(mu);
        ops[op + " " + std::to_string(status)]++;
    }
    void Unexpected(const std::string& op, const HttpResponse& r) {
        std::lock_guard<std::mutex> lock(mu);
        unexpected.push_back(op + ": " + std::to_string(r.status) + " " + r.body + r.error);
    }
};

TEST(WalletConcurrency, RandomMoneyTrafficKeepsEveryInvariant) {
    StackOptions options;
    options.workers = 2;
    options.threads = 8;
    options.config["testing.hooks"] = "true";
    // Orders expire within the run, so expiry races settlement too.
    options.config["payment.order_ttl_s"] = "2";
    // Many unpaid orders per user at once: this run is about the invariants, not the cap.
    options.config["payment.max_pending_orders"] = "1000";
    options.config["jobs.enabled"] = "false";  // expiry runs only when a client asks for it
    options.config["log.level"] = "warn";
    Stack& stack = SharedStack(options);
    HttpClient c = stack.client();

    std::vector<ApiUser> users;
    for (int i = 0; i < kUsers; ++i)
        users.push_back(RegisterUser(c, "load_user_" + std::to_string(i)));

    Tally tally;
    std::atomic<bool> stop{false};
    const auto worker = [&](int thread_index) {
        std::mt19937 rng(1000 + thread_index);
        const auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
        while (!stop.load()) {
            const int u = pick(kUsers);
            const ApiUser& user = users[u];
            const int dice = pick(100);
            if (dice < 22) {  // a recharge order: a package or a custom amount
                const Json::Value body =
                    pick(3) == 0
                        ? JsonObject(
                              {{"amount_fen", (1 + pick(50)) * 100}, {"payment_method", "wechat"}})
                        : JsonObject({{"price_id", 1 + pick(4)}, {"payment_method", "alipay"}});
                HttpResponse r = c.Post("/api/v1/credit/recharge", body, user.Auth());
                tally.Count("recharge", r.status);
                if (r.status != 201) {
                    tally.Unexpected("recharge", r);
                    continue;
                }
                std::lock_guard<std::mutex> lock(tally.mu);
                tally.orders.emplace_back(r.JsonBody()["order_no"].asString(), u);
            } else if (dice < 45) {  // pay some order of this user, paid or not (replays)
                std::string order_no;
                {
                    std::lock_guard<std::mutex> lock(tally.mu);
                    for (int tries = 0; tries < 8 && order_no.empty() && !tally.orders.empty();
                         ++tries) {
                        const auto& candidate =
                            tally.orders[pick(static_cast<int>(tally.orders.size()))];
                        if (candidate.second == u) order_no = candidate.first;
                    }
                }
                if (order_no.empty()) continue;
                HttpResponse r = c.Post("/api/v1/payment/mock/pay",
                                        JsonObject({{"order_no", order_no}}), user.Auth());
                tally.Count("pay", r.status);
                if (r.status != 200) {
                    tally.Unexpected("pay", r);
                    continue;
                }
                if (r.JsonBody()["settled_now"].asBool()) {
                    std::lock_guard<std::mutex> lock(tally.mu);
                    tally.settled_now++;
                }
            } else if (dice < 50) {  // a membership, bought and paid at once
                HttpResponse r = c.Post("/api/v1/credit/membership",
                                        JsonObject({{"plan", pick(2) ? "monthly" : "quarterly"},
                                                    {"payment_method", "alipay"}}),
                                        user.Auth());
                tally.Count("membership", r.status);
                if (r.status != 201) {
                    tally.Unexpected("membership", r);
                    continue;
                }
                const std::string order_no = r.JsonBody()["order_no"].asString();
                {
                    std::lock_guard<std::mutex> lock(tally.mu);
                    tally.orders.emplace_back(order_no, u);
                }
                r = c.Post("/api/v1/payment/mock/pay", JsonObject({{"order_no", order_no}}),
                           user.Auth());
                tally.Count("pay", r.status);
                if (r.status != 200) {
                    tally.Unexpected("pay membership", r);
                } else if (r.JsonBody()["settled_now"].asBool()) {
                    std::lock_guard<std::mutex> lock(tally.mu);
                    tally.settled_now++;
                }
            } else if (dice < 78) {  // a charge; 402 is a fine answer
                HttpResponse r = c.Post("/api/v1/_test/credit/charge",
                                        JsonObject({{"credits", 1 + pick(60)}}), user.Auth());
                tally.Count("charge", r.status);
                if (r.status == 201) {
                    std::lock_guard<std::mutex> lock(tally.mu);
                    tally.charges.emplace_back(r.JsonBody()["charge_id"].asInt64(), u);
                } else if (r.status != 402 || r.JsonBody()["code"] != "INSUFFICIENT_CREDITS") {
                    tally.Unexpected("charge", r);
                }
            } else if (dice <
                       97) {  // refund a charge, by its owner, maybe again, maybe concurrently
                int64_t charge_id = 0;
                int owner = u;
                {
                    std::lock_guard<std::mutex> lock(tally.mu);
                    if (!tally.charges.empty()) {
                        std::tie(charge_id, owner) =
                            tally.charges[pick(static_cast<int>(tally.charges.size()))];
                    }
                }
                if (charge_id == 0) continue;
                HttpResponse r = c.Post("/api/v1/_test/credit/refund",
                                        JsonObject({{"charge_id", Json::Int64{charge_id}}}),
                                        users[owner].Auth());
                tally.Count("refund", r.status);
                if (r.status != 200) {
                    tally.Unexpected("refund", r);
                } else if (r.JsonBody()["refunded"].asBool()) {
                    std::lock_guard<std::mutex> lock(tally.mu);
                    tally.refunded_now++;
                }
            } else {  // the expiry job, as every worker of every host runs it
                HttpResponse r = c.Post("/api/v1/_test/run-jobs", Json::Value(Json::objectValue));
                tally.Count("run-jobs", r.status);
                if (r.status != 200) tally.Unexpected("run-jobs", r);
            }
        }
    };

    const auto started = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
    std::this_thread::sleep_for(kDuration);
    stop = true;
    for (auto& t : threads) t.join();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    int64_t total = 0;
    std::string ops;
    for (const auto& [op, count] : tally.ops) {
        total += count;
        ops += "  " + op + ": " + std::to_string(count) + "\n";
    }
    const LedgerReport report = CheckLedger(stack.db());
    std::printf(
        "[ wallet   ] %d threads, %.1f s, %lld requests (%.0f/s), %d users\n%s[ ledger   ] %s\n",
        kThreads, seconds, static_cast<long long>(total), total / seconds, kUsers, ops.c_str(),
        report.Summary().c_str());

    EXPECT_THAT(tally.unexpected, ::testing::IsEmpty());
    EXPECT_THAT(report.violations, ::testing::IsEmpty());
    // The ledger says exactly what the clients were told.
    EXPECT_EQ(report.charges, static_cast<int64_t>(tally.charges.size()));
    EXPECT_EQ(report.refunds, tally.refunded_now);
    EXPECT_EQ(report.paid_recharge_orders + report.paid_membership_orders, tally.settled_now);
    for (const ApiUser& user : users) {
        const Json::Value balance = c.Get("/api/v1/credit/balance", user.Auth()).JsonBody();
        const auto rows = stack.db().Query(
            "SELECT COALESCE(SUM(amount), 0) FROM inkstone.credit_transactions WHERE user_id = " +
            std::to_string(user.id));
        EXPECT_EQ(std::to_string(balance["credits"].asInt64()), rows[0][0]) << user.username;
    }
    // The run did exercise every path, races included.
    EXPECT_GE(total, 200);
    EXPECT_GT(tally.ops["charge 402"], 0);
    EXPECT_GT(tally.ops["charge 201"], 0);
    EXPECT_GT(report.refunds, 0);
    EXPECT_LT(report.refunds, static_cast<int64_t>(tally.ops["refund 200"]));  // some were repeats
    EXPECT_GT(report.paid_membership_orders, 0);
    EXPECT_GT(std::stoll(stack.db().Query("SELECT COUNT(*) FROM inkstone.recharge_orders WHERE "
                                          "status = 'EXPIRED'")[0][0]) +
                  std::stoll(stack.db().Query("SELECT COUNT(*) FROM inkstone.recharge_orders WHERE "
                                              "status = 'PAID' AND paid_at > expires_at")[0][0]),
              0);
}

}  // namespace
}  // namespace inkstone::testing
