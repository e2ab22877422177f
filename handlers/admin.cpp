#include "handlers/admin.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <cstdint>
#include <memory>
#include <optional>

#include "lib/accounts/auth.h"
#include "lib/base/clock.h"

namespace inkstone::handlers {
namespace {

namespace db = lib::db;

constexpr char kRoleAdmin[] = "admin";
constexpr char kRoleUser[] = "user";

constexpr char kSelectUserForUpdateSql[] =
    "SELECT id, username, role FROM users WHERE username = ? FOR UPDATE";
constexpr char kUpdateRoleSql[] = "UPDATE users SET role = ?, updated_at = ? WHERE id = ?";

enum class RoleChange { kNoSuchUser, kUnchanged, kChanged };

struct RoleResult {
    RoleChange change = RoleChange::kNoSuchUser;
    std::string username;  ///< as stored (the spelling chosen at registration)
};

int SetRole(db::Pool& pool, const std::string& username, const char* role, std::ostream& out) {
    if (auto problem = lib::accounts::UsernameError(username)) {
        out << "invalid username: " << *problem << "\n";
        return 1;
    }
    const lib::base::SystemClock clock;
    const RoleResult result = db::RetryOnAborted(pool, "admin.set_role", [&](db::Transaction& tx) {
        RoleResult r;
        sql::PreparedStatement& select = tx.lease().Prepare(kSelectUserForUpdateSql);
        select.setString(1, username);
        std::unique_ptr<sql::ResultSet> row(select.executeQuery());
        if (!row->next()) return r;
        r.username = row->getString("username").asStdString();
        if (row->getString("role").asStdString() == role) {
            r.change = RoleChange::kUnchanged;
            return r;
        }
        sql::PreparedStatement& update = tx.lease().Prepare(kUpdateRoleSql);
        update.setString(1, role);
        update.setString(2, lib::base::FormatSqlDateTime(clock.Now()));
        update.setUInt64(3, row->getUInt64("id"));
        update.executeUpdate();
        r.change = RoleChange::kChanged;
        return r;
    });
    switch (result.change) {
        case RoleChange::kNoSuchUser:
            out << "no such user: " << username << "\n";
            return 1;
        case RoleChange::kUnchanged:
            out << result.username << " already has role " << role << "\n";
            return 0;
        case RoleChange::kChanged:
            out << result.username << " now has role " << role << "\n";
            return 0;
    }
    return 1;
}

}  // namespace

int GrantAdmin(db::Pool& pool, const std::string& username, std::ostream& out) {
    return SetRole(pool, username, kRoleAdmin, out);
}

int RevokeAdmin(db::Pool& pool, const std::string& username, std::ostream& out) {
    return SetRole(pool, username, kRoleUser, out);
}

}  // namespace inkstone::handlers
