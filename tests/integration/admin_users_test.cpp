// The admin console's users and audit over real HTTP (docs/admin-api.md): the role check on
// every admin route, credit adjustments with their 409 and audit rows, membership grants,
// disable / enable across both workers, and an adjustment racing a user's generations. Every
// test ends with the ledger invariants.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "lib/base/json.h"
#include "tests/harness/admin_routes.h"
#include "tests/harness/api_user.h"
#include "tests/harness/ledger_invariants.h"
#include "tests/harness/shared_stack.h"

namespace inkstone::testing {
namespace {

Stack& TheStack() {
    StackOptions options;
    options.workers = 2;
    options.threads = 4;
    options.config["testing.hooks"] = "true";  // X-Inkstone-Worker tells who answered
    options.config["generation.per_minute"] = "100000";
    options.config["generation.in_flight"] = "100000";
    options.config["generation.max_per_worker"] = "8";
    return SharedStack(options);
}

HttpClient Client() { return TheStack().client(); }

std::atomic<int> user_counter{0};

ApiUser NewUser(const char* prefix) {
    return RegisterUser(Client(), std::string(prefix) + "_" + std::to_string(++user_counter));
}

ApiUser NewAdmin() {
    ApiUser admin = NewUser("admin");
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

std::string UserPath(const ApiUser& user, const std::string& rest = "") {
    return "/api/v1/admin/users/" + std::to_string(user.id) + rest;
}

void ExpectError(const HttpResponse& r, long status, const std::string& code,
                 const std::string& field = "") {
    EXPECT_EQ(r.status, status) << r.body;
    const Json::Value body = r.JsonBody();
    EXPECT_EQ(body["code"], code) << r.body;
    if (!field.empty()) EXPECT_EQ(body["field"], field) << r.body;
}

class AdminUsers : public ::testing::Test {
  protected:
    void TearDown() override {
        const LedgerReport report = CheckLedger(TheStack().db());
        EXPECT_THAT(report.violations, ::testing::IsEmpty()) << report.Summary();
    }
};

TEST_F(AdminUsers, EveryAdminRouteIs401WithoutTokenAnd403ForAUser) {
    const ApiUser user = NewUser("plain");
    const ApiUser admin = NewAdmin();
    for (const AdminRoute& route : AdminRoutes()) {
        SCOPED_TRACE(std::string(route.method) + " " + route.path);
        const std::string body = std::string(route.method) == "GET" ? "" : R"({"reason":"x"})";
        const HttpHeaders json = {{"Content-Type", "application/json"}};
        ExpectError(Client().Request(route.method, route.path, body, json), 401, "UNAUTHORIZED");
        ExpectError(Client().Request(route.method, route.path, body, user.Auth(json)), 403,
                    "FORBIDDEN");
        // The admin gets past the role check (whatever the route then answers).
        const HttpResponse as_admin =
            Client().Request(route.method, route.path, body, admin.Auth(json));
        EXPECT_NE(as_admin.status, 401) << as_admin.body;
        EXPECT_NE(as_admin.status, 403) << as_admin.body;
    }
}

TEST_F(AdminUsers, SearchAndDetail) {
    const ApiUser admin = NewAdmin();
    const ApiUser user = NewUser("findme");
    RechargeAndPay(Client(), user, JsonObject({{"price_id", 2}}));

    HttpResponse by_id =
        Client().Get("/api/v1/admin/users?q=" + std::to_string(user.id), admin.Auth());
    ASSERT_EQ(by_id.status, 200) << by_id.body;
    ASSERT_EQ(by_id.JsonBody()["items"].size(), 1u);
    EXPECT_EQ(by_id.JsonBody()["items"][0]["username"], user.username);
    EXPECT_EQ(by_id.JsonBody()["items"][0]["disabled"], false);

    HttpResponse by_prefix =
        Client().Get("/api/v1/admin/users?q=FINDME_&page_size=100", admin.Auth());
    ASSERT_EQ(by_prefix.status, 200) << by_prefix.body;
    bool found = false;
    const Json::Value prefix_body = by_prefix.JsonBody();
    for (const Json::Value& item : prefix_body["items"]) {
        EXPECT_EQ(item["username"].asString().rfind("findme_", 0), 0u) << lib::base::ToJson(item);
        found = found || item["id"].asInt64() == user.id;
    }
    EXPECT_TRUE(found) << user.id << " " << by_prefix.body;
    // `_` is no wildcard: "findme" followed by any character but "_" matches nothing here.
    HttpResponse wildcard = Client().Get("/api/v1/admin/users?q=findme%25x", admin.Auth());
    ASSERT_EQ(wildcard.status, 200);
    EXPECT_EQ(wildcard.JsonBody()["total"], 0) << wildcard.body;

    HttpResponse detail = Client().Get(UserPath(user), admin.Auth());
    ASSERT_EQ(detail.status, 200) << detail.body;
    const Json::Value d = detail.JsonBody();
    EXPECT_EQ(d["user"]["credits"], 110);
    EXPECT_EQ(d["ledger"].size(), 2u) << detail.body;  // RECHARGE + BONUS
    EXPECT_EQ(d["orders"].size(), 1u);
    EXPECT_EQ(d["orders"][0]["kind"], "recharge");
    EXPECT_EQ(d["orders"][0]["status"], "PAID");
    EXPECT_TRUE(d["generations"].isArray());
    EXPECT_TRUE(d["membership_grants"].isArray());

    ExpectError(Client().Get("/api/v1/admin/users/999999999", admin.Auth()), 404, "NOT_FOUND");
    ExpectError(Client().Get("/api/v1/admin/users/abc", admin.Auth()), 404, "NOT_FOUND");
}

TEST_F(AdminUsers, AdjustCreditsWritesOneLedgerRowAndOneAuditRow) {
    const ApiUser admin = NewAdmin();
    const ApiUser user = NewUser("adjust");

    HttpResponse add =
        Client().Post(UserPath(user, "/credits"),
                      JsonObject({{"amount", 50}, {"reason", "  complaint #7  "}}), admin.Auth());
    ASSERT_EQ(add.status, 200) << add.body;
    EXPECT_EQ(add.JsonBody()["balance"], 50);
    EXPECT_EQ(add.JsonBody()["transaction"]["type"], "ADMIN_ADJUST");
    EXPECT_EQ(add.JsonBody()["transaction"]["amount"], 50);
    EXPECT_EQ(add.JsonBody()["transaction"]["balance_after"], 50);

    HttpResponse take =
        Client().Post(UserPath(user, "/credits"),
                      JsonObject({{"amount", -20}, {"reason", "partial undo"}}), admin.Auth());
    ASSERT_EQ(take.status, 200) << take.body;
    EXPECT_EQ(take.JsonBody()["balance"], 30);

    // Below 0: 409, nothing changes (no ledger row, no audit row).
    const std::string audit_before =
        Sql("SELECT COUNT(*) FROM inkstone.admin_audit_log WHERE target_id = '" +
            std::to_string(user.id) + "'");
    HttpResponse over =
        Client().Post(UserPath(user, "/credits"),
                      JsonObject({{"amount", -31}, {"reason", "too much"}}), admin.Auth());
    ExpectError(over, 409, "INSUFFICIENT_CREDITS");
    EXPECT_EQ(over.JsonBody()["balance"], 30);
    EXPECT_EQ(Balance(user), 30);
    EXPECT_EQ(Sql("SELECT COUNT(*) FROM inkstone.admin_audit_log WHERE target_id = '" +
                  std::to_string(user.id) + "'"),
              audit_before);

    // Bad input: 422 on the field, nothing changes.
    ExpectError(
        Client().Post(UserPath(user, "/credits"), JsonObject({{"amount", 5}}), admin.Auth()), 422,
        "VALIDATION_ERROR", "reason");
    ExpectError(Client().Post(UserPath(user, "/credits"),
                              JsonObject({{"amount", 5}, {"reason", "   "}}), admin.Auth()),
                422, "VALIDATION_ERROR", "reason");
    ExpectError(
        Client().Post(UserPath(user, "/credits"),
                      JsonObject({{"amount", 5}, {"reason", std::string(501, 'r')}}), admin.Auth()),
        422, "VALIDATION_ERROR", "reason");
    ExpectError(Client().Post(UserPath(user, "/credits"),
                              JsonObject({{"amount", 0}, {"reason", "zero"}}), admin.Auth()),
                422, "VALIDATION_ERROR", "amount");
    ExpectError(Client().Post(UserPath(user, "/credits"),
                              JsonObject({{"amount", "5"}, {"reason", "text"}}), admin.Auth()),
                422, "VALIDATION_ERROR", "amount");
    // An unknown field can set nothing.
    HttpResponse extra = Client().Post(
        UserPath(user, "/credits"),
        JsonObject({{"amount", 1}, {"reason", "extra"}, {"role", "admin"}, {"user_id", 1}}),
        admin.Auth());
    ASSERT_EQ(extra.status, 200) << extra.body;
    EXPECT_EQ(Sql("SELECT role FROM inkstone.users WHERE id = " + std::to_string(user.id)), "user");
    EXPECT_EQ(Balance(user), 31);

    HttpResponse audit =
        Client().Get("/api/v1/admin/audit?action=user.adjust_credits&target_type=user&target_id=" +
                         std::to_string(user.id),
                     admin.Auth());
    ASSERT_EQ(audit.status, 200) << audit.body;
    const Json::Value items = audit.JsonBody()["items"];
    ASSERT_EQ(items.size(), 3u) << audit.body;
    EXPECT_EQ(items[2]["reason"], "complaint #7");  // trimmed; newest first
    EXPECT_EQ(items[2]["actor"], "user:" + std::to_string(admin.id));
    EXPECT_EQ(items[2]["before"]["credits"], 0);
    EXPECT_EQ(items[2]["after"]["credits"], 50);
    EXPECT_EQ(items[1]["before"]["credits"], 50);
    EXPECT_EQ(items[1]["after"]["credits"], 30);
    EXPECT_TRUE(items[0]["request_id"].isString()) << lib::base::ToJson(items[0]);
    EXPECT_FALSE(items[0]["request_id"].asString().empty());
    EXPECT_EQ(Sql("SELECT COUNT(*) FROM inkstone.credit_transactions WHERE type = "
                  "'ADMIN_ADJUST' AND user_id = " +
                  std::to_string(user.id)),
              "3");
}

TEST_F(AdminUsers, MembershipGrantByDaysAndMonths) {
    const ApiUser admin = NewAdmin();
    const ApiUser user = NewUser("member");
    HttpResponse days =
        Client().Post(UserPath(user, "/membership"),
                      JsonObject({{"days", 10}, {"reason", "goodwill"}}), admin.Auth());
    ASSERT_EQ(days.status, 200) << days.body;
    const std::string first_expiry = days.JsonBody()["member_expired_at"].asString();
    EXPECT_EQ(days.JsonBody()["grant"]["source"], "ADMIN");
    EXPECT_EQ(days.JsonBody()["grant"]["days"], 10);
    EXPECT_TRUE(days.JsonBody()["grant"]["expired_before"].isNull());

    HttpResponse months =
        Client().Post(UserPath(user, "/membership"),
                      JsonObject({{"months", 1}, {"reason", "more"}}), admin.Auth());
    ASSERT_EQ(months.status, 200) << months.body;
    // Extended from the current expiry, not from now.
    EXPECT_EQ(months.JsonBody()["grant"]["expired_before"], first_expiry);
    EXPECT_GT(months.JsonBody()["member_expired_at"].asString(), first_expiry);

    ExpectError(
        Client().Post(UserPath(user, "/membership"),
                      JsonObject({{"days", 1}, {"months", 1}, {"reason", "both"}}), admin.Auth()),
        422, "VALIDATION_ERROR");
    ExpectError(Client().Post(UserPath(user, "/membership"), JsonObject({{"reason", "none"}}),
                              admin.Auth()),
                422, "VALIDATION_ERROR");
    ExpectError(Client().Post(UserPath(user, "/membership"),
                              JsonObject({{"days", 3651}, {"reason", "long"}}), admin.Auth()),
                422, "VALIDATION_ERROR", "days");

    HttpResponse me = Client().Get("/api/v1/users/me", user.Auth());
    EXPECT_EQ(me.JsonBody()["is_member"], true) << me.body;
    HttpResponse detail = Client().Get(UserPath(user), admin.Auth());
    EXPECT_EQ(detail.JsonBody()["membership_grants"].size(), 2u) << detail.body;
    EXPECT_EQ(Sql("SELECT COUNT(*) FROM inkstone.admin_audit_log a JOIN "
                  "inkstone.membership_grants g ON g.audit_id = a.id WHERE g.user_id = " +
                  std::to_string(user.id) + " AND a.action = 'user.grant_membership'"),
              "2");
}

TEST_F(AdminUsers, PaidMembershipOrderWritesAnOrderGrant) {
    const ApiUser user = NewUser("buyer");
    HttpResponse order =
        Client().Post("/api/v1/credit/membership",
                      JsonObject({{"price_id", 1}, {"payment_method", "alipay"}}), user.Auth());
    ASSERT_EQ(order.status, 201) << order.body;
    HttpResponse paid =
        Client().Post("/api/v1/payment/mock/pay",
                      JsonObject({{"order_no", order.JsonBody()["order_no"]}}), user.Auth());
    ASSERT_EQ(paid.status, 200) << paid.body;
    EXPECT_EQ(Sql("SELECT COUNT(*) FROM inkstone.membership_grants WHERE source = 'ORDER' AND "
                  "related_order_no = '" +
                  order.JsonBody()["order_no"].asString() + "'"),
              "1");
}

TEST_F(AdminUsers, DisableKillsTokensOnBothWorkersAndLoginIs403) {
    const ApiUser admin = NewAdmin();
    const ApiUser user = NewUser("abuser");
    ASSERT_EQ(Client().Get("/api/v1/users/me", user.Auth()).status, 200);

    ExpectError(
        Client().Post(UserPath(admin, "/disable"), JsonObject({{"reason", "self"}}), admin.Auth()),
        409, "CONFLICT");
    HttpResponse off =
        Client().Post(UserPath(user, "/disable"), JsonObject({{"reason", "abuse"}}), admin.Auth());
    ASSERT_EQ(off.status, 200) << off.body;
    EXPECT_EQ(off.JsonBody()["user"]["disabled"], true);
    EXPECT_TRUE(off.JsonBody()["user"]["disabled_at"].isString());

    std::mutex mu;
    std::set<std::string> answered_by;
    std::atomic<int> not_401{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 15; ++i) {
                HttpResponse r = Client().Get("/api/v1/users/me", user.Auth());
                if (r.status != 401) not_401++;
                std::lock_guard<std::mutex> lock(mu);
                answered_by.insert(r.Header("x-inkstone-worker"));
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(not_401.load(), 0);
    EXPECT_EQ(answered_by.size(), 2u);
    EXPECT_EQ(answered_by.count(""), 0u);

    const Json::Value creds =
        JsonObject({{"username", user.username}, {"password", "correct horse battery"}});
    HttpResponse login = Client().Post("/api/v1/auth/login", creds);
    ExpectError(login, 403, "ACCOUNT_DISABLED");
    // A wrong password is still the generic 401: a disabled account is not revealed to guessers.
    ExpectError(Client().Post("/api/v1/auth/login", JsonObject({{"username", user.username},
                                                                {"password", "wrongwrong"}})),
                401, "UNAUTHORIZED");

    HttpResponse on =
        Client().Post(UserPath(user, "/enable"), JsonObject({{"reason", "appeal"}}), admin.Auth());
    ASSERT_EQ(on.status, 200) << on.body;
    EXPECT_EQ(on.JsonBody()["user"]["disabled"], false);
    HttpResponse again = Client().Post("/api/v1/auth/login", creds);
    EXPECT_EQ(again.status, 200) << again.body;

    EXPECT_EQ(Sql("SELECT COUNT(*) FROM inkstone.admin_audit_log WHERE target_type = 'user' AND "
                  "target_id = '" +
                  std::to_string(user.id) + "' AND action IN ('user.disable', 'user.enable')"),
              "2");
}

TEST_F(AdminUsers, NegativeAdjustmentRacingGenerationsNeverOverdraws) {
    const ApiUser admin = NewAdmin();
    const ApiUser user = NewUser("racer");
    RechargeAndPay(Client(), user, JsonObject({{"price_id", 2}}));  // 110 credits
    std::atomic<int> adjusted{0};
    std::atomic<int> refused{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 3; ++i) {
                Client().Post(
                    "/api/v1/writing/generate",
                    JsonObject({{"tool_type", "article"}, {"prompt", "race"}, {"stream", false}}),
                    user.Auth());
            }
        });
    }
    for (int t = 0; t < 3; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 3; ++i) {
                HttpResponse r =
                    Client().Post(UserPath(user, "/credits"),
                                  JsonObject({{"amount", -15}, {"reason", "race"}}), admin.Auth());
                if (r.status == 200) adjusted++;
                if (r.status == 409) refused++;
                EXPECT_TRUE(r.status == 200 || r.status == 409) << r.body;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_GE(Balance(user), 0);
    EXPECT_EQ(adjusted.load() + refused.load(), 9);
    // 9 x 15 exceeds the 110 credits whatever the generations took: some debits were refused.
    EXPECT_GT(refused.load(), 0);
    EXPECT_EQ(std::stoll(Sql("SELECT COUNT(*) FROM inkstone.admin_audit_log WHERE action = "
                             "'user.adjust_credits' AND target_id = '" +
                             std::to_string(user.id) + "'")),
              adjusted.load());
}

TEST_F(AdminUsers, DashboardCountsWhatHappensToday) {
    const ApiUser admin = NewAdmin();
    const auto dashboard = [&] {
        HttpResponse r = Client().Get("/api/v1/admin/dashboard", admin.Auth());
        EXPECT_EQ(r.status, 200) << r.body;
        return r.JsonBody();
    };
    const Json::Value before = dashboard();
    const ApiUser user = NewUser("dash");
    const std::string order_no = RechargeAndPay(Client(), user, JsonObject({{"price_id", 2}}));
    const int64_t order_fen = std::stoll(
        Sql("SELECT amount_fen FROM inkstone.recharge_orders WHERE order_no = '" + order_no + "'"));
    HttpResponse generated = Client().Post(
        "/api/v1/writing/generate",
        JsonObject({{"tool_type", "article"}, {"prompt", "dashboard"}, {"stream", false}}),
        user.Auth());
    ASSERT_EQ(generated.status, 200) << generated.body;
    const int64_t charged = generated.JsonBody()["credits_charged"].asInt64();
    const Json::Value after = dashboard();

    const auto delta = [&](const Json::Value& a, const Json::Value& b) {
        return a.asInt64() - b.asInt64();
    };
    EXPECT_EQ(delta(after["revenue"]["today_fen"], before["revenue"]["today_fen"]), order_fen);
    EXPECT_EQ(delta(after["revenue"]["d7_fen"], before["revenue"]["d7_fen"]), order_fen);
    EXPECT_EQ(delta(after["revenue"]["d30_fen"], before["revenue"]["d30_fen"]), order_fen);
    EXPECT_EQ(delta(after["paid_orders"]["today"], before["paid_orders"]["today"]), 1);
    EXPECT_EQ(delta(after["new_users"]["today"], before["new_users"]["today"]), 1);
    EXPECT_GE(after["active_users"]["today"].asInt64(), 1);
    EXPECT_EQ(delta(after["credits"]["consumed"], before["credits"]["consumed"]), charged);
    EXPECT_EQ(
        delta(after["credits"]["issued"]["recharge"], before["credits"]["issued"]["recharge"]),
        100);
    ASSERT_EQ(after["series"].size(), 30u);
    const Json::Value& today = after["series"][29];
    const Json::Value& today_before = before["series"][29];
    EXPECT_EQ(today["date"], after["generated_at"].asString().substr(0, 10));
    EXPECT_EQ(delta(today["revenue_fen"], today_before["revenue_fen"]), order_fen);
    EXPECT_EQ(delta(today["generations"], today_before["generations"]), 1);
    EXPECT_EQ(delta(today["credits_consumed"], today_before["credits_consumed"]), charged);
    EXPECT_LT(after["series"][0]["date"].asString(), today["date"].asString());
    bool mock_listed = false;
    for (const Json::Value& p : after["revenue"]["by_provider"]) {
        mock_listed = mock_listed || p["provider"] == "mock";
    }
    EXPECT_TRUE(mock_listed) << lib::base::ToJson(after["revenue"]);
}

struct AdminRun {
    int status = -1;
    std::string output;
};

/// Runs `inkstone-admin <args>` against the shared stack's database.
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

TEST_F(AdminUsers, CliUserCommandsWriteTheSameAuditRowsAsTheApi) {
    const ApiUser user = NewUser("cli");
    const std::string id = std::to_string(user.id);

    // --reason is required for every write; nothing happens without it.
    AdminRun no_reason = RunAdmin("user adjust " + user.username + " 25");
    EXPECT_EQ(no_reason.status, 2) << no_reason.output;
    EXPECT_EQ(Balance(user), 0);

    AdminRun adjust = RunAdmin("user adjust " + user.username + " 25 --reason 'phone support'");
    ASSERT_EQ(adjust.status, 0) << adjust.output;
    EXPECT_THAT(adjust.output, ::testing::HasSubstr("balance 25"));
    EXPECT_EQ(Balance(user), 25);

    AdminRun overdraw = RunAdmin("user adjust " + user.username + " -26 --reason 'too much'");
    EXPECT_EQ(overdraw.status, 1) << overdraw.output;
    EXPECT_THAT(overdraw.output, ::testing::HasSubstr("INSUFFICIENT_CREDITS"));
    EXPECT_EQ(Balance(user), 25);

    AdminRun disable = RunAdmin("user disable " + user.username + " --reason=spam");
    ASSERT_EQ(disable.status, 0) << disable.output;
    EXPECT_EQ(Client().Get("/api/v1/users/me", user.Auth()).status, 401);
    AdminRun enable = RunAdmin("user enable " + user.username + " --reason=ok");
    ASSERT_EQ(enable.status, 0) << enable.output;

    AdminRun show = RunAdmin("user show " + user.username);
    ASSERT_EQ(show.status, 0) << show.output;
    EXPECT_THAT(show.output, ::testing::HasSubstr("\"credits\":25"));
    EXPECT_THAT(show.output, ::testing::HasSubstr("\"disabled\":false"));
    EXPECT_EQ(RunAdmin("user show nobody_at_all").status, 1);

    const auto rows = TheStack().db().Query(
        "SELECT action, actor, actor_user_id IS NULL, request_id IS NULL, reason, before_json, "
        "after_json FROM inkstone.admin_audit_log WHERE target_type = 'user' AND target_id = '" +
        id + "' ORDER BY id");
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0][0], "user.adjust_credits");
    EXPECT_EQ(rows[0][4], "phone support");
    EXPECT_EQ(rows[0][5], R"({"credits":0})");
    EXPECT_THAT(rows[0][6], ::testing::HasSubstr(R"("credits":25)"));
    EXPECT_EQ(rows[1][0], "user.disable");
    EXPECT_EQ(rows[2][0], "user.enable");
    for (const auto& row : rows) {
        EXPECT_EQ(row[1].rfind("cli:", 0), 0u) << row[1];
        EXPECT_GT(row[1].size(), 4u) << row[1];
        EXPECT_EQ(row[2], "1");  // no admin user behind a CLI change
        EXPECT_EQ(row[3], "1");  // and no request
    }
}

}  // namespace
}  // namespace inkstone::testing
