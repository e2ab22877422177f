#pragma once
/// nginx in front of the pool, for the tests and `make run`: the templates in nginx/ rendered
/// into a private prefix directory and nginx run in the foreground from there, as root or not.
///
/// Layout under `prefix`:
///   conf/nginx.conf, conf/inkstone-upstream.conf, conf/inkstone-locations.conf  (rendered)
///   conf/fastcgi_params   (copied from /etc/nginx, what the snippet's `include` expects)
///   conf/local.d/*.conf   NginxOptions::local_conf (the server block includes them)
///   nginx.pid, logs/error.log, logs/access.log, logs/stderr.log, temp/...
///
/// Not thread-safe: start and stop from one thread (the one that outlives nginx: the child
/// gets PR_SET_PDEATHSIG, see Process).
#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/harness/process.h"

namespace inkstone::testing {

/// Replaces every `@NAME@` (NAME: upper-case letters, digits, `_`) in `text` with
/// `values.at(NAME)`. Throws std::runtime_error naming the placeholder when a value is missing,
/// so a new placeholder in a template can never reach nginx unrendered. Other `@` (named
/// locations such as `@inkstone_timeout`) are left alone.
std::string RenderTemplate(const std::string& text,
                           const std::map<std::string, std::string>& values);

/// Where the templates are rendered from and what goes into them.
struct NginxOptions {
    std::string prefix;        ///< absolute directory; created if missing
    int port = 0;              ///< 0 = a free port, chosen in the constructor
    std::string pool_address;  ///< nginx server address: "unix:/abs/inkstone.sock" or "host:port"
    /// More pools in the same upstream (one `server` line each): app hosts behind one nginx.
    std::vector<std::string> more_pool_addresses;
    /// `keepalive` of the upstream block: idle connections per nginx worker; 0 = none (and
    /// `fastcgi_keep_conn off`).
    int upstream_keepalive = 0;
    std::string status_path = "/inkstone-status";  ///< `fcgi.status_path` of the pool
    std::string metrics_path = "/metrics";         ///< `fcgi.metrics_path` of the pool
    /// inkstone_auth's rate and burst (@AUTH_RATE@, @AUTH_BURST@). Every test client is
    /// 127.0.0.1, so by default a rate no test reaches; `make run` renders production's.
    std::string auth_rate = "100000r/s";
    int auth_burst = 100000;
    std::string template_dir = INKSTONE_SOURCE_DIR "/nginx";  ///< the *.conf.in files
    /// The built web app served at `/` (@WEB_ROOT@); need not exist (then `/` answers a JSON
    /// 404 saying the app is not built).
    std::string web_root = INKSTONE_SOURCE_DIR "/web/dist";
    /// Extra files for conf/local.d/ (name → content, names ending in `.conf`), included in
    /// the server block after inkstone's locations: the benchmark's baseline location.
    std::map<std::string, std::string> local_conf;
};

class Nginx {
  public:
    explicit Nginx(NginxOptions options);
    ~Nginx();  ///< Stop()
    Nginx(const Nginx&) = delete;
    Nginx& operator=(const Nginx&) = delete;

    /// Renders the config, runs `nginx -p PREFIX -c PREFIX/conf/nginx.conf -e stderr` in the
    /// foreground and waits until the port accepts connections. When the port was chosen here
    /// and someone else took it meanwhile, retries on another one (read port() afterwards).
    /// Throws std::runtime_error with the tail of nginx's logs when it exits or does not listen
    /// within `timeout`.
    void Start(std::chrono::milliseconds timeout = std::chrono::seconds(15));
    /// Graceful: SIGQUIT (open requests finish, bounded by `worker_shutdown_timeout` in the
    /// config), then SIGTERM, then SIGKILL for master and workers. Returns when no nginx process
    /// of this instance is left. No-op when not running.
    void Stop(std::chrono::milliseconds grace = std::chrono::seconds(15));
    /// SIGKILL to master and workers (a crash); returns when they are gone.
    void Kill();
    /// SIGHUP: re-reads the rendered config (re-render first with Render() to change it).
    void Reload();
    bool running();

    /// Writes the rendered config files into PREFIX/conf (Start() calls it).
    void Render();

    int port() const { return options_.port; }
    pid_t pid() const { return process_ ? process_->pid() : -1; }
    const std::string& prefix() const { return options_.prefix; }
    std::string conf_path() const { return options_.prefix + "/conf/nginx.conf"; }
    std::string error_log() const { return options_.prefix + "/logs/error.log"; }
    std::string access_log() const { return options_.prefix + "/logs/access.log"; }
    std::string stderr_log() const { return options_.prefix + "/logs/stderr.log"; }
    /// The last lines of stderr_log() and error_log(), for failure messages.
    std::string LogTail(size_t lines = 30) const;

    /// The nginx executable: PATH first, then /usr/sbin/nginx. Throws std::runtime_error if none.
    static std::string FindBinary();

  private:
    void StartOnce(std::chrono::milliseconds timeout);

    NginxOptions options_;
    bool auto_port_ = false;
    std::unique_ptr<Process> process_;
};

}  // namespace inkstone::testing
