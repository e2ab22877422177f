#include "tests/harness/galera.h"

#include <cppconn/driver.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <regex>
#include <stdexcept>
#include <thread>

#include "tests/harness/mariadb.h"

namespace inkstone::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kProvider = "/usr/lib/galera/libgalera_smm.so";
constexpr const char* kAppUser = "inkstone";
constexpr const char* kAppSchema = "inkstone";
constexpr auto kStopGrace = seconds(30);
constexpr auto kRecoverTimeout = seconds(60);

std::string Tail(const std::string& text, size_t n) {
    return text.size() <= n ? text : text.substr(text.size() - n);
}

std::string CurrentUser() {
    const passwd* pw = getpwuid(geteuid());
    if (pw == nullptr) throw std::runtime_error("GaleraCluster: getpwuid failed");
    return pw->pw_name;
}

}  // namespace

GaleraCluster::GaleraCluster(std::string dir)
    : dir_(std::move(dir)), driver_(get_driver_instance()), nodes_(kNodes) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) throw std::runtime_error("GaleraCluster: cannot create " + dir_ + ": " + ec.message());
    dir_ = fs::absolute(dir_).lexically_normal().string();
    if (access(kProvider, R_OK) != 0) {
        throw std::runtime_error(std::string("GaleraCluster: ") + kProvider +
                                 " missing (install galera-4)");
    }
    server_user_ = geteuid() == 0 ? "mysql" : CurrentUser();
    if (getpwnam(server_user_.c_str()) == nullptr) {
        throw std::runtime_error("GaleraCluster: no system user " + server_user_ +
                                 " (install mariadb-server)");
    }
    for (Node& node : nodes_) {
        node.port = FreePort();
        node.gcomm = FreePort();
        node.ist = FreePort();
        node.sst = FreePort();
    }
    password_ = RandomPassword();
}

GaleraCluster::~GaleraCluster() {
    try {
        Stop();
    } catch (...) {
        // The children die with us anyway (PR_SET_PDEATHSIG).
    }
}

void GaleraCluster::ChownToServerUser(const std::string& path) {
    if (geteuid() != 0) return;
    const passwd* pw = getpwnam(server_user_.c_str());
    if (pw == nullptr) throw std::runtime_error("GaleraCluster: no user " + server_user_);
    const uid_t uid = pw->pw_uid;
    const gid_t gid = pw->pw_gid;
    if (lchown(path.c_str(), uid, gid) != 0) {
        throw std::runtime_error("GaleraCluster: chown " + path + " failed");
    }
    for (const auto& entry : fs::recursive_directory_iterator(path)) {
        if (lchown(entry.path().c_str(), uid, gid) != 0) {
            throw std::runtime_error("GaleraCluster: chown " + entry.path().string() + " failed");
        }
    }
}

void GaleraCluster::WriteConfig(int n) {
    const Node& node = nodes_.at(n);
    const std::string d = NodeDir(n);
    std::string cluster;
    for (const Node& other : nodes_) {
        cluster +=
            (cluster.empty() ? "" : ",") + std::string("127.0.0.1:") + std::to_string(other.gcomm);
    }
    const std::string provider_options =
        "gmcast.listen_addr=tcp://127.0.0.1:" + std::to_string(node.gcomm) +
        ";ist.recv_addr=127.0.0.1:" + std::to_string(node.ist) +
        ";gcache.size=64M;evs.suspect_timeout=PT2S;evs.inactive_timeout=PT3S"
        ";evs.keepalive_period=PT0.5S";
    std::string cnf = "[mysqld]\n";
    cnf += "datadir=" + d + "/data\n";
    cnf += "socket=" + socket(n) + "\n";
    cnf += "port=" + std::to_string(node.port) + "\n";
    cnf += "bind-address=127.0.0.1\n";
    cnf += "pid-file=" + d + "/mysqld.pid\n";
    cnf += "log-error=" + error_log(n) + "\n";
    cnf += "tmpdir=" + d + "/tmp\n";
    cnf += "user=" + server_user_ + "\n";
    cnf += "skip-name-resolve\n";
    cnf += "innodb_buffer_pool_size=32M\n";
    cnf += "innodb_log_file_size=16M\n";
    cnf += "innodb_flush_log_at_trx_commit=1\n";
    cnf += "max_connections=500\n";
    cnf += "character-set-server=utf8mb4\n";
    cnf += "collation-server=utf8mb4_unicode_ci\n";
    cnf += "default-time-zone=+00:00\n";
    cnf += "binlog_format=ROW\n";
    cnf += "innodb_autoinc_lock_mode=2\n";
    cnf += "wsrep_on=ON\n";
    cnf += std::string("wsrep_provider=") + kProvider + "\n";
    cnf += "wsrep_cluster_name=inkstone_test\n";
    cnf += "wsrep_cluster_address=gcomm://" + cluster + "\n";
    cnf += "wsrep_node_name=node" + std::to_string(n) + "\n";
    cnf += "wsrep_node_address=127.0.0.1\n";
    cnf += "wsrep_sst_method=rsync\n";
    cnf += "wsrep_sst_receive_address=127.0.0.1:" + std::to_string(node.sst) + "\n";
    cnf += "wsrep_provider_options=\"" + provider_options + "\"\n";
    WriteFile(d + "/my.cnf", cnf);
}

void GaleraCluster::InitDataDir(int n) {
    const std::string data = NodeDir(n) + "/data";
    const std::string log = NodeDir(n) + "/install.log";
    Process install({FindBinary({"mariadb-install-db", "mysql_install_db"}),
                     "--defaults-file=" + NodeDir(n) + "/my.cnf", "--wsrep-on=OFF",
                     "--auth-root-authentication-method=normal", "--skip-test-db",
                     "--user=" + server_user_, "--datadir=" + data},
                    log);
    if (!install.Wait(seconds(120))) {
        install.Stop();
        throw std::runtime_error("GaleraCluster: mariadb-install-db timed out; see " + log);
    }
    if (!WIFEXITED(install.status()) || WEXITSTATUS(install.status()) != 0) {
        throw std::runtime_error("GaleraCluster: mariadb-install-db failed:\n" +
                                 Tail(ReadFile(log), 3000));
    }
}

void GaleraCluster::Launch(int n, const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {FindBinary({"mariadbd", "mysqld"}),
                                     "--defaults-file=" + NodeDir(n) + "/my.cnf"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    nodes_.at(n).server = std::make_unique<Process>(argv, NodeDir(n) + "/mariadbd.log");
}

void GaleraCluster::WaitAccepting(int n, SteadyClock::time_point deadline) {
    for (;;) {
        try {
            Query(n, "SELECT 1");
            return;
        } catch (const std::runtime_error&) {
        }
        if (!running(n) || SteadyClock::now() >= deadline) {
            throw std::runtime_error("GaleraCluster: node " + std::to_string(n) +
                                     " did not come up; " + error_log(n) + ":\n" + LogTail(n));
        }
        std::this_thread::sleep_for(milliseconds(50));
    }
}

void GaleraCluster::Start(milliseconds timeout) {
    const auto t0 = SteadyClock::now();
    const auto deadline = t0 + timeout;
    for (int n = 0; n < kNodes; ++n) {
        for (const char* sub : {"data", "tmp"}) {
            std::error_code ec;
            fs::create_directories(NodeDir(n) + "/" + sub, ec);
            if (ec) throw std::runtime_error("GaleraCluster: mkdir: " + ec.message());
        }
        WriteConfig(n);
    }
    for (int n = 0; n < kNodes; ++n) ChownToServerUser(NodeDir(n));
    if (!fs::exists(NodeDir(0) + "/data/mysql")) InitDataDir(0);

    Launch(0, {"--wsrep-new-cluster"});
    WaitAccepting(0, deadline);
    WaitSynced(0, 1, std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now()));
    EnsureAppUser();
    // One joiner at a time: a donor serves one rsync SST at once, so a second joiner would wait
    // for it anyway (and may give up).
    for (int n = 1; n < kNodes; ++n) {
        Launch(n, {});
        WaitSynced(n, n + 1,
                   std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now()));
    }
    start_duration_ = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - t0);
}

void GaleraCluster::EnsureAppUser() {
    // The TCP root accounts mariadb-install-db creates (password-less) must go; DDL and
    // account statements replicate to the joiners (TOI), and they get this datadir by SST.
    for (const auto& row :
         Query(0, "SELECT host FROM mysql.user WHERE user = 'root' AND host <> 'localhost'")) {
        if (row.at(0).find_first_of("'\\") != std::string::npos) continue;
        Exec(0, "DROP USER IF EXISTS 'root'@'" + row.at(0) + "'");
    }
    Exec(0, std::string("CREATE DATABASE IF NOT EXISTS ") + kAppSchema +
                " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci");
    for (const char* host : {"127.0.0.1", "localhost"}) {
        const std::string account = std::string("'") + kAppUser + "'@'" + host + "'";
        Exec(0, "CREATE USER IF NOT EXISTS " + account + " IDENTIFIED BY '" + password_ + "'");
        Exec(0, std::string("GRANT ALL PRIVILEGES ON ") + kAppSchema + ".* TO " + account);
    }
}

void GaleraCluster::Stop() {
    for (Node& node : nodes_) {
        if (node.server && node.server->running()) node.server->Signal(SIGTERM);
    }
    for (Node& node : nodes_) {
        if (node.server) node.server->Stop(kStopGrace);
    }
}

void GaleraCluster::Kill(int n) {
    Node& node = nodes_.at(n);
    if (!node.server) return;
    node.server->Signal(SIGKILL);
    node.server->Wait(seconds(30));
}

std::string GaleraCluster::RecoverPosition(int n) {
    // `--wsrep-recover` starts InnoDB, logs "WSREP: Recovered position: UUID:SEQNO" to the
    // error log and exits.
    const std::string log = error_log(n);
    const size_t offset = ReadFile(log).size();
    Process recover({FindBinary({"mariadbd", "mysqld"}),
                     "--defaults-file=" + NodeDir(n) + "/my.cnf", "--wsrep-recover"},
                    NodeDir(n) + "/recover.log");
    if (!recover.Wait(kRecoverTimeout)) {
        recover.Stop();
        throw std::runtime_error("GaleraCluster: --wsrep-recover of node " + std::to_string(n) +
                                 " timed out");
    }
    const std::string text = ReadFile(log).substr(offset) + ReadFile(NodeDir(n) + "/recover.log");
    static const std::regex kPosition("Recovered position: ([0-9a-f-]{36}:-?[0-9]+)");
    std::smatch match;
    std::string position;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), kPosition);
         it != std::sregex_iterator(); ++it) {
        position = (*it)[1].str();
    }
    if (position.empty()) {
        throw std::runtime_error("GaleraCluster: --wsrep-recover of node " + std::to_string(n) +
                                 " found no position:\n" + Tail(text, 3000));
    }
    return position;
}

void GaleraCluster::Rejoin(int n) {
    if (running(n)) return;
    ChownToServerUser(NodeDir(n));
    const std::string position = RecoverPosition(n);
    Launch(n, {"--wsrep-start-position=" + position});
}

bool GaleraCluster::running(int n) {
    const Node& node = nodes_.at(n);
    return node.server && node.server->running();
}

pid_t GaleraCluster::pid(int n) const {
    const Node& node = nodes_.at(n);
    return node.server ? node.server->pid() : -1;
}

std::string GaleraCluster::Status(int n, const std::string& name) {
    try {
        const auto rows = Query(n, "SHOW GLOBAL STATUS LIKE '" + name + "'");
        return rows.empty() || rows[0].size() < 2 ? "" : rows[0][1];
    } catch (const std::runtime_error&) {
        return "";
    }
}

void GaleraCluster::WaitSynced(int n, int cluster_size, milliseconds timeout) {
    const auto deadline = SteadyClock::now() + timeout;
    for (;;) {
        if (Status(n, "wsrep_local_state_comment") == "Synced" &&
            Status(n, "wsrep_cluster_size") == std::to_string(cluster_size) &&
            Status(n, "wsrep_ready") == "ON") {
            return;
        }
        if (!running(n) || SteadyClock::now() >= deadline) {
            throw std::runtime_error("GaleraCluster: node " + std::to_string(n) +
                                     " not Synced in a cluster of " + std::to_string(cluster_size) +
                                     " (state '" + Status(n, "wsrep_local_state_comment") +
                                     "', size '" + Status(n, "wsrep_cluster_size") + "', " +
                                     (running(n) ? "running" : "exited") + "); " + error_log(n) +
                                     ":\n" + LogTail(n));
        }
        std::this_thread::sleep_for(milliseconds(100));
    }
}

void GaleraCluster::WaitAllSynced(milliseconds timeout) {
    int up = 0;
    for (int n = 0; n < kNodes; ++n) up += running(n) ? 1 : 0;
    for (int n = 0; n < kNodes; ++n) {
        if (running(n)) WaitSynced(n, up, timeout);
    }
}

std::string GaleraCluster::HostList(int first) const {
    std::string hosts;
    for (int i = 0; i < kNodes; ++i) {
        const int n = (first + i) % kNodes;
        hosts += (hosts.empty() ? "" : ",") + std::string("127.0.0.1:") +
                 std::to_string(nodes_.at(n).port);
    }
    return hosts;
}

lib::base::DbConfig GaleraCluster::AppConfig(int first) const {
    lib::base::DbConfig c;
    c.host = "127.0.0.1";
    c.port = nodes_.at(first).port;
    c.socket.clear();
    c.hosts = HostList(first);
    c.user = kAppUser;
    c.password = password_;
    c.name = kAppSchema;
    return c;
}

std::vector<std::vector<std::string>> GaleraCluster::Query(int n, const std::string& sql) {
    return QueryAsRoot(driver_, socket(n), sql);
}

std::string GaleraCluster::LogTail(int n, size_t bytes) const {
    return Tail(ReadFile(error_log(n)), bytes);
}

}  // namespace inkstone::testing
