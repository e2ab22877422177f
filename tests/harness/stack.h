#pragma once
/// The whole system on one machine, for integration tests and `make run`: a private MariaDB,
/// the migrations, the DashScope simulator, the FastCGI pool and nginx, in one directory, on
/// free ports.
///
/// Layout under dir():
///   mariadb/                       MariaDb (data/, mariadb.err, ...)
///   sim/                           Simulator (sim.log, stdout.log)
///   inkstone.conf, run/, logs/     AppPool (logs/inkstone.log, logs/migrate.log)
///   nginx/                         Nginx prefix (conf/, logs/error.log, logs/access.log)
///
/// Components start in dependency order and stop in reverse: nginx first (no new requests),
/// then the pool (in-flight requests drain), then the simulator, then MariaDB. Every component
/// is optional except MariaDB. With the simulator the pool's `qwen.base_url` and
/// `qwen.api_key` point at it (in inkstone.conf and in the pool's environment, so a
/// developer's exported QWEN_API_KEY can never send test traffic to the real DashScope) unless
/// `config` sets them.
///
/// Not thread-safe: Start()/Stop() from one thread, the one that outlives the stack (the
/// children get PR_SET_PDEATHSIG, see Process). The accessors' objects may be used from tests'
/// threads as their own headers allow; HttpClient is thread-safe.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "tests/harness/http_client.h"
#include "tests/harness/mariadb.h"
#include "tests/harness/nginx.h"
#include "tests/harness/pool.h"
#include "tests/harness/simulator.h"

namespace inkstone::testing {

struct StackOptions {
    /// "" = a fresh temp dir, removed by the destructor unless the run failed. Otherwise a
    /// persistent directory (`make run`'s var/), created if missing, never removed; MariaDB's
    /// data in it is reused.
    std::string dir;
    int port = 0;                ///< nginx on 127.0.0.1; 0 = a free port
    int db_port = 0;             ///< MariaDB on 127.0.0.1; 0 = a free port
    bool with_pool = true;       ///< false: nginx points at a socket nobody serves (502s)
    bool with_nginx = true;      ///< false: tests talk FastCGI or SQL only
    bool with_simulator = true;  ///< the DashScope simulator as the pool's upstream
    int sim_port = 0;            ///< the simulator on 127.0.0.1; 0 = a free port

    /// Pool settings, see AppPoolOptions.
    int workers = 2;
    int threads = 8;
    int64_t max_requests = 10000;
    int graceful_timeout_s = 10;
    std::map<std::string, std::string> config;  ///< extra inkstone.conf keys; win over the above
    std::map<std::string, std::string> env;     ///< extra environment for the pool
    std::string working_dir;                    ///< pool cwd ("" = the pool's dir), see AppPool
    /// nginx's upstream `keepalive` (and `fastcgi_keep_conn on`): -1 (the default, as
    /// `make run` and the package) = half the pool's threads spread over nginx's workers, at
    /// most 32 (none when that is 0); 0 = none; N = N per nginx worker.
    int upstream_keepalive = -1;
    /// nginx's inkstone_auth limit (NginxOptions::auth_rate / auth_burst); "" / 0 = the
    /// harness's, which no test reaches.
    std::string auth_rate;
    int auth_burst = 0;
    /// Extra nginx files for the server block, see NginxOptions::local_conf.
    std::map<std::string, std::string> nginx_local_conf;
    std::string binary_dir = INKSTONE_BINARY_DIR;
    std::string source_dir = INKSTONE_SOURCE_DIR;  ///< holds sql/ and nginx/
    /// The built web app nginx serves at `/`; "" = source_dir + "/web/dist".
    std::string web_root;

    /// Asked by the destructor whether the run failed; a failed run keeps its temp dir and
    /// prints where it is. Unset = never failed. SharedStack() (shared_stack.h) asks gtest.
    std::function<bool()> failed;
};

class Stack {
  public:
    explicit Stack(StackOptions options = {});
    /// Stop(); then removes a temp dir, or keeps it and prints its path when the run failed
    /// (options.failed(), or Start() threw, or KeepDir()).
    ~Stack();
    Stack(const Stack&) = delete;
    Stack& operator=(const Stack&) = delete;

    /// MariaDB, the simulator, migrations, pool, nginx; each waited for. On failure stops what was
    /// started and throws std::runtime_error carrying the failing component's log tail.
    void Start();
    /// nginx (graceful), the pool (SIGQUIT drain up to `pool_grace`, then SIGTERM/SIGKILL),
    /// the simulator, MariaDB. Leaves no process behind. Idempotent.
    void Stop(std::chrono::milliseconds pool_grace = std::chrono::seconds(15));

    /// The name of a component that should be running and is not ("mariadb",
    /// "dashscope-sim", "inkstone", "nginx"), or "" when all are up. For `make run`'s watchdog.
    std::string DeadComponent();
    /// The tail of one component's logs, by the names DeadComponent() uses.
    std::string LogTail(const std::string& component, size_t lines = 30) const;
    /// One line per log file, for people ("  nginx: /.../nginx/logs/error.log").
    std::string LogLocations() const;

    /// Keep the directory whatever happens (a test that wants to look at it afterwards).
    void KeepDir() { keep_dir_ = true; }

    const std::string& dir() const { return dir_; }
    /// nginx's port on 127.0.0.1 (valid after Start() with nginx).
    int port() const;
    std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port()); }
    /// A client for base_url().
    HttpClient client(std::chrono::milliseconds timeout = std::chrono::seconds(30)) const {
        return HttpClient(port(), timeout);
    }

    /// The simulator's port on 127.0.0.1 (valid after Start() with the simulator).
    int sim_port() const;
    /// The simulator's counters (GET /_sim/stats); throws std::runtime_error when unreachable.
    SimulatorStats SimStats() const;

    /// The components; they throw std::logic_error before Start() created them.
    MariaDb& db();
    AppPool& pool();
    Nginx& nginx();
    Simulator& simulator();

  private:
    StackOptions options_;
    std::string dir_;
    bool temp_dir_ = false;
    bool keep_dir_ = false;
    std::unique_ptr<MariaDb> db_;
    std::unique_ptr<Simulator> sim_;
    std::unique_ptr<AppPool> pool_;
    std::unique_ptr<Nginx> nginx_;
};

}  // namespace inkstone::testing
