// The admin console's orders over real HTTP in mock mode (docs/admin-api.md, "Orders"; README,
// "Refunds"): search and detail with the notify history, reconcile now, and refunds of
// recharge and membership orders through the same code path as live mode (an Alipay order is
// refunded at once, a WeChat Pay order by a signed REFUND.SUCCESS notify). Every test ends with
// the ledger invariants, which know the ORDER_REFUND rows.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "lib/base/json.h"
#include "tests/harness/api_user.h"
#include "tests/harness/ledger_invariants.h"
#include "tests/harness/shared_stack.h"

namespace inkstone::testing {
namespace {

Stack& TheStack() {
    StackOptions options;
    options.workers = 2;
    options.threads = 8;
    options.config["testing.hooks"] = "true";
    return SharedStack(options);
}

HttpClient Client() { return TheStack().client(); }

std::atomic<int> user_counter{0};

ApiUser NewUser(const char* prefix) {
    return RegisterUser(Client(), std::string(prefix) + "_" + std::to_string(++user_counter));
}

ApiUser NewAdmin() {
    ApiUser admin = NewUser("oadmin");
    TheStack().db().Exec("UPDATE inkstone.users SET role = 'admin' WHERE id = " +
                         std::to_string(admin.id));
    return admin;
}

std::string Sql(const std::string& query) {
    const auto rows = TheStack().db().Query(query);
    return rows.empty() || rows[0].empty() ? "" : rows[0][0];
}

int64_t Balance(const ApiUser& user) {
    return std::stoll(
        Sql("SELECT credits FROM inkstone.users WHERE id = " + std::to_string(user.id)));
}

void ExpectError(const HttpResponse& r, long status, const std::string& code,
                 const std::string& field = "") {
    EXPECT_EQ(r.status, status) << r.body;
    const Json::Value body = r.JsonBody();
    EXPECT_EQ(body["code"], code) << r.body;
    if (!field.empty()) {
        EXPECT_EQ(body["field"], field) << r.body;
    }
}

std::string OrderPath(const std::string& order_no, const std::string& rest = "") {
    return "/api/v1/admin/orders/" + order_no + rest;
}

HttpResponse Refund(const ApiUser& admin, const std::string& order_no, Json::Value body) {
    return Client().Post(OrderPath(order_no, "/refund"), body, admin.Auth());
}

/// A paid membership order of `plan` by `method`.
std::string MembershipAndPay(const ApiUser& user, const std::string& plan,
                             const std::string& method = "alipay") {
    const HttpResponse created =
        Client().Post("/api/v1/credit/membership",
                      JsonObject({{"plan", plan}, {"payment_method", method}}), user.Auth());
    if (created.status != 201) throw std::runtime_error("membership order: " + created.body);
    const std::string order_no = created.JsonBody()["order_no"].asString();
    const HttpResponse paid = Client().Post("/api/v1/payment/mock/pay",
                                            JsonObject({{"order_no", order_no}}), user.Auth());
    if (paid.status != 200) throw std::runtime_error("mock pay: " + paid.body);
    return order_no;
}

class AdminOrders : public ::testing::Test {
  protected:
    void TearDown() override {
        const LedgerReport report = CheckLedger(TheStack().db());
        EXPECT_THAT(report.violations, ::testing::IsEmpty()) << report.Summary();
    }
};

TEST_F(AdminOrders, SearchFiltersAndDetailWithNotifyHistory) {
    const ApiUser admin = NewAdmin();
    const ApiUser user = NewUser("buyer");
    const std::string paid = RechargeAndPay(Client(), user, JsonObject({{"price_id", 2}}));
    const HttpResponse pending =
        Client().Post("/api/v1/credit/recharge",
                      JsonObject({{"price_id", 1}, {"payment_method", "wechat"}}), user.Auth());
    ASSERT_EQ(pending.status, 201) << pending.body;
    const std::string pending_no = pending.JsonBody()["order_no"].asString();

    const HttpResponse mine =
        Client().Get("/api/v1/admin/orders?user_id=" + std::to_string(user.id), admin.Auth());
    ASSERT_EQ(mine.status, 200) << mine.body;
    EXPECT_EQ(mine.JsonBody()["total"], 2) << mine.body;
    EXPECT_EQ(mine.JsonBody()["items"][0]["order_no"], pending_no)  // newest first
        << mine.body;

    const HttpResponse only_paid =
        Client().Get("/api/v1/admin/orders?status=PAID&method=alipay&kind=recharge&user_id=" +
                         std::to_string(user.id),
                     admin.Auth());
    ASSERT_EQ(only_paid.status, 200) << only_paid.body;
    ASSERT_EQ(only_paid.JsonBody()["items"].size(), 1u) << only_paid.body;
    const Json::Value item = only_paid.JsonBody()["items"][0];
    EXPECT_EQ(item["order_no"], paid);
    EXPECT_EQ(item["username"], user.username);
    EXPECT_EQ(item["credits"], 100);
    EXPECT_EQ(item["bonus_credits"], 10);
    EXPECT_EQ(item["provider_trade_no"], "MOCK-" + paid);
    EXPECT_TRUE(item["refund_status"].isNull());

    const HttpResponse by_no = Client().Get("/api/v1/admin/orders?order_no=" + paid, admin.Auth());
    ASSERT_EQ(by_no.status, 200);
    EXPECT_EQ(by_no.JsonBody()["total"], 1);
    // The date range is inclusive of whole UTC days: nothing was created in 2001.
    const HttpResponse old = Client().Get(
        "/api/v1/admin/orders?from=2001-01-01&to=2001-12-31&user_id=" + std::to_string(user.id),
        admin.Auth());
    ASSERT_EQ(old.status, 200);
    EXPECT_EQ(old.JsonBody()["total"], 0);
    ExpectError(Client().Get("/api/v1/admin/orders?from=2026-02-31", admin.Auth()), 422,
                "VALIDATION_ERROR", "from");
    ExpectError(Client().Get("/api/v1/admin/orders?status=paid", admin.Auth()), 422,
                "VALIDATION_ERROR", "status");

    const HttpResponse detail = Client().Get(OrderPath(paid), admin.Auth());
    ASSERT_EQ(detail.status, 200) << detail.body;
    const Json::Value d = detail.JsonBody();
    EXPECT_EQ(d["order"]["paid_provider"], "mock");
    EXPECT_TRUE(d["refund"].isNull());
    ASSERT_EQ(d["ledger"].size(), 2u) << detail.body;  // RECHARGE + BONUS
    EXPECT_EQ(d["ledger"][0]["type"], "RECHARGE");
    ASSERT_EQ(d["notifies"].size(), 1u) << detail.body;  // the mock payment's signed notify
    EXPECT_EQ(d["notifies"][0]["provider"], "alipay");
    EXPECT_EQ(d["notifies"][0]["kind"], "payment");
    EXPECT_EQ(d["notifies"][0]["outcome"], "settled");
    EXPECT_EQ(d["notifies"][0]["http_status"], 200);

    ExpectError(Client().Get(OrderPath("R20260101NOSUCHORDER000000000"), admin.Auth()), 404,
                "NOT_FOUND");
    ExpectError(Client().Get(OrderPath("nonsense"), admin.Auth()), 404, "NOT_FOUND");
}

TEST_F(AdminOrders, ARejectedNotifyIsRecordedAndCountedOnTheDashboard) {
    const ApiUser admin = NewAdmin();
    const int64_t before = std::stoll(
        Sql("SELECT COUNT(*) FROM inkstone.notify_log WHERE outcome LIKE 'unauthentic%'"));
    // No signature headers at all: unauthentic, answered 401, and recorded.
    const HttpResponse forged =
        Client().Request("POST", "/api/v1/payment/wechat/notify", R"({"id":"x","resource":{}})",
                         {{"Content-Type", "application/json"}});
    EXPECT_EQ(forged.status, 401) << forged.body;
    EXPECT_EQ(std::stoll(Sql("SELECT COUNT(*) FROM inkstone.notify_log WHERE outcome LIKE "
                             "'unauthentic%' AND http_status = 401")),
              before + 1);
    const HttpResponse dashboard = Client().Get("/api/v1/admin/dashboard", admin.Auth());
    ASSERT_EQ(dashboard.status, 200);
    EXPECT_GE(dashboard.JsonBody()["notify_failures"]["d1"].asInt64(), 1) << dashboard.body;
}

TEST_F(AdminOrders, FullRefundOfAnAlipayRechargeTakesBackCreditsAndBonusOnce) {
    const ApiUser admin = NewAdmin();
    const ApiUser user = NewUser("refundme");
    const std::string order_no = RechargeAndPay(Client(), user, JsonObject({{"price_id", 2}}));
    ASSERT_EQ(Balance(user), 110);

    ExpectError(Refund(admin, order_no, JsonObject({})), 422, "VALIDATION_ERROR", "reason");
    const HttpResponse refunded =
        Refund(admin, order_no, JsonObject({{"reason", "customer asked"}, {"role", "admin"}}));
    ASSERT_EQ(refunded.status, 200) << refunded.body;
    const Json::Value r = refunded.JsonBody();
    EXPECT_EQ(r["refund"]["status"], "SUCCESS") << refunded.body;
    EXPECT_EQ(r["refund"]["amount_fen"], 1000);
    EXPECT_EQ(r["refund"]["credits"], 110);
    EXPECT_EQ(r["refund"]["refund_no"], "RF" + order_no);
    EXPECT_EQ(r["balance"], 0);
    EXPECT_EQ(Balance(user), 0);

    // One ORDER_REFUND row linked to the order, visible in the user's own ledger.
    const HttpResponse ledger =
        Client().Get("/api/v1/credit/transactions?type=ORDER_REFUND", user.Auth());
    ASSERT_EQ(ledger.status, 200) << ledger.body;
    ASSERT_EQ(ledger.JsonBody()["items"].size(), 1u) << ledger.body;
    EXPECT_EQ(ledger.JsonBody()["items"][0]["amount"], -110);
    EXPECT_EQ(ledger.JsonBody()["items"][0]["related_order_id"], order_no);

    ExpectError(Refund(admin, order_no, JsonObject({{"reason", "again"}})), 409,
                "ALREADY_REFUNDED");
    const HttpResponse detail = Client().Get(OrderPath(order_no), admin.Auth());
    ASSERT_EQ(detail.status, 200);
    EXPECT_EQ(detail.JsonBody()["order"]["refund_status"], "SUCCESS");
    EXPECT_EQ(detail.JsonBody()["refund"]["reason"], "customer asked");
    EXPECT_EQ(detail.JsonBody()["ledger"].size(), 3u);

    const auto audit = TheStack().db().Query(
        "SELECT actor, reason, JSON_VALUE(after_json, '$.credits_taken_back') FROM "
        "inkstone.admin_audit_log WHERE action = 'order.refund' AND target_id = '" +
        order_no + "'");
    ASSERT_EQ(audit.size(), 1u);
    EXPECT_EQ(audit[0][0], "user:" + std::to_string(admin.id));
    EXPECT_EQ(audit[0][1], "customer asked");
    EXPECT_EQ(audit[0][2], "110");
}

TEST_F(AdminOrders, PartialWechatRefundFollowsTheRateAndIsMarkedByTheRefundNotify) {
    const ApiUser admin = NewAdmin();
    const ApiUser user = NewUser("partial");
    const std::string order_no =
        RechargeAndPay(Client(), user, JsonObject({{"price_id", 2}, {"payment_method", "wechat"}}));
    ExpectError(Refund(admin, order_no, JsonObject({{"reason", "x"}, {"amount_fen", 1001}})), 422,
                "VALIDATION_ERROR", "amount_fen");
    const HttpResponse refunded =
        Refund(admin, order_no, JsonObject({{"reason", "half"}, {"amount_fen", 505}}));
    ASSERT_EQ(refunded.status, 200) << refunded.body;
    // floor(505 × 110 / 1000) = 55
    EXPECT_EQ(refunded.JsonBody()["refund"]["credits"], 55);
    EXPECT_EQ(refunded.JsonBody()["refund"]["status"], "SUCCESS") << refunded.body;
    EXPECT_EQ(refunded.JsonBody()["refund"]["provider_refund_id"], "MOCK-REFUND-RF" + order_no);
    EXPECT_EQ(Balance(user), 55);
    const HttpResponse detail = Client().Get(OrderPath(order_no), admin.Auth());
    const Json::Value notifies = detail.JsonBody()["notifies"];
    ASSERT_EQ(notifies.size(), 2u) << detail.body;  // the payment, then the refund notify
    EXPECT_EQ(notifies[1]["kind"], "refund");
    EXPECT_EQ(notifies[1]["outcome"], "settled");
    EXPECT_EQ(notifies[1]["http_status"], 204);
}

TEST_F(AdminOrders, ARefundTheBalanceNoLongerCoversIsRefusedAndChangesNothing) {
    const ApiUser admin = NewAdmin();
    const ApiUser user = NewUser("spent");
    const std::string order_no = RechargeAndPay(Client(), user, JsonObject({{"price_id", 2}}));
    const HttpResponse charge =
        Client().Post("/api/v1/_test/credit/charge", JsonObject({{"credits", 20}}), user.Auth());
    ASSERT_EQ(charge.status, 201) << charge.body;
    const HttpResponse refused = Refund(admin, order_no, JsonObject({{"reason", "full"}}));
    ExpectError(refused, 409, "INSUFFICIENT_CREDITS");
    EXPECT_EQ(refused.JsonBody()["balance"], 90) << refused.body;
    EXPECT_EQ(Balance(user), 90);
    EXPECT_EQ(
        Sql("SELECT COUNT(*) FROM inkstone.order_refunds WHERE order_no = '" + order_no + "'"),
        "0");
    EXPECT_EQ(
        Sql("SELECT COUNT(*) FROM inkstone.admin_audit_log WHERE target_id = '" + order_no + "'"),
        "0");
    // A part the balance covers is fine: floor(800 × 110 / 1000) = 88.
    const HttpResponse part =
        Refund(admin, order_no, JsonObject({{"reason", "part"}, {"amount_fen", 800}}));
    ASSERT_EQ(part.status, 200) << part.body;
    EXPECT_EQ(Balance(user), 2);
}

TEST_F(AdminOrders, EightConcurrentRefundsOfOneOrderMakeOneRefund) {
    const ApiUser admin = NewAdmin();
    const ApiUser user = NewUser("race");
    const std::string order_no =
        RechargeAndPay(Client(), user, JsonObject({{"price_id", 3}, {"payment_method", "wechat"}}));
    std::vector<long> statuses(8);
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i) {
        threads.emplace_back([&, i] {
            statuses[i] = Refund(admin, order_no, JsonObject({{"reason", "race"}})).status;
        });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 200), 1);
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 409), 7);
    EXPECT_EQ(
        Sql("SELECT COUNT(*) FROM inkstone.order_refunds WHERE order_no = '" + order_no + "'"),
        "1");
    EXPECT_EQ(Sql("SELECT COUNT(*) FROM inkstone.credit_transactions WHERE type = "
                  "'ORDER_REFUND' AND related_order_no = '" +
                  order_no + "'"),
              "1");
    // One call to the (mock) provider: one refund notify.
    EXPECT_EQ(Sql("SELECT COUNT(*) FROM inkstone.notify_log WHERE kind = 'refund' AND order_no "
                  "= '" +
                  order_no + "'"),
              "1");
    EXPECT_EQ(Balance(user), 0);
}

TEST_F(AdminOrders, MembershipRefundShortensTheMembershipByTheUnusedPeriod) {
    const ApiUser admin = NewAdmin();
    const ApiUser user = NewUser("member");
    const std::string order_no = MembershipAndPay(user, "quarterly");
    // The period began at the payment: a moment of it is used, so the whole price is too much.
    const HttpResponse too_much =
        Refund(admin, order_no, JsonObject({{"reason", "all"}, {"amount_fen", 2500}}));
    ExpectError(too_much, 409, "MEMBERSHIP_IN_USE");
    EXPECT_LT(too_much.JsonBody()["refundable_fen"].asInt64(), 2500) << too_much.body;
    EXPECT_GT(too_much.JsonBody()["refundable_fen"].asInt64(), 2490) << too_much.body;

    const HttpResponse refunded = Refund(admin, order_no, JsonObject({{"reason", "unused"}}));
    ASSERT_EQ(refunded.status, 200) << refunded.body;
    EXPECT_EQ(refunded.JsonBody()["refund"]["status"], "SUCCESS");
    EXPECT_EQ(refunded.JsonBody()["refund"]["credits"], 0);
    EXPECT_EQ(refunded.JsonBody()["refund"]["amount_fen"], too_much.JsonBody()["refundable_fen"]);
    // The membership ends now (the order's whole remaining period is gone).
    EXPECT_EQ(Sql("SELECT member_expired_at <= UTC_TIMESTAMP(6) + INTERVAL 1 SECOND FROM "
                  "inkstone.users WHERE id = " +
                  std::to_string(user.id)),
              "1");
    const HttpResponse me = Client().Get("/api/v1/users/me", user.Auth());
    ASSERT_EQ(me.status, 200);
    EXPECT_EQ(me.JsonBody()["is_member"], false) << me.body;
    const HttpResponse detail = Client().Get(OrderPath(order_no), admin.Auth());
    const Json::Value grants = detail.JsonBody()["membership_grants"];
    ASSERT_EQ(grants.size(), 2u) << detail.body;
    EXPECT_EQ(grants[0]["source"], "ORDER");
    EXPECT_EQ(grants[1]["source"], "ORDER_REFUND");
    EXPECT_LE(grants[1]["days"].asInt64(), -89);
    ExpectError(Refund(admin, order_no, JsonObject({{"reason", "again"}})), 409,
                "ALREADY_REFUNDED");
}

TEST_F(AdminOrders, UnpaidOrdersAreNotRefundedAndReconcileIsAudited) {
    const ApiUser admin = NewAdmin();
    const ApiUser user = NewUser("unpaid");
    const HttpResponse created =
        Client().Post("/api/v1/credit/recharge",
                      JsonObject({{"price_id", 1}, {"payment_method", "alipay"}}), user.Auth());
    ASSERT_EQ(created.status, 201) << created.body;
    const std::string order_no = created.JsonBody()["order_no"].asString();
    ExpectError(Refund(admin, order_no, JsonObject({{"reason", "x"}})), 409, "NOT_PAID");
    ExpectError(Refund(admin, "R20260101NOSUCHORDER000000000", JsonObject({{"reason", "x"}})), 404,
                "NOT_FOUND");

    // Mock mode has no provider to ask: the order stays pending until it expires.
    const HttpResponse pending =
        Client().Post(OrderPath(order_no, "/reconcile"), JsonObject({{"reason", "user says paid"}}),
                      admin.Auth());
    ASSERT_EQ(pending.status, 200) << pending.body;
    EXPECT_EQ(pending.JsonBody()["outcome"], "still_pending");
    // Past its expiry, reconcile expires it (the provider knows no payment).
    TheStack().db().Exec(
        "UPDATE inkstone.recharge_orders SET expires_at = UTC_TIMESTAMP(6) - "
        "INTERVAL 1 MINUTE WHERE order_no = '" +
        order_no + "'");
    const HttpResponse expired = Client().Post(OrderPath(order_no, "/reconcile"),
                                               JsonObject({{"reason", "overdue"}}), admin.Auth());
    ASSERT_EQ(expired.status, 200) << expired.body;
    EXPECT_EQ(expired.JsonBody()["outcome"], "expired");
    EXPECT_EQ(expired.JsonBody()["order"]["status"], "EXPIRED");
    EXPECT_EQ(Sql("SELECT COUNT(*) FROM inkstone.admin_audit_log WHERE action = "
                  "'order.reconcile' AND target_id = '" +
                  order_no + "'"),
              "2");
    ExpectError(Client().Post(OrderPath(order_no, "/reconcile"), JsonObject({}), admin.Auth()), 422,
                "VALIDATION_ERROR", "reason");
}

struct AdminRun {
    int status = -1;
    std::string output;
};

AdminRun RunAdmin(const std::string& args) {
    const std::string command = std::string(INKSTONE_BINARY_DIR) + "/inkstone-admin --config " +
                                TheStack().pool().dir() + "/inkstone.conf " + args + " 2>&1";
    AdminRun run;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return run;
    char buf[512];
    while (fgets(buf, sizeof buf, pipe) != nullptr) run.output += buf;
    const int status = pclose(pipe);
    run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return run;
}

TEST_F(AdminOrders, CliShowRefundAndReconcileWriteTheSameRows) {
    const ApiUser user = NewUser("cli");
    const std::string order_no =
        RechargeAndPay(Client(), user, JsonObject({{"price_id", 2}, {"payment_method", "wechat"}}));
    EXPECT_EQ(RunAdmin("order refund " + order_no).status, 2);  // no --reason
    const AdminRun show = RunAdmin("order show " + order_no);
    ASSERT_EQ(show.status, 0) << show.output;
    EXPECT_THAT(show.output, ::testing::HasSubstr(order_no));
    const AdminRun refund =
        RunAdmin("order refund " + order_no + " --amount-fen 100 --reason 'cli refund'");
    ASSERT_EQ(refund.status, 0) << refund.output;
    EXPECT_THAT(refund.output, ::testing::HasSubstr("\"status\":\"SUCCESS\""));
    EXPECT_EQ(Balance(user), 99);  // floor(100 × 110 / 1000) = 11 taken back
    EXPECT_EQ(Sql("SELECT actor LIKE 'cli:%' FROM inkstone.admin_audit_log WHERE action = "
                  "'order.refund' AND target_id = '" +
                  order_no + "'"),
              "1");
    const AdminRun again = RunAdmin("order refund " + order_no + " --reason again");
    EXPECT_EQ(again.status, 1) << again.output;
    EXPECT_THAT(again.output, ::testing::HasSubstr("ALREADY_REFUNDED"));
    const AdminRun reconcile = RunAdmin("order reconcile " + order_no + " --reason check");
    ASSERT_EQ(reconcile.status, 0) << reconcile.output;
    EXPECT_THAT(reconcile.output, ::testing::HasSubstr("unchanged"));
}

}  // namespace
}  // namespace inkstone::testing
