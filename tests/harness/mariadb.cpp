#include "tests/harness/mariadb.h"

#include <cppconn/driver.h>
#include <cppconn/exception.h>
#include <cppconn/resultset.h>
#include <cppconn/resultset_metadata.h>
#include <cppconn/statement.h>
#include <openssl/rand.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <thread>

namespace inkstone::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kAppUser = "inkstone";
constexpr const char* kAppSchema = "inkstone";
constexpr const char* kPasswordFile = "inkstone.password";
constexpr auto kStartTimeout = seconds(60);
constexpr auto kStopGrace = seconds(30);

std::string CurrentUser() {
    const passwd* pw = getpwuid(geteuid());
    if (pw == nullptr) throw std::runtime_error("MariaDb: getpwuid failed");
    return pw->pw_name;
}

std::string Tail(const std::string& text, size_t n) {
    return text.size() <= n ? text : text.substr(text.size() - n);
}

std::string Trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
}

}  // namespace

std::string FindBinary(const std::vector<std::string>& names) {
    std::vector<std::string> dirs;
    if (const char* path = std::getenv("PATH")) {
        std::string p = path;
        size_t start = 0;
        while (start <= p.size()) {
            const size_t colon = p.find(':', start);
            const size_t end = colon == std::string::npos ? p.size() : colon;
            if (end > start) dirs.push_back(p.substr(start, end - start));
            start = end + 1;
        }
    }
    // Debian keeps mariadbd in /usr/sbin, which a normal user's PATH often lacks.
    dirs.push_back("/usr/bin");
    dirs.push_back("/usr/sbin");
    for (const auto& name : names) {
        for (const auto& dir : dirs) {
            const std::string candidate = dir + "/" + name;
            if (access(candidate.c_str(), X_OK) == 0) return candidate;
        }
    }
    throw std::runtime_error("MariaDb: none of " + names.front() +
                             "... found in PATH, /usr/bin, /usr/sbin (install mariadb-server)");
}

std::string RandomPassword() {
    unsigned char bytes[18];
    if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("RAND_bytes failed");
    static const char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char b : bytes) {
        out.push_back(kHex[b >> 4]);
        out.push_back(kHex[b & 15]);
    }
    return out;
}

std::vector<std::vector<std::string>> QueryAsRoot(sql::Driver* driver, const std::string& socket,
                                                  const std::string& sql) {
    try {
        sql::ConnectOptionsMap options;
        options["hostName"] = sql::SQLString("unix://" + socket);
        options["userName"] = sql::SQLString("root");
        options["password"] = sql::SQLString("");
        options["OPT_CONNECT_TIMEOUT"] = 5;
        options["OPT_CHARSET_NAME"] = sql::SQLString("utf8mb4");
        std::unique_ptr<sql::Connection> conn(driver->connect(options));
        std::unique_ptr<sql::Statement> stmt(conn->createStatement());
        std::vector<std::vector<std::string>> rows;
        if (!stmt->execute(sql)) return rows;
        std::unique_ptr<sql::ResultSet> rs(stmt->getResultSet());
        const unsigned columns = rs->getMetaData()->getColumnCount();
        while (rs->next()) {
            std::vector<std::string> row;
            for (unsigned i = 1; i <= columns; ++i) {
                row.push_back(rs->isNull(i) ? std::string("NULL")
                                            : static_cast<std::string>(rs->getString(i)));
            }
            rows.push_back(std::move(row));
        }
        return rows;
    } catch (const sql::SQLException& e) {
        throw std::runtime_error("MariaDb::Query failed (" + std::to_string(e.getErrorCode()) +
                                 "): " + e.what() + " -- in: " + sql);
    }
}

MariaDb::MariaDb(std::string dir, int port)
    : dir_(std::move(dir)), port_(port == 0 ? FreePort() : port), driver_(get_driver_instance()) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) throw std::runtime_error("MariaDb: cannot create " + dir_ + ": " + ec.message());
    dir_ = fs::absolute(dir_).lexically_normal().string();
    if (socket().size() >= sizeof(sockaddr_un::sun_path)) {
        throw std::runtime_error("MariaDb: socket path too long: " + socket());
    }
}

MariaDb::~MariaDb() {
    try {
        Stop();
    } catch (...) {
        // A destructor cannot report; the child dies with us anyway (PR_SET_PDEATHSIG).
    }
}

void MariaDb::InitDataDir() {
    const std::string data = dir_ + "/data";
    std::error_code ec;
    fs::remove_all(data, ec);  // a half-initialised datadir from an interrupted bootstrap
    fs::create_directories(data, ec);
    if (ec) throw std::runtime_error("MariaDb: cannot create " + data + ": " + ec.message());
    const std::string log = dir_ + "/install.log";
    Process install(
        {FindBinary({"mariadb-install-db", "mysql_install_db"}), "--no-defaults",
         "--auth-root-authentication-method=normal", "--skip-test-db", "--user=" + CurrentUser(),
         "--datadir=" + data, "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=16M",
         "--tmpdir=" + TmpDir()},
        log);
    if (!install.Wait(kStartTimeout)) {
        install.Stop();
        throw std::runtime_error("MariaDb: mariadb-install-db timed out; see " + log);
    }
    if (!WIFEXITED(install.status()) || WEXITSTATUS(install.status()) != 0) {
        throw std::runtime_error("MariaDb: mariadb-install-db failed:\n" +
                                 Tail(ReadFile(log), 3000));
    }
}

bool MariaDb::TryRootPing() {
    try {
        Query("SELECT 1");
        return true;
    } catch (const std::runtime_error&) {
        return false;
    }
}

void MariaDb::Start() {
    if (running()) return;
    const auto t0 = std::chrono::steady_clock::now();
    std::error_code ec;
    fs::create_directories(TmpDir(), ec);
    if (ec) throw std::runtime_error("MariaDb: cannot create " + TmpDir() + ": " + ec.message());
    if (!fs::exists(dir_ + "/data/mysql")) InitDataDir();
    const std::string err_log = error_log();
    const auto err_offset = ReadFile(err_log).size();
    server_ = std::make_unique<Process>(
        std::vector<std::string>{
            FindBinary({"mariadbd", "mysqld"}), "--no-defaults", "--datadir=" + dir_ + "/data",
            "--socket=" + socket(), "--port=" + std::to_string(port_), "--bind-address=127.0.0.1",
            "--pid-file=" + dir_ + "/mysqld.pid", "--log-error=" + err_log, "--tmpdir=" + TmpDir(),
            "--user=" + CurrentUser(), "--skip-log-bin",
            // Grants name 127.0.0.1 and localhost only; no reverse DNS on every connect.
            "--skip-name-resolve", "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=16M",
            "--max-connections=500", "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci", "--default-time-zone=+00:00",
            "--innodb-flush-log-at-trx-commit=1"},
        dir_ + "/mariadbd.log");

    const auto deadline = t0 + kStartTimeout;
    while (!TryRootPing()) {
        if (!server_->running() || std::chrono::steady_clock::now() >= deadline) {
            server_->Stop(milliseconds(0));
            const std::string log = ReadFile(err_log);
            throw std::runtime_error("MariaDb: server did not start; " + err_log + ":\n" +
                                     Tail(log.substr(std::min(err_offset, log.size())), 3000));
        }
        std::this_thread::sleep_for(milliseconds(25));
    }
    // mariadbd creates the socket world-writable, and root needs no password on it: only
    // our own user may connect there (the application uses TCP).
    if (chmod(socket().c_str(), 0600) != 0) {
        throw std::runtime_error("MariaDb: chmod " + socket() + " failed");
    }
    EnsureAppUser();
    last_start_ = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0);
}

void MariaDb::EnsureAppUser() {
    const std::string file = dir_ + "/" + kPasswordFile;
    password_ = Trim(ReadFile(file));
    const bool fresh = password_.empty();
    if (fresh) password_ = RandomPassword();
    // mariadb-install-db --auth-root-authentication-method=normal also creates password-less
    // root accounts reachable over TCP (127.0.0.1, ::1, the host name); keep only the socket one.
    for (const auto& row :
         Query("SELECT host FROM mysql.user WHERE user = 'root' AND host <> 'localhost'")) {
        if (row.at(0).find_first_of("'\\") != std::string::npos) continue;
        Exec("DROP USER IF EXISTS 'root'@'" + row.at(0) + "'");
    }
    // The password is hex, so inlining it into DDL (which takes no `?`) cannot break quoting.
    Exec(std::string("CREATE DATABASE IF NOT EXISTS ") + kAppSchema +
         " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci");
    for (const char* host : {"127.0.0.1", "localhost"}) {
        const std::string account = std::string("'") + kAppUser + "'@'" + host + "'";
        Exec("CREATE USER IF NOT EXISTS " + account + " IDENTIFIED BY '" + password_ + "'");
        Exec("ALTER USER " + account + " IDENTIFIED BY '" + password_ + "'");
        Exec(std::string("GRANT ALL PRIVILEGES ON ") + kAppSchema + ".* TO " + account);
    }
    if (fresh) {
        const std::string tmp = file + ".tmp";
        WriteFile(tmp, password_ + "\n");
        if (chmod(tmp.c_str(), 0600) != 0 || rename(tmp.c_str(), file.c_str()) != 0) {
            throw std::runtime_error("MariaDb: cannot write " + file);
        }
    }
}

void MariaDb::Stop() {
    if (server_) server_->Stop(kStopGrace);
}

void MariaDb::Kill() {
    if (!server_) return;
    server_->Signal(SIGKILL);
    server_->Wait(seconds(30));
}

void MariaDb::Restart() {
    Stop();
    Start();
}

bool MariaDb::running() { return server_ && server_->running(); }

lib::base::DbConfig MariaDb::AppConfig() const {
    lib::base::DbConfig c;
    c.host = "127.0.0.1";
    c.port = port_;
    c.socket.clear();
    c.user = kAppUser;
    c.password = password_;
    c.name = kAppSchema;
    return c;
}

std::vector<std::vector<std::string>> MariaDb::Query(const std::string& sql) {
    return QueryAsRoot(driver_, socket(), sql);
}

void MariaDb::Exec(const std::string& sql) { Query(sql); }

int64_t MariaDb::GlobalStatus(const std::string& name) {
    return std::stoll(Query("SHOW GLOBAL STATUS LIKE '" + name + "'").at(0).at(1));
}

int64_t StatementsDuring(MariaDb& db, const std::function<void()>& call) {
    const int64_t q0 = db.GlobalStatus("Questions");
    const int64_t q1 = db.GlobalStatus("Questions");
    call();
    const int64_t q2 = db.GlobalStatus("Questions");
    return (q2 - q1) - (q1 - q0);
}

}  // namespace inkstone::testing
