// Accounts over real HTTP (README, "Accounts and authorization"): register, login, logout, me;
// validation, duplicates, hostile input, the brute-force limit, the hash upgrade at login, the
// admin command line and logout seen by every worker.
#include <gtest/gtest.h>
#include <json/writer.h>
#include <sodium.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness/shared_stack.h"

namespace inkstone::testing {
namespace {

Stack& TheStack() { return SharedStack(); }

Json::Value Creds(const std::string& username, const std::string& password = "correct horse 1") {
    Json::Value body;
    body["username"] = username;
    body["password"] = password;
    return body;
}

HttpHeaders Bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

struct AdminRun {
    int status = -1;  ///< the exit status
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

/// A snapshot of everything a request could have written, to show it changed nothing.
std::string UsersFingerprint() {
    std::string out;
    for (const auto& row : TheStack().db().Query("SELECT id, username, IFNULL(email,''), role, "
                                                 "credits FROM inkstone.users ORDER BY id")) {
        for (const auto& cell : row) out += cell + "|";
        out += "\n";
    }
    for (const auto& row : TheStack().db().Query("SELECT COUNT(*) FROM inkstone.auth_tokens")) {
        out += row[0];
    }
    return out;
}

TEST(Auth, RegisterMeLogoutFlow) {
    HttpClient c = TheStack().client();
    Json::Value body = Creds("flow_user");
    body["email"] = "flow@example.com";
    body["role"] = "admin";  // never bound
    body["credits"] = 1000000;
    HttpResponse r = c.Post("/api/v1/auth/register", body);
    ASSERT_EQ(r.status, 201) << r.body;
    Json::Value reg = r.JsonBody();
    EXPECT_EQ(reg["token_type"], "bearer");
    EXPECT_EQ(reg["expires_in"].asInt64(), 7 * 24 * 3600);
    std::string token = reg["access_token"].asString();
    EXPECT_GE(token.size(), 22u);  // >= 128 bits
    EXPECT_EQ(reg["user"]["role"], "user");
    EXPECT_EQ(reg["user"]["credits"], 0);

    HttpResponse me = c.Get("/api/v1/users/me", Bearer(token));
    ASSERT_EQ(me.status, 200) << me.body;
    Json::Value u = me.JsonBody();
    for (const char* key : {"id", "username", "email", "role", "credits", "is_member",
                            "member_expired_at", "created_at"}) {
        EXPECT_TRUE(u.isMember(key)) << key;
    }
    EXPECT_EQ(u["username"], "flow_user");
    EXPECT_EQ(u["email"], "flow@example.com");
    EXPECT_EQ(u["is_member"], false);
    EXPECT_TRUE(u["member_expired_at"].isNull());
    EXPECT_EQ(u["created_at"].asString().back(), 'Z');

    // The token is stored hashed, never in plain text.
    auto rows = TheStack().db().Query("SELECT HEX(token_hash) FROM inkstone.auth_tokens");
    for (const auto& row : rows) EXPECT_EQ(row[0].find(token), std::string::npos);

    HttpResponse login = c.Post("/api/v1/auth/login", Creds("FLOW_USER"));
    ASSERT_EQ(login.status, 200) << login.body;
    std::string second = login.JsonBody()["access_token"].asString();
    EXPECT_NE(second, token);

    EXPECT_EQ(c.Request("POST", "/api/v1/auth/logout", "", Bearer(token)).status, 204);
    HttpResponse dead = c.Get("/api/v1/users/me", Bearer(token));
    EXPECT_EQ(dead.status, 401);
    EXPECT_EQ(dead.JsonBody()["code"], "UNAUTHORIZED");
    EXPECT_EQ(c.Get("/api/v1/users/me", Bearer(second)).status, 200);  // other session lives
}

// The token lookup's row carries credits, membership and the profile: GET /credit/balance and
// GET /users/me are one statement each, and still show a change made a moment before (no
// cache).
TEST(Auth, AuthenticatedReadsAreOneStatement) {
    HttpClient c = TheStack().client();
    HttpResponse r = c.Post("/api/v1/auth/register", Creds("one_trip"));
    ASSERT_EQ(r.status, 201) << r.body;
    const HttpHeaders auth = Bearer(r.JsonBody()["access_token"].asString());
    const std::string id = r.JsonBody()["user"]["id"].asString();
    TheStack().db().Exec(
        "UPDATE inkstone.users SET credits = 77, member_expired_at = "
        "'2099-01-02 03:04:05' WHERE id = " +
        id);
    for (const char* path : {"/api/v1/credit/balance", "/api/v1/users/me"}) {
        HttpResponse got = c.Get(path, auth);
        ASSERT_EQ(got.status, 200) << got.body;
        EXPECT_EQ(got.JsonBody()["credits"], 77) << path;
        EXPECT_EQ(got.JsonBody()["is_member"], true) << path;
        EXPECT_EQ(got.JsonBody()["member_expired_at"], "2099-01-02T03:04:05Z") << path;
        // The counter also sees this test's own SHOW and any background job (the workers'
        // jobs run on their own schedule): the overhead of a read with no request between is
        // subtracted, and most of 5 tries must see exactly 1 (a stray job statement moves one
        // try up or down; a second statement per read would move every try up).
        int ones = 0;
        std::string seen;
        for (int i = 0; i < 5; ++i) {
            HttpResponse r;
            const int64_t statements =
                StatementsDuring(TheStack().db(), [&] { r = c.Get(path, auth); });
            ASSERT_EQ(r.status, 200) << r.body;
            ones += statements == 1;
            seen += std::to_string(statements) + " ";
        }
        EXPECT_GE(ones, 3) << path << ": " << seen;
    }
    HttpResponse me = c.Get("/api/v1/users/me", auth);
    EXPECT_EQ(me.JsonBody()["username"], "one_trip");
    EXPECT_EQ(me.JsonBody()["role"], "user");
    EXPECT_EQ(me.JsonBody()["id"].asString(), id);
}

TEST(Auth, MissingMalformedAndUnknownTokensAre401) {
    HttpClient c = TheStack().client();
    for (const HttpHeaders& h :
         {HttpHeaders{}, HttpHeaders{{"Authorization", "Bearer"}},
          HttpHeaders{{"Authorization", "Basic dXNlcjpwYXNz"}},
          HttpHeaders{{"Authorization", "Bearer ' OR 1=1 --"}},
          HttpHeaders{{"Authorization", "Bearer " + std::string(43, 'A')}},
          HttpHeaders{{"Authorization", "Bearer " + std::string(5000, 'x')}}}) {
        HttpResponse r = c.Get("/api/v1/users/me", h);
        EXPECT_EQ(r.status, 401) << r.body;
        EXPECT_EQ(r.JsonBody()["code"], "UNAUTHORIZED");
    }
}

TEST(Auth, DuplicateUsernameIs409) {
    HttpClient c = TheStack().client();
    ASSERT_EQ(c.Post("/api/v1/auth/register", Creds("dup_user")).status, 201);
    HttpResponse r = c.Post("/api/v1/auth/register", Creds("dup_user"));
    EXPECT_EQ(r.status, 409);
    EXPECT_EQ(r.JsonBody()["code"], "CONFLICT");
    EXPECT_EQ(c.Post("/api/v1/auth/register", Creds("DUP_USER")).status, 409);
}

TEST(Auth, ValidationFailuresAre422WithField) {
    HttpClient c = TheStack().client();
    struct Case {
        Json::Value body;
        const char* field;
    };
    std::vector<Case> cases;
    cases.push_back({Creds("ab"), "username"});
    cases.push_back({Creds(std::string(33, 'a')), "username"});
    cases.push_back({Creds("bad-name"), "username"});
    cases.push_back({Creds("名字名字"), "username"});
    cases.push_back({Creds("okname", "short"), "password"});
    cases.push_back({Creds("okname", std::string(129, 'p')), "password"});
    Json::Value no_user;
    no_user["password"] = "long enough 123";
    cases.push_back({no_user, "username"});
    Json::Value no_pass;
    no_pass["username"] = "okname";
    cases.push_back({no_pass, "password"});
    Json::Value typed = Creds("okname");
    typed["password"] = Json::Value(Json::arrayValue);
    cases.push_back({typed, "password"});
    Json::Value bad_email = Creds("okname");
    bad_email["email"] = "not an email";
    cases.push_back({bad_email, "email"});
    Json::Value num_email = Creds("okname");
    num_email["email"] = 5;
    cases.push_back({num_email, "email"});

    std::string before = UsersFingerprint();
    for (const Case& k : cases) {
        HttpResponse r = c.Post("/api/v1/auth/register", k.body);
        EXPECT_EQ(r.status, 422) << r.body;
        EXPECT_EQ(r.JsonBody()["code"], "VALIDATION_ERROR");
        EXPECT_EQ(r.JsonBody()["field"], k.field) << r.body;
    }
    // 8 and 128 code points are fine, multi-byte ones included.
    EXPECT_EQ(c.Post("/api/v1/auth/register", Creds("edge_pw_1", "密码密码密码密码")).status, 201);
    EXPECT_EQ(c.Post("/api/v1/auth/register", Creds("edge_pw_2", std::string(128, 'p'))).status,
              201);
    EXPECT_EQ(before.size() < UsersFingerprint().size(), true);
}

TEST(Auth, HostileInputIs4xxAndChangesNothing) {
    HttpClient c = TheStack().client();
    ASSERT_EQ(c.Post("/api/v1/auth/register", Creds("victim_user")).status, 201);
    std::string before = UsersFingerprint();
    const std::vector<std::string> nasty = {
        "' OR '1'='1",
        "victim_user'; DROP TABLE users; --",
        "\"; DELETE FROM users; #",
        "victim_user\\",
        std::string(100000, 'z'),
        "\\0\\x00",
        "%00",
        "../../etc/passwd",
        "<script>alert(1)</script>",
        "😀😀😀😀",
        "victim_user\t",
        "VICTIM_USER OR 1=1",
    };
    for (const std::string& value : nasty) {
        for (const char* path : {"/api/v1/auth/register", "/api/v1/auth/login"}) {
            for (const char* field : {"username", "password", "email"}) {
                // Login reads no email: with the right credentials that one would succeed.
                if (std::string(path).find("login") != std::string::npos &&
                    std::string(field) == "email") {
                    continue;
                }
                Json::Value body = Creds("victim_user");
                body[field] = value;
                HttpResponse r = c.Post(path, body);
                EXPECT_GE(r.status, 400) << path << " " << field << " " << value.substr(0, 40);
                EXPECT_LT(r.status, 500) << r.body;
            }
        }
    }
    // NUL inside a JSON string.
    HttpResponse nul = c.Request("POST", "/api/v1/auth/register",
                                 R"({"username":"nul\u0000user","password":"long enough 1"})");
    EXPECT_EQ(nul.status, 422) << nul.body;
    EXPECT_EQ(UsersFingerprint(), before);
    // The victim still logs in (clear the counter our failures built first).
    TheStack().db().Exec("DELETE FROM inkstone.login_failures");
    EXPECT_EQ(c.Post("/api/v1/auth/login", Creds("victim_user")).status, 200);
}

TEST(Auth, WrongPasswordAndUnknownUserLookAlike) {
    HttpClient c = TheStack().client();
    ASSERT_EQ(c.Post("/api/v1/auth/register", Creds("known_user")).status, 201);
    HttpResponse wrong = c.Post("/api/v1/auth/login", Creds("known_user", "wrong password 1"));
    HttpResponse unknown = c.Post("/api/v1/auth/login", Creds("nobody_here", "wrong password 1"));
    EXPECT_EQ(wrong.status, 401);
    EXPECT_EQ(unknown.status, 401);
    EXPECT_EQ(wrong.JsonBody()["detail"], unknown.JsonBody()["detail"]);
    EXPECT_EQ(wrong.JsonBody()["code"], unknown.JsonBody()["code"]);
}

TEST(Auth, BruteForceLimitIs429WithRetryAfter) {
    HttpClient c = TheStack().client();
    ASSERT_EQ(c.Post("/api/v1/auth/register", Creds("brute_user")).status, 201);
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(
            c.Post("/api/v1/auth/login", Creds("brute_user", "guess number " + std::to_string(i)))
                .status,
            401)
            << i;
    }
    HttpResponse limited = c.Post("/api/v1/auth/login", Creds("brute_user", "guess number 11"));
    EXPECT_EQ(limited.status, 429);
    EXPECT_EQ(limited.JsonBody()["code"], "RATE_LIMITED");
    int retry_after = std::stoi(limited.Header("retry-after"));
    EXPECT_GT(retry_after, 0);
    EXPECT_LE(retry_after, 15 * 60);
    // Even the right password waits: the counter lives in MySQL, shared by every worker.
    EXPECT_EQ(c.Post("/api/v1/auth/login", Creds("brute_user")).status, 429);
    auto rows = TheStack().db().Query("SELECT COUNT(*) FROM inkstone.login_failures");
    EXPECT_GE(std::stoi(rows[0][0]), 10);
}

TEST(Auth, AdminRoleComesFromTheCommandLineOnly) {
    HttpClient c = TheStack().client();
    HttpResponse reg = c.Post("/api/v1/auth/register", Creds("future_admin"));
    ASSERT_EQ(reg.status, 201);
    std::string token = reg.JsonBody()["access_token"].asString();
    EXPECT_EQ(c.Get("/api/v1/users/me", Bearer(token)).JsonBody()["role"], "user");

    std::string command = std::string(INKSTONE_BINARY_DIR) + "/inkstone-admin --config " +
                          TheStack().pool().dir() + "/inkstone.conf grant-admin future_admin 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    char buf[512];
    std::string output;
    while (fgets(buf, sizeof buf, pipe) != nullptr) output += buf;
    ASSERT_EQ(pclose(pipe), 0) << output;
    // Seen on the very next request, no new login needed.
    EXPECT_EQ(c.Get("/api/v1/users/me", Bearer(token)).JsonBody()["role"], "admin");
}

TEST(Auth, AdminCommandsMatchCaseInsensitivelyAndSayWhatChanged) {
    HttpClient c = TheStack().client();
    HttpResponse reg = c.Post("/api/v1/auth/register", Creds("Role_Keeper"));
    ASSERT_EQ(reg.status, 201);
    const std::string token = reg.JsonBody()["access_token"].asString();

    AdminRun run = RunAdmin("grant-admin role_keeper");
    EXPECT_EQ(run.status, 0) << run.output;
    EXPECT_EQ(run.output, "Role_Keeper now has role admin\n");
    run = RunAdmin("grant-admin ROLE_KEEPER");
    EXPECT_EQ(run.status, 0) << run.output;
    EXPECT_EQ(run.output, "Role_Keeper already has role admin\n");
    EXPECT_EQ(c.Get("/api/v1/users/me", Bearer(token)).JsonBody()["role"], "admin");

    run = RunAdmin("revoke-admin Role_Keeper");
    EXPECT_EQ(run.status, 0) << run.output;
    EXPECT_EQ(run.output, "Role_Keeper now has role user\n");
    EXPECT_EQ(c.Get("/api/v1/users/me", Bearer(token)).JsonBody()["role"], "user");

    run = RunAdmin("grant-admin nobody_by_that_name");
    EXPECT_EQ(run.status, 1);
    EXPECT_EQ(run.output, "no such user: nobody_by_that_name\n");
    run = RunAdmin("grant-admin a-b");
    EXPECT_EQ(run.status, 1);
    EXPECT_EQ(run.output.rfind("invalid username: ", 0), 0u) << run.output;
}

TEST(Auth, LoginUpgradesAnOldHashAndClearsItsOwnFailures) {
    HttpClient c = TheStack().client();
    ASSERT_EQ(c.Post("/api/v1/auth/register", Creds("old_hash_user")).status, 201);
    // A hash made with weaker parameters than lib/accounts' (t=2, m=19 MiB), as an older
    // release would have stored it.
    ASSERT_GE(sodium_init(), 0);
    const std::string password = "correct horse 1";
    char old_hash[crypto_pwhash_STRBYTES];
    ASSERT_EQ(crypto_pwhash_str_alg(old_hash, password.data(), password.size(), 2, size_t{19} << 20,
                                    crypto_pwhash_ALG_ARGON2ID13),
              0);
    TheStack().db().Exec(std::string("UPDATE inkstone.users SET password_hash = '") + old_hash +
                         "' WHERE username = 'old_hash_user'");
    EXPECT_EQ(c.Post("/api/v1/auth/login", Creds("old_hash_user", "wrong password 1")).status, 401);
    EXPECT_EQ(TheStack().db().Query("SELECT COUNT(*) FROM inkstone.login_failures "
                                    "WHERE username_key = 'old_hash_user'")[0][0],
              "1");

    HttpResponse login = c.Post("/api/v1/auth/login", Creds("old_hash_user", password));
    ASSERT_EQ(login.status, 200) << login.body;
    const std::string stored = TheStack().db().Query(
        "SELECT password_hash FROM inkstone.users WHERE username = 'old_hash_user'")[0][0];
    EXPECT_NE(stored, old_hash);
    EXPECT_NE(stored.find("m=32768,t=3"), std::string::npos) << stored;
    EXPECT_EQ(TheStack().db().Query("SELECT COUNT(*) FROM inkstone.login_failures "
                                    "WHERE username_key = 'old_hash_user'")[0][0],
              "0");
    // The upgraded hash verifies the same password.
    EXPECT_EQ(c.Post("/api/v1/auth/login", Creds("old_hash_user", password)).status, 200);
}

TEST(Auth, LogoutIsSeenByEveryWorker) {
    // Two workers with one thread each: concurrent requests must use both processes.
    StackOptions options = GtestStackOptions();
    options.workers = 2;
    options.threads = 1;
    options.config["testing.hooks"] = "true";  // X-Inkstone-Worker tells who answered
    Stack stack(options);
    stack.Start();
    HttpClient c = stack.client();
    HttpResponse reg = c.Post("/api/v1/auth/register", Creds("many_workers"));
    ASSERT_EQ(reg.status, 201);
    std::string token = reg.JsonBody()["access_token"].asString();
    ASSERT_EQ(c.Get("/api/v1/users/me", Bearer(token)).status, 200);
    ASSERT_EQ(c.Request("POST", "/api/v1/auth/logout", "", Bearer(token)).status, 204);

    std::mutex mu;
    std::set<std::string> answered_by;
    std::atomic<int> not_401{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 15; ++i) {
                HttpResponse r = c.Get("/api/v1/users/me", Bearer(token));
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
}

}  // namespace
}  // namespace inkstone::testing
