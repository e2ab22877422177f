#include "handlers/admin.h"

#include <string>

#include "lib/accounts/accounts.h"
#include "lib/accounts/auth.h"
#include "lib/base/assert.h"
#include "lib/base/clock.h"

namespace inkstone::handlers {
namespace {

namespace accounts = lib::accounts;

int SetRole(lib::db::Pool& pool, const std::string& username, accounts::Role role,
            std::ostream& out) {
    if (auto problem = accounts::UsernameError(username)) {
        out << "invalid username: " << *problem << "\n";
        return 1;
    }
    const lib::base::SystemClock clock;
    const accounts::RoleChangeResult result =
        accounts::Accounts(pool, clock).SetRole(username, role);
    switch (result.change) {
        case accounts::RoleChange::kNoSuchUser:
            out << "no such user: " << username << "\n";
            return 1;
        case accounts::RoleChange::kUnchanged:
            out << result.username << " already has role " << ToSql(role) << "\n";
            return 0;
        case accounts::RoleChange::kChanged:
            out << result.username << " now has role " << ToSql(role) << "\n";
            return 0;
    }
    INKSTONE_INVARIANT_FAILED("RoleChange " + std::to_string(static_cast<int>(result.change)));
}

}  // namespace

int GrantAdmin(lib::db::Pool& pool, const std::string& username, std::ostream& out) {
    return SetRole(pool, username, accounts::Role::kAdmin, out);
}

int RevokeAdmin(lib::db::Pool& pool, const std::string& username, std::ostream& out) {
    return SetRole(pool, username, accounts::Role::kUser, out);
}

}  // namespace inkstone::handlers
