// Credits, orders, memberships and mock payment over real HTTP (README, "Credits, orders and
// memberships"): every endpoint and validation error, BOLA, replayed payments, expiry,
// Idempotency-Key, and mock mode switched off. Every test ends with the ledger invariants.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "lib/base/clock.h"
#include "tests/harness/api_user.h"
#include "tests/harness/ledger_invariants.h"
#include "tests/harness/payment_fakes.h"
#include "tests/harness/process.h"
#include "tests/harness/shared_stack.h"
#include "tests/unit/payment_test_keys.h"

namespace inkstone::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kOrderTtlS = 600;

Stack& TheStack() {
    StackOptions options;
    options.workers = 2;
    options.threads = 8;
    options.config["testing.hooks"] = "true";
    options.config["payment.order_ttl_s"] = std::to_string(kOrderTtlS);
    return SharedStack(options);
}

HttpClient Client() { return TheStack().client(); }

std::string UniqueName(const std::string& prefix) {
    static std::atomic<int> counter{0};
    return prefix + "_" + std::to_string(counter++);
}

lib::base::TimePoint ParseRfc3339(const std::string& text) {
    // `2026-11-26T08:00:00Z` → the SQL layout ParseSqlDateTime reads.
    std::string sql = text.substr(0, 19);
    sql[10] = ' ';
    return *lib::base::ParseSqlDateTime(sql);
}

std::string Sql(const std::string& query) {
    const auto rows = TheStack().db().Query(query);
    return rows.empty() ? "" : rows[0][0];
}

void ExpectError(const HttpResponse& r, long status, const std::string& code,
                 const std::string& field = "") {
    EXPECT_EQ(r.status, status) << r.body;
    const Json::Value body = r.JsonBody();
    EXPECT_EQ(body["code"], code) << r.body;
    EXPECT_TRUE(body["detail"].isString()) << r.body;
    if (!field.empty()) {
        EXPECT_EQ(body["field"], field) << r.body;
    }
}

class WalletApi : public ::testing::Test {
  protected:
    void TearDown() override {
        const LedgerReport report = CheckLedger(TheStack().db());
        EXPECT_THAT(report.violations, ::testing::IsEmpty()) << report.Summary();
    }
};

TEST_F(WalletApi, PriceListsArePublicAndSeeded) {
    HttpResponse credit = Client().Get("/api/v1/credit/prices");
    ASSERT_EQ(credit.status, 200) << credit.body;
    const Json::Value items = credit.JsonBody()["items"];
    ASSERT_EQ(items.size(), 4u);
    const int64_t expected[][3] = {
        {10, 0, 100}, {100, 10, 1000}, {500, 100, 5000}, {1000, 300, 10000}};
    for (Json::ArrayIndex i = 0; i < 4; ++i) {
        EXPECT_EQ(items[i]["id"].asInt64(), i + 1);
        EXPECT_EQ(items[i]["credits"].asInt64(), expected[i][0]);
        EXPECT_EQ(items[i]["bonus_credits"].asInt64(), expected[i][1]);
        EXPECT_EQ(items[i]["price_fen"].asInt64(), expected[i][2]);
        EXPECT_TRUE(items[i]["price_fen"].isIntegral());
    }

    HttpResponse plans = Client().Get("/api/v1/credit/membership/prices");
    ASSERT_EQ(plans.status, 200) << plans.body;
    const Json::Value p = plans.JsonBody()["items"];
    ASSERT_EQ(p.size(), 3u);
    EXPECT_EQ(p[0]["plan"], "monthly");
    EXPECT_EQ(p[0]["months"], 1);
    EXPECT_EQ(p[0]["price_fen"], 990);
    EXPECT_EQ(p[1]["plan"], "quarterly");
    EXPECT_EQ(p[1]["months"], 3);
    EXPECT_EQ(p[1]["price_fen"], 2500);
    EXPECT_EQ(p[2]["plan"], "yearly");
    EXPECT_EQ(p[2]["months"], 12);
    EXPECT_EQ(p[2]["price_fen"], 8800);
    for (const Json::Value& plan : p) {
        for (const char* key : {"id", "plan", "name", "months", "price_fen"}) {
            EXPECT_TRUE(plan.isMember(key)) << key;
        }
    }
}

TEST_F(WalletApi, EveryUserEndpointNeedsAToken) {
    HttpClient c = Client();
    const std::string some_order = "R20261126" + std::string(20, 'A');
    for (const char* path :
         {"/api/v1/credit/balance", "/api/v1/credit/transactions", "/api/v1/credit/recharge/orders",
          "/api/v1/credit/membership/orders"}) {
        ExpectError(c.Get(path), 401, "UNAUTHORIZED");
    }
    ExpectError(c.Get("/api/v1/credit/recharge/orders/" + some_order), 401, "UNAUTHORIZED");
    for (const char* path :
         {"/api/v1/credit/recharge", "/api/v1/credit/membership", "/api/v1/payment/mock/pay"}) {
        ExpectError(c.Post(path, JsonObject({{"price_id", 1}, {"payment_method", "alipay"}})), 401,
                    "UNAUTHORIZED");
    }
}

// The README walkthrough: buy the 100-credit package, pay it, see 110 and two ledger rows, buy
// a monthly membership, be a member.
TEST_F(WalletApi, RechargePayAndBecomeAMember) {
    HttpClient c = Client();
    const ApiUser user = RegisterUser(c, UniqueName("walkthrough"));

    HttpResponse r = c.Get("/api/v1/credit/balance", user.Auth());
    ASSERT_EQ(r.status, 200) << r.body;
    Json::Value balance = r.JsonBody();
    EXPECT_EQ(balance["credits"], 0);
    EXPECT_EQ(balance["is_member"], false);
    EXPECT_TRUE(balance["member_expired_at"].isNull());
    EXPECT_EQ(balance["cost_per_generation"], 10);

    r = c.Post("/api/v1/credit/recharge",
               JsonObject({{"price_id", 2}, {"payment_method", "alipay"}}), user.Auth());
    ASSERT_EQ(r.status, 201) << r.body;
    const Json::Value order = r.JsonBody();
    const std::string order_no = order["order_no"].asString();
    EXPECT_EQ(order_no.size(), 29u);
    EXPECT_EQ(order_no[0], 'R');
    EXPECT_EQ(order["price_id"], 2);
    EXPECT_EQ(order["credits"], 100);
    EXPECT_EQ(order["bonus_credits"], 10);
    EXPECT_EQ(order["amount_fen"], 1000);
    EXPECT_EQ(order["payment_method"], "alipay");
    EXPECT_EQ(order["status"], "PENDING");
    EXPECT_TRUE(order["paid_at"].isNull());
    EXPECT_EQ(
        ParseRfc3339(order["expires_at"].asString()) - ParseRfc3339(order["created_at"].asString()),
        std::chrono::seconds(kOrderTtlS));
    EXPECT_LE(std::chrono::abs(ParseRfc3339(order["created_at"].asString()) -
                               std::chrono::system_clock::now()),
              std::chrono::minutes(1));
    const Json::Value payment = order["payment"];
    EXPECT_EQ(payment["provider"], "mock");
    EXPECT_EQ(payment["mode"], "mock");
    EXPECT_EQ(payment["pay_url"], "/api/v1/payment/mock/pay");
    EXPECT_EQ(payment["order_no"], order_no);
    EXPECT_EQ(payment["amount"], "10.00");

    r = c.Get("/api/v1/credit/recharge/orders/" + order_no, user.Auth());
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.JsonBody(), order);

    r = c.Post("/api/v1/payment/mock/pay", JsonObject({{"order_no", order_no}}), user.Auth());
    ASSERT_EQ(r.status, 200) << r.body;
    Json::Value paid = r.JsonBody();
    EXPECT_EQ(paid["status"], "PAID");
    EXPECT_EQ(paid["settled_now"], true);
    EXPECT_TRUE(paid["paid_at"].isString());
    EXPECT_TRUE(paid["payment"].isNull());

    balance = c.Get("/api/v1/credit/balance", user.Auth()).JsonBody();
    EXPECT_EQ(balance["credits"], 110);
    r = c.Get("/api/v1/credit/transactions", user.Auth());
    ASSERT_EQ(r.status, 200) << r.body;
    const Json::Value ledger = r.JsonBody();
    EXPECT_EQ(ledger["total"], 2);
    EXPECT_EQ(ledger["page"], 1);
    EXPECT_EQ(ledger["page_size"], 20);
    ASSERT_EQ(ledger["items"].size(), 2u);
    const Json::Value& bonus = ledger["items"][0];  // newest first
    const Json::Value& recharge = ledger["items"][1];
    EXPECT_EQ(bonus["type"], "BONUS");
    EXPECT_EQ(bonus["amount"], 10);
    EXPECT_EQ(bonus["balance_after"], 110);
    EXPECT_EQ(recharge["type"], "RECHARGE");
    EXPECT_EQ(recharge["amount"], 100);
    EXPECT_EQ(recharge["balance_after"], 100);
    for (const Json::Value& row : ledger["items"]) {
        EXPECT_EQ(row["related_order_id"], order_no);
        for (const char* key : {"id", "type", "amount", "balance_after", "description",
                                "related_order_id", "created_at"}) {
            EXPECT_TRUE(row.isMember(key)) << key;
        }
        EXPECT_EQ(row["created_at"].asString().back(), 'Z');
    }
    r = c.Get("/api/v1/credit/transactions?type=BONUS", user.Auth());
    EXPECT_EQ(r.JsonBody()["total"], 1);
    EXPECT_EQ(r.JsonBody()["items"][0]["type"], "BONUS");
    EXPECT_EQ(c.Get("/api/v1/credit/transactions?type=", user.Auth()).JsonBody()["total"], 2);

    r = c.Post("/api/v1/credit/membership",
               JsonObject({{"plan", "monthly"}, {"payment_method", "wechat"}}), user.Auth());
    ASSERT_EQ(r.status, 201) << r.body;
    const Json::Value membership = r.JsonBody();
    EXPECT_EQ(membership["order_no"].asString()[0], 'M');
    EXPECT_EQ(membership["plan"], "monthly");
    EXPECT_EQ(membership["months"], 1);
    EXPECT_EQ(membership["amount_fen"], 990);
    EXPECT_EQ(membership["payment_method"], "wechat");
    EXPECT_EQ(membership["status"], "PENDING");
    EXPECT_EQ(membership["payment"]["amount"], "9.90");
    EXPECT_TRUE(membership["member_until"].isNull());
    const auto before_pay = std::chrono::system_clock::now();
    r = c.Post("/api/v1/payment/mock/pay", JsonObject({{"order_no", membership["order_no"]}}),
               user.Auth());
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.JsonBody()["status"], "PAID");

    balance = c.Get("/api/v1/credit/balance", user.Auth()).JsonBody();
    EXPECT_EQ(balance["is_member"], true);
    EXPECT_EQ(balance["credits"], 110);  // credits untouched
    const lib::base::TimePoint until = ParseRfc3339(balance["member_expired_at"].asString());
    EXPECT_EQ(until, std::chrono::floor<std::chrono::seconds>(
                         ParseRfc3339(r.JsonBody()["member_until"].asString())));
    // One calendar month after the payment: 28 to 31 days.
    EXPECT_GE(until - before_pay, std::chrono::hours(24 * 28 - 1));
    EXPECT_LE(until - before_pay, std::chrono::hours(24 * 31 + 1));
    const Json::Value me = c.Get("/api/v1/users/me", user.Auth()).JsonBody();
    EXPECT_EQ(me["is_member"], true);
    EXPECT_EQ(me["member_expired_at"], balance["member_expired_at"]);
    EXPECT_EQ(me["credits"], 110);

    r = c.Get("/api/v1/credit/membership/orders", user.Auth());
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.JsonBody()["total"], 1);
    EXPECT_EQ(r.JsonBody()["items"][0]["status"], "PAID");
    r = c.Get("/api/v1/credit/membership/orders/" + membership["order_no"].asString(), user.Auth());
    EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(WalletApi, CustomAmountIsTenCreditsPerYuanWithoutBonus) {
    HttpClient c = Client();
    const ApiUser user = RegisterUser(c, UniqueName("custom"));
    HttpResponse r =
        c.Post("/api/v1/credit/recharge",
               JsonObject({{"amount_fen", 12300}, {"payment_method", "wechat"}}), user.Auth());
    ASSERT_EQ(r.status, 201) << r.body;
    const Json::Value order = r.JsonBody();
    EXPECT_EQ(order["credits"], 1230);
    EXPECT_EQ(order["bonus_credits"], 0);
    EXPECT_EQ(order["amount_fen"], 12300);
    EXPECT_TRUE(order["price_id"].isNull());
    EXPECT_EQ(order["payment"]["amount"], "123.00");
    for (const int64_t edge : {100, 5000000}) {
        EXPECT_EQ(
            c.Post("/api/v1/credit/recharge",
                   JsonObject({{"amount_fen", Json::Int64{edge}}, {"payment_method", "alipay"}}),
                   user.Auth())
                .status,
            201)
            << edge;
    }
    RechargeAndPay(c, user, JsonObject({{"amount_fen", 12300}}));
    const Json::Value ledger = c.Get("/api/v1/credit/transactions", user.Auth()).JsonBody();
    EXPECT_EQ(ledger["total"], 1);  // no BONUS row
    EXPECT_EQ(ledger["items"][0]["amount"], 1230);
}

TEST_F(WalletApi, RechargeValidationErrors) {
    HttpClient c = Client();
    const ApiUser user = RegisterUser(c, UniqueName("recharge_422"));
    const std::string before = Sql("SELECT COUNT(*) FROM inkstone.recharge_orders");
    struct Case {
        Json::Value body;
        const char* field;
    };
    const Json::Value alipay = "alipay";
    std::vector<Case> cases = {
        {JsonObject({{"payment_method", alipay}}), "price_id"},
        {JsonObject({{"price_id", 1}, {"amount_fen", 100}, {"payment_method", alipay}}),
         "price_id"},
        {JsonObject({{"price_id", 99}, {"payment_method", alipay}}), "price_id"},
        {JsonObject({{"price_id", 0}, {"payment_method", alipay}}), "price_id"},
        {JsonObject({{"price_id", -1}, {"payment_method", alipay}}), "price_id"},
        {JsonObject({{"price_id", "2"}, {"payment_method", alipay}}), "price_id"},
        {JsonObject({{"price_id", 2.0}, {"payment_method", alipay}}), "price_id"},
        {JsonObject({{"price_id", true}, {"payment_method", alipay}}), "price_id"},
        {JsonObject({{"amount_fen", 99}, {"payment_method", alipay}}), "amount_fen"},
        {JsonObject({{"amount_fen", 150}, {"payment_method", alipay}}), "amount_fen"},
        {JsonObject({{"amount_fen", 0}, {"payment_method", alipay}}), "amount_fen"},
        {JsonObject({{"amount_fen", -100}, {"payment_method", alipay}}), "amount_fen"},
        {JsonObject({{"amount_fen", 5000100}, {"payment_method", alipay}}), "amount_fen"},
        {JsonObject({{"amount_fen", 10.5}, {"payment_method", alipay}}), "amount_fen"},
        {JsonObject({{"amount_fen", "1000"}, {"payment_method", alipay}}), "amount_fen"},
        {JsonObject({{"amount_fen", Json::Value(Json::arrayValue)}, {"payment_method", alipay}}),
         "amount_fen"},
        {JsonObject({{"price_id", 1}}), "payment_method"},
        {JsonObject({{"price_id", 1}, {"payment_method", "paypal"}}), "payment_method"},
        {JsonObject({{"price_id", 1}, {"payment_method", "ALIPAY"}}), "payment_method"},
        {JsonObject({{"price_id", 1}, {"payment_method", 1}}), "payment_method"},
        {JsonObject({{"price_id", 1}, {"payment_method", ""}}), "payment_method"},
    };
    for (const Case& k : cases) {
        ExpectError(c.Post("/api/v1/credit/recharge", k.body, user.Auth()), 422, "VALIDATION_ERROR",
                    k.field);
    }
    // Huge numbers, a body that is not JSON, the wrong media type.
    ExpectError(c.Request("POST", "/api/v1/credit/recharge",
                          R"({"amount_fen": 99999999999999999999999, "payment_method": "alipay"})",
                          user.Auth()),
                422, "VALIDATION_ERROR", "amount_fen");
    ExpectError(c.Request("POST", "/api/v1/credit/recharge", "{", user.Auth()), 400,
                "INVALID_JSON");
    ExpectError(c.Request("POST", "/api/v1/credit/recharge", "[1]", user.Auth()), 400,
                "INVALID_JSON");
    ExpectError(c.Request("POST", "/api/v1/credit/recharge", "price_id=1",
                          user.Auth({{"Content-Type", "application/x-www-form-urlencoded"}})),
                415, "UNSUPPORTED_MEDIA_TYPE");
    // The client never sets the terms: credits in the body are ignored.
    HttpResponse r = c.Post("/api/v1/credit/recharge",
                            JsonObject({{"price_id", 1},
                                        {"payment_method", "alipay"},
                                        {"credits", 1000000},
                                        {"bonus_credits", 5}}),
                            user.Auth());
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(r.JsonBody()["credits"], 10);
    EXPECT_EQ(r.JsonBody()["bonus_credits"], 0);
    EXPECT_EQ(std::stoll(Sql("SELECT COUNT(*) FROM inkstone.recharge_orders")),
              std::stoll(before) + 1);
}

TEST_F(WalletApi, MembershipValidationErrors) {
    HttpClient c = Client();
    const ApiUser user = RegisterUser(c, UniqueName("member_422"));
    struct Case {
        Json::Value body;
        const char* field;
    };
    std::vector<Case> cases = {
        {JsonObject({{"payment_method", "alipay"}}), "plan"},
        {JsonObject({{"plan", "weekly"}, {"payment_method", "alipay"}}), "plan"},
        {JsonObject({{"plan", ""}, {"payment_method", "alipay"}}), "plan"},
        {JsonObject({{"plan", 1}, {"payment_method", "alipay"}}), "plan"},
        {JsonObject({{"price_id", 42}, {"payment_method", "alipay"}}), "price_id"},
        {JsonObject({{"price_id", "1"}, {"payment_method", "alipay"}}), "price_id"},
        {JsonObject({{"plan", "monthly"}, {"price_id", 3}, {"payment_method", "alipay"}}), "plan"},
        {JsonObject({{"plan", "yearly"}}), "payment_method"},
        {JsonObject({{"plan", "yearly"}, {"payment_method", "cash"}}), "payment_method"},
    };
    for (const Case& k : cases) {
        ExpectError(c.Post("/api/v1/credit/membership", k.body, user.Auth()), 422,
                    "VALIDATION_ERROR", k.field);
    }
    for (const Json::Value& good :
         {JsonObject({{"plan", "quarterly"}, {"payment_method", "alipay"}}),
          JsonObject({{"price_id", 3}, {"payment_method", "wechat"}}),
          JsonObject({{"plan", "yearly"}, {"price_id", 3}, {"payment_method", "wechat"}})}) {
        HttpResponse r = c.Post("/api/v1/credit/membership", good, user.Auth());
        EXPECT_EQ(r.status, 201) << r.body;
    }
    const Json::Value list = c.Get("/api/v1/credit/membership/orders", user.Auth()).JsonBody();
    EXPECT_EQ(list["total"], 3);
    EXPECT_EQ(list["items"][0]["plan"], "yearly");  // newest first
    EXPECT_EQ(list["items"][2]["plan"], "quarterly");
}

TEST_F(WalletApi, ListsPageNewestFirstAndRejectBadPaging) {
    HttpClient c = Client();
    const ApiUser user = RegisterUser(c, UniqueName("paging"));
    RechargeAndPay(c, user, JsonObject({{"price_id", 4}}));  // 1300 credits, 2 rows
    std::vector<int64_t> charge_ids;
    for (int i = 1; i <= 23; ++i) {
        HttpResponse r =
            c.Post("/api/v1/_test/credit/charge",
                   JsonObject({{"credits", i}, {"description", "charge " + std::to_string(i)}}),
                   user.Auth());
        ASSERT_EQ(r.status, 201) << r.body;
        charge_ids.push_back(r.JsonBody()["charge_id"].asInt64());
    }
    // 25 rows: pages of 10 are 10, 10, 5, then empty; ids strictly decreasing across pages.
    std::vector<int64_t> seen;
    for (int page = 1; page <= 4; ++page) {
        HttpResponse r = c.Get(
            "/api/v1/credit/transactions?page_size=10&page=" + std::to_string(page), user.Auth());
        ASSERT_EQ(r.status, 200) << r.body;
        const Json::Value body = r.JsonBody();
        EXPECT_EQ(body["total"], 25);
        EXPECT_EQ(body["page"], page);
        EXPECT_EQ(body["page_size"], 10);
        EXPECT_EQ(body["items"].size(), page < 3 ? 10u : page == 3 ? 5u : 0u);
        for (const Json::Value& item : body["items"]) seen.push_back(item["id"].asInt64());
    }
    ASSERT_EQ(seen.size(), 25u);
    for (size_t i = 1; i < seen.size(); ++i) EXPECT_GT(seen[i - 1], seen[i]);
    EXPECT_EQ(seen.front(), charge_ids.back());
    const Json::Value consumes =
        c.Get("/api/v1/credit/transactions?type=CONSUME&page_size=100", user.Auth()).JsonBody();
    EXPECT_EQ(consumes["total"], 23);
    EXPECT_EQ(consumes["items"][0]["amount"], -23);
    EXPECT_EQ(consumes["items"][0]["balance_after"], 1300 - 23 * 24 / 2);

    for (const char* query :
         {"?page_size=101", "?page_size=0", "?page_size=abc", "?page_size=-5"}) {
        ExpectError(c.Get(std::string("/api/v1/credit/transactions") + query, user.Auth()), 422,
                    "VALIDATION_ERROR", "page_size");
        ExpectError(c.Get(std::string("/api/v1/credit/recharge/orders") + query, user.Auth()), 422,
                    "VALIDATION_ERROR", "page_size");
        ExpectError(c.Get(std::string("/api/v1/credit/membership/orders") + query, user.Auth()),
                    422, "VALIDATION_ERROR", "page_size");
    }
    for (const char* query : {"?page=0", "?page=x", "?page=1.5"}) {
        ExpectError(c.Get(std::string("/api/v1/credit/transactions") + query, user.Auth()), 422,
                    "VALIDATION_ERROR", "page");
    }
    for (const char* type : {"consume", "FOO", "CONSUME'--", "%27"}) {
        ExpectError(c.Get(std::string("/api/v1/credit/transactions?type=") + type, user.Auth()),
                    422, "VALIDATION_ERROR", "type");
    }

    // Orders page the same way.
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(c.Post("/api/v1/credit/recharge",
                         JsonObject({{"price_id", 1}, {"payment_method", "alipay"}}), user.Auth())
                      .status,
                  201);
    }
    const Json::Value orders =
        c.Get("/api/v1/credit/recharge/orders?page_size=2&page=2", user.Auth()).JsonBody();
    EXPECT_EQ(orders["total"], 4);
    ASSERT_EQ(orders["items"].size(), 2u);
    EXPECT_EQ(orders["items"][1]["status"], "PAID");  // the oldest is the paid one
}

TEST_F(WalletApi, InsufficientCreditsIs402WithRequiredAndBalance) {
    HttpClient c = Client();
    const ApiUser user = RegisterUser(c, UniqueName("poor"));
    RechargeAndPay(c, user, JsonObject({{"price_id", 1}}));  // 10 credits
    HttpResponse r =
        c.Post("/api/v1/_test/credit/charge", JsonObject({{"credits", 11}}), user.Auth());
    ExpectError(r, 402, "INSUFFICIENT_CREDITS");
    EXPECT_EQ(r.JsonBody()["required"], 11);
    EXPECT_EQ(r.JsonBody()["balance"], 10);
    r = c.Post("/api/v1/_test/credit/charge", JsonObject({{"credits", 10}}), user.Auth());
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(r.JsonBody()["balance"], 0);
    const int64_t charge_id = r.JsonBody()["charge_id"].asInt64();
    r = c.Post("/api/v1/_test/credit/refund", JsonObject({{"charge_id", Json::Int64{charge_id}}}),
               user.Auth());
    EXPECT_EQ(r.JsonBody()["refunded"], true);
    r = c.Post("/api/v1/_test/credit/refund", JsonObject({{"charge_id", Json::Int64{charge_id}}}),
               user.Auth());
    EXPECT_EQ(r.JsonBody()["refunded"], false);
    EXPECT_EQ(c.Get("/api/v1/credit/balance", user.Auth()).JsonBody()["credits"], 10);
    ExpectError(
        c.Post("/api/v1/_test/credit/refund", JsonObject({{"charge_id", 987654321}}), user.Auth()),
        404, "NOT_FOUND");
}

// The test hooks check ownership too: nobody refunds another user's charge through them.
TEST_F(WalletApi, TestRefundHookRefusesAnotherUsersCharge) {
    HttpClient c = Client();
    const ApiUser alice = RegisterUser(c, UniqueName("hook_alice"));
    const ApiUser mallory = RegisterUser(c, UniqueName("hook_mallory"));
    RechargeAndPay(c, alice, JsonObject({{"price_id", 1}}));  // 10 credits
    HttpResponse r =
        c.Post("/api/v1/_test/credit/charge", JsonObject({{"credits", 10}}), alice.Auth());
    ASSERT_EQ(r.status, 201) << r.body;
    const int64_t charge_id = r.JsonBody()["charge_id"].asInt64();
    ExpectError(c.Post("/api/v1/_test/credit/refund",
                       JsonObject({{"charge_id", Json::Int64{charge_id}}}), mallory.Auth()),
                404, "NOT_FOUND");
    EXPECT_EQ(c.Get("/api/v1/credit/balance", alice.Auth()).JsonBody()["credits"], 0);
    EXPECT_EQ(c.Get("/api/v1/credit/balance", mallory.Auth()).JsonBody()["credits"], 0);
    r = c.Post("/api/v1/_test/credit/refund", JsonObject({{"charge_id", Json::Int64{charge_id}}}),
               alice.Auth());
    EXPECT_EQ(r.JsonBody()["refunded"], true) << r.body;
}

TEST_F(WalletApi, AnotherUsersOrderIsNotFoundForReadingAndPaying) {
    HttpClient c = Client();
    const ApiUser alice = RegisterUser(c, UniqueName("alice"));
    const ApiUser mallory = RegisterUser(c, UniqueName("mallory"));
    const std::string recharge =
        c.Post("/api/v1/credit/recharge",
               JsonObject({{"price_id", 3}, {"payment_method", "alipay"}}), alice.Auth())
            .JsonBody()["order_no"]
            .asString();
    const std::string membership =
        c.Post("/api/v1/credit/membership",
               JsonObject({{"plan", "yearly"}, {"payment_method", "alipay"}}), alice.Auth())
            .JsonBody()["order_no"]
            .asString();
    ASSERT_FALSE(recharge.empty());
    ASSERT_FALSE(membership.empty());

    ExpectError(c.Get("/api/v1/credit/recharge/orders/" + recharge, mallory.Auth()), 404,
                "NOT_FOUND");
    ExpectError(c.Get("/api/v1/credit/membership/orders/" + membership, mallory.Auth()), 404,
                "NOT_FOUND");
    ExpectError(
        c.Post("/api/v1/payment/mock/pay", JsonObject({{"order_no", recharge}}), mallory.Auth()),
        404, "NOT_FOUND");
    ExpectError(
        c.Post("/api/v1/payment/mock/pay", JsonObject({{"order_no", membership}}), mallory.Auth()),
        404, "NOT_FOUND");
    EXPECT_EQ(c.Get("/api/v1/credit/recharge/orders", mallory.Auth()).JsonBody()["total"], 0);
    EXPECT_EQ(c.Get("/api/v1/credit/membership/orders", mallory.Auth()).JsonBody()["total"], 0);
    // The 404 looks exactly like one for an order that does not exist.
    const std::string missing = "R20261126" + std::string(20, 'Q');
    EXPECT_EQ(
        c.Get("/api/v1/credit/recharge/orders/" + missing, mallory.Auth()).JsonBody()["detail"],
        c.Get("/api/v1/credit/recharge/orders/" + recharge, mallory.Auth()).JsonBody()["detail"]);

    // Nothing was paid; the owner still can.
    EXPECT_EQ(
        c.Get("/api/v1/credit/recharge/orders/" + recharge, alice.Auth()).JsonBody()["status"],
        "PENDING");
    EXPECT_EQ(c.Get("/api/v1/credit/balance", mallory.Auth()).JsonBody()["is_member"], false);
    EXPECT_EQ(c.Get("/api/v1/credit/balance", mallory.Auth()).JsonBody()["credits"], 0);
    ASSERT_EQ(c.Post("/api/v1/payment/mock/pay", JsonObject({{"order_no", recharge}}), alice.Auth())
                  .status,
              200);
    EXPECT_EQ(c.Get("/api/v1/credit/balance", alice.Auth()).JsonBody()["credits"], 600);

    // Wrong kind, malformed and hostile order numbers are 404s too.
    for (const std::string& path : {"/api/v1/credit/recharge/orders/" + membership,
                                    "/api/v1/credit/membership/orders/" + recharge,
                                    std::string("/api/v1/credit/recharge/orders/nope"),
                                    std::string("/api/v1/credit/recharge/orders/%27%20OR%201%3D1"),
                                    "/api/v1/credit/recharge/orders/" + recharge.substr(0, 28)}) {
        ExpectError(c.Get(path, alice.Auth()), 404, "NOT_FOUND");
    }
    for (const Json::Value& bad :
         {Json::Value("nope"), Json::Value("' OR 1=1 --"), Json::Value(missing)}) {
        ExpectError(
            c.Post("/api/v1/payment/mock/pay", JsonObject({{"order_no", bad}}), alice.Auth()), 404,
            "NOT_FOUND");
    }
    ExpectError(c.Post("/api/v1/payment/mock/pay", JsonObject({}), alice.Auth()), 422,
                "VALIDATION_ERROR", "order_no");
    ExpectError(c.Post("/api/v1/payment/mock/pay", JsonObject({{"order_no", 5}}), alice.Auth()),
                422, "VALIDATION_ERROR", "order_no");
}

TEST_F(WalletApi, ReplayedPaymentCreditsOnce) {
    HttpClient c = Client();
    const ApiUser user = RegisterUser(c, UniqueName("replay"));
    const std::string order_no =
        c.Post("/api/v1/credit/recharge",
               JsonObject({{"price_id", 2}, {"payment_method", "alipay"}}), user.Auth())
            .JsonBody()["order_no"]
            .asString();
    // Concurrent first payments: exactly one settles.
    std::atomic<int> settled_now{0};
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i) {
        threads.emplace_back([&] {
            HttpResponse r = c.Post("/api/v1/payment/mock/pay",
                                    JsonObject({{"order_no", order_no}}), user.Auth());
            if (r.status == 200) ok++;
            if (r.status == 200 && r.JsonBody()["settled_now"].asBool()) settled_now++;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok.load(), 8);
    EXPECT_EQ(settled_now.load(), 1);
    // And replays afterwards.
    for (int i = 0; i < 5; ++i) {
        HttpResponse r =
            c.Post("/api/v1/payment/mock/pay", JsonObject({{"order_no", order_no}}), user.Auth());
        ASSERT_EQ(r.status, 200) << r.body;
        EXPECT_EQ(r.JsonBody()["settled_now"], false);
        EXPECT_EQ(r.JsonBody()["status"], "PAID");
    }
    EXPECT_EQ(c.Get("/api/v1/credit/balance", user.Auth()).JsonBody()["credits"], 110);
    EXPECT_EQ(c.Get("/api/v1/credit/transactions", user.Auth()).JsonBody()["total"], 2);
}

TEST_F(WalletApi, UnpaidOrdersExpireAndALatePaymentIsStillHonoured) {
    HttpClient c = Client();
    const ApiUser user = RegisterUser(c, UniqueName("expiry"));
    const auto create = [&](const char* path, const Json::Value& body) {
        HttpResponse r = c.Post(path, body, user.Auth());
        EXPECT_EQ(r.status, 201) << r.body;
        return r.JsonBody()["order_no"].asString();
    };
    const std::string old_recharge = create(
        "/api/v1/credit/recharge", JsonObject({{"price_id", 2}, {"payment_method", "alipay"}}));
    const std::string old_membership =
        create("/api/v1/credit/membership",
               JsonObject({{"plan", "monthly"}, {"payment_method", "alipay"}}));
    const std::string fresh = create("/api/v1/credit/recharge",
                                     JsonObject({{"price_id", 1}, {"payment_method", "alipay"}}));
    // Injected time: these two were created (and expired) an hour ago.
    for (const auto& [table, order_no] :
         {std::pair<std::string, std::string>{"recharge_orders", old_recharge},
          {"membership_orders", old_membership}}) {
        TheStack().db().Exec("UPDATE inkstone." + table +
                             " SET created_at = created_at - INTERVAL 1 HOUR, expires_at = "
                             "expires_at - INTERVAL 1 HOUR WHERE order_no = '" +
                             order_no + "'");
    }
    HttpResponse jobs = c.Post("/api/v1/_test/run-jobs", Json::Value(Json::objectValue));
    ASSERT_EQ(jobs.status, 200) << jobs.body;
    EXPECT_THAT(jobs.body, ::testing::HasSubstr("payment.expire_orders"));

    Json::Value order =
        c.Get("/api/v1/credit/recharge/orders/" + old_recharge, user.Auth()).JsonBody();
    EXPECT_EQ(order["status"], "EXPIRED");
    EXPECT_TRUE(order["payment"].isNull());
    EXPECT_EQ(c.Get("/api/v1/credit/membership/orders/" + old_membership, user.Auth())
                  .JsonBody()["status"],
              "EXPIRED");
    EXPECT_EQ(c.Get("/api/v1/credit/recharge/orders/" + fresh, user.Auth()).JsonBody()["status"],
              "PENDING");
    // Running the job again (any worker, any host) changes nothing more.
    ASSERT_EQ(c.Post("/api/v1/_test/run-jobs", Json::Value(Json::objectValue)).status, 200);
    EXPECT_EQ(c.Get("/api/v1/credit/recharge/orders/" + fresh, user.Auth()).JsonBody()["status"],
              "PENDING");

    // The provider says it was paid after all: honoured, once.
    HttpResponse r =
        c.Post("/api/v1/payment/mock/pay", JsonObject({{"order_no", old_recharge}}), user.Auth());
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.JsonBody()["status"], "PAID");
    EXPECT_EQ(r.JsonBody()["settled_now"], true);
    EXPECT_EQ(c.Get("/api/v1/credit/balance", user.Auth()).JsonBody()["credits"], 110);
}

TEST_F(WalletApi, IdempotencyKeyReplaysConflictsAndScopes) {
    HttpClient c = Client();
    const ApiUser user = RegisterUser(c, UniqueName("idem"));
    const ApiUser other = RegisterUser(c, UniqueName("idem_other"));
    const HttpHeaders key = user.Auth({{"Idempotency-Key", "order-2026-11-26-0001"}});
    const Json::Value body = JsonObject({{"price_id", 2}, {"payment_method", "alipay"}});

    HttpResponse first = c.Post("/api/v1/credit/recharge", body, key);
    ASSERT_EQ(first.status, 201) << first.body;
    EXPECT_EQ(first.Header("idempotent-replayed"), "");
    // Same key, same body (keys in another order, other spacing): the first response.
    HttpResponse again = c.Request("POST", "/api/v1/credit/recharge",
                                   R"({ "payment_method" : "alipay", "price_id" : 2 })", key);
    EXPECT_EQ(again.status, 201) << again.body;
    EXPECT_EQ(again.body, first.body);
    EXPECT_EQ(again.Header("idempotent-replayed"), "true");
    // Even after the order changed: the first response, as it was.
    const std::string order_no = first.JsonBody()["order_no"].asString();
    ASSERT_EQ(c.Post("/api/v1/payment/mock/pay", JsonObject({{"order_no", order_no}}), user.Auth())
                  .status,
              200);
    EXPECT_EQ(c.Post("/api/v1/credit/recharge", body, key).body, first.body);

    // Same key, another body, or another endpoint: 409, nothing created.
    ExpectError(c.Post("/api/v1/credit/recharge",
                       JsonObject({{"price_id", 3}, {"payment_method", "alipay"}}), key),
                409, "CONFLICT");
    ExpectError(c.Post("/api/v1/credit/membership",
                       JsonObject({{"plan", "monthly"}, {"payment_method", "alipay"}}), key),
                409, "CONFLICT");
    EXPECT_EQ(c.Get("/api/v1/credit/recharge/orders", user.Auth()).JsonBody()["total"], 1);
    EXPECT_EQ(c.Get("/api/v1/credit/membership/orders", user.Auth()).JsonBody()["total"], 0);

    // Keys belong to their user.
    HttpResponse theirs = c.Post("/api/v1/credit/recharge", body,
                                 other.Auth({{"Idempotency-Key", "order-2026-11-26-0001"}}));
    ASSERT_EQ(theirs.status, 201);
    EXPECT_NE(theirs.JsonBody()["order_no"], first.JsonBody()["order_no"]);
    EXPECT_EQ(theirs.Header("idempotent-replayed"), "");

    // A key dead for 24 h starts a new life.
    TheStack().db().Exec(
        "UPDATE inkstone.idempotency_keys SET expires_at = '2000-01-01' WHERE "
        "idem_key = 'order-2026-11-26-0001' AND user_id = " +
        std::to_string(user.id));
    HttpResponse reborn = c.Post("/api/v1/credit/recharge", body, key);
    ASSERT_EQ(reborn.status, 201);
    EXPECT_NE(reborn.JsonBody()["order_no"], first.JsonBody()["order_no"]);

    // Malformed keys.
    for (const std::string& bad : {std::string(129, 'k'), std::string("caf\xc3\xa9")}) {
        ExpectError(c.Post("/api/v1/credit/recharge", body, user.Auth({{"Idempotency-Key", bad}})),
                    422, "VALIDATION_ERROR", "Idempotency-Key");
    }
    EXPECT_EQ(c.Post("/api/v1/credit/recharge", body,
                     user.Auth({{"Idempotency-Key", std::string(128, 'k')}}))
                  .status,
              201);
}

TEST_F(WalletApi, ConcurrentRequestsWithOneKeyCreateOneOrder) {
    HttpClient c = Client();
    for (const char* path : {"/api/v1/credit/recharge", "/api/v1/credit/membership"}) {
        const ApiUser user = RegisterUser(c, UniqueName("idem_race"));
        const bool recharge = std::string(path).find("recharge") != std::string::npos;
        const Json::Value body =
            recharge ? JsonObject({{"amount_fen", 4200}, {"payment_method", "wechat"}})
                     : JsonObject({{"plan", "quarterly"}, {"payment_method", "wechat"}});
        const HttpHeaders headers = user.Auth({{"Idempotency-Key", "race-key"}});
        std::vector<HttpResponse> responses(12);
        std::vector<std::thread> threads;
        std::atomic<int> ready{0};
        for (size_t i = 0; i < responses.size(); ++i) {
            threads.emplace_back([&, i] {
                ready++;
                while (ready.load() < static_cast<int>(responses.size())) std::this_thread::yield();
                responses[i] = c.Post(path, body, headers);
            });
        }
        for (auto& t : threads) t.join();
        std::set<std::string> bodies;
        int replayed = 0;
        for (const HttpResponse& r : responses) {
            EXPECT_EQ(r.status, 201) << r.body;
            bodies.insert(r.body);
            if (r.Header("idempotent-replayed") == "true") ++replayed;
        }
        EXPECT_EQ(bodies.size(), 1u) << path;
        EXPECT_EQ(replayed, 11) << path;
        const std::string table = recharge ? "recharge_orders" : "membership_orders";
        EXPECT_EQ(Sql("SELECT COUNT(*) FROM inkstone." + table +
                      " WHERE user_id = " + std::to_string(user.id)),
                  "1")
            << path;
    }
}

// Mock mode builds the notify a provider would send, signed with the server's in-memory key,
// and runs it through the real notify processing: its log line (written only after the
// signature verified) says so, for both providers, and a repeat is the processor's duplicate.
TEST_F(WalletApi, MockPayRunsTheSignedNotifyPath) {
    HttpClient c = Client();
    const ApiUser user = RegisterUser(c, UniqueName("mocknotify"));
    for (const char* method : {"alipay", "wechat"}) {
        const std::string order_no =
            c.Post("/api/v1/credit/recharge",
                   JsonObject({{"price_id", 2}, {"payment_method", method}}), user.Auth())
                .JsonBody()["order_no"]
                .asString();
        for (const bool first : {true, false}) {
            HttpResponse r = c.Post("/api/v1/payment/mock/pay",
                                    JsonObject({{"order_no", order_no}}), user.Auth());
            ASSERT_EQ(r.status, 200) << r.body;
            EXPECT_EQ(r.JsonBody()["settled_now"], first);
        }
        // One line per notify, from NotifyProcessor, in the format of the order's provider.
        const std::string log = ReadFile(TheStack().pool().log_path());
        std::vector<std::string> lines;
        for (size_t pos = 0, end; pos < log.size(); pos = end + 1) {
            end = log.find('\n', pos);
            if (end == std::string::npos) end = log.size();
            const std::string line = log.substr(pos, end - pos);
            if (line.find("\"event\":\"payment.notify\"") != std::string::npos &&
                line.find(order_no) != std::string::npos) {
                lines.push_back(line);
            }
        }
        ASSERT_EQ(lines.size(), 2u) << method << "\n"
                                    << log.substr(log.size() > 4000 ? log.size() - 4000 : 0);
        EXPECT_THAT(lines[0], ::testing::HasSubstr("\"outcome\":\"settled\""));
        EXPECT_THAT(lines[1], ::testing::HasSubstr("\"outcome\":\"already_settled\""));
        for (const std::string& line : lines) {
            EXPECT_THAT(line, ::testing::HasSubstr(std::string("\"provider\":\"") + method + "\""));
            EXPECT_THAT(line, ::testing::HasSubstr("\"mode\":\"mock\""));
        }
        EXPECT_EQ(Sql("SELECT CONCAT(paid_provider, ' ', provider_trade_no) FROM "
                      "inkstone.recharge_orders WHERE order_no = '" +
                      order_no + "'"),
                  "mock MOCK-" + order_no);
    }
    EXPECT_EQ(c.Get("/api/v1/credit/balance", user.Auth()).JsonBody()["credits"], 220);
}

// Last: it reloads the shared pool into live mode (with throwaway keys, providers nowhere) and
// back.
TEST_F(WalletApi, MockPayIsNotFoundInLiveMode) {
    HttpClient c = Client();
    const ApiUser user = RegisterUser(c, UniqueName("live"));
    LivePaymentSetup setup;
    setup.public_base_url = "https://pay.example.com";
    setup.alipay_app_id = "2021000000000001";
    setup.alipay_gateway = "http://127.0.0.1:" + std::to_string(FreePort()) + "/gateway.do";
    setup.alipay_app_private_pem = MerchantKey().ToPem();
    setup.alipay_public_pem = ProviderKey().Public().ToPem();
    setup.wechat_mchid = "1900000001";
    setup.wechat_appid = "wx0000000000000001";
    setup.wechat_apiv3_key = TestApiV3Key();
    setup.wechat_merchant_serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
    setup.wechat_platform_serial = "PUB_KEY_ID_0114232134912410000000000000000000";
    setup.wechat_api_base = "http://127.0.0.1:" + std::to_string(FreePort());
    setup.wechat_merchant_private_pem = MerchantKey().ToPem();
    setup.wechat_platform_public_pem = ProviderKey().Public().ToPem();
    std::map<std::string, std::string> live = LivePaymentConfig(TheStack().dir(), setup);
    live.erase("payment.mode");
    for (const auto& [key, value] : live) TheStack().pool().SetConfig(key, value);
    const std::string order_no =
        c.Post("/api/v1/credit/recharge",
               JsonObject({{"price_id", 1}, {"payment_method", "wechat"}}), user.Auth())
            .JsonBody()["order_no"]
            .asString();
    const auto reload = [&](const std::string& mode) {
        // The test hooks are refused with live payments, and mock with a public URL.
        TheStack().pool().SetConfig("testing.hooks", mode == "live" ? "false" : "true");
        TheStack().pool().SetConfig(
            "public_base_url", mode == "live" ? setup.public_base_url : "http://127.0.0.1:8080");
        TheStack().pool().SetConfig("payment.mode", mode);
        TheStack().pool().Signal(SIGHUP);
        const long want = mode == "live" ? 404 : 200;
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (std::chrono::steady_clock::now() < deadline) {
            // Reading an order tells the mode without paying anything.
            const Json::Value order =
                c.Get("/api/v1/credit/recharge/orders/" + order_no, user.Auth()).JsonBody();
            if (order["payment"]["mode"] == mode) {
                // Both generations may answer during the switch; wait for a stable answer.
                int stable = 0;
                for (int i = 0; i < 10; ++i) {
                    stable += c.Get("/api/v1/credit/recharge/orders/" + order_no, user.Auth())
                                  .JsonBody()["payment"]["mode"] == mode;
                }
                if (stable == 10) return want;
            }
            std::this_thread::sleep_for(100ms);
        }
        ADD_FAILURE() << "the pool did not switch to " << mode;
        return want;
    };
    reload("live");
    ExpectError(
        c.Post("/api/v1/payment/mock/pay", JsonObject({{"order_no", order_no}}), user.Auth()), 404,
        "NOT_FOUND");
    const Json::Value order =
        c.Get("/api/v1/credit/recharge/orders/" + order_no, user.Auth()).JsonBody();
    EXPECT_EQ(order["status"], "PENDING");
    EXPECT_EQ(order["payment"]["provider"], "wechat");
    EXPECT_EQ(order["payment"]["mode"], "live");
    reload("mock");
    EXPECT_EQ(c.Post("/api/v1/payment/mock/pay", JsonObject({{"order_no", order_no}}), user.Auth())
                  .status,
              200);
}

}  // namespace
}  // namespace inkstone::testing
