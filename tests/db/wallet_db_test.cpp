// The wallet (lib/billing/wallet.h, lib/billing/orders.h) against a real MariaDB with an injected
// clock: charges, refunds, settlement outcomes, memberships on awkward dates, expiry, and the
// charge / refund / settlement races at the library level. Every test ends with the ledger
// invariants.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "lib/base/errors.h"
#include "lib/billing/idempotency.h"
#include "lib/billing/order_service.h"
#include "lib/billing/orders.h"
#include "lib/billing/wallet.h"
#include "tests/harness/ledger_invariants.h"
#include "tests/harness/manual_clock.h"
#include "tests/harness/shared_stack.h"

namespace inkstone::testing {
namespace {

using lib::base::ApiError;
using lib::base::ErrorCode;
using lib::base::TimePoint;
using lib::billing::Order;
using lib::billing::OrderKind;
using lib::billing::RechargeTerms;
using lib::billing::SettlementNotice;
using lib::billing::SettleOutcome;
using lib::billing::Wallet;
namespace db = lib::db;

TimePoint At(const std::string& sql_time) { return *lib::base::ParseSqlDateTime(sql_time); }

/// The DB-only stack (MariaDB + migrations), one pool and one clock for the whole binary.
struct Env {
    Stack& stack;
    db::Pool pool;
    ManualClock clock;
    Wallet wallet;

    static Env& Get() {
        static Env* env = [] {
            StackOptions options;
            options.with_pool = false;
            options.with_nginx = false;
            Stack& stack = SharedStack(options);
            lib::base::DbConfig config = stack.db().AppConfig();
            config.pool_size = 24;
            return new Env(stack, config);
        }();
        return *env;
    }

  private:
    Env(Stack& s, const lib::base::DbConfig& config)
        : stack(s), pool(config), clock(At("2026-11-26 08:00:00")), wallet(pool, clock) {}
};

class WalletTest : public ::testing::Test {
  protected:
    void SetUp() override { Env::Get().clock.Set(At("2026-11-26 08:00:00")); }
    void TearDown() override {
        const LedgerReport report = CheckLedger(Env::Get().stack.db());
        EXPECT_THAT(report.violations, ::testing::IsEmpty()) << report.Summary();
    }

    Wallet& wallet() { return Env::Get().wallet; }
    db::Pool& pool() { return Env::Get().pool; }
    ManualClock& clock() { return Env::Get().clock; }
    MariaDb& sql() { return Env::Get().stack.db(); }

    int64_t NewUser(const std::string& name) {
        sql().Exec(
            "INSERT INTO inkstone.users (username, password_hash, created_at, updated_at) "
            "VALUES ('" +
            name + "', 'x', '2026-01-01 00:00:00', '2026-01-01 00:00:00')");
        return std::stoll(Scalar("SELECT id FROM inkstone.users WHERE username = '" + name + "'"));
    }

    std::string Scalar(const std::string& query) {
        const auto rows = sql().Query(query);
        return rows.empty() ? "" : rows[0][0];
    }

    int64_t IdOf(const std::string& query) { return std::stoll(Scalar(query)); }

    int64_t Credits(int64_t user) {
        return std::stoll(
            Scalar("SELECT credits FROM inkstone.users WHERE id = " + std::to_string(user)));
    }

    Order NewRechargeOrder(int64_t user, RechargeTerms terms,
                           std::chrono::seconds ttl = std::chrono::minutes(30)) {
        const Order order = lib::billing::NewRechargeOrder(
            user, std::nullopt, terms, lib::billing::PaymentMethod::kAlipay, clock().Now(), ttl);
        db::RetryOnAborted(pool(), "test.order", [&](db::Transaction& tx) {
            lib::billing::InsertOrder(tx.lease(), order);
        });
        return order;
    }

    Order NewMembershipOrder(int64_t user, const std::string& plan) {
        const auto found = lib::billing::FindActivePlan(pool(), std::nullopt, plan);
        EXPECT_TRUE(found.has_value()) << plan;
        const Order order =
            lib::billing::NewMembershipOrder(user, *found, lib::billing::PaymentMethod::kWechat,
                                             clock().Now(), std::chrono::minutes(30));
        db::RetryOnAborted(pool(), "test.order", [&](db::Transaction& tx) {
            lib::billing::InsertOrder(tx.lease(), order);
        });
        return order;
    }

    static SettlementNotice Notice(const Order& order, const std::string& trade_no,
                                   std::optional<int64_t> amount = std::nullopt) {
        SettlementNotice notice;
        notice.order_no = order.order_no;
        notice.provider = lib::billing::PaymentProvider::kAlipay;
        notice.provider_trade_no = trade_no;
        notice.amount_fen = amount.value_or(order.amount_fen);
        notice.paid_at = order.created_at + std::chrono::minutes(1);
        return notice;
    }

    /// Gives `user` credits the way a user gets them: a paid recharge order.
    void Fund(int64_t user, int64_t credits) {
        const Order order = NewRechargeOrder(user, {credits, 0, credits * 10});
        ASSERT_EQ(wallet().Settle(Notice(order, "fund-" + order.order_no)),
                  SettleOutcome::kSettled);
    }

    std::string Status(const Order& order) {
        const char* table =
            order.kind == OrderKind::kRecharge ? "recharge_orders" : "membership_orders";
        return Scalar(std::string("SELECT status FROM inkstone.") + table + " WHERE order_no = '" +
                      order.order_no + "'");
    }
};

/// Runs `fn(i)` on `n` threads (each with the connector's per-thread init) and joins them.
template <class F>
void OnThreads(int n, F fn) {
    std::vector<std::thread> threads;
    std::atomic<int> ready{0};
    for (int i = 0; i < n; ++i) {
        threads.emplace_back([&, i] {
            db::Pool::ThreadInit();
            ready++;
            while (ready.load() < n) std::this_thread::yield();
            fn(i);
            db::Pool::ThreadEnd();
        });
    }
    for (auto& t : threads) t.join();
}

TEST_F(WalletTest, ChargeDebitsAndWritesOneConsumeRow) {
    const int64_t user = NewUser("charge_basic");
    Fund(user, 100);
    const lib::billing::ChargeResult charged = wallet().Charge(user, 30, "Generation: title", 77);
    EXPECT_EQ(charged.balance, 70);
    EXPECT_EQ(Credits(user), 70);
    const auto row = sql().Query(
        "SELECT type, amount, balance_after, description, related_generation_id, created_at, "
        "user_id FROM inkstone.credit_transactions WHERE id = " +
        std::to_string(charged.charge_id));
    ASSERT_EQ(row.size(), 1u);
    EXPECT_EQ(row[0][0], "CONSUME");
    EXPECT_EQ(row[0][1], "-30");
    EXPECT_EQ(row[0][2], "70");
    EXPECT_EQ(row[0][3], "Generation: title");
    EXPECT_EQ(row[0][4], "77");
    EXPECT_EQ(row[0][5].substr(0, 19), "2026-11-26 08:00:00");  // the injected clock
    EXPECT_EQ(row[0][6], std::to_string(user));
}

// The charge transaction is START TRANSACTION, the row lock, the debit, the ledger INSERT (its
// id from RETURNING) and COMMIT: no read-back of the balance, no LAST_INSERT_ID(), no
// autocommit switches. A caller holding the lock already pays two statements per charge.
TEST_F(WalletTest, ChargeIsFiveStatementsAndALockedChargeTwo) {
    const int64_t user = NewUser("charge_count");
    Fund(user, 100);
    const auto questions = [&] {
        return std::stoll(sql().Query("SHOW GLOBAL STATUS LIKE 'Questions'").at(0).at(1));
    };
    // What one more reading of the counter costs by itself, subtracted below.
    const int64_t q0 = questions();
    const int64_t q1 = questions();
    const int64_t overhead = q1 - q0;
    wallet().Charge(user, 10, "counted");
    EXPECT_EQ(questions() - q1 - overhead, 5);

    const int64_t q2 = questions();
    const lib::billing::ChargeResult second =
        db::RetryOnAborted(pool(), "test.locked", [&](db::Transaction& tx) {
            std::optional<lib::billing::LockedAccount> account = wallet().LockAccountIn(tx, user);
            EXPECT_TRUE(account.has_value());
            EXPECT_EQ(account->credits, 90);
            wallet().ChargeLockedIn(tx, *account, 20, "locked one");
            EXPECT_EQ(account->credits, 70);
            try {
                wallet().ChargeLockedIn(tx, *account, 71, "too much");
                ADD_FAILURE() << "charged beyond the locked balance";
            } catch (const ApiError& e) {
                EXPECT_EQ(e.code, ErrorCode::kInsufficientCredits);
                EXPECT_EQ(e.extra["balance"], 70);
            }
            return wallet().ChargeLockedIn(tx, *account, 30, "locked two");
        });
    // START, the lock, 2 x (UPDATE, INSERT), COMMIT.
    EXPECT_EQ(questions() - q2 - overhead, 7);
    EXPECT_EQ(second.balance, 40);
    EXPECT_EQ(Credits(user), 40);
    EXPECT_EQ(Scalar("SELECT GROUP_CONCAT(balance_after ORDER BY seq) FROM "
                     "inkstone.credit_transactions WHERE user_id = " +
                     std::to_string(user)),
              "100,90,70,40");
}

TEST_F(WalletTest, InsufficientCreditsIs402AndChangesNothing) {
    const int64_t user = NewUser("charge_poor");
    Fund(user, 10);
    const std::string before = Scalar("SELECT COUNT(*) FROM inkstone.credit_transactions");
    try {
        wallet().Charge(user, 11, "too much");
        FAIL() << "charged beyond the balance";
    } catch (const ApiError& e) {
        EXPECT_EQ(e.code, ErrorCode::kInsufficientCredits);
        EXPECT_EQ(e.extra["required"], 11);
        EXPECT_EQ(e.extra["balance"], 10);
    }
    EXPECT_EQ(Credits(user), 10);
    EXPECT_EQ(Scalar("SELECT COUNT(*) FROM inkstone.credit_transactions"), before);
    EXPECT_EQ(wallet().Charge(user, 10, "exactly all").balance, 0);  // down to zero is fine

    try {
        wallet().Charge(99999999, 1, "nobody");
        FAIL();
    } catch (const ApiError& e) {
        EXPECT_EQ(e.code, ErrorCode::kNotFound);
    }
    EXPECT_THROW(wallet().Charge(user, 0, "zero"), std::invalid_argument);
    EXPECT_THROW(wallet().Charge(user, 1, ""), std::invalid_argument);
    EXPECT_THROW(wallet().Charge(user, 1, std::string(256, 'd')), std::invalid_argument);
}

TEST_F(WalletTest, ConcurrentChargesNeverOverdraw) {
    const int64_t user = NewUser("charge_race");
    Fund(user, 110);
    std::atomic<int> ok{0};
    std::atomic<int> refused{0};
    OnThreads(24, [&](int) {
        try {
            wallet().Charge(user, 10, "race");
            ok++;
        } catch (const ApiError& e) {
            if (e.code == ErrorCode::kInsufficientCredits) refused++;
        }
    });
    EXPECT_EQ(ok.load(), 11);
    EXPECT_EQ(refused.load(), 13);
    EXPECT_EQ(Credits(user), 0);
}

TEST_F(WalletTest, RefundHappensOnceAndOnlyForCharges) {
    const int64_t user = NewUser("refund_once");
    Fund(user, 50);
    const auto charged = wallet().Charge(user, 20, "to refund");
    EXPECT_TRUE(wallet().Refund(charged.charge_id, "upstream failed"));
    EXPECT_EQ(Credits(user), 50);
    EXPECT_FALSE(wallet().Refund(charged.charge_id, "again"));
    EXPECT_EQ(Credits(user), 50);
    const auto refund = sql().Query(
        "SELECT type, amount, balance_after, refund_of FROM inkstone.credit_transactions "
        "WHERE refund_of = " +
        std::to_string(charged.charge_id));
    ASSERT_EQ(refund.size(), 1u);
    EXPECT_EQ(refund[0][0], "REFUND");
    EXPECT_EQ(refund[0][1], "20");
    EXPECT_EQ(refund[0][2], "50");

    const std::vector<int64_t> not_charges = {
        0, 987654321,
        IdOf("SELECT id FROM inkstone.credit_transactions WHERE refund_of = " +
             std::to_string(charged.charge_id)),
        IdOf("SELECT MIN(id) FROM inkstone.credit_transactions WHERE type = 'RECHARGE' AND "
             "user_id = " +
             std::to_string(user))};
    for (const int64_t not_a_charge : not_charges) {
        try {
            wallet().Refund(not_a_charge, "nope");
            ADD_FAILURE() << not_a_charge;
        } catch (const ApiError& e) {
            EXPECT_EQ(e.code, ErrorCode::kNotFound);
        }
    }
}

TEST_F(WalletTest, ConcurrentRefundsOfOneChargeRefundOnce) {
    const int64_t user = NewUser("refund_race");
    Fund(user, 100);
    std::vector<int64_t> charges;
    for (int i = 0; i < 4; ++i) charges.push_back(wallet().Charge(user, 5 + i, "race").charge_id);
    std::atomic<int> refunded{0};
    OnThreads(16, [&](int i) {
        if (wallet().Refund(charges[i % charges.size()], "race")) refunded++;
    });
    EXPECT_EQ(refunded.load(), 4);
    EXPECT_EQ(Credits(user), 100);
}

TEST_F(WalletTest, SettleRechargeAppliesCreditsAndBonusOnce) {
    const int64_t user = NewUser("settle_pkg");
    const Order order = NewRechargeOrder(user, {100, 10, 1000});
    EXPECT_EQ(wallet().Settle(Notice(order, "2026112622001400001")), SettleOutcome::kSettled);
    EXPECT_EQ(Credits(user), 110);
    EXPECT_EQ(Status(order), "PAID");
    const auto rows = sql().Query(
        "SELECT type, amount, balance_after, related_order_no FROM inkstone.credit_transactions "
        "WHERE user_id = " +
        std::to_string(user) + " ORDER BY seq");
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0], (std::vector<std::string>{"RECHARGE", "100", "100", order.order_no}));
    EXPECT_EQ(rows[1], (std::vector<std::string>{"BONUS", "10", "110", order.order_no}));
    EXPECT_EQ(Scalar("SELECT CONCAT(paid_provider, ' ', provider_trade_no, ' ', paid_at) FROM "
                     "inkstone.recharge_orders WHERE order_no = '" +
                     order.order_no + "'"),
              "alipay 2026112622001400001 2026-11-26 08:01:00.000000");

    // A duplicate notify, and the same order paid again with another trade: no second effect.
    EXPECT_EQ(wallet().Settle(Notice(order, "2026112622001400001")),
              SettleOutcome::kAlreadySettled);
    EXPECT_EQ(wallet().Settle(Notice(order, "2026112622009999999")),
              SettleOutcome::kAlreadySettled);
    EXPECT_EQ(Credits(user), 110);

    const Order no_bonus = NewRechargeOrder(user, {10, 0, 100});
    EXPECT_EQ(wallet().Settle(Notice(no_bonus, "t-no-bonus")), SettleOutcome::kSettled);
    EXPECT_EQ(Credits(user), 120);
    EXPECT_EQ(
        Scalar("SELECT COUNT(*) FROM inkstone.credit_transactions WHERE related_order_no = '" +
               no_bonus.order_no + "'"),
        "1");
}

TEST_F(WalletTest, AmountMismatchUnknownOrderAndReusedTradeChangeNothing) {
    const int64_t user = NewUser("settle_bad");
    const Order order = NewRechargeOrder(user, {500, 100, 5000});
    EXPECT_EQ(wallet().Settle(Notice(order, "t-short", 4999)), SettleOutcome::kAmountMismatch);
    EXPECT_EQ(wallet().Settle(Notice(order, "t-long", 5001)), SettleOutcome::kAmountMismatch);
    EXPECT_EQ(Status(order), "PENDING");
    EXPECT_EQ(Credits(user), 0);

    SettlementNotice unknown = Notice(order, "t-unknown");
    unknown.order_no = "R20261126" + std::string(20, 'Z');
    EXPECT_EQ(wallet().Settle(unknown), SettleOutcome::kUnknownOrder);
    unknown.order_no = "' OR 1=1 --";
    EXPECT_EQ(wallet().Settle(unknown), SettleOutcome::kUnknownOrder);

    ASSERT_EQ(wallet().Settle(Notice(order, "t-shared")), SettleOutcome::kSettled);
    const Order other = NewRechargeOrder(user, {10, 0, 100});
    EXPECT_EQ(wallet().Settle(Notice(other, "t-shared")), SettleOutcome::kTradeNoReused);
    EXPECT_EQ(Status(other), "PENDING");
    EXPECT_EQ(Credits(user), 600);
    // The same trade number from another provider is another trade.
    SettlementNotice wechat = Notice(other, "t-shared");
    wechat.provider = lib::billing::PaymentProvider::kWechat;
    EXPECT_EQ(wallet().Settle(wechat), SettleOutcome::kSettled);

    SettlementNotice bad = Notice(other, "t");
    // No "paypal" can be named any more (PaymentProvider); a value outside the enum is refused.
    bad.provider = static_cast<lib::billing::PaymentProvider>(99);
    EXPECT_THROW(wallet().Settle(bad), std::invalid_argument);
    bad.provider = lib::billing::PaymentProvider::kMock;
    bad.provider_trade_no = "";
    EXPECT_THROW(wallet().Settle(bad), std::invalid_argument);
    bad.provider_trade_no = std::string(65, 't');
    EXPECT_THROW(wallet().Settle(bad), std::invalid_argument);
}

TEST_F(WalletTest, ExpiredOrderIsExpiredOnceAndStillHonouredWhenPaid) {
    const int64_t user = NewUser("expiry");
    const Order soon = NewRechargeOrder(user, {100, 10, 1000}, std::chrono::seconds(60));
    const Order later = NewRechargeOrder(user, {10, 0, 100}, std::chrono::seconds(3600));
    const Order paid = NewRechargeOrder(user, {10, 0, 100}, std::chrono::seconds(60));
    const Order member = NewMembershipOrder(user, "monthly");  // 30 minutes
    ASSERT_EQ(wallet().Settle(Notice(paid, "t-paid-first")), SettleOutcome::kSettled);

    EXPECT_EQ(wallet().ExpireOrders(clock().Now() + std::chrono::seconds(60), 100), 0);  // not <
    EXPECT_EQ(wallet().ExpireOrders(clock().Now() + std::chrono::minutes(31), 100), 2);
    EXPECT_EQ(Status(soon), "EXPIRED");
    EXPECT_EQ(Status(member), "EXPIRED");
    EXPECT_EQ(Status(later), "PENDING");
    EXPECT_EQ(Status(paid), "PAID");
    EXPECT_EQ(wallet().ExpireOrders(clock().Now() + std::chrono::minutes(31), 100), 0);

    // The provider took the money before we gave up on the order: it is honoured.
    clock().Advance(std::chrono::hours(2));
    EXPECT_EQ(wallet().Settle(Notice(soon, "t-late")), SettleOutcome::kSettled);
    EXPECT_EQ(Status(soon), "PAID");
    EXPECT_EQ(Credits(user), 120);
}

TEST_F(WalletTest, ExpiryRespectsTheBatchAndIsSafeFromManyThreads) {
    const int64_t user = NewUser("expiry_batch");
    std::vector<Order> orders;
    for (int i = 0; i < 30; ++i) orders.push_back(NewRechargeOrder(user, {10, 0, 100}));
    const TimePoint late = clock().Now() + std::chrono::hours(1);
    std::atomic<int64_t> expired{0};
    OnThreads(8, [&](int) {
        int64_t n;
        while ((n = wallet().ExpireOrders(late, 4)) > 0) expired += n;
    });
    EXPECT_EQ(expired.load(), 30);
    for (const Order& order : orders) EXPECT_EQ(Status(order), "EXPIRED");
}

TEST_F(WalletTest, ReconcilerIsAskedBeforeExpiring) {
    const int64_t user = NewUser("reconcile");
    const Order paid_at_provider = NewRechargeOrder(user, {100, 10, 1000}, std::chrono::seconds(1));
    const Order unpaid = NewRechargeOrder(user, {10, 0, 100}, std::chrono::seconds(1));
    std::vector<std::string> asked;
    const auto reconcile = [&](const lib::billing::OverdueOrder& overdue) {
        asked.push_back(overdue.order_no);
        EXPECT_EQ(overdue.payment_method, lib::billing::PaymentMethod::kAlipay);
        if (overdue.order_no != paid_at_provider.order_no) return false;
        EXPECT_EQ(overdue.amount_fen, 1000);
        // What live reconciliation (NotifyProcessor::Reconcile) does when the provider says "paid".
        return wallet().Settle(Notice(paid_at_provider, "t-reconciled")) == SettleOutcome::kSettled;
    };
    EXPECT_EQ(wallet().ExpireOrders(clock().Now() + std::chrono::minutes(5), 100, reconcile), 1);
    EXPECT_THAT(asked, ::testing::UnorderedElementsAre(paid_at_provider.order_no, unpaid.order_no));
    EXPECT_EQ(Status(paid_at_provider), "PAID");
    EXPECT_EQ(Status(unpaid), "EXPIRED");
    EXPECT_EQ(Credits(user), 110);
}

// An order is claimed before its provider is asked: a second expiry run meanwhile (another
// worker, another host) skips it instead of asking again, and sees it again once released.
TEST_F(WalletTest, ReconciliationClaimsAnOrderBeforeAskingItsProvider) {
    const int64_t user = NewUser("claim");
    const Order order = NewRechargeOrder(user, {10, 0, 100}, std::chrono::seconds(1));
    const auto later = clock().Now() + std::chrono::minutes(5);
    int asked = 0;
    int asked_inside = 0;
    const auto inner = [&](const lib::billing::OverdueOrder&) {
        ++asked_inside;
        return false;
    };
    const auto outer = [&](const lib::billing::OverdueOrder&) {
        ++asked;
        // While this run waits on the provider, a concurrent run finds nothing to ask about.
        EXPECT_EQ(wallet().ExpireOrders(later, 100, inner), 0);
        return true;  // the provider could not be asked: stays PENDING
    };
    EXPECT_EQ(wallet().ExpireOrders(later, 100, outer), 0);
    EXPECT_EQ(asked, 1);
    EXPECT_EQ(asked_inside, 0);
    EXPECT_EQ(Status(order), "PENDING");
    // Released once the answer was in: the next run asks again (and expires it).
    EXPECT_EQ(wallet().ExpireOrders(later, 100, inner), 1);
    EXPECT_EQ(asked_inside, 1);
    EXPECT_EQ(Status(order), "EXPIRED");
}

// A run stops asking providers once its time is up; the orders left wait for the next run.
TEST_F(WalletTest, ReconciliationStopsAtItsTimeBudget) {
    const int64_t user = NewUser("budget");
    const Order first = NewRechargeOrder(user, {10, 0, 100}, std::chrono::seconds(1));
    const Order second = NewRechargeOrder(user, {100, 10, 1000}, std::chrono::seconds(1));
    const auto later = clock().Now() + std::chrono::minutes(5);
    int asked = 0;
    const auto slow = [&](const lib::billing::OverdueOrder&) {
        ++asked;
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        return false;
    };
    const auto budget = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    EXPECT_EQ(wallet().ExpireOrders(later, 100, slow, budget), 1);
    EXPECT_EQ(asked, 1);
    EXPECT_EQ(wallet().ExpireOrders(later, 100, slow), 1);
    EXPECT_EQ(asked, 2);
    EXPECT_EQ(Status(first), "EXPIRED");
    EXPECT_EQ(Status(second), "EXPIRED");
}

TEST_F(WalletTest, ConcurrentSettlementsOfOneOrderCreditOnce) {
    const int64_t user = NewUser("settle_race");
    std::vector<Order> orders;
    for (int i = 0; i < 3; ++i) orders.push_back(NewRechargeOrder(user, {1000, 300, 10000}));
    std::atomic<int> settled{0};
    std::atomic<int> duplicates{0};
    OnThreads(18, [&](int i) {
        const Order& order = orders[i % orders.size()];
        // Half replay the same trade, half claim another trade for the same order.
        const SettleOutcome outcome =
            wallet().Settle(Notice(order, "race-" + order.order_no + (i % 2 ? "-b" : "")));
        (outcome == SettleOutcome::kSettled ? settled : duplicates)++;
        EXPECT_TRUE(outcome == SettleOutcome::kSettled ||
                    outcome == SettleOutcome::kAlreadySettled);
    });
    EXPECT_EQ(settled.load(), 3);
    EXPECT_EQ(duplicates.load(), 15);
    EXPECT_EQ(Credits(user), 3 * 1300);
}

TEST_F(WalletTest, MembershipBoughtOnJanuary31EndsFebruary28) {
    const int64_t user = NewUser("member_jan31");
    clock().Set(At("2026-01-31 10:00:00"));
    const Order monthly = NewMembershipOrder(user, "monthly");
    EXPECT_EQ(monthly.amount_fen, 990);
    EXPECT_EQ(monthly.months, 1);
    ASSERT_EQ(wallet().Settle(Notice(monthly, "m-1")), SettleOutcome::kSettled);
    auto balance = wallet().GetBalance(user);
    ASSERT_TRUE(balance);
    EXPECT_EQ(lib::base::FormatSqlDateTimeSeconds(*balance->member_expired_at),
              "2026-02-28 10:00:00");
    EXPECT_EQ(balance->credits, 0);  // a membership is not credits
    EXPECT_EQ(
        Scalar("SELECT CONCAT(member_from, ' / ', member_until) FROM inkstone.membership_orders "
               "WHERE order_no = '" +
               monthly.order_no + "'"),
        "2026-01-31 10:00:00.000000 / 2026-02-28 10:00:00.000000");

    // Bought again while active: extended from the end, not from now.
    clock().Set(At("2026-02-10 00:00:00"));
    const Order quarterly = NewMembershipOrder(user, "quarterly");
    ASSERT_EQ(wallet().Settle(Notice(quarterly, "m-2")), SettleOutcome::kSettled);
    EXPECT_EQ(lib::base::FormatSqlDateTimeSeconds(*wallet().GetBalance(user)->member_expired_at),
              "2026-05-28 10:00:00");
    EXPECT_EQ(wallet().Settle(Notice(quarterly, "m-2")), SettleOutcome::kAlreadySettled);
    EXPECT_EQ(lib::base::FormatSqlDateTimeSeconds(*wallet().GetBalance(user)->member_expired_at),
              "2026-05-28 10:00:00");

    // Lapsed: starts from the moment of payment again.
    clock().Set(At("2026-07-01 12:30:00"));
    const Order again = NewMembershipOrder(user, "monthly");
    ASSERT_EQ(wallet().Settle(Notice(again, "m-3")), SettleOutcome::kSettled);
    EXPECT_EQ(lib::base::FormatSqlDateTimeSeconds(*wallet().GetBalance(user)->member_expired_at),
              "2026-08-01 12:30:00");
}

TEST_F(WalletTest, YearlyPlanFromLeapDayEndsOnFebruary28) {
    const int64_t user = NewUser("member_leap");
    clock().Set(At("2028-02-29 23:00:00"));
    const Order yearly = NewMembershipOrder(user, "yearly");
    EXPECT_EQ(yearly.amount_fen, 8800);
    ASSERT_EQ(wallet().Settle(Notice(yearly, "y-1")), SettleOutcome::kSettled);
    EXPECT_EQ(lib::base::FormatSqlDateTimeSeconds(*wallet().GetBalance(user)->member_expired_at),
              "2029-02-28 23:00:00");
}

TEST_F(WalletTest, ConcurrentMembershipPaymentsAddUp) {
    const int64_t user = NewUser("member_race");
    clock().Set(At("2026-03-31 00:00:00"));
    std::vector<Order> orders;
    for (int i = 0; i < 6; ++i) orders.push_back(NewMembershipOrder(user, "monthly"));
    OnThreads(12, [&](int i) {
        const Order& order = orders[i % orders.size()];
        wallet().Settle(Notice(order, "mr-" + order.order_no));
    });
    // Six months from Mar 31, one month at a time: Apr 30, May 30, Jun 30, Jul 30, Aug 30, Sep 30.
    EXPECT_EQ(lib::base::FormatSqlDateTimeSeconds(*wallet().GetBalance(user)->member_expired_at),
              "2026-09-30 00:00:00");
}

TEST_F(WalletTest, TransactionsAreListedNewestFirstAndFiltered) {
    const int64_t user = NewUser("ledger_list");
    Fund(user, 100);  // RECHARGE
    const auto c1 = wallet().Charge(user, 10, "one");
    wallet().Charge(user, 20, "two");
    wallet().Refund(c1.charge_id, "back");
    const auto all = wallet().ListTransactions(user, std::nullopt, 10, 0);
    EXPECT_EQ(all.total, 4);
    ASSERT_EQ(all.items.size(), 4u);
    EXPECT_EQ(all.items[0].type, lib::billing::LedgerType::kRefund);
    EXPECT_EQ(all.items[0].balance_after, 80);
    EXPECT_EQ(all.items[3].type, lib::billing::LedgerType::kRecharge);
    const auto consumes = wallet().ListTransactions(user, lib::billing::LedgerType::kConsume, 1, 1);
    EXPECT_EQ(consumes.total, 2);
    ASSERT_EQ(consumes.items.size(), 1u);
    EXPECT_EQ(consumes.items[0].description, "one");
    EXPECT_EQ(consumes.items[0].amount, -10);
}

TEST_F(WalletTest, InvariantCheckerCatchesTampering) {
    const int64_t user = NewUser("tamper");
    const Order order = NewRechargeOrder(user, {100, 10, 1000});
    ASSERT_EQ(wallet().Settle(Notice(order, "t-tamper")), SettleOutcome::kSettled);
    const auto charge = wallet().Charge(user, 7, "to tamper with");
    const std::string u = std::to_string(user);
    const std::string c = std::to_string(charge.charge_id);
    struct Tamper {
        const char* what;
        std::string break_sql;
        std::string restore_sql;
    };
    const std::vector<Tamper> tampers = {
        {"credits off by one", "UPDATE inkstone.users SET credits = credits + 1 WHERE id = " + u,
         "UPDATE inkstone.users SET credits = credits - 1 WHERE id = " + u},
        {"balance_after off",
         "UPDATE inkstone.credit_transactions SET balance_after = 1 WHERE id = " + c,
         "UPDATE inkstone.credit_transactions SET balance_after = 103 WHERE id = " + c},
        {"paid order without its bonus",
         "UPDATE inkstone.credit_transactions SET type = 'ADMIN_ADJUST', related_order_no = NULL "
         "WHERE type = 'BONUS' AND related_order_no = '" +
             order.order_no + "'",
         "UPDATE inkstone.credit_transactions SET type = 'BONUS', related_order_no = '" +
             order.order_no + "' WHERE type = 'ADMIN_ADJUST' AND user_id = " + u},
        {"credited order not paid",
         "UPDATE inkstone.recharge_orders SET status = 'EXPIRED', paid_at = NULL, "
         "provider_trade_no = NULL WHERE order_no = '" +
             order.order_no + "'",
         "UPDATE inkstone.recharge_orders SET status = 'PAID', paid_at = '2026-11-26 08:01:00', "
         "provider_trade_no = 't-tamper' WHERE order_no = '" +
             order.order_no + "'"},
    };
    for (const Tamper& tamper : tampers) {
        sql().Exec(tamper.break_sql);
        EXPECT_THAT(CheckLedger(sql()).violations, ::testing::Not(::testing::IsEmpty()))
            << tamper.what;
        sql().Exec(tamper.restore_sql);
        EXPECT_THAT(CheckLedger(sql()).violations, ::testing::IsEmpty()) << tamper.what;
    }
}

}  // namespace
}  // namespace inkstone::testing

namespace inkstone::testing {
namespace {

using lib::billing::CreatedOrder;
using lib::billing::IdempotentRequest;
using lib::billing::OrderService;
using lib::billing::PaymentMethod;
using lib::billing::RechargeRequest;

// billing::OrderService at the library level (wallet_api_test covers it over HTTP): one order
// per Idempotency-Key, replays answer the stored bytes without asking the provider, and a
// provider failure leaves nothing behind.
class OrderServiceTest : public WalletTest {
  protected:
    static std::string Render(const Order& order, TimePoint) {
        return "{\"order_no\":\"" + order.order_no + "\"}";
    }

    int64_t Orders(int64_t user) {
        return IdOf("SELECT COUNT(*) FROM inkstone.recharge_orders WHERE user_id = " +
                    std::to_string(user));
    }
};

TEST_F(OrderServiceTest, OneOrderPerKeyAndReplaysNeverReachTheProvider) {
    const int64_t user = NewUser("order-service");
    int registered = 0;
    const OrderService orders(pool(), clock(), std::chrono::minutes(30),
                              [&](Order& order, TimePoint) {
                                  ++registered;
                                  order.code_url = "weixin://wxpay/bizpayurl?pr=test";
                              });
    RechargeRequest request;
    request.price_id = 2;
    request.method = PaymentMethod::kWechat;
    const IdempotentRequest key{"k-1",
                                lib::billing::IdempotencyFingerprint("test", Json::Value(1))};

    const CreatedOrder first = orders.CreateRecharge(user, request, key, Render);
    EXPECT_FALSE(first.replayed);
    EXPECT_EQ(first.response.status, 201);
    EXPECT_EQ(registered, 1);
    const CreatedOrder again = orders.CreateRecharge(user, request, key, Render);
    EXPECT_TRUE(again.replayed);
    EXPECT_EQ(again.response.status, 201);
    EXPECT_EQ(again.response.body, first.response.body);
    EXPECT_EQ(registered, 1);
    EXPECT_EQ(Orders(user), 1);
    EXPECT_EQ(Scalar("SELECT code_url FROM inkstone.recharge_orders WHERE user_id = " +
                     std::to_string(user)),
              "weixin://wxpay/bizpayurl?pr=test");

    const IdempotentRequest other{"k-1",
                                  lib::billing::IdempotencyFingerprint("test", Json::Value(2))};
    try {
        orders.CreateRecharge(user, request, other, Render);
        ADD_FAILURE() << "a reused key with another request must be a 409";
    } catch (const ApiError& e) {
        EXPECT_EQ(e.code, ErrorCode::kConflict);
    }
    RechargeRequest unknown = request;
    unknown.price_id = 99;
    EXPECT_THROW(orders.CreateRecharge(user, unknown, std::nullopt, Render), ApiError);
    EXPECT_EQ(Orders(user), 1);
    EXPECT_EQ(registered, 1);
}

TEST_F(OrderServiceTest, AProviderFailureStoresNothingAndLeavesTheKeyUnused) {
    const int64_t user = NewUser("order-service-upstream");
    bool fail = true;
    const OrderService orders(pool(), clock(), std::chrono::minutes(30), [&](Order&, TimePoint) {
        if (fail) throw ApiError(ErrorCode::kUpstreamError, "provider down");
    });
    RechargeRequest request;
    request.custom = lib::billing::CustomRecharge(500);
    request.method = PaymentMethod::kAlipay;
    const IdempotentRequest key{"k-2",
                                lib::billing::IdempotencyFingerprint("test", Json::Value(3))};
    EXPECT_THROW(orders.CreateRecharge(user, request, key, Render), ApiError);
    EXPECT_EQ(Orders(user), 0);
    fail = false;
    const CreatedOrder created = orders.CreateRecharge(user, request, key, Render);
    EXPECT_FALSE(created.replayed);
    EXPECT_EQ(Orders(user), 1);
    EXPECT_EQ(Scalar("SELECT CONCAT(credits, ' ', bonus_credits, ' ', amount_fen, ' ', status) "
                     "FROM inkstone.recharge_orders WHERE user_id = " +
                     std::to_string(user)),
              "50 0 500 PENDING");
}

// Bounded work per user: a user with max_pending payable unpaid orders gets 429 until one is
// paid or expires, before the provider is asked.
TEST_F(OrderServiceTest, PendingOrdersAreCappedPerUser) {
    const int64_t user = NewUser("order-cap");
    int registered = 0;
    const OrderService orders(
        pool(), clock(), std::chrono::minutes(30), [&](Order&, TimePoint) { ++registered; }, 3);
    const auto custom = [](int64_t yuan) {
        RechargeRequest request;
        request.custom = lib::billing::CustomRecharge(yuan * 100);
        request.method = PaymentMethod::kAlipay;
        return request;
    };
    for (int64_t yuan : {1, 2, 2}) {
        EXPECT_EQ(orders.CreateRecharge(user, custom(yuan), std::nullopt, Render).response.status,
                  201);
    }
    EXPECT_EQ(registered, 3);
    try {
        orders.CreateRecharge(user, custom(4), std::nullopt, Render);
        ADD_FAILURE() << "a fourth pending order must be refused";
    } catch (const ApiError& e) {
        EXPECT_EQ(e.code, ErrorCode::kRateLimited);
        EXPECT_GT(e.retry_after_s, 0);
        EXPECT_LE(e.retry_after_s, 30 * 60);
    }
    EXPECT_EQ(registered, 3);  // the provider never heard of it
    EXPECT_EQ(Orders(user), 3);
    // Another user is not affected.
    const int64_t other = NewUser("order-cap-other");
    EXPECT_EQ(orders.CreateRecharge(other, custom(4), std::nullopt, Render).response.status, 201);
    // Orders no longer payable stop counting.
    clock().Advance(std::chrono::minutes(31));
    EXPECT_EQ(orders.CreateRecharge(user, custom(4), std::nullopt, Render).response.status, 201);
    EXPECT_EQ(Orders(user), 4);
}

}  // namespace
}  // namespace inkstone::testing
