#pragma once
/// The JSON views of the accounts area (README, "Accounts and authorization"), one place for
/// every reply that shows a user: /users/me, register and login.
#include <json/value.h>

#include "lib/accounts/accounts.h"
#include "lib/base/clock.h"
#include "lib/http/message.h"

namespace inkstone::handlers {

/// The `/users/me` shape: `{"id", "username", "email", "role", "credits", "is_member",
/// "member_expired_at", "created_at"}`; `is_member` is `member_expired_at > now`, times are
/// RFC 3339 UTC, absent values are null.
Json::Value UserToJson(const lib::accounts::User& user, lib::base::TimePoint now);

/// A reply carrying a fresh session: `status` with `{"user", "access_token", "token_type":
/// "bearer", "expires_in"}` (the user as of Session::issued_at) and `Cache-Control: no-store`.
lib::http::Response SessionResponse(int status, const lib::accounts::Session& session);

/// 200 with UserToJson and `Cache-Control: no-store`.
lib::http::Response UserResponse(const lib::accounts::User& user, lib::base::TimePoint now);

}  // namespace inkstone::handlers
