#pragma once
/// The inkstone FastCGI pool (`<build>/inkstone --config FILE`) as a child process, for the
/// tests and `make run`, plus `inkstone-admin migrate` against the same config.
///
/// Layout under `dir`:
///   inkstone.conf        written by Start() / WriteConfig()
///   run/inkstone.sock    the FastCGI socket (unless `fcgi.listen` is overridden)
///   logs/inkstone.log    the pool's log (`log.file`) and its stdout/stderr
///   logs/migrate.log     the output of RunMigrations()
///
/// Not thread-safe: start and stop from one thread (see Process on PR_SET_PDEATHSIG).
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lib/base/config.h"
#include "tests/harness/process.h"

namespace inkstone::testing {

struct AppPoolOptions {
    std::string dir;         ///< absolute; created if missing
    lib::base::DbConfig db;  ///< usually MariaDb::AppConfig()
    int workers = 2;
    int threads = 8;
    int64_t max_requests = 10000;
    int graceful_timeout_s = 10;
    /// More `key = value` lines for inkstone.conf (any key, `fcgi.listen` included); they win
    /// over everything above. An unknown key makes the pool refuse to start, as it should.
    std::map<std::string, std::string> config;
    /// Added to the pool's environment (which otherwise is this process's).
    std::map<std::string, std::string> env;
    /// The pool's working directory, where it reads `.env`; "" = `dir` (tests must not pick up
    /// a developer's .env), the source dir for `make run`.
    std::string working_dir;
    std::string binary_dir = INKSTONE_BINARY_DIR;  ///< holds `inkstone` and `inkstone-admin`
    std::string sql_dir = INKSTONE_SOURCE_DIR "/sql";
};

class AppPool {
  public:
    explicit AppPool(AppPoolOptions options);
    ~AppPool();  ///< Stop()
    AppPool(const AppPool&) = delete;
    AppPool& operator=(const AppPool&) = delete;

    /// Writes inkstone.conf from the options (Start() does it; call it yourself after
    /// SetConfig() before a SIGHUP reload).
    void WriteConfig();
    /// Sets one extra config key (see AppPoolOptions::config) and rewrites inkstone.conf.
    void SetConfig(const std::string& key, const std::string& value);

    /// `inkstone-admin --config FILE migrate`; throws std::runtime_error with its output when it
    /// fails or takes longer than `timeout`.
    void RunMigrations(std::chrono::milliseconds timeout = std::chrono::seconds(120));

    /// Starts the master and waits until its socket accepts connections. Throws
    /// std::runtime_error with the log tail when it exits or is not ready within `timeout`.
    void Start(std::chrono::milliseconds timeout = std::chrono::seconds(60));
    /// Graceful: SIGQUIT (in-flight requests drain), after `grace` SIGTERM, then SIGKILL to the
    /// master and its workers. Returns when none is left; true if the drain finished in time.
    /// No-op (true) when not running.
    bool Stop(std::chrono::milliseconds grace = std::chrono::seconds(15));
    /// SIGKILL to the master and its workers (a crash); returns when they are gone.
    void Kill();
    /// Sends `sig` to the master (SIGHUP reload, SIGUSR1 reopen logs, SIGTERM, ...).
    void Signal(int sig);
    /// Waits up to `timeout` for the master to exit on its own (after Signal()); true if it did.
    bool WaitExit(std::chrono::milliseconds timeout);
    bool running();
    /// Raw wait status of the master once it has exited.
    int exit_status() const;

    pid_t pid() const { return process_ ? process_->pid() : -1; }
    const std::string& dir() const { return options_.dir; }
    std::string config_path() const { return options_.dir + "/inkstone.conf"; }
    std::string log_path() const { return options_.dir + "/logs/inkstone.log"; }
    /// `fcgi.listen`: the unix socket path, or host:port.
    std::string listen() const;
    /// The same as an nginx upstream server address ("unix:/..." or "host:port").
    std::string nginx_address() const;
    /// `fcgi.status_path`, for nginx's status location.
    std::string status_path() const;
    std::string LogTail(size_t lines = 40) const;

  private:
    bool Ready();
    std::string Value(const std::string& key, const std::string& fallback) const;
    std::vector<std::string> Command(const std::string& binary) const;

    AppPoolOptions options_;
    std::unique_ptr<Process> process_;
};

}  // namespace inkstone::testing
