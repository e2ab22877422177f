#include "handlers/auth.h"

#include <optional>
#include <string>

#include "handlers/account_views.h"
#include "lib/accounts/auth.h"
#include "lib/base/errors.h"
#include "lib/http/json_body.h"

namespace inkstone::handlers {
namespace {

using lib::base::ApiError;
using lib::base::ErrorCode;
namespace accounts = lib::accounts;

// Login takes any string up to this length, so that a credential no account can have is a
// plain 401 like any wrong one; only absurd input is a 422.
constexpr size_t kLoginFieldMaxChars = 1024;

// JsonFields checks type and length (its messages name the bounds); lib/accounts' rules check
// the rest and stay the single definition of a valid value.
accounts::NewAccount ParseNewAccount(const Json::Value& body) {
    const lib::http::JsonFields fields(body);
    accounts::NewAccount account;
    account.username =
        fields.RequiredString("username", accounts::kUsernameMinChars, accounts::kUsernameMaxChars);
    if (auto problem = accounts::UsernameError(account.username)) {
        throw ApiError::Validation("username", *problem);
    }
    account.password =
        fields.RequiredString("password", accounts::kPasswordMinChars, accounts::kPasswordMaxChars);
    if (auto problem = accounts::PasswordError(account.password)) {
        throw ApiError::Validation("password", *problem);
    }
    account.email = fields.OptionalString("email", 0, accounts::kEmailMaxChars);
    if (account.email && account.email->empty()) account.email.reset();
    if (account.email) {
        if (auto problem = accounts::EmailError(*account.email)) {
            throw ApiError::Validation("email", *problem);
        }
    }
    return account;
}

}  // namespace

const lib::http::Principal& RequirePrincipal(const lib::http::Request& request) {
    if (!request.principal) throw ApiError(ErrorCode::kUnauthorized, "authentication required");
    return *request.principal;
}

lib::http::Response RegisterHandler::Handle(const lib::http::Request& request,
                                            lib::http::StreamWriter&) const {
    // request.json is parsed and checked (an object) by the dispatcher.
    accounts::NewAccount account = ParseNewAccount(request.json);
    account.remote_addr = request.remote_addr;
    const accounts::Session session = accounts_.Register(account);
    return SessionResponse(201, session);
}

lib::http::Response LoginHandler::Handle(const lib::http::Request& request,
                                         lib::http::StreamWriter&) const {
    const lib::http::JsonFields fields(request.json);
    accounts::LoginAttempt attempt;
    attempt.username = fields.RequiredString("username", 0, kLoginFieldMaxChars);
    attempt.password = fields.RequiredString("password", 0, kLoginFieldMaxChars);
    attempt.remote_addr = request.remote_addr;
    return SessionResponse(200, accounts_.Login(attempt));
}

lib::http::Response LogoutHandler::Handle(const lib::http::Request& request,
                                          lib::http::StreamWriter&) const {
    accounts_.Logout(RequirePrincipal(request).token_hash);
    return lib::http::Response::NoContent();
}

lib::http::Response MeHandler::Handle(const lib::http::Request& request,
                                      lib::http::StreamWriter&) const {
    // The row the token lookup read: no second statement.
    return UserResponse(accounts::CallerOf(RequirePrincipal(request)), clock_.Now());
}

}  // namespace inkstone::handlers
