// Redemption codes over real HTTP (docs/admin-api.md, "Redemption codes"): batches (format,
// CSV export, disable, audit rows, whitelisted bodies), redeeming credits and days codes, the
// code used exactly once under 20 concurrent redeems, expired / disabled / unknown codes, the
// failure limits per user and per address, and inkstone-admin's `codes create|export`. Every
// test ends with the ledger invariants (CheckLedger covers REDEEM rows and used codes).
//
// nginx here trusts X-Forwarded-For from 127.0.0.1 (real_ip, a local.d file of this stack
// only), so each test redeems from client addresses of its own and the per-address limit of
// one test never meets another's.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lib/base/json.h"
#include "tests/harness/api_user.h"
#include "tests/harness/ledger_invariants.h"
#include "tests/harness/shared_stack.h"

namespace inkstone::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kFailuresPerUser = 5;
constexpr int kFailuresPerAddress = 12;
constexpr int kFailureWindowS = 6;

Stack& TheStack() {
    StackOptions options;
    options.workers = 2;
    options.threads = 8;
    options.config["redeem.failures_per_user"] = std::to_string(kFailuresPerUser);
    options.config["redeem.failures_per_address"] = std::to_string(kFailuresPerAddress);
    options.config["redeem.failure_window_s"] = std::to_string(kFailureWindowS);
    options.nginx_local_conf["realip.conf"] =
        "set_real_ip_from 127.0.0.1;\nreal_ip_header X-Forwarded-For;\n";
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

/// A fresh client address for each caller: 198.51.100.x, then 198.51.101.x, ...
std::string FreshAddress() {
    static std::atomic<int> next{1};
    const int n = next++;
    return "198.51." + std::to_string(100 + n / 250) + "." + std::to_string(1 + n % 250);
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

/// `YYYY-MM-DD`, `days` from today (UTC).
std::string Day(int days) {
    const std::time_t t = std::time(nullptr) + static_cast<std::time_t>(days) * 86400;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char text[16];
    std::strftime(text, sizeof text, "%Y-%m-%d", &tm);
    return text;
}

struct Batch {
    int64_t id = 0;
    std::vector<std::string> codes;  ///< display form
    Json::Value body;
};

Batch CreateBatch(const ApiUser& admin, Json::Value fields) {
    if (!fields.isMember("expires_at")) fields["expires_at"] = Day(30);
    if (!fields.isMember("reason")) fields["reason"] = "test batch";
    if (!fields.isMember("note")) fields["note"] = "test";
    const HttpResponse r = Client().Post("/api/v1/admin/codes/batches", fields, admin.Auth());
    EXPECT_EQ(r.status, 201) << r.body;
    Batch batch;
    if (r.status != 201) return batch;
    batch.body = r.JsonBody();
    batch.id = batch.body["batch"]["id"].asInt64();
    for (const Json::Value& code : batch.body["codes"]) batch.codes.push_back(code.asString());
    return batch;
}

HttpResponse Redeem(const ApiUser& user, const std::string& code,
                    const std::string& address = FreshAddress()) {
    return Client().Post("/api/v1/credit/redeem", JsonObject({{"code", code}}),
                         user.Auth({{"X-Forwarded-For", address}}));
}

/// "ABCDE-FGHJK-..." → "abcdefghjk..." (how a careless user may type it).
std::string Sloppy(const std::string& code) {
    std::string out;
    for (char c : code) {
        if (c != '-') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

std::string Normalised(const std::string& code) {
    std::string out;
    for (char c : code) {
        if (c != '-') out += c;
    }
    return out;
}

std::vector<std::string> Lines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

const std::regex kCodeFormat(
    "^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{5}(-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{5}){3}$");

class AdminCodes : public ::testing::Test {
  protected:
    void TearDown() override {
        const LedgerReport report = CheckLedger(TheStack().db());
        EXPECT_THAT(report.violations, ::testing::IsEmpty()) << report.Summary();
    }
};

TEST_F(AdminCodes, CodeRoutesAre401WithoutTokenAnd403ForAUser) {
    const ApiUser user = NewUser("plain");
    const HttpHeaders json = {{"Content-Type", "application/json"}};
    const std::vector<std::pair<std::string, std::string>> routes = {
        {"POST", "/api/v1/admin/codes/batches"},
        {"GET", "/api/v1/admin/codes/batches"},
        {"GET", "/api/v1/admin/codes/batches/1"},
        {"GET", "/api/v1/admin/codes/batches/1/export"},
        {"POST", "/api/v1/admin/codes/batches/1/disable"},
    };
    for (const auto& [method, path] : routes) {
        SCOPED_TRACE(method + " " + path);
        const std::string body = method == "GET" ? "" : R"({"reason":"x"})";
        ExpectError(Client().Request(method, path, body, json), 401, "UNAUTHORIZED");
        ExpectError(Client().Request(method, path, body, user.Auth(json)), 403, "FORBIDDEN");
    }
    ExpectError(Client().Post("/api/v1/credit/redeem", JsonObject({{"code", "x"}})), 401,
                "UNAUTHORIZED");
}

TEST_F(AdminCodes, BatchCodesAreWellFormedUniqueAndExportedAsCsv) {
    const ApiUser admin = NewAdmin();
    const std::string expires = Day(20);
    const Batch batch = CreateBatch(admin, JsonObject({{"count", 50},
                                                       {"credits", 100},
                                                       {"expires_at", expires},
                                                       {"note", "launch week"},
                                                       {"reason", "  marketing  "}}));
    ASSERT_EQ(batch.codes.size(), 50u);
    const Json::Value& b = batch.body["batch"];
    EXPECT_EQ(b["code_count"], 50);
    EXPECT_EQ(b["used_count"], 0);
    EXPECT_EQ(b["credits"], 100);
    EXPECT_EQ(b["days"], 0);
    EXPECT_EQ(b["note"], "launch week");
    EXPECT_EQ(b["disabled"], false);
    EXPECT_EQ(b["expires_at"], expires + "T23:59:59Z");
    EXPECT_EQ(b["created_by"], "user:" + std::to_string(admin.id));

    std::set<std::string> unique;
    for (const std::string& code : batch.codes) {
        EXPECT_TRUE(std::regex_match(code, kCodeFormat)) << code;
        unique.insert(code);
    }
    EXPECT_EQ(unique.size(), 50u);
    // Stored normalised, in the order shown.
    const auto stored = TheStack().db().Query(
        "SELECT code FROM inkstone.redeem_codes WHERE batch_id = " + std::to_string(batch.id) +
        " ORDER BY id");
    ASSERT_EQ(stored.size(), 50u);
    for (size_t i = 0; i < stored.size(); ++i) EXPECT_EQ(stored[i][0], Normalised(batch.codes[i]));

    // Detail: paged codes.
    const HttpResponse detail = Client().Get(
        "/api/v1/admin/codes/batches/" + std::to_string(batch.id) + "?page=2&page_size=20",
        admin.Auth());
    ASSERT_EQ(detail.status, 200) << detail.body;
    const Json::Value d = detail.JsonBody();
    EXPECT_EQ(d["batch"]["id"], Json::Int64{batch.id});
    EXPECT_EQ(d["total"], 50);
    EXPECT_EQ(d["page"], 2);
    ASSERT_EQ(d["codes"].size(), 20u);
    EXPECT_EQ(d["codes"][0]["code"], batch.codes[20]);
    EXPECT_TRUE(d["codes"][0]["used_by"].isNull());
    ExpectError(Client().Get("/api/v1/admin/codes/batches/99999999", admin.Auth()), 404,
                "NOT_FOUND");
    ExpectError(Client().Get("/api/v1/admin/codes/batches/abc", admin.Auth()), 404, "NOT_FOUND");

    // List: newest first, with the used count.
    const HttpResponse list = Client().Get("/api/v1/admin/codes/batches", admin.Auth());
    ASSERT_EQ(list.status, 200) << list.body;
    const Json::Value items = list.JsonBody()["items"];
    ASSERT_GE(items.size(), 1u);
    EXPECT_EQ(items[0]["id"], Json::Int64{batch.id});
    EXPECT_EQ(items[0]["used_count"], 0);

    // Redeem one, then the export shows who used it.
    const ApiUser user = NewUser("csv");
    ASSERT_EQ(Redeem(user, batch.codes[3]).status, 200);

    const HttpResponse csv = Client().Get(
        "/api/v1/admin/codes/batches/" + std::to_string(batch.id) + "/export", admin.Auth());
    ASSERT_EQ(csv.status, 200) << csv.body;
    EXPECT_THAT(csv.Header("content-type"), ::testing::StartsWith("text/csv"));
    EXPECT_THAT(csv.Header("content-disposition"), ::testing::StartsWith("attachment"));
    const std::vector<std::string> lines = Lines(csv.body);
    ASSERT_EQ(lines.size(), 51u) << csv.body;
    EXPECT_EQ(lines[0], "code,credits,days,expires_at,used_by,used_at");
    for (size_t i = 0; i < 50; ++i) {
        if (i == 3) continue;
        EXPECT_EQ(lines[i + 1], batch.codes[i] + ",100,0," + expires + "T23:59:59Z,,");
    }
    EXPECT_THAT(lines[4], ::testing::StartsWith(batch.codes[3] + ",100,0," + expires +
                                                "T23:59:59Z," + std::to_string(user.id) + ",20"));
    // An export is a read: no audit row. The creation has exactly one, without the codes.
    const auto audit = TheStack().db().Query(
        "SELECT action, reason, actor, after_json FROM inkstone.admin_audit_log WHERE "
        "target_type = 'batch' AND target_id = '" +
        std::to_string(batch.id) + "'");
    ASSERT_EQ(audit.size(), 1u);
    EXPECT_EQ(audit[0][0], "codes.create");
    EXPECT_EQ(audit[0][1], "marketing");
    EXPECT_EQ(audit[0][2], "user:" + std::to_string(admin.id));
    EXPECT_THAT(audit[0][3], ::testing::HasSubstr("\"count\":50"));
    EXPECT_THAT(audit[0][3], ::testing::Not(::testing::HasSubstr(Normalised(batch.codes[0]))));

    const HttpResponse listed = Client().Get("/api/v1/admin/codes/batches", admin.Auth());
    EXPECT_EQ(listed.JsonBody()["items"][0]["used_count"], 1) << listed.body;
}

TEST_F(AdminCodes, TenThousandCodesInOneBatchQuickly) {
    const ApiUser admin = NewAdmin();
    const auto start = std::chrono::steady_clock::now();
    const Batch batch = CreateBatch(admin, JsonObject({{"count", 10000}, {"days", 7}}));
    const auto took = std::chrono::steady_clock::now() - start;
    ASSERT_EQ(batch.codes.size(), 10000u);
    EXPECT_LT(took, 5s) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                        << " ms";
    const std::set<std::string> unique(batch.codes.begin(), batch.codes.end());
    EXPECT_EQ(unique.size(), 10000u);
    EXPECT_EQ(Sql("SELECT COUNT(*) FROM inkstone.redeem_codes WHERE batch_id = " +
                  std::to_string(batch.id)),
              "10000");
    const HttpResponse csv = Client().Get(
        "/api/v1/admin/codes/batches/" + std::to_string(batch.id) + "/export", admin.Auth());
    ASSERT_EQ(csv.status, 200);
    EXPECT_EQ(Lines(csv.body).size(), 10001u);

    ExpectError(
        Client().Post(
            "/api/v1/admin/codes/batches",
            JsonObject(
                {{"count", 10001}, {"days", 7}, {"expires_at", Day(3)}, {"reason", "too many"}}),
            admin.Auth()),
        422, "VALIDATION_ERROR", "count");
}

TEST_F(AdminCodes, CreateValidatesItsBodyAndIgnoresExtraFields) {
    const ApiUser admin = NewAdmin();
    const std::string path = "/api/v1/admin/codes/batches";
    const auto post = [&](Json::Value body) { return Client().Post(path, body, admin.Auth()); };
    const std::string batches_before = Sql("SELECT COUNT(*) FROM inkstone.redeem_batches");
    ExpectError(post(JsonObject({{"count", 1}, {"credits", 5}, {"expires_at", Day(3)}})), 422,
                "VALIDATION_ERROR", "reason");
    ExpectError(
        post(JsonObject({{"count", 1}, {"credits", 5}, {"expires_at", Day(3)}, {"reason", "  "}})),
        422, "VALIDATION_ERROR", "reason");
    ExpectError(
        post(JsonObject({{"count", 0}, {"credits", 5}, {"expires_at", Day(3)}, {"reason", "r"}})),
        422, "VALIDATION_ERROR", "count");
    ExpectError(post(JsonObject({{"count", 1}, {"expires_at", Day(3)}, {"reason", "r"}})), 422,
                "VALIDATION_ERROR");
    ExpectError(
        post(JsonObject(
            {{"count", 1}, {"credits", 5}, {"days", 5}, {"expires_at", Day(3)}, {"reason", "r"}})),
        422, "VALIDATION_ERROR");
    ExpectError(
        post(JsonObject({{"count", 1}, {"credits", 5}, {"expires_at", Day(-1)}, {"reason", "r"}})),
        422, "VALIDATION_ERROR", "expires_at");
    ExpectError(
        post(JsonObject({{"count", 1}, {"credits", 5}, {"expires_at", "soon"}, {"reason", "r"}})),
        422, "VALIDATION_ERROR", "expires_at");
    ExpectError(post(JsonObject(
                    {{"count", 1}, {"credits", 5}, {"expires_at", "2030-02-30"}, {"reason", "r"}})),
                422, "VALIDATION_ERROR", "expires_at");
    ExpectError(
        post(JsonObject({{"count", 1}, {"credits", "5"}, {"expires_at", Day(3)}, {"reason", "r"}})),
        422, "VALIDATION_ERROR", "credits");
    EXPECT_EQ(Sql("SELECT COUNT(*) FROM inkstone.redeem_batches"), batches_before);

    // Unknown fields set nothing; an ISO time with an offset is taken as that instant.
    const HttpResponse extra = post(JsonObject({{"count", 2},
                                                {"credits", 5},
                                                {"expires_at", "2030-01-02T08:00:00+08:00"},
                                                {"reason", "extra"},
                                                {"created_by", "cli:root"},
                                                {"code_count", 9999},
                                                {"used_count", 2},
                                                {"disabled", true},
                                                {"codes", Json::Value(Json::arrayValue)}}));
    ASSERT_EQ(extra.status, 201) << extra.body;
    const Json::Value b = extra.JsonBody()["batch"];
    EXPECT_EQ(b["created_by"], "user:" + std::to_string(admin.id));
    EXPECT_EQ(b["code_count"], 2);
    EXPECT_EQ(b["used_count"], 0);
    EXPECT_EQ(b["disabled"], false);
    EXPECT_EQ(b["expires_at"], "2030-01-02T00:00:00Z");
    EXPECT_EQ(extra.JsonBody()["codes"].size(), 2u);
}

TEST_F(AdminCodes, RedeemACreditsCode) {
    const ApiUser admin = NewAdmin();
    const Batch batch = CreateBatch(admin, JsonObject({{"count", 3}, {"credits", 120}}));
    ASSERT_EQ(batch.codes.size(), 3u);
    const ApiUser user = NewUser("redeem");

    // Lower case, no dashes: accepted.
    const HttpResponse r = Redeem(user, Sloppy(batch.codes[0]));
    ASSERT_EQ(r.status, 200) << r.body;
    const Json::Value body = r.JsonBody();
    EXPECT_EQ(body["credits_added"], 120);
    EXPECT_EQ(body["days_added"], 0);
    EXPECT_EQ(body["balance"], 120);
    EXPECT_TRUE(body["member_expired_at"].isNull());
    EXPECT_EQ(Balance(user), 120);

    // With spaces instead of dashes, the second code adds up.
    std::string spaced = batch.codes[1];
    for (char& c : spaced) {
        if (c == '-') c = ' ';
    }
    const HttpResponse second = Redeem(user, " " + spaced + " ");
    ASSERT_EQ(second.status, 200) << second.body;
    EXPECT_EQ(second.JsonBody()["balance"], 240);

    const HttpResponse ledger =
        Client().Get("/api/v1/credit/transactions?type=REDEEM", user.Auth());
    ASSERT_EQ(ledger.status, 200) << ledger.body;
    const Json::Value items = ledger.JsonBody()["items"];
    ASSERT_EQ(items.size(), 2u) << ledger.body;
    EXPECT_EQ(items[0]["type"], "REDEEM");
    EXPECT_EQ(items[0]["amount"], 120);
    EXPECT_EQ(items[0]["balance_after"], 240);
    EXPECT_EQ(Sql("SELECT used_by FROM inkstone.redeem_codes WHERE code = '" +
                  Normalised(batch.codes[0]) + "'"),
              std::to_string(user.id));

    // Used: 409 for the same user and for anyone else; nothing changes.
    ExpectError(Redeem(user, batch.codes[0]), 409, "CODE_USED");
    const ApiUser other = NewUser("late");
    ExpectError(Redeem(other, batch.codes[0]), 409, "CODE_USED");
    EXPECT_EQ(Balance(user), 240);
    EXPECT_EQ(Balance(other), 0);
    EXPECT_EQ(Sql("SELECT COUNT(*) FROM inkstone.credit_transactions WHERE type = 'REDEEM' AND "
                  "user_id IN (" +
                  std::to_string(user.id) + ", " + std::to_string(other.id) + ")"),
              "2");
}

TEST_F(AdminCodes, RedeemADaysCodeExtendsTheMembership) {
    const ApiUser admin = NewAdmin();
    const Batch batch = CreateBatch(admin, JsonObject({{"count", 2}, {"days", 30}}));
    ASSERT_EQ(batch.codes.size(), 2u);
    const ApiUser user = NewUser("days");

    const HttpResponse first = Redeem(user, batch.codes[0]);
    ASSERT_EQ(first.status, 200) << first.body;
    EXPECT_EQ(first.JsonBody()["credits_added"], 0);
    EXPECT_EQ(first.JsonBody()["days_added"], 30);
    EXPECT_EQ(first.JsonBody()["balance"], 0);
    const std::string expiry = first.JsonBody()["member_expired_at"].asString();
    EXPECT_GT(expiry, Day(29));
    EXPECT_LT(expiry, Day(31));
    EXPECT_EQ(Client().Get("/api/v1/users/me", user.Auth()).JsonBody()["is_member"], true);

    // The second extends from the current expiry, not from now.
    const HttpResponse second = Redeem(user, batch.codes[1]);
    ASSERT_EQ(second.status, 200) << second.body;
    const std::string later = second.JsonBody()["member_expired_at"].asString();
    EXPECT_GT(later, Day(59));
    EXPECT_LT(later, Day(61));

    const HttpResponse detail =
        Client().Get("/api/v1/admin/users/" + std::to_string(user.id), admin.Auth());
    ASSERT_EQ(detail.status, 200) << detail.body;
    const Json::Value grants = detail.JsonBody()["membership_grants"];
    ASSERT_EQ(grants.size(), 2u) << detail.body;
    EXPECT_EQ(grants[0]["source"], "REDEEM");
    EXPECT_EQ(grants[0]["days"], 30);
    EXPECT_EQ(grants[0]["months"], 0);
    EXPECT_EQ(grants[0]["expired_before"], expiry);
    EXPECT_EQ(grants[0]["expired_after"], later);
    EXPECT_TRUE(grants[0]["related_redeem_code_id"].isInt64()) << detail.body;
    EXPECT_TRUE(grants[1]["expired_before"].isNull());
    // No ledger row for a days code.
    EXPECT_EQ(Sql("SELECT COUNT(*) FROM inkstone.credit_transactions WHERE user_id = " +
                  std::to_string(user.id)),
              "0");
}

/// `threads` users redeem `code` at once (each from an address of its own); returns the
/// responses.
std::vector<HttpResponse> RedeemTogether(const std::vector<ApiUser>& users,
                                         const std::string& code) {
    std::vector<HttpResponse> responses(users.size());
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (size_t i = 0; i < users.size(); ++i) {
        threads.emplace_back([&, i] {
            const std::string address = FreshAddress();
            ++ready;
            while (!go) std::this_thread::yield();
            responses[i] = Redeem(users[i], code, address);
        });
    }
    while (ready < static_cast<int>(users.size())) std::this_thread::yield();
    go = true;
    for (std::thread& t : threads) t.join();
    return responses;
}

TEST_F(AdminCodes, TwentyConcurrentRedeemsOfOneCodeGiveOneSuccess) {
    const ApiUser admin = NewAdmin();
    const Batch credits = CreateBatch(admin, JsonObject({{"count", 1}, {"credits", 77}}));
    const Batch days = CreateBatch(admin, JsonObject({{"count", 1}, {"days", 9}}));
    ASSERT_EQ(credits.codes.size(), 1u);
    ASSERT_EQ(days.codes.size(), 1u);
    std::vector<ApiUser> users;
    for (int i = 0; i < 20; ++i) users.push_back(NewUser("race"));

    for (const Batch* batch : {&credits, &days}) {
        SCOPED_TRACE(batch == &credits ? "credits code" : "days code");
        const std::vector<HttpResponse> responses = RedeemTogether(users, batch->codes[0]);
        int ok = 0;
        int used = 0;
        int64_t winner = 0;
        for (size_t i = 0; i < responses.size(); ++i) {
            if (responses[i].status == 200) {
                ++ok;
                winner = users[i].id;
            } else if (responses[i].status == 409 &&
                       responses[i].JsonBody()["code"] == "CODE_USED") {
                ++used;
            } else {
                ADD_FAILURE() << responses[i].status << " " << responses[i].body;
            }
        }
        EXPECT_EQ(ok, 1);
        EXPECT_EQ(used, 19);
        EXPECT_EQ(Sql("SELECT used_by FROM inkstone.redeem_codes WHERE batch_id = " +
                      std::to_string(batch->id)),
                  std::to_string(winner));
        EXPECT_EQ(Sql("SELECT (SELECT COUNT(*) FROM inkstone.credit_transactions t JOIN "
                      "inkstone.redeem_codes c ON c.id = t.related_redeem_code_id WHERE "
                      "c.batch_id = " +
                      std::to_string(batch->id) +
                      ") + (SELECT COUNT(*) FROM inkstone.membership_grants g JOIN "
                      "inkstone.redeem_codes c ON c.id = g.related_redeem_code_id WHERE "
                      "c.batch_id = " +
                      std::to_string(batch->id) + ")"),
                  "1");
    }
    int64_t total = 0;
    for (const ApiUser& user : users) total += Balance(user);
    EXPECT_EQ(total, 77);
}

TEST_F(AdminCodes, ExpiredDisabledAndUnknownCodes) {
    const ApiUser admin = NewAdmin();
    const ApiUser user = NewUser("expired");
    const Batch expired = CreateBatch(admin, JsonObject({{"count", 1}, {"credits", 5}}));
    const Batch disabled = CreateBatch(admin, JsonObject({{"count", 2}, {"credits", 5}}));
    ASSERT_EQ(expired.codes.size(), 1u);
    ASSERT_EQ(disabled.codes.size(), 2u);
    TheStack().db().Exec(
        "UPDATE inkstone.redeem_batches SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND "
        "WHERE id = " +
        std::to_string(expired.id));
    ExpectError(Redeem(user, expired.codes[0]), 409, "CODE_EXPIRED");

    // One code of the batch used before it was disabled stays used; the other is refused.
    ASSERT_EQ(Redeem(user, disabled.codes[0]).status, 200);
    const std::string disable_path =
        "/api/v1/admin/codes/batches/" + std::to_string(disabled.id) + "/disable";
    ExpectError(Client().Post(disable_path, JsonObject({{"note", "no reason"}}), admin.Auth()), 422,
                "VALIDATION_ERROR", "reason");
    const HttpResponse off =
        Client().Post(disable_path, JsonObject({{"reason", "leaked on a forum"}}), admin.Auth());
    ASSERT_EQ(off.status, 200) << off.body;
    EXPECT_EQ(off.JsonBody()["disabled"], true);
    EXPECT_EQ(off.JsonBody()["used_count"], 1);
    // Disabling again changes nothing and writes no audit row.
    const HttpResponse again =
        Client().Post(disable_path, JsonObject({{"reason", "twice"}}), admin.Auth());
    ASSERT_EQ(again.status, 200) << again.body;
    EXPECT_EQ(again.JsonBody()["disabled_at"], off.JsonBody()["disabled_at"]);
    const HttpResponse audit =
        Client().Get("/api/v1/admin/audit?action=codes.disable&target_type=batch&target_id=" +
                         std::to_string(disabled.id),
                     admin.Auth());
    ASSERT_EQ(audit.status, 200) << audit.body;
    ASSERT_EQ(audit.JsonBody()["items"].size(), 1u) << audit.body;
    EXPECT_EQ(audit.JsonBody()["items"][0]["reason"], "leaked on a forum");
    EXPECT_EQ(audit.JsonBody()["items"][0]["actor"], "user:" + std::to_string(admin.id));
    EXPECT_EQ(audit.JsonBody()["items"][0]["after"]["disabled"], true);
    ExpectError(Client().Post("/api/v1/admin/codes/batches/99999999/disable",
                              JsonObject({{"reason", "x"}}), admin.Auth()),
                404, "NOT_FOUND");

    const ApiUser other = NewUser("disabled");
    ExpectError(Redeem(other, disabled.codes[1]), 409, "CODE_EXPIRED");
    ExpectError(Redeem(other, disabled.codes[0]), 409, "CODE_USED");
    EXPECT_EQ(Balance(other), 0);

    // Unknown, malformed (ambiguous letters, wrong length, other symbols): all 404, no hint.
    const ApiUser guesser = NewUser("guess");
    const std::string address = FreshAddress();
    ExpectError(Redeem(guesser, "22222-22222-22222-22222", address), 404, "CODE_NOT_FOUND");
    ExpectError(Redeem(guesser, "OOOOO-IIIII-11111-00000", address), 404, "CODE_NOT_FOUND");
    ExpectError(Redeem(guesser, "hello", address), 404, "CODE_NOT_FOUND");
    ExpectError(Redeem(guesser, disabled.codes[1] + "2", address), 404, "CODE_NOT_FOUND");
    ExpectError(
        Client().Post("/api/v1/credit/redeem", JsonObject({{"coupon", "x"}}), guesser.Auth()), 422,
        "VALIDATION_ERROR", "code");
    EXPECT_EQ(Sql("SELECT COUNT(*) FROM inkstone.redeem_failures WHERE user_id = " +
                  std::to_string(guesser.id)),
              "4");
    EXPECT_EQ(Sql("SELECT COUNT(*) FROM inkstone.redeem_codes WHERE used_by = " +
                  std::to_string(other.id)),
              "0");
}

TEST_F(AdminCodes, FailedRedeemsAreLimitedPerUser) {
    const ApiUser admin = NewAdmin();
    const Batch batch = CreateBatch(admin, JsonObject({{"count", 1}, {"credits", 9}}));
    ASSERT_EQ(batch.codes.size(), 1u);
    const ApiUser user = NewUser("throttled");
    for (int i = 0; i < kFailuresPerUser; ++i) {
        // A different address each time: the user's own limit is what holds.
        ExpectError(Redeem(user, "22222-33333-44444-5555" + std::to_string(i % 8 + 2)), 404,
                    "CODE_NOT_FOUND");
    }
    const HttpResponse refused = Redeem(user, "22222-33333-44444-55559");
    ExpectError(refused, 429, "TOO_MANY_ATTEMPTS");
    const int retry_after = std::stoi(refused.Header("retry-after"));
    EXPECT_GE(retry_after, 1);
    EXPECT_LE(retry_after, kFailureWindowS);
    // A valid code is refused too, and stays unused; the refusals are not counted.
    ExpectError(Redeem(user, batch.codes[0]), 429, "TOO_MANY_ATTEMPTS");
    EXPECT_EQ(Sql("SELECT used_at IS NULL FROM inkstone.redeem_codes WHERE batch_id = " +
                  std::to_string(batch.id)),
              "1");
    EXPECT_EQ(Sql("SELECT COUNT(*) FROM inkstone.redeem_failures WHERE user_id = " +
                  std::to_string(user.id)),
              std::to_string(kFailuresPerUser));
    // Another user is not affected.
    const ApiUser bystander = NewUser("bystander");
    ExpectError(Redeem(bystander, "22222-33333-44444-55558"), 404, "CODE_NOT_FOUND");

    // Once the window has room, the valid code works.
    std::this_thread::sleep_for(std::chrono::seconds(retry_after) + 300ms);
    const HttpResponse ok = Redeem(user, batch.codes[0]);
    ASSERT_EQ(ok.status, 200) << ok.body;
    EXPECT_EQ(ok.JsonBody()["balance"], 9);
}

TEST_F(AdminCodes, FailedRedeemsAreLimitedPerAddress) {
    const ApiUser admin = NewAdmin();
    const Batch batch = CreateBatch(admin, JsonObject({{"count", 2}, {"credits", 4}}));
    ASSERT_EQ(batch.codes.size(), 2u);
    const std::string address = FreshAddress();
    // Users below their own limit, together at the address's.
    int failures = 0;
    while (failures < kFailuresPerAddress) {
        const ApiUser user = NewUser("flood");
        for (int i = 0; i < kFailuresPerUser - 1 && failures < kFailuresPerAddress; ++i) {
            ExpectError(Redeem(user, "33333-44444-55555-6666" + std::to_string(i + 2), address),
                        404, "CODE_NOT_FOUND");
            ++failures;
        }
    }
    const ApiUser fresh = NewUser("sameaddress");
    const HttpResponse refused = Redeem(fresh, batch.codes[0], address);
    ExpectError(refused, 429, "TOO_MANY_ATTEMPTS");
    EXPECT_FALSE(refused.Header("retry-after").empty());
    // The same user from another address is fine.
    const HttpResponse elsewhere = Redeem(fresh, batch.codes[0], FreshAddress());
    ASSERT_EQ(elsewhere.status, 200) << elsewhere.body;
    EXPECT_EQ(elsewhere.JsonBody()["balance"], 4);
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

std::string ReadFile(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

TEST_F(AdminCodes, CliCreatesAndExportsBatchesThroughTheSameService) {
    const std::string out = TheStack().dir() + "/cli-codes.csv";
    const std::string expires = Day(40);
    const std::string batches_before = Sql("SELECT COUNT(*) FROM inkstone.redeem_batches");

    // --reason is required; exactly one of --credits and --days.
    EXPECT_EQ(
        RunAdmin("codes create --count 3 --credits 7 --expires " + expires + " --note cli").status,
        2);
    EXPECT_EQ(RunAdmin("codes create --count 3 --credits 7 --days 2 --expires " + expires +
                       " --note cli --reason r")
                  .status,
              2);
    AdminRun bad = RunAdmin("codes create --count 0 --credits 7 --expires " + expires +
                            " --note cli --reason r");
    EXPECT_EQ(bad.status, 1) << bad.output;
    EXPECT_THAT(bad.output, ::testing::HasSubstr("count"));
    EXPECT_EQ(Sql("SELECT COUNT(*) FROM inkstone.redeem_batches"), batches_before);

    AdminRun created = RunAdmin("codes create --count 3 --credits 7 --expires " + expires +
                                " --note 'from the cli' --reason 'support tickets' --out " + out);
    ASSERT_EQ(created.status, 0) << created.output;
    struct stat st {};
    ASSERT_EQ(stat(out.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);  // codes are worth money: not world-readable
    const std::vector<std::string> lines = Lines(ReadFile(out));
    ASSERT_EQ(lines.size(), 4u) << ReadFile(out);
    EXPECT_EQ(lines[0], "code,credits,days,expires_at,used_by,used_at");
    std::vector<std::string> codes;
    for (size_t i = 1; i < lines.size(); ++i) {
        const std::string code = lines[i].substr(0, lines[i].find(','));
        EXPECT_TRUE(std::regex_match(code, kCodeFormat)) << lines[i];
        EXPECT_EQ(lines[i], code + ",7,0," + expires + "T23:59:59Z,,");
        codes.push_back(code);
    }
    const std::string batch_id = Sql("SELECT batch_id FROM inkstone.redeem_codes WHERE code = '" +
                                     Normalised(codes[0]) + "'");
    ASSERT_FALSE(batch_id.empty());
    const auto audit = TheStack().db().Query(
        "SELECT action, actor, actor_user_id IS NULL, request_id IS NULL, reason FROM "
        "inkstone.admin_audit_log WHERE target_type = 'batch' AND target_id = '" +
        batch_id + "'");
    ASSERT_EQ(audit.size(), 1u);
    EXPECT_EQ(audit[0][0], "codes.create");
    EXPECT_THAT(audit[0][1], ::testing::StartsWith("cli:"));
    EXPECT_EQ(audit[0][2], "1");
    EXPECT_EQ(audit[0][3], "1");
    EXPECT_EQ(audit[0][4], "support tickets");
    EXPECT_EQ(Sql("SELECT created_by FROM inkstone.redeem_batches WHERE id = " + batch_id),
              audit[0][1]);

    // A CLI code redeems like any other; the export shows it used.
    const ApiUser user = NewUser("clicode");
    ASSERT_EQ(Redeem(user, codes[1]).status, 200);
    AdminRun exported = RunAdmin("codes export " + batch_id);
    ASSERT_EQ(exported.status, 0) << exported.output;
    const std::vector<std::string> exported_lines = Lines(exported.output);
    ASSERT_EQ(exported_lines.size(), 4u) << exported.output;
    EXPECT_EQ(exported_lines[1], lines[1]);
    EXPECT_THAT(exported_lines[2],
                ::testing::StartsWith(codes[1] + ",7,0," + expires + "T23:59:59Z," +
                                      std::to_string(user.id) + ","));
    EXPECT_EQ(RunAdmin("codes export 99999999").status, 1);
    EXPECT_EQ(RunAdmin("codes export abc").status, 2);

    // Without --out the CSV goes to stdout; a days batch.
    AdminRun days = RunAdmin("codes create --count 2 --days 3 --expires " + expires +
                             " --note days --reason=promo");
    ASSERT_EQ(days.status, 0) << days.output;
    std::vector<std::string> day_lines;  // the CSV; stderr's "created batch N" line dropped
    for (const std::string& line : Lines(days.output)) {
        if (line.rfind("created batch ", 0) != 0) day_lines.push_back(line);
    }
    ASSERT_EQ(day_lines.size(), 3u) << days.output;
    EXPECT_THAT(day_lines[1], ::testing::EndsWith(",0,3," + expires + "T23:59:59Z,,"));
}

}  // namespace
}  // namespace inkstone::testing
