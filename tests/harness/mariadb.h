#pragma once
/// A private MariaDB server for tests and `make run`: its own datadir, unix socket and TCP port
/// on 127.0.0.1, no system service, no config files read (`--no-defaults`). Works as root and
/// as a normal user (the server runs as the current user).
///
/// Layout under `dir` (the constructor argument):
///   data/              the datadir (initialised by mariadb-install-db on the first Start())
///   tmp/               the server's tmpdir
///   mysqld.sock        unix socket (root access for Query()/Exec())
///   mysqld.pid, mariadb.err, mariadbd.log
///   inkstone.password  the application user's password, generated on the first start and
///                      reused afterwards (so a second `make run` keeps its data and login)
///
/// Durability stays on (`innodb_flush_log_at_trx_commit=1`): crash tests Kill() the server and
/// check that committed data survived.
///
/// Threading: construct on the thread that will also call Start()/Stop() (the server is a
/// child process with PR_SET_PDEATHSIG, which fires when the creating thread exits); Query()
/// and Exec() may be called from any thread that called lib::db::Pool::ThreadInit() (or the
/// main thread).
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lib/base/config.h"
#include "tests/harness/process.h"

namespace sql {
class Driver;
}

namespace inkstone::testing {

/// The first of `names` found executable in PATH, /usr/bin or /usr/sbin (Debian keeps mariadbd
/// in /usr/sbin, which a normal user's PATH often lacks). Throws std::runtime_error.
std::string FindBinary(const std::vector<std::string>& names);
/// 36 random hex digits (a generated DB password).
std::string RandomPassword();
/// Runs one statement as root (no password) over the unix socket `socket`; all rows as text
/// (NULL is "NULL"), empty for statements without a result set. Throws std::runtime_error.
std::vector<std::vector<std::string>> QueryAsRoot(sql::Driver* driver, const std::string& socket,
                                                  const std::string& sql);

class MariaDb {
  public:
    /// `dir` is created if missing. `port` 0 picks a free port once, here; Restart() keeps it.
    explicit MariaDb(std::string dir, int port = 0);
    ~MariaDb();  ///< Stop()
    MariaDb(const MariaDb&) = delete;
    MariaDb& operator=(const MariaDb&) = delete;

    /// Initialises the datadir if needed, starts mariadbd and waits (up to 60 s) until it
    /// accepts connections; on the first start creates database `inkstone` and the user
    /// `inkstone`@`127.0.0.1` / @`localhost` with all privileges on it.
    /// Throws std::runtime_error with the tail of the error log when the server does not come up.
    void Start();
    /// SIGTERM, wait up to 30 s for a clean shutdown, then SIGKILL.
    void Stop();
    /// SIGKILL, no shutdown: a crash.
    void Kill();
    /// Stop() if running, then Start() on the same port and datadir.
    void Restart();
    bool running();
    /// The server's pid (-1 when not running), e.g. to SIGSTOP it and simulate a hung server.
    pid_t pid() const { return server_ ? server_->pid() : -1; }

    int port() const { return port_; }
    const std::string& dir() const { return dir_; }
    std::string socket() const { return dir_ + "/mysqld.sock"; }
    std::string error_log() const { return dir_ + "/mariadb.err"; }
    /// How long the last Start() took (datadir bootstrap included).
    std::chrono::milliseconds last_start_duration() const { return last_start_; }

    /// Settings for the application: TCP to 127.0.0.1:port as `inkstone`, schema `inkstone`.
    lib::base::DbConfig AppConfig() const;

    /// Runs one statement as root over the unix socket and returns all rows as text (NULL is
    /// "NULL"); an empty vector for statements without a result set. Throws std::runtime_error.
    std::vector<std::vector<std::string>> Query(const std::string& sql);
    /// Query() without rows.
    void Exec(const std::string& sql);
    /// A global status counter (`SHOW GLOBAL STATUS LIKE name`), e.g. `Questions`.
    int64_t GlobalStatus(const std::string& name);

  private:
    void InitDataDir();
    void EnsureAppUser();
    bool TryRootPing();
    /// Private tmpdir: the shared /tmp sees other servers' `#sql-temptable-*` files (and other
    /// people's cleanups), which broke concurrent bootstraps.
    std::string TmpDir() const { return dir_ + "/tmp"; }

    std::string dir_;
    int port_;
    std::string password_;
    sql::Driver* driver_;
    std::unique_ptr<Process> server_;
    std::chrono::milliseconds last_start_{0};
};

/// The statements the server ran from every client while `call` ran (`Questions`), less what
/// reading the counter itself costs (each read connects anew, with Connector/C++'s session
/// setup). Background jobs still count: callers look at several tries.
int64_t StatementsDuring(MariaDb& db, const std::function<void()>& call);

}  // namespace inkstone::testing
