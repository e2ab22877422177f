// inkstone-admin: operator commands against the configured database.
//
//   inkstone-admin [--config FILE] <command> [args...]
//
// Adding a command is one row in kCommands plus one function with the CommandFn signature.
// Exit status: 0 success, 1 failure (message on stderr), 2 usage error.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "handlers/admin.h"
#include "handlers/app.h"
#include "lib/admin/audit.h"
#include "lib/admin/catalog.h"
#include "lib/admin/codes.h"
#include "lib/admin/orders.h"
#include "lib/admin/users.h"
#include "lib/base/clock.h"
#include "lib/base/config.h"
#include "lib/base/errors.h"
#include "lib/base/json.h"
#include "lib/base/log.h"
#include "lib/db/db.h"
#include "lib/db/migrate.h"
#include "lib/payments/notify.h"
#include "lib/payments/payment_keys.h"

namespace inkstone::handlers {
namespace {

constexpr const char* kDefaultConfigFile = "inkstone.conf";
constexpr const char* kCheckDbSql = "SELECT 1 AS one";

/// A command gets the loaded config and its own arguments; returns the exit status.
using CommandFn = int (*)(const lib::base::Config& config, const std::vector<std::string>& args);

struct Command {
    std::string_view name;
    std::string_view args;  ///< shown in usage
    int min_args;
    int max_args;
    CommandFn run;
    std::string_view help;
};

/// One connection is plenty for an operator command.
lib::base::DbConfig AdminDbConfig(const lib::base::Config& config) {
    lib::base::DbConfig db = config.db;
    db.pool_size = 1;
    return db;
}

int Migrate(const lib::base::Config& config, const std::vector<std::string>&) {
    lib::db::Pool pool(AdminDbConfig(config));
    const lib::db::MigrationResult result = lib::db::ApplyMigrations(pool, config.sql_dir);
    for (const std::string& name : result.applied) std::cout << "applied " << name << "\n";
    std::cerr << "schema up to date: " << result.applied.size() << " applied, "
              << result.skipped.size() << " already applied\n";
    return 0;
}

int CheckDb(const lib::base::Config& config, const std::vector<std::string>&) {
    lib::db::Pool pool(AdminDbConfig(config));
    lib::db::Lease lease = pool.Acquire();
    lib::db::Rows rows = lease.Query(kCheckDbSql);
    if (!rows.Next() || rows.Int("one") != 1) {
        std::cerr << "inkstone-admin: SELECT 1 returned an unexpected result\n";
        return 1;
    }
    std::cout << "ok\n";
    return 0;
}

int GrantAdminCommand(const lib::base::Config& config, const std::vector<std::string>& args) {
    lib::db::Pool pool(AdminDbConfig(config));
    return GrantAdmin(pool, args[0], std::cout);
}

int RevokeAdminCommand(const lib::base::Config& config, const std::vector<std::string>& args) {
    lib::db::Pool pool(AdminDbConfig(config));
    return RevokeAdmin(pool, args[0], std::cout);
}

// The server's own jobs, built as a worker builds them (live payments load their keys), run
// once on this thread; each is safe beside running workers. Logs go to log.file like theirs.
int RunJobsCommand(const lib::base::Config& config, const std::vector<std::string>&) {
    if (config.payment.mode == "live") lib::payments::LoadPaymentKeys(config);
    lib::base::LogInit(config.log);
    const lib::payments::MockProvider mock = lib::payments::NewMockProvider();
    App app(config, mock);
    for (const lib::base::Job& job : app.Jobs()) {
        job.run();
        std::cout << "ran " << job.name << "\n";
    }
    return 0;
}

// ---- user show|adjust|disable|enable: the admin console's user writes, through the same
// lib/admin functions as the API, audited with actor cli:<unix user>.

/// `--reason TEXT` (or `--reason=TEXT`) out of `args`; the rest stay in order.
std::optional<std::string> TakeReason(std::vector<std::string>* args) {
    std::optional<std::string> reason;
    std::vector<std::string> rest;
    for (size_t i = 0; i < args->size(); ++i) {
        const std::string& a = (*args)[i];
        if (a == "--reason" && i + 1 < args->size()) {
            reason = (*args)[++i];
        } else if (a.rfind("--reason=", 0) == 0) {
            reason = a.substr(9);
        } else {
            rest.push_back(a);
        }
    }
    *args = std::move(rest);
    return reason;
}

int UserCommand(const lib::base::Config& config, const std::vector<std::string>& given) {
    std::vector<std::string> args = given;
    const std::optional<std::string> reason_text = TakeReason(&args);
    if (args.size() < 2) {
        std::cerr << "usage: inkstone-admin user show|adjust|disable|enable USER [AMOUNT] "
                     "--reason TEXT\n";
        return 2;
    }
    const std::string& action = args[0];
    const bool write = action != "show";
    if (action != "show" && action != "adjust" && action != "disable" && action != "enable") {
        std::cerr << "inkstone-admin user: unknown action " << action << "\n";
        return 2;
    }
    if ((action == "adjust") != (args.size() == 3) || args.size() > 3) {
        std::cerr << "inkstone-admin user " << action << ": wrong arguments\n";
        return 2;
    }
    if (write && !reason_text) {
        std::cerr << "inkstone-admin user " << action << ": --reason is required\n";
        return 2;
    }
    lib::db::Pool pool(AdminDbConfig(config));
    const lib::base::SystemClock clock;
    const std::optional<int64_t> user_id = lib::admin::FindUserId(pool, args[1]);
    if (!user_id) {
        std::cerr << "no such user: " << args[1] << "\n";
        return 1;
    }
    try {
        const lib::admin::Actor actor = lib::admin::CliActor();
        if (action == "show") {
            const lib::admin::UserDetail detail = lib::admin::GetUserDetail(pool, clock, *user_id);
            std::cout << lib::base::ToJson(detail.user) << "\n";
            return 0;
        }
        const std::string reason = lib::admin::CheckReason(*reason_text);
        if (action == "adjust") {
            size_t used = 0;
            int64_t amount = 0;
            try {
                amount = std::stoll(args[2], &used);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used != args[2].size()) {
                std::cerr << "inkstone-admin user adjust: AMOUNT must be a signed integer\n";
                return 2;
            }
            const lib::admin::Adjustment result =
                lib::admin::AdjustCredits(pool, clock, actor, *user_id, amount, reason);
            std::cout << args[1] << ": balance " << result.balance << " (ledger row "
                      << result.transaction.id << ")\n";
            return 0;
        }
        const Json::Value user =
            lib::admin::SetDisabled(pool, clock, actor, *user_id, action == "disable", reason);
        std::cout << lib::base::ToJson(user) << "\n";
        return 0;
    } catch (const lib::base::ApiError& e) {
        std::cerr << "inkstone-admin user " << action << ": " << e.detail << " ("
                  << lib::base::ToJson(e.Body()["code"]) << ")\n";
        return 1;
    }
}

/// A whole signed number, or nullopt.
std::optional<int64_t> ParseInteger(const std::string& text) {
    size_t used = 0;
    try {
        const int64_t value = std::stoll(text, &used);
        if (used == text.size()) return value;
    } catch (const std::exception&) {
    }
    return std::nullopt;
}

// ---- price list|set: model prices and recharge packages, through lib::admin::Catalog as the
// API's catalog routes (the same audit rows, the same catalog_version bump).
int PriceCommand(const lib::base::Config& config, const std::vector<std::string>& given) {
    std::vector<std::string> args = given;
    const std::optional<std::string> reason_text = TakeReason(&args);
    const bool list = args.size() == 1 && args[0] == "list";
    const bool set = args.size() == 3 && args[0] == "set";
    if (!list && !set) {
        std::cerr << "usage: inkstone-admin price list | price set MODEL CREDITS --reason TEXT | "
                     "price set package:ID PRICE_FEN --reason TEXT\n";
        return 2;
    }
    if (set && !reason_text) {
        std::cerr << "inkstone-admin price set: --reason is required\n";
        return 2;
    }
    lib::db::Pool pool(AdminDbConfig(config));
    const lib::base::SystemClock clock;
    const std::vector<lib::generation::ModelInfo> models = lib::generation::ModelCatalog(config);
    const lib::admin::Catalog catalog(pool, clock, models);
    try {
        if (list) {
            const Json::Value listed_models = catalog.ListModels();
            for (const Json::Value& m : listed_models["items"]) {
                std::cout << "model " << m["model"].asString() << " " << m["credits"].asInt64()
                          << " credits (" << m["source"].asString() << ")\n";
            }
            const Json::Value packages = catalog.ListPackages();
            for (const Json::Value& p : packages["items"]) {
                std::cout << "package:" << p["id"].asInt64() << " " << p["credits"].asInt64() << "+"
                          << p["bonus_credits"].asInt64() << " credits for "
                          << p["price_fen"].asInt64() << " fen"
                          << (p["active"].asBool() ? "" : " (inactive)") << "\n";
            }
            return 0;
        }
        const std::string reason = lib::admin::CheckReason(*reason_text);
        const std::optional<int64_t> value = ParseInteger(args[2]);
        if (!value || *value < 0) {
            std::cerr << "inkstone-admin price set: the value must be a whole number >= 0\n";
            return 2;
        }
        const lib::admin::Actor actor = lib::admin::CliActor();
        const std::string& target = args[1];
        Json::Value row;
        if (target.rfind("package:", 0) == 0) {
            const std::optional<int64_t> id = ParseInteger(target.substr(8));
            if (!id || *value < 1) {
                std::cerr << "inkstone-admin price set: package:ID and a price of 1 fen or more\n";
                return 2;
            }
            lib::admin::PackageFields fields;
            fields.price_fen = *value;
            row = catalog.UpdatePackage(actor, *id, fields, reason);
        } else {
            row = catalog.SetModelPrice(actor, target, *value, reason);
        }
        std::cout << lib::base::ToJson(row) << "\n";
        return 0;
    } catch (const lib::base::ApiError& e) {
        std::cerr << "inkstone-admin price: " << e.detail << " ("
                  << lib::base::ToJson(e.Body()["code"]) << ")\n";
        return 1;
    }
}

// ---- order show|refund|reconcile: the admin console's order actions, through the same
// lib/admin functions as the API (and the worker's own payment providers: live keys, or mock
// mode's simulation), audited with actor cli:<unix user>.

int OrderCommand(const lib::base::Config& config, const std::vector<std::string>& given) {
    std::vector<std::string> args = given;
    const std::optional<std::string> reason_text = TakeReason(&args);
    std::optional<int64_t> amount;
    std::vector<std::string> rest;
    for (size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--amount-fen" && i + 1 < args.size()) {
            amount = ParseInteger(args[++i]);
            if (!amount || *amount < 1) {
                std::cerr << "inkstone-admin order refund: --amount-fen must be >= 1\n";
                return 2;
            }
        } else {
            rest.push_back(args[i]);
        }
    }
    args = std::move(rest);
    const std::string action = args.empty() ? "" : args[0];
    if (args.size() != 2 || (action != "show" && action != "refund" && action != "reconcile") ||
        (amount && action != "refund")) {
        std::cerr << "usage: inkstone-admin order show ORDER_NO | order refund ORDER_NO "
                     "[--amount-fen N] --reason TEXT | order reconcile ORDER_NO --reason TEXT\n";
        return 2;
    }
    if (action != "show" && !reason_text) {
        std::cerr << "inkstone-admin order " << action << ": --reason is required\n";
        return 2;
    }
    if (config.payment.mode == "live") lib::payments::LoadPaymentKeys(config);
    lib::db::Pool pool(AdminDbConfig(config));
    const lib::base::SystemClock clock;
    const lib::payments::MockProvider mock = lib::payments::NewMockProvider();
    const lib::payments::Providers providers = lib::payments::Providers::FromConfig(config, mock);
    const lib::billing::Wallet wallet(pool, clock);
    const lib::payments::NotifyProcessor notifies(providers, wallet, clock, &pool);
    try {
        const lib::admin::Actor actor = lib::admin::CliActor();
        if (action == "show") {
            const lib::admin::OrderDetail detail =
                lib::admin::GetOrderDetail(pool, notifies, args[1]);
            Json::Value body(Json::objectValue);
            body["order"] = detail.order;
            body["refund"] = detail.refund;
            body["notifies"] = detail.notifies;
            std::cout << lib::base::ToJson(body) << "\n";
            return 0;
        }
        const std::string reason = lib::admin::CheckReason(*reason_text);
        if (action == "refund") {
            const lib::admin::RefundResult result =
                lib::admin::RefundOrder(pool, clock, notifies, actor, args[1], amount, reason);
            Json::Value body = lib::admin::RefundToJson(result.refund);
            body["balance"] = Json::Int64{result.balance};
            std::cout << lib::base::ToJson(body) << "\n";
            return 0;
        }
        const lib::admin::ReconcileResult result =
            lib::admin::ReconcileOrder(pool, clock, notifies, actor, args[1], reason);
        std::cout << args[1] << ": " << result.outcome << " (status "
                  << result.order["status"].asString() << ")\n";
        return 0;
    } catch (const lib::base::ApiError& e) {
        std::cerr << "inkstone-admin order " << action << ": " << e.detail << " ("
                  << lib::base::ToJson(e.Body()["code"]) << ")\n";
        return 1;
    }
}

// ---- codes create|export: redemption code batches, through lib/admin/codes.h as the API's
// code routes (the same audit row codes.create, actor cli:<unix user>).

/// `--name VALUE` / `--name=VALUE` options of `args` (each at most once) and the positional
/// rest; false (with a message) for an unknown option or one without its value.
bool TakeOptions(const std::vector<std::string>& args, const std::vector<std::string>& names,
                 std::map<std::string, std::string>* options, std::vector<std::string>* rest) {
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a.rfind("--", 0) != 0) {
            rest->push_back(a);
            continue;
        }
        const size_t eq = a.find('=');
        const std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
        if (std::find(names.begin(), names.end(), name) == names.end()) {
            std::cerr << "inkstone-admin codes: unknown option --" << name << "\n";
            return false;
        }
        std::string value;
        if (eq != std::string::npos) {
            value = a.substr(eq + 1);
        } else if (i + 1 < args.size()) {
            value = args[++i];
        } else {
            std::cerr << "inkstone-admin codes: --" << name << " needs a value\n";
            return false;
        }
        if (!options->emplace(name, value).second) {
            std::cerr << "inkstone-admin codes: --" << name << " given twice\n";
            return false;
        }
    }
    return true;
}

/// Writes `csv` to `path` (created or truncated, mode 0600: codes are worth money), or to
/// stdout when `path` is empty. False (with a message) when the file cannot be written.
bool WriteCsv(const std::string& path, const std::string& csv) {
    if (path.empty()) {
        std::cout << csv;
        return true;
    }
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        std::cerr << "inkstone-admin codes: cannot write " << path << ": " << std::strerror(errno)
                  << "\n";
        return false;
    }
    fchmod(fd, 0600);  // an existing file keeps no wider mode
    size_t written = 0;
    while (written < csv.size()) {
        const ssize_t n = write(fd, csv.data() + written, csv.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        written += static_cast<size_t>(n);
    }
    const bool ok = written == csv.size() && close(fd) == 0;
    if (!ok) std::cerr << "inkstone-admin codes: cannot write " << path << "\n";
    return ok;
}

constexpr char kCodesUsage[] =
    "usage: inkstone-admin codes create --count N (--credits X | --days D) --expires YYYY-MM-DD "
    "--note TEXT --reason TEXT [--out FILE]\n"
    "       inkstone-admin codes export BATCH_ID [--out FILE]\n";

int CodesCommand(const lib::base::Config& config, const std::vector<std::string>& args) {
    std::map<std::string, std::string> options;
    std::vector<std::string> rest;
    if (!TakeOptions(args, {"count", "credits", "days", "expires", "note", "reason", "out"},
                     &options, &rest)) {
        std::cerr << kCodesUsage;
        return 2;
    }
    const auto option = [&](const char* name) -> std::optional<std::string> {
        const auto it = options.find(name);
        if (it == options.end()) return std::nullopt;
        return it->second;
    };
    const std::string out = option("out").value_or("");
    const bool create = rest.size() == 1 && rest[0] == "create";
    const bool exporting = rest.size() == 2 && rest[0] == "export";
    if (!create && !exporting) {
        std::cerr << kCodesUsage;
        return 2;
    }
    lib::admin::NewBatch batch;
    std::optional<int64_t> batch_id;
    if (exporting) {
        batch_id = ParseInteger(rest[1]);
        if (!batch_id || *batch_id < 1 || options.size() != (out.empty() ? 0u : 1u)) {
            std::cerr << kCodesUsage;
            return 2;
        }
    } else {
        const std::optional<int64_t> count = ParseInteger(option("count").value_or(""));
        const std::optional<std::string> credits = option("credits");
        const std::optional<std::string> days = option("days");
        const std::optional<std::string> expires = option("expires");
        if (!count || credits.has_value() == days.has_value() || !expires || !option("note") ||
            !option("reason")) {
            std::cerr << "inkstone-admin codes create: --count, one of --credits and --days, "
                         "--expires, --note and --reason are required\n"
                      << kCodesUsage;
            return 2;
        }
        const std::optional<int64_t> value = ParseInteger(credits ? *credits : *days);
        const std::optional<lib::base::TimePoint> expires_at = lib::admin::ParseExpiry(*expires);
        if (!value || !expires_at) {
            std::cerr << "inkstone-admin codes create: --credits / --days take a whole number "
                         "and --expires YYYY-MM-DD\n";
            return 2;
        }
        // Out-of-range values are refused by CreateBatch below, with the API's messages.
        batch.count = static_cast<int>(std::clamp<int64_t>(*count, -1, 1'000'000));
        if (credits) {
            batch.credits = std::clamp<int64_t>(*value, -1, 1'000'000'000'000);
        } else {
            batch.days = static_cast<int>(std::clamp<int64_t>(*value, -1, 1'000'000));
        }
        batch.expires_at = *expires_at;
        batch.note = *option("note");
    }
    lib::db::Pool pool(AdminDbConfig(config));
    const lib::base::SystemClock clock;
    try {
        if (create) {
            const std::string reason = lib::admin::CheckReason(*option("reason"));
            const lib::admin::CreatedBatch created =
                lib::admin::CreateBatch(pool, clock, lib::admin::CliActor(), batch, reason);
            batch_id = created.batch["id"].asInt64();
            std::cerr << "created batch " << *batch_id << ": " << created.codes.size()
                      << " codes\n";
        }
        return WriteCsv(out, lib::admin::ExportCsv(pool, *batch_id)) ? 0 : 1;
    } catch (const lib::base::ApiError& e) {
        const Json::Value body = e.Body();
        std::cerr << "inkstone-admin codes " << rest[0] << ": " << e.detail;
        if (body.isMember("field")) std::cerr << " (field " << body["field"].asString() << ")";
        std::cerr << " (" << lib::base::ToJson(body["code"]) << ")\n";
        return 1;
    }
}

constexpr Command kCommands[] = {
    {"migrate", "", 0, 0, Migrate, "apply new migrations from sql_dir, one line per file"},
    {"check-db", "", 0, 0, CheckDb, "exit 0 when the database answers SELECT 1"},
    {"grant-admin", "USER", 1, 1, GrantAdminCommand, "give USER the admin role"},
    {"revoke-admin", "USER", 1, 1, RevokeAdminCommand, "take the admin role from USER"},
    {"run-jobs", "", 0, 0, RunJobsCommand, "run every background job once, now"},
    {"user", "show|adjust|disable|enable USER [AMOUNT] --reason TEXT", 2, 5, UserCommand,
     "show a user, or adjust credits / disable / enable (audited as cli:<unix user>)"},
    {"price", "list | set MODEL|package:ID VALUE --reason TEXT", 1, 5, PriceCommand,
     "list model prices and packages, or set one (audited as cli:<unix user>)"},
    {"order", "show|refund|reconcile ORDER_NO [--amount-fen N] --reason TEXT", 2, 6, OrderCommand,
     "show an order, refund it through its provider, or ask the provider now (audited)"},
    {"codes",
     "create --count N (--credits X | --days D) --expires DAY --note TEXT --reason TEXT "
     "[--out FILE] | export BATCH_ID [--out FILE]",
     1, 16, CodesCommand,
     "create a batch of redemption codes (audited as cli:<unix user>) or export one, as CSV"},
};

void PrintUsage(std::ostream& out) {
    out << "usage: inkstone-admin [--config FILE] <command> [args...]\n\n"
        << "  --config FILE  config file (default: " << kDefaultConfigFile
        << " when it exists); .env and the environment override it\n\ncommands:\n";
    for (const Command& c : kCommands) {
        std::string head = std::string(c.name);
        if (!c.args.empty()) head += " " + std::string(c.args);
        out << "  " << head << std::string(head.size() < 22 ? 22 - head.size() : 1, ' ') << c.help
            << "\n";
    }
}

bool FileExists(const char* path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int Main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    std::string config_file;
    bool config_given = false;
    size_t i = 0;
    for (; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "-h" || a == "--help") {
            PrintUsage(std::cout);
            return 0;
        }
        if (a == "--config" && i + 1 < args.size()) {
            config_file = args[++i];
            config_given = true;
        } else if (a.rfind("--config=", 0) == 0) {
            config_file = a.substr(9);
            config_given = true;
        } else if (!a.empty() && a[0] == '-') {
            std::cerr << "inkstone-admin: unknown option " << a << "\n";
            PrintUsage(std::cerr);
            return 2;
        } else {
            break;
        }
    }
    if (i == args.size()) {
        PrintUsage(std::cerr);
        return 2;
    }
    const Command* command = nullptr;
    for (const Command& c : kCommands) {
        if (c.name == args[i]) command = &c;
    }
    const std::vector<std::string> rest(args.begin() + static_cast<long>(i) + 1, args.end());
    if (command == nullptr || static_cast<int>(rest.size()) < command->min_args ||
        static_cast<int>(rest.size()) > command->max_args) {
        std::cerr << "inkstone-admin: "
                  << (command == nullptr ? "unknown command " : "wrong arguments for ") << args[i]
                  << "\n";
        PrintUsage(std::cerr);
        return 2;
    }
    if (!config_given && FileExists(kDefaultConfigFile)) config_file = kDefaultConfigFile;

    // Messages below come from ConfigError (which never quotes secret values) and from the
    // database client (which never echoes the password).
    try {
        lib::base::ConfigSources sources;
        sources.file_path = config_file;
        sources.dotenv_path = ".env";
        sources.env = lib::base::ProcessEnvironment();
        const lib::base::Config config = lib::base::LoadConfig(sources);
        lib::db::Pool::ThreadInit();
        const int status = command->run(config, rest);
        lib::db::Pool::ThreadEnd();
        return status;
    } catch (const std::exception& e) {
        std::cerr << "inkstone-admin " << args[i] << ": " << e.what() << "\n";
        return 1;
    }
}

}  // namespace
}  // namespace inkstone::handlers

int main(int argc, char** argv) { return inkstone::handlers::Main(argc, argv); }
