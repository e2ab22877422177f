#pragma once
/// Accounts (README, "Accounts and authorization"): POST /auth/register, POST /auth/login,
/// POST /auth/logout, GET /users/me.
///
/// Every handler is a final class with its dependencies taken in the constructor and no
/// mutable state: one instance serves all request threads. Each parses and validates its
/// request, calls one function of lib::accounts::Accounts (which owns the SQL, the
/// transactions, the password hashing and the login throttle) and renders the result with
/// handlers/account_views.h. Bodies are JSON objects of which only `username`, `password` and
/// `email` are ever read; `role`, `credits` and the like are ignored wherever they appear. DB
/// failures escape as db::DbError (503 when the DB is down).
#include <cstdint>

#include "lib/accounts/accounts.h"
#include "lib/base/clock.h"
#include "lib/base/config.h"
#include "lib/db/db.h"
#include "lib/http/message.h"
#include "lib/http/router.h"

namespace inkstone::handlers {

/// The caller of an Auth::kUser / kAdmin route; ApiError 401 when there is none (a route
/// wrongly marked public).
const lib::http::Principal& RequirePrincipal(const lib::http::Request& request);

/// POST /auth/register `{"username", "password", "email"?}` → 201
/// `{"user", "access_token", "token_type": "bearer", "expires_in"}`. 422 with `field` for a
/// rule broken (lib/accounts/auth.h), 409 CONFLICT when the username is taken
/// (Accounts::Register). `email: ""` counts as absent.
class RegisterHandler final : public lib::http::Handler {
  public:
    explicit RegisterHandler(const lib::accounts::Accounts& accounts) : accounts_(accounts) {}

    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    const lib::accounts::Accounts accounts_;
};

/// POST /auth/login `{"username", "password"}` → 200, same shape as register. 401
/// UNAUTHORIZED for any wrong credential and 429 RATE_LIMITED (Retry-After) under the login
/// throttle (Accounts::Login); 422 with `field` only when a field is missing, not a string, or
/// longer than 1024 characters. The client is Request::remote_addr.
class LoginHandler final : public lib::http::Handler {
  public:
    explicit LoginHandler(const lib::accounts::Accounts& accounts) : accounts_(accounts) {}

    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    const lib::accounts::Accounts accounts_;
};

/// POST /auth/logout (Auth::kUser) → 204. Revokes the presented token (the principal's
/// token_hash); the user's other sessions stay valid. 401 without a principal.
class LogoutHandler final : public lib::http::Handler {
  public:
    explicit LogoutHandler(const lib::accounts::Accounts& accounts) : accounts_(accounts) {}

    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    const lib::accounts::Accounts accounts_;
};

/// GET /users/me (Auth::kUser) → 200 UserToJson of the caller, from the row the token lookup
/// read (lib/accounts CallerOf): no statement of its own. 401 without a principal (a token of
/// an account that no longer exists finds no row, so it is a 401 at the dispatcher).
class MeHandler final : public lib::http::Handler {
  public:
    explicit MeHandler(const lib::base::Clock& clock) : clock_(clock) {}

    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    const lib::base::Clock& clock_;
};

}  // namespace inkstone::handlers
