#pragma once
/// Operator actions behind the `inkstone-admin` command-line tool. The role `admin` can only be
/// granted or revoked here, never through the public API.
///
/// The change itself is lib::accounts::Accounts::SetRole. Roles are read from the database on
/// every authenticated request (lib::accounts::TokenAuthenticator), so a grant or revoke takes
/// effect on the user's next request on every host, without a new login.
#include <ostream>
#include <string>

#include "lib/db/db.h"

namespace inkstone::handlers {

/// Makes `username` (matched case-insensitively, like login) an admin. Writes one line for
/// people to `out` and returns the exit status: 0 when the user is an admin afterwards (also
/// when they already were), 1 when the name is not a valid username or no such user exists.
/// Throws db::DbError when the database fails.
int GrantAdmin(lib::db::Pool& pool, const std::string& username, std::ostream& out);

/// Makes `username` a plain user again. Same contract as GrantAdmin.
int RevokeAdmin(lib::db::Pool& pool, const std::string& username, std::ostream& out);

}  // namespace inkstone::handlers
