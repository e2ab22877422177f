// SIGKILL of the worker while it holds wallet transactions open: settlements, charges and
// refunds are in flight (testing.settle_delay_ms keeps each one asleep after its row locks,
// before its commit), some have committed, the rest die with the process. Afterwards the ledger
// invariants hold, no order is half-applied, every answer a client got is true, and paying the
// orders again settles each exactly once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness/api_user.h"
#include "tests/harness/ledger_invariants.h"
#include "tests/harness/shared_stack.h"

namespace inkstone::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kUsers = 4;
constexpr int kDelayMs = 800;

/// Runs every task on its own thread and waits for all.
void RunAll(const std::vector<std::function<void()>>& tasks) {
    std::vector<std::thread> threads;
    for (const auto& task : tasks) threads.emplace_back(task);
    for (auto& t : threads) t.join();
}

int WorkerPid(Stack& stack) {
    const Json::Value status = stack.client().Get("/inkstone-status").JsonBody();
    return status["workers"].size() == 1 ? status["workers"][0]["pid"].asInt() : -1;
}

/// One request of the storm and what its client was told.
struct Op {
    std::string kind;  ///< "pay", "charge", "refund"
    int user = 0;
    std::string order_no;
    int64_t charge_id = 0;  ///< refund: the charge; charge: the new charge's id when 201
    long status = 0;
    Json::Value reply;

    static Op Make(std::string kind, int user, std::string order_no = "", int64_t charge_id = 0) {
        Op op;
        op.kind = std::move(kind);
        op.user = user;
        op.order_no = std::move(order_no);
        op.charge_id = charge_id;
        return op;
    }
};

TEST(WalletCrash, KilledWorkerLeavesNoHalfAppliedOrderAndPayingAgainSettlesOnce) {
    StackOptions options;
    options.workers = 1;
    options.threads = 16;
    options.config["testing.hooks"] = "true";
    options.config["testing.settle_delay_ms"] = std::to_string(kDelayMs);
    options.config["jobs.enabled"] = "false";
    options.config["log.level"] = "warn";
    Stack& stack = SharedStack(options);
    HttpClient c = stack.client();

    // Users with credits, each with one charge to refund later (setup runs in parallel: every
    // wallet transaction takes kDelayMs now).
    std::vector<ApiUser> users;
    for (int i = 0; i < kUsers; ++i)
        users.push_back(RegisterUser(c, "crash_user_" + std::to_string(i)));
    std::vector<int64_t> setup_charges(kUsers);
    std::vector<std::function<void()>> setup;
    for (int i = 0; i < kUsers; ++i) {
        setup.push_back([&, i] {
            RechargeAndPay(c, users[i], JsonObject({{"price_id", 4}}));  // 1300 credits
            HttpResponse r = c.Post("/api/v1/_test/credit/charge", JsonObject({{"credits", 50}}),
                                    users[i].Auth());
            ASSERT_EQ(r.status, 201) << r.body;
            setup_charges[i] = r.JsonBody()["charge_id"].asInt64();
        });
    }
    RunAll(setup);
    ASSERT_THAT(CheckLedger(stack.db()).violations, ::testing::IsEmpty());

    // Pending orders: two per user, one of them a membership for half of the users.
    std::vector<Op> ops;
    for (int i = 0; i < kUsers; ++i) {
        for (int k = 0; k < 2; ++k) {
            const bool membership = k == 1 && i % 2 == 0;
            HttpResponse r =
                membership ? c.Post("/api/v1/credit/membership",
                                    JsonObject({{"plan", "monthly"}, {"payment_method", "alipay"}}),
                                    users[i].Auth())
                           : c.Post("/api/v1/credit/recharge",
                                    JsonObject({{"price_id", 2 + k}, {"payment_method", "wechat"}}),
                                    users[i].Auth());
            ASSERT_EQ(r.status, 201) << r.body;
            ops.push_back(Op::Make("pay", i, r.JsonBody()["order_no"].asString()));
        }
        ops.push_back(Op::Make("charge", i));
        ops.push_back(Op::Make("charge", i));
        ops.push_back(Op::Make("refund", i, "", setup_charges[i]));
    }

    // The storm: one request every 60 ms; the worker dies as soon as two have been answered,
    // when the rest are asleep inside their transactions or queued on row locks.
    const int victim = WorkerPid(stack);
    ASSERT_GT(victim, 0);
    std::atomic<int> done{0};
    std::vector<std::function<void()>> storm;
    for (size_t n = 0; n < ops.size(); ++n) {
        storm.push_back([&, n] {
            std::this_thread::sleep_for(std::chrono::milliseconds(60 * n));
            Op& op = ops[n];
            const ApiUser& user = users[op.user];
            HttpResponse r;
            if (op.kind == "pay") {
                r = c.Post("/api/v1/payment/mock/pay", JsonObject({{"order_no", op.order_no}}),
                           user.Auth());
            } else if (op.kind == "charge") {
                r = c.Post("/api/v1/_test/credit/charge", JsonObject({{"credits", 7}}),
                           user.Auth());
            } else {
                r = c.Post("/api/v1/_test/credit/refund",
                           JsonObject({{"charge_id", Json::Int64{op.charge_id}}}), user.Auth());
            }
            op.status = r.status;
            if (r.status == 200 || r.status == 201) op.reply = r.JsonBody();
            if (op.kind == "charge" && r.status == 201) {
                op.charge_id = op.reply["charge_id"].asInt64();
            }
            done++;
        });
    }
    std::thread killer([&] {
        const auto give_up = std::chrono::steady_clock::now() + 20s;
        while (done.load() < 2 && std::chrono::steady_clock::now() < give_up) {
            std::this_thread::sleep_for(5ms);
        }
        ASSERT_EQ(kill(victim, SIGKILL), 0);
    });
    RunAll(storm);
    killer.join();

    int answered = 0;
    int interrupted = 0;
    std::map<std::string, int> outcome;
    for (const Op& op : ops) {
        const bool ok = op.status == 200 || op.status == 201;
        (ok ? answered : interrupted)++;
        outcome[op.kind + " " + std::to_string(op.status)]++;
    }
    std::string outcomes;
    for (const auto& [key, count] : outcome) outcomes += " " + key + "×" + std::to_string(count);
    std::printf("[ crash    ] %zu requests, killed worker %d: %d answered, %d interrupted:%s\n",
                ops.size(), victim, answered, interrupted, outcomes.c_str());
    // The kill did land in the middle.
    EXPECT_GE(answered, 1);
    EXPECT_GE(interrupted, 3);

    // A replacement worker serves again.
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline &&
           (WorkerPid(stack) <= 0 || WorkerPid(stack) == victim ||
            c.Get("/api/v1/health").status != 200)) {
        std::this_thread::sleep_for(100ms);
    }
    ASSERT_EQ(c.Get("/api/v1/health").status, 200);

    // Whatever was committed is whole, whatever was not left no trace.
    LedgerReport report = CheckLedger(stack.db());
    std::printf("[ ledger   ] after the kill: %s\n", report.Summary().c_str());
    EXPECT_THAT(report.violations, ::testing::IsEmpty());
    // Every answer a client got is true.
    for (const Op& op : ops) {
        if (op.status != 200 && op.status != 201) continue;
        if (op.kind == "pay") {
            const char* table = op.order_no[0] == 'R' ? "recharge_orders" : "membership_orders";
            EXPECT_EQ(stack.db().Query(std::string("SELECT status FROM inkstone.") + table +
                                       " WHERE order_no = '" + op.order_no + "'")[0][0],
                      "PAID")
                << op.order_no;
        } else if (op.kind == "charge") {
            EXPECT_EQ(stack.db().Query("SELECT COUNT(*) FROM inkstone.credit_transactions WHERE "
                                       "type = 'CONSUME' AND id = " +
                                       std::to_string(op.charge_id))[0][0],
                      "1");
        } else if (op.reply["refunded"].asBool()) {
            EXPECT_EQ(stack.db().Query("SELECT COUNT(*) FROM inkstone.credit_transactions WHERE "
                                       "refund_of = " +
                                       std::to_string(op.charge_id))[0][0],
                      "1");
        }
    }

    // Paying every order again: each one that the kill interrupted settles now, exactly once;
    // a second round changes nothing. Refunds likewise.
    for (int round = 0; round < 2; ++round) {
        std::vector<std::function<void()>> again;
        std::atomic<int> settled_now{0};
        std::atomic<int> refunded_now{0};
        for (const Op& op : ops) {
            if (op.kind == "charge") continue;
            again.push_back([&, op] {
                const ApiUser& user = users[op.user];
                if (op.kind == "pay") {
                    HttpResponse r = c.Post("/api/v1/payment/mock/pay",
                                            JsonObject({{"order_no", op.order_no}}), user.Auth());
                    ASSERT_EQ(r.status, 200) << r.body;
                    EXPECT_EQ(r.JsonBody()["status"], "PAID");
                    if (r.JsonBody()["settled_now"].asBool()) settled_now++;
                } else {
                    HttpResponse r =
                        c.Post("/api/v1/_test/credit/refund",
                               JsonObject({{"charge_id", Json::Int64{op.charge_id}}}), user.Auth());
                    ASSERT_EQ(r.status, 200) << r.body;
                    if (r.JsonBody()["refunded"].asBool()) refunded_now++;
                }
            });
        }
        RunAll(again);
        if (round == 0) {
            int unpaid = 0;
            int unrefunded = 0;
            for (const Op& op : ops) {
                if (op.kind == "pay" && op.status != 200) ++unpaid;
                if (op.kind == "refund" && op.status != 200) ++unrefunded;
            }
            // Interrupted payments either committed before the kill or settle now.
            EXPECT_LE(settled_now.load(), unpaid);
            EXPECT_LE(refunded_now.load(), unrefunded);
        } else {
            EXPECT_EQ(settled_now.load(), 0);
            EXPECT_EQ(refunded_now.load(), 0);
        }
    }
    report = CheckLedger(stack.db());
    std::printf("[ ledger   ] after paying again: %s\n", report.Summary().c_str());
    EXPECT_THAT(report.violations, ::testing::IsEmpty());
    EXPECT_EQ(stack.db().Query("SELECT COUNT(*) FROM inkstone.recharge_orders WHERE status <> "
                               "'PAID'")[0][0],
              "0");
    EXPECT_EQ(stack.db().Query("SELECT COUNT(*) FROM inkstone.membership_orders WHERE status <> "
                               "'PAID'")[0][0],
              "0");
    EXPECT_EQ(report.refunds, kUsers);
}

}  // namespace
}  // namespace inkstone::testing
