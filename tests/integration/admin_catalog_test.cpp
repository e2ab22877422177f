// The admin console's catalog over real HTTP (docs/admin-api.md, "Catalog"): packages, plans,
// model prices and writing tools, each write audited and seen by the next order or generation
// on every worker (the stack runs two; X-Inkstone-Worker tells them apart), orders already
// created keeping their price. Every test ends with the ledger invariants.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>

#include "lib/base/json.h"
#include "tests/harness/api_user.h"
#include "tests/harness/ledger_invariants.h"
#include "tests/harness/shared_stack.h"

namespace inkstone::testing {
namespace {

Stack& TheStack() {
    StackOptions options;
    options.workers = 2;
    options.threads = 2;
    options.config["testing.hooks"] = "true";  // X-Inkstone-Worker tells who answered
    // Each request on a new connection, so both workers answer (a kept one goes to one worker).
    options.upstream_keepalive = 0;
    options.config["generation.per_minute"] = "100000";
    options.config["generation.in_flight"] = "100000";
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

/// The `items` of a list response (a copy: a loop over a temporary's member would dangle).
Json::Value Items(const HttpResponse& r) { return r.JsonBody()["items"]; }

HttpResponse Put(const std::string& path, const Json::Value& body, const ApiUser& user) {
    return Client().Request("PUT", path, lib::base::ToJson(body),
                            user.Auth({{"Content-Type", "application/json"}}));
}

/// Runs `request` until both workers have answered it, checking each answer; fails after many
/// tries (a worker that never answers).
template <class F>
void OnBothWorkers(F&& request) {
    std::set<std::string> answered_by;
    for (int i = 0; i < 200 && answered_by.size() < 2; ++i) {
        const HttpResponse r = request();
        answered_by.insert(r.Header("x-inkstone-worker"));
    }
    EXPECT_EQ(answered_by.size(), 2u);
}

class AdminCatalog : public ::testing::Test {
  protected:
    void TearDown() override {
        const LedgerReport report = CheckLedger(TheStack().db());
        EXPECT_THAT(report.violations, ::testing::IsEmpty()) << report.Summary();
    }
};

TEST_F(AdminCatalog, ModelPriceChangeIsChargedByTheNextGenerationOnEveryWorker) {
    const ApiUser admin = NewAdmin();
    const ApiUser user = NewUser("gen");
    RechargeAndPay(Client(), user, JsonObject({{"price_id", 3}}));  // 600 credits
    const auto generate = [&] {
        return Client().Post(
            "/api/v1/writing/generate",
            JsonObject({{"tool_type", "article"}, {"prompt", "price"}, {"stream", false}}),
            user.Auth());
    };
    // Both workers have the old price cached.
    OnBothWorkers([&] {
        HttpResponse r = generate();
        EXPECT_EQ(r.status, 200) << r.body;
        EXPECT_EQ(r.JsonBody()["credits_charged"], 10) << r.body;
        return r;
    });

    HttpResponse models = Client().Get("/api/v1/admin/catalog/models", admin.Auth());
    ASSERT_EQ(models.status, 200) << models.body;
    const Json::Value model_items = models.JsonBody()["items"];
    bool listed = false;
    for (const Json::Value& m : model_items) {
        if (m["model"] == "qwen-plus") {
            listed = true;
            EXPECT_EQ(m["source"], "config");
        }
    }
    EXPECT_TRUE(listed) << models.body;

    HttpResponse set = Put("/api/v1/admin/catalog/models/qwen-plus",
                           JsonObject({{"credits", 7}, {"reason", "promo"}}), admin);
    ASSERT_EQ(set.status, 200) << set.body;
    EXPECT_EQ(set.JsonBody()["source"], "table");
    OnBothWorkers([&] {
        HttpResponse r = generate();
        EXPECT_EQ(r.status, 200) << r.body;
        EXPECT_EQ(r.JsonBody()["credits_charged"], 7) << r.Header("x-inkstone-worker");
        return r;
    });
    // The public list shows it at once too.
    HttpResponse public_models = Client().Get("/api/v1/ai/models");
    bool seen = false;
    for (const Json::Value& m : Items(public_models)) {
        if (m["model"] == "qwen-plus") seen = m["credits"] == 7;
    }
    EXPECT_TRUE(seen) << public_models.body;

    ASSERT_EQ(Put("/api/v1/admin/catalog/models/qwen-plus",
                  JsonObject({{"credits", 10}, {"reason", "promo over"}}), admin)
                  .status,
              200);
    EXPECT_EQ(Put("/api/v1/admin/catalog/models/no-such-model",
                  JsonObject({{"credits", 1}, {"reason", "x"}}), admin)
                  .status,
              404);
    EXPECT_EQ(Put("/api/v1/admin/catalog/models/qwen-plus",
                  JsonObject({{"credits", -1}, {"reason", "x"}}), admin)
                  .status,
              422);
    const auto audit = TheStack().db().Query(
        "SELECT before_json, after_json, reason FROM inkstone.admin_audit_log WHERE action = "
        "'catalog.model.update' AND target_id = 'qwen-plus' ORDER BY id");
    ASSERT_EQ(audit.size(), 2u);
    EXPECT_THAT(audit[0][0], ::testing::HasSubstr(R"("credits":10)"));
    EXPECT_THAT(audit[0][0], ::testing::HasSubstr(R"("source":"config")"));
    EXPECT_THAT(audit[0][1], ::testing::HasSubstr(R"("credits":7)"));
    EXPECT_EQ(audit[0][2], "promo");
}

TEST_F(AdminCatalog, PackagePriceChangeIsSeenByTheNextOrderOldOrdersKeepTheirs) {
    const ApiUser admin = NewAdmin();
    const ApiUser user = NewUser("buyer");
    HttpResponse old_order =
        Client().Post("/api/v1/credit/recharge",
                      JsonObject({{"price_id", 1}, {"payment_method", "alipay"}}), user.Auth());
    ASSERT_EQ(old_order.status, 201) << old_order.body;
    const int64_t old_fen = old_order.JsonBody()["amount_fen"].asInt64();
    const std::string version_before = Sql("SELECT version FROM inkstone.catalog_version");

    HttpResponse update =
        Put("/api/v1/admin/catalog/packages/1",
            JsonObject({{"price_fen", old_fen + 50}, {"reason", "new price"}}), admin);
    ASSERT_EQ(update.status, 200) << update.body;
    EXPECT_EQ(update.JsonBody()["price_fen"], old_fen + 50);
    EXPECT_EQ(update.JsonBody()["credits"], 10);  // untouched fields keep their value
    EXPECT_EQ(std::stoll(Sql("SELECT version FROM inkstone.catalog_version")),
              std::stoll(version_before) + 1);

    OnBothWorkers([&] {
        HttpResponse r =
            Client().Post("/api/v1/credit/recharge",
                          JsonObject({{"price_id", 1}, {"payment_method", "alipay"}}), user.Auth());
        EXPECT_EQ(r.status, 201) << r.body;
        EXPECT_EQ(r.JsonBody()["amount_fen"], old_fen + 50) << r.body;
        return r;
    });
    bool listed = false;
    for (const Json::Value& p : Items(Client().Get("/api/v1/credit/prices"))) {
        if (p["id"] == 1) listed = p["price_fen"] == old_fen + 50;
    }
    EXPECT_TRUE(listed);
    // The order made before keeps its price, and pays at it.
    EXPECT_EQ(Sql("SELECT amount_fen FROM inkstone.recharge_orders WHERE order_no = '" +
                  old_order.JsonBody()["order_no"].asString() + "'"),
              std::to_string(old_fen));
    HttpResponse paid =
        Client().Post("/api/v1/payment/mock/pay",
                      JsonObject({{"order_no", old_order.JsonBody()["order_no"]}}), user.Auth());
    EXPECT_EQ(paid.status, 200) << paid.body;

    // Create, deactivate: the package leaves the public list.
    HttpResponse created = Client().Post(
        "/api/v1/admin/catalog/packages",
        JsonObject({{"credits", 42}, {"price_fen", 420}, {"sort_order", 9}, {"reason", "new"}}),
        admin.Auth());
    ASSERT_EQ(created.status, 201) << created.body;
    const int64_t id = created.JsonBody()["id"].asInt64();
    EXPECT_EQ(created.JsonBody()["active"], true);
    ASSERT_EQ(Put("/api/v1/admin/catalog/packages/" + std::to_string(id),
                  JsonObject({{"active", false}, {"reason", "retire"}}), admin)
                  .status,
              200);
    for (const Json::Value& p : Items(Client().Get("/api/v1/credit/prices"))) {
        EXPECT_NE(p["id"], Json::Int64{id});
    }
    EXPECT_EQ(Client()
                  .Post("/api/v1/admin/catalog/packages",
                        JsonObject({{"price_fen", 420}, {"reason", "no credits"}}), admin.Auth())
                  .JsonBody()["field"],
              "credits");
    EXPECT_EQ(Client()
                  .Post("/api/v1/admin/catalog/packages",
                        JsonObject({{"credits", 1}, {"price_fen", 420}}), admin.Auth())
                  .JsonBody()["field"],
              "reason");
    EXPECT_EQ(
        Put("/api/v1/admin/catalog/packages/999999", JsonObject({{"reason", "x"}}), admin).status,
        404);
    // Put the seed price back for the other tests.
    ASSERT_EQ(Put("/api/v1/admin/catalog/packages/1",
                  JsonObject({{"price_fen", old_fen}, {"reason", "restore"}}), admin)
                  .status,
              200);
    EXPECT_EQ(Sql("SELECT COUNT(*) FROM inkstone.admin_audit_log WHERE action LIKE "
                  "'catalog.package.%'"),
              "4");
}

TEST_F(AdminCatalog, PlansCreateAndUpdate) {
    const ApiUser admin = NewAdmin();
    HttpResponse created = Client().Post("/api/v1/admin/catalog/plans",
                                         JsonObject({{"plan", "weekly_test"},
                                                     {"name", "Test"},
                                                     {"months", 2},
                                                     {"price_fen", 1500},
                                                     {"reason", "trial"}}),
                                         admin.Auth());
    ASSERT_EQ(created.status, 201) << created.body;
    const int64_t id = created.JsonBody()["id"].asInt64();
    EXPECT_EQ(Client()
                  .Post("/api/v1/admin/catalog/plans",
                        JsonObject({{"plan", "weekly_test"},
                                    {"name", "Dup"},
                                    {"months", 1},
                                    {"price_fen", 1},
                                    {"reason", "dup"}}),
                        admin.Auth())
                  .status,
              409);
    HttpResponse updated = Put("/api/v1/admin/catalog/plans/" + std::to_string(id),
                               JsonObject({{"price_fen", 1800}, {"reason", "raise"}}), admin);
    ASSERT_EQ(updated.status, 200) << updated.body;
    EXPECT_EQ(updated.JsonBody()["months"], 2);
    bool listed = false;
    for (const Json::Value& p : Items(Client().Get("/api/v1/credit/membership/prices"))) {
        if (p["plan"] == "weekly_test") listed = p["price_fen"] == 1800;
    }
    EXPECT_TRUE(listed);
}

TEST_F(AdminCatalog, ToolsWithPreviewAndTheNextGenerationUsesThem) {
    const ApiUser admin = NewAdmin();
    HttpResponse preview = Client().Post("/api/v1/admin/catalog/tools/preview",
                                         JsonObject({{"system_prompt", "Be brief."},
                                                     {"user_template", "Poem about: {prompt}!"},
                                                     {"prompt", "tea"}}),
                                         admin.Auth());
    ASSERT_EQ(preview.status, 200) << preview.body;
    EXPECT_EQ(preview.JsonBody()["messages"][0]["role"], "system");
    EXPECT_EQ(preview.JsonBody()["messages"][0]["content"], "Be brief.");
    EXPECT_EQ(preview.JsonBody()["messages"][1]["content"], "Poem about: tea!");
    EXPECT_EQ(Client()
                  .Post("/api/v1/admin/catalog/tools/preview",
                        JsonObject({{"system_prompt", "s"},
                                    {"user_template", "no placeholder"},
                                    {"prompt", "p"}}),
                        admin.Auth())
                  .JsonBody()["field"],
              "user_template");

    const ApiUser user = NewUser("poet");
    RechargeAndPay(Client(), user, JsonObject({{"price_id", 2}}));
    const auto generate = [&] {
        return Client().Post(
            "/api/v1/writing/generate",
            JsonObject({{"tool_type", "poem"}, {"prompt", "tea"}, {"stream", false}}), user.Auth());
    };
    // Both workers cache the tool list without "poem".
    OnBothWorkers([&] {
        HttpResponse r = generate();
        EXPECT_EQ(r.status, 422) << r.body;
        return r;
    });
    HttpResponse created = Client().Post("/api/v1/admin/catalog/tools",
                                         JsonObject({{"tool_type", "poem"},
                                                     {"name", "Poem"},
                                                     {"description", "a poem"},
                                                     {"system_prompt", "Be brief."},
                                                     {"user_template", "Poem about: {prompt}"},
                                                     {"sort_order", 50},
                                                     {"reason", "new tool"}}),
                                         admin.Auth());
    ASSERT_EQ(created.status, 201) << created.body;
    EXPECT_EQ(Client()
                  .Post("/api/v1/admin/catalog/tools",
                        JsonObject({{"tool_type", "bad"},
                                    {"name", "Bad"},
                                    {"system_prompt", "s"},
                                    {"user_template", "no"},
                                    {"reason", "bad"}}),
                        admin.Auth())
                  .status,
              422);
    // The next generation on every worker knows it at once (the 10 s cache notwithstanding).
    OnBothWorkers([&] {
        HttpResponse r = generate();
        EXPECT_EQ(r.status, 200) << r.body;
        return r;
    });
    bool listed = false;
    for (const Json::Value& t : Items(Client().Get("/api/v1/writing/tools"))) {
        listed = listed || t["tool_type"] == "poem";
    }
    EXPECT_TRUE(listed);
    const int64_t id = created.JsonBody()["id"].asInt64();
    ASSERT_EQ(Put("/api/v1/admin/catalog/tools/" + std::to_string(id),
                  JsonObject({{"active", false}, {"reason", "retire"}}), admin)
                  .status,
              200);
    OnBothWorkers([&] {
        HttpResponse r = generate();
        EXPECT_EQ(r.status, 422) << r.body;
        return r;
    });
    const auto audit = TheStack().db().Query(
        "SELECT action, before_json IS NULL FROM inkstone.admin_audit_log WHERE target_type = "
        "'tool' AND target_id = '" +
        std::to_string(id) + "' ORDER BY id");
    ASSERT_EQ(audit.size(), 2u);
    EXPECT_EQ(audit[0][0], "catalog.tool.create");
    EXPECT_EQ(audit[0][1], "1");
    EXPECT_EQ(audit[1][0], "catalog.tool.update");
    EXPECT_EQ(audit[1][1], "0");
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

TEST_F(AdminCatalog, CliPriceListAndSetAreAuditedAndSeenByTheNextGeneration) {
    AdminRun list = RunAdmin("price list");
    ASSERT_EQ(list.status, 0) << list.output;
    EXPECT_THAT(list.output, ::testing::HasSubstr("model qwen-max 10 credits (config)"));
    EXPECT_THAT(list.output, ::testing::HasSubstr("package:2 100+10 credits for 1000 fen"));

    EXPECT_EQ(RunAdmin("price set qwen-max 12").status, 2);  // no --reason
    AdminRun set = RunAdmin("price set qwen-max 12 --reason 'cost went up'");
    ASSERT_EQ(set.status, 0) << set.output;
    EXPECT_EQ(RunAdmin("price set no-such-model 1 --reason x").status, 1);

    const ApiUser user = NewUser("cli_gen");
    RechargeAndPay(Client(), user, JsonObject({{"price_id", 2}}));
    OnBothWorkers([&] {
        HttpResponse r = Client().Post("/api/v1/writing/generate",
                                       JsonObject({{"tool_type", "article"},
                                                   {"prompt", "cli"},
                                                   {"model", "qwen-max"},
                                                   {"stream", false}}),
                                       user.Auth());
        EXPECT_EQ(r.status, 200) << r.body;
        EXPECT_EQ(r.JsonBody()["credits_charged"], 12) << r.body;
        return r;
    });
    EXPECT_THAT(RunAdmin("price list").output,
                ::testing::HasSubstr("model qwen-max 12 credits (table)"));
    ASSERT_EQ(RunAdmin("price set qwen-max 10 --reason restore").status, 0);

    const auto audit = TheStack().db().Query(
        "SELECT actor, actor_user_id IS NULL, reason FROM inkstone.admin_audit_log WHERE action = "
        "'catalog.model.update' AND target_id = 'qwen-max' ORDER BY id");
    ASSERT_EQ(audit.size(), 2u);
    EXPECT_EQ(audit[0][0].rfind("cli:", 0), 0u) << audit[0][0];
    EXPECT_EQ(audit[0][1], "1");
    EXPECT_EQ(audit[0][2], "cost went up");
}

}  // namespace
}  // namespace inkstone::testing
