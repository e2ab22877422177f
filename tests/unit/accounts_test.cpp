// The accounts service and its handlers without a database: the strict Role enum, the session
// view, and every answer that must be given before any DB access (the pool here points at a
// closed port, so touching it throws db::DbError kUnavailable).
#include "lib/accounts/accounts.h"

#include <gtest/gtest.h>
#include <json/reader.h>

#include <memory>
#include <string>

#include "handlers/account_views.h"
#include "handlers/auth.h"
#include "handlers/credit.h"
#include "lib/accounts/auth.h"
#include "lib/base/errors.h"
#include "tests/harness/manual_clock.h"
#include "tests/unit/fake_stream.h"

namespace inkstone::lib::accounts {
namespace {

using base::ApiError;
using base::ErrorCode;

TEST(RoleTest, ToSqlAndFromSqlRoundTrip) {
    for (Role role : {Role::kUser, Role::kAdmin}) {
        Role parsed = role == Role::kUser ? Role::kAdmin : Role::kUser;
        ASSERT_TRUE(FromSql(ToSql(role), &parsed)) << ToSql(role);
        EXPECT_EQ(parsed, role);
    }
    EXPECT_EQ(ToSql(Role::kUser), "user");
    EXPECT_EQ(ToSql(Role::kAdmin), "admin");
}

TEST(RoleTest, FromSqlIsStrictAndLeavesTheValueAloneOnFailure) {
    for (const char* text :
         {"", "Admin", "ADMIN", "User", "admin ", " user", "administrator", "root", "use"}) {
        Role role = Role::kAdmin;
        EXPECT_FALSE(FromSql(text, &role)) << "'" << text << "'";
        EXPECT_EQ(role, Role::kAdmin) << "'" << text << "'";
    }
    Role role = Role::kUser;
    EXPECT_FALSE(FromSql(std::string_view("admin\0", 6), &role));
    EXPECT_EQ(role, Role::kUser);
}

base::DbConfig UnreachableDb() {
    base::DbConfig config;
    config.port = 1;
    config.connect_timeout_s = 1;
    return config;
}

class AccountsWithoutDbTest : public ::testing::Test {
  protected:
    testing::ManualClock clock_{base::TimePoint(std::chrono::seconds(1795680000))};
    db::Pool pool_{UnreachableDb()};
    const Accounts accounts_{pool_, clock_};
};

TEST_F(AccountsWithoutDbTest, ImpossibleCredentialsAre401WithoutTheDatabase) {
    const std::pair<std::string, std::string> impossible[] = {
        {"ab", "long enough password"},
        {"has space", "long enough password"},
        {"alice", "short"},
        {"alice", std::string(129, 'x')},
    };
    for (const auto& [username, password] : impossible) {
        LoginAttempt attempt{username, password, "192.0.2.1"};
        try {
            accounts_.Login(attempt);
            ADD_FAILURE() << username << " logged in";
        } catch (const ApiError& e) {
            EXPECT_EQ(e.code, ErrorCode::kUnauthorized);
            EXPECT_EQ(e.detail, kInvalidCredentialsMessage);
        }
    }
    // A possible credential goes to the database (which is down here).
    EXPECT_THROW(accounts_.Login({"alice", "long enough password", "192.0.2.1"}), db::DbError);
}

TEST_F(AccountsWithoutDbTest, MalformedTokensAreRejectedWithoutTheDatabase) {
    EXPECT_FALSE(accounts_.Authenticate("").has_value());
    EXPECT_FALSE(accounts_.Authenticate("not-a-token").has_value());
    EXPECT_FALSE(accounts_.Authenticate(std::string(kTokenLength, '!')).has_value());
    const TokenAuthenticator authenticator(accounts_);
    EXPECT_FALSE(authenticator.Authenticate(std::string(kTokenLength + 1, 'A')).has_value());
    EXPECT_THROW(authenticator.Authenticate(GenerateToken()), db::DbError);
}

}  // namespace
}  // namespace inkstone::lib::accounts

namespace inkstone::handlers {
namespace {

using lib::base::ApiError;
using lib::base::ErrorCode;

lib::base::TimePoint At(int64_t epoch_seconds) {
    return lib::base::TimePoint(std::chrono::seconds(epoch_seconds));
}

TEST(AccountViewsTest, SessionResponseShapeAndNoStore) {
    lib::accounts::Session session;
    session.user.id = 7;
    session.user.username = "Bob";
    session.user.role = lib::accounts::Role::kAdmin;
    session.user.member_expired_at = At(1795680000 + 1);
    session.user.created_at = At(1795680000);
    session.access_token = "token";
    session.expires_in_s = 604800;
    session.issued_at = At(1795680000);

    const lib::http::Response response = SessionResponse(201, session);
    EXPECT_EQ(response.status, 201);
    bool no_store = false;
    for (const auto& [name, value] : response.headers) {
        if (name == "Cache-Control" && value == "no-store") no_store = true;
    }
    EXPECT_TRUE(no_store);
    Json::Value body;
    std::string errors;
    const std::unique_ptr<Json::CharReader> reader(Json::CharReaderBuilder().newCharReader());
    ASSERT_TRUE(reader->parse(response.body.data(), response.body.data() + response.body.size(),
                              &body, &errors))
        << errors;
    EXPECT_EQ(body.size(), 4u);
    EXPECT_EQ(body["access_token"].asString(), "token");
    EXPECT_EQ(body["token_type"].asString(), "bearer");
    EXPECT_EQ(body["expires_in"].asInt64(), 604800);
    EXPECT_EQ(body["user"]["id"].asInt64(), 7);
    EXPECT_EQ(body["user"]["role"].asString(), "admin");
    // The user as of the moment the token was issued.
    EXPECT_TRUE(body["user"]["is_member"].asBool());
}

class AuthHandlersWithoutDbTest : public ::testing::Test {
  protected:
    static lib::base::DbConfig UnreachableDb() {
        lib::base::DbConfig config;
        config.port = 1;
        config.connect_timeout_s = 1;
        return config;
    }
    lib::http::Request Post(Json::Value body) const {
        lib::http::Request request;
        request.method = lib::http::Method::kPost;
        request.json = std::move(body);
        request.remote_addr = "192.0.2.1";
        return request;
    }
    /// The ApiError `handler` answers `request` with (none: a failure).
    ApiError ErrorOf(const lib::http::Handler& handler, const lib::http::Request& request) {
        try {
            handler.Handle(request, stream_);
        } catch (const ApiError& e) {
            return e;
        }
        ADD_FAILURE() << "no ApiError";
        return ApiError(ErrorCode::kInternal, "none");
    }

    testing::ManualClock clock_{At(1795680000)};
    lib::db::Pool pool_{UnreachableDb()};
    const lib::accounts::Accounts accounts_{pool_, clock_};
    testing::FakeStream stream_;
};

TEST_F(AuthHandlersWithoutDbTest, RegisterValidatesEachFieldBeforeTheDatabase) {
    const RegisterHandler handler(accounts_);
    Json::Value body(Json::objectValue);
    body["username"] = "a-b";
    body["password"] = "long enough password";
    ApiError error = ErrorOf(handler, Post(body));
    EXPECT_EQ(error.code, ErrorCode::kValidation);
    EXPECT_EQ(error.extra["field"].asString(), "username");

    body["username"] = "alice";
    body["password"] = "short";
    error = ErrorOf(handler, Post(body));
    EXPECT_EQ(error.code, ErrorCode::kValidation);
    EXPECT_EQ(error.extra["field"].asString(), "password");

    body["password"] = "long enough password";
    body["email"] = "no-at-sign";
    error = ErrorOf(handler, Post(body));
    EXPECT_EQ(error.code, ErrorCode::kValidation);
    EXPECT_EQ(error.extra["field"].asString(), "email");

    // `email: ""` counts as absent: the request is valid and goes to the database.
    body["email"] = "";
    EXPECT_THROW(handler.Handle(Post(body), stream_), lib::db::DbError);
}

TEST_F(AuthHandlersWithoutDbTest, LoginBoundsItsFieldsAndRefusesImpossibleOnesWith401) {
    const LoginHandler handler(accounts_);
    Json::Value body(Json::objectValue);
    body["username"] = std::string(1025, 'a');
    body["password"] = "long enough password";
    ApiError error = ErrorOf(handler, Post(body));
    EXPECT_EQ(error.code, ErrorCode::kValidation);
    EXPECT_EQ(error.extra["field"].asString(), "username");

    body["username"] = std::string(1024, 'a');
    error = ErrorOf(handler, Post(body));
    EXPECT_EQ(error.code, ErrorCode::kUnauthorized);
    EXPECT_EQ(error.detail, lib::accounts::kInvalidCredentialsMessage);
}

TEST_F(AuthHandlersWithoutDbTest, LogoutAndMeNeedAPrincipal) {
    const LogoutHandler logout(accounts_);
    const MeHandler me(clock_);
    lib::http::Request request;
    EXPECT_EQ(ErrorOf(logout, request).code, ErrorCode::kUnauthorized);
    EXPECT_EQ(ErrorOf(me, request).code, ErrorCode::kUnauthorized);
}

// The principal carries the user's row (read with the token): /users/me and /credit/balance
// render it without a statement of their own (this fixture's database is unreachable).
TEST_F(AuthHandlersWithoutDbTest, MeAndBalanceRenderThePrincipalsRow) {
    lib::http::Request request;
    lib::http::Principal principal;
    principal.user_id = 42;
    principal.username = "Alice";
    principal.role = "admin";
    principal.email = "a@example.com";
    principal.credits = 1234;
    principal.member_expired_at = clock_.Now() + std::chrono::hours(24);
    principal.created_at = clock_.Now() - std::chrono::hours(24);
    request.principal = principal;

    const lib::http::Response me = MeHandler(clock_).Handle(request, stream_);
    ASSERT_EQ(me.status, 200) << me.body;
    Json::Value user;
    ASSERT_TRUE(Json::Reader().parse(me.body, user));
    EXPECT_EQ(user["id"].asInt64(), 42);
    EXPECT_EQ(user["username"], "Alice");
    EXPECT_EQ(user["email"], "a@example.com");
    EXPECT_EQ(user["role"], "admin");
    EXPECT_EQ(user["credits"].asInt64(), 1234);
    EXPECT_EQ(user["is_member"], true);
    EXPECT_EQ(user["member_expired_at"], lib::base::FormatRfc3339(*principal.member_expired_at));
    EXPECT_EQ(user["created_at"], lib::base::FormatRfc3339(principal.created_at));

    lib::base::CreditConfig credit;
    credit.cost_per_generation = 7;
    const lib::http::Response balance = BalanceHandler(clock_, credit).Handle(request, stream_);
    ASSERT_EQ(balance.status, 200) << balance.body;
    EXPECT_EQ(balance.body,
              "{\"cost_per_generation\":7,\"credits\":1234,\"is_member\":true,"
              "\"member_expired_at\":\"" +
                  lib::base::FormatRfc3339(*principal.member_expired_at) + "\"}");
}

}  // namespace
}  // namespace inkstone::handlers
