// The Debian package (label packaging; `make deb` builds the Release one, docs/deploy.md uses
// it): this test packs the build tree it belongs to with cpack, as `make deb` does, then
//   - checks the package: its files (`dpkg-deb -c`), its conffiles and maintainer scripts, its
//     dependencies as dpkg-shlibdeps resolved them (`dpkg-deb -I`/`-f`);
//   - checks the unit file's contract (Type=notify, SIGHUP reload, SIGQUIT stop within a
//     TimeoutStopSec that covers the drain, the sandbox) and `systemd-analyze verify`s it when
//     systemd-analyze exists (CI containers may not have it: the test says it skipped);
//   - unpacks it with `dpkg -x` into a temp root and runs it from there as systemd would: the
//     installed inkstone-admin migrates a test MariaDB, then the unit's ExecStart command line
//     (paths moved into the temp root, the config a copy of the installed conffile with its
//     paths moved too) starts the pool with a NOTIFY_SOCKET this test reads, behind nginx built
//     from the installed snippets (not the templates): READY=1 must come once /api/v1/health
//     answers 200 through them; SIGHUP must give RELOADING=1 then READY=1; the unit's
//     KillSignal (SIGQUIT) STOPPING=1 and exit status 0 within TimeoutStopSec;
//   - runs the installed backup script against the test MariaDB and restores its dump.
// Each step is one TEST in order; later steps need the package of the first.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness/http_client.h"
#include "tests/harness/mariadb.h"
#include "tests/harness/nginx.h"
#include "tests/harness/process.h"
#include "tests/harness/process_tree.h"

namespace inkstone::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

struct Output {
    int status = -1;   ///< raw wait status; -1 when it did not finish in time
    std::string text;  ///< stdout and stderr together
    bool ok() const { return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0; }
};

/// Runs `argv` to completion (stdout+stderr into `dir`/cmd-N.log) within `timeout`.
Output RunCommand(const std::string& dir, const std::vector<std::string>& argv,
                  std::chrono::milliseconds timeout = 60s,
                  const std::map<std::string, std::string>& env = {}) {
    static int n = 0;
    const std::string log = dir + "/cmd-" + std::to_string(++n) + ".log";
    Process p(argv, log, env);
    Output out;
    if (p.Wait(timeout)) {
        out.status = p.status();
    } else {
        p.Stop(1000ms);
    }
    out.text = ReadFile(log);
    return out;
}

bool Have(const std::string& tool) {
    return system(("command -v " + tool + " >/dev/null 2>&1").c_str()) == 0;
}

/// The `Key=value` lines of a unit file (all sections), in order.
std::vector<std::pair<std::string, std::string>> UnitEntries(const std::string& text) {
    std::vector<std::pair<std::string, std::string>> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#' || line[0] == ';' || line[0] == '[') continue;
        const size_t eq = line.find('=');
        if (eq == std::string::npos) continue;
        out.emplace_back(line.substr(0, eq), line.substr(eq + 1));
    }
    return out;
}

std::string UnitValue(const std::string& text, const std::string& key) {
    std::string value;
    for (const auto& [k, v] : UnitEntries(text)) {
        if (k == key) value = v;  // the last one wins, as in systemd
    }
    return value;
}

std::vector<std::string> Split(const std::string& s) {
    std::istringstream in(s);
    std::vector<std::string> out;
    for (std::string w; in >> w;) out.push_back(w);
    return out;
}

/// Replaces `from` (which must occur) in `text`; a packaged file that no longer says what the
/// test moves is a failure, not a silent no-op.
void MustReplace(std::string& text, const std::string& from, const std::string& to,
                 const std::string& what) {
    const size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << what << " no longer contains `" << from << "`";
    size_t pos = 0;
    while ((pos = text.find(from, pos)) != std::string::npos) {
        text.replace(pos, from.size(), to);
        pos += to.size();
    }
}

/// A unix datagram socket standing in for systemd's NOTIFY_SOCKET.
class NotifySocket {
  public:
    explicit NotifySocket(std::string path) : path_(std::move(path)) {
        fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
        unlink(path_.c_str());
        if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            throw std::runtime_error("notify socket " + path_ + ": " + std::strerror(errno));
        }
    }
    ~NotifySocket() {
        if (fd_ >= 0) close(fd_);
        unlink(path_.c_str());
    }
    const std::string& path() const { return path_; }

    /// The next datagram within `timeout`, "" when none came.
    std::string Next(std::chrono::milliseconds timeout) {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return "";
        char buf[4096];
        const ssize_t n = recv(fd_, buf, sizeof buf, 0);
        return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
    }

    /// Reads datagrams until one has the line `line` (e.g. "READY=1"); all seen are appended to
    /// `seen`. False when `timeout` passed first.
    bool WaitFor(const std::string& line, std::chrono::milliseconds timeout,
                 std::vector<std::string>& seen) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left <= 0ms) return false;
            const std::string msg = Next(left);
            if (msg.empty()) continue;
            seen.push_back(msg);
            std::istringstream in(msg);
            for (std::string l; std::getline(in, l);) {
                if (l == line) return true;
            }
        }
    }

  private:
    std::string path_;
    int fd_ = -1;
};

std::string Joined(const std::vector<std::string>& v) {
    std::string out;
    for (const std::string& s : v) out += "[" + s + "] ";
    return out;
}

class Packaging : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        dir_ = MakeTempDir("inkstone-packaging");
        root_ = dir_ + "/root";
        fs::create_directories(root_);
    }
    static void TearDownTestSuite() {
        if (::testing::UnitTest::GetInstance()->Failed()) {
            std::fprintf(stderr, "packaging test: kept %s\n", dir_.c_str());
        } else {
            RemoveTree(dir_);
        }
    }
    void SetUp() override {
        if (!Have("dpkg-deb") || !Have("cpack")) GTEST_SKIP() << "dpkg-deb or cpack missing";
        if (!deb_.empty() || ::testing::UnitTest::GetInstance()->current_test_info()->name() ==
                                 std::string("BuildsThePackage")) {
            return;
        }
        GTEST_SKIP() << "no package: BuildsThePackage failed or was filtered out";
    }

    static std::string Installed(const std::string& path) { return root_ + path; }
    static std::string InstalledText(const std::string& path) { return ReadFile(Installed(path)); }

    static inline std::string dir_;
    static inline std::string root_;
    static inline std::string deb_;
};

TEST_F(Packaging, BuildsThePackage) {
    ASSERT_TRUE(fs::exists(INKSTONE_SOURCE_DIR "/web/dist/index.html"))
        << "the package ships the built web app: run `make web` first (make test does)";
    const std::string out_dir = dir_ + "/deb";
    // What `make deb` runs in build/release, here on this test's own build tree.
    Output cpack = RunCommand(
        dir_,
        {"cpack", "-G", "DEB", "--config", INKSTONE_BINARY_DIR "/CPackConfig.cmake", "-B", out_dir},
        300s);
    ASSERT_TRUE(cpack.ok()) << cpack.text;
    for (const auto& entry : fs::directory_iterator(out_dir)) {
        if (entry.path().extension() == ".deb") deb_ = entry.path();
    }
    ASSERT_FALSE(deb_.empty()) << cpack.text;
    EXPECT_NE(deb_.find("inkstone_"), std::string::npos) << deb_;
    Output x = RunCommand(dir_, {"dpkg", "-x", deb_, root_});
    ASSERT_TRUE(x.ok()) << x.text;
}

TEST_F(Packaging, HoldsTheLayout) {
    Output c = RunCommand(dir_, {"dpkg-deb", "-c", deb_});
    ASSERT_TRUE(c.ok()) << c.text;
    // path → expected mode column of `dpkg-deb -c` (owner root/root for all).
    std::map<std::string, std::string> files;
    std::istringstream in(c.text);
    for (std::string line; std::getline(in, line);) {
        std::vector<std::string> cols = Split(line);
        if (cols.size() < 6) continue;
        EXPECT_EQ(cols[1], "root/root") << line;
        files[cols.back()] = cols[0];
    }
    const std::map<std::string, std::string> expected = {
        {"./usr/bin/inkstone", "-rwxr-xr-x"},
        {"./usr/bin/inkstone-admin", "-rwxr-xr-x"},
        {"./usr/lib/inkstone/inkstone-backup", "-rwxr-xr-x"},
        {"./usr/lib/systemd/system/inkstone.service", "-rw-r--r--"},
        {"./usr/lib/systemd/system/inkstone-backup.service", "-rw-r--r--"},
        {"./usr/lib/systemd/system/inkstone-backup.timer", "-rw-r--r--"},
        {"./usr/share/inkstone/nginx/inkstone-upstream.conf", "-rw-r--r--"},
        {"./usr/share/inkstone/nginx/inkstone-locations.conf", "-rw-r--r--"},
        {"./usr/share/inkstone/web/index.html", "-rw-r--r--"},
        {"./usr/share/doc/inkstone/deploy.md", "-rw-r--r--"},
        {"./usr/share/doc/inkstone/ops/grafana/inkstone-dashboard.json", "-rw-r--r--"},
        {"./usr/share/doc/inkstone/ops/prometheus/inkstone-alerts.yml", "-rw-r--r--"},
        // The config holds secrets: not world-readable even before postinst chgrps it.
        {"./etc/inkstone/inkstone.conf", "-rw-r-----"},
        {"./etc/logrotate.d/inkstone", "-rw-r--r--"},
    };
    for (const auto& [path, mode] : expected) {
        ASSERT_TRUE(files.count(path)) << path << " missing from the package:\n" << c.text;
        EXPECT_EQ(files[path], mode) << path;
    }
    // Every migration of the source tree, and the web app's assets.
    for (const auto& entry : fs::directory_iterator(INKSTONE_SOURCE_DIR "/sql")) {
        const std::string name = entry.path().filename();
        EXPECT_TRUE(files.count("./usr/share/inkstone/sql/" + name)) << name;
    }
    for (const auto& entry : fs::directory_iterator(INKSTONE_SOURCE_DIR "/web/dist/assets")) {
        const std::string name = entry.path().filename();
        EXPECT_TRUE(files.count("./usr/share/inkstone/web/assets/" + name)) << name;
    }
    // The two binaries and nothing else from the build (no simulator, devstack, tests).
    std::set<std::string> binaries;
    for (const auto& [path, mode] : files) {
        if (path.rfind("./usr/bin/", 0) == 0 && path != "./usr/bin/") binaries.insert(path);
    }
    EXPECT_EQ(binaries, (std::set<std::string>{"./usr/bin/inkstone", "./usr/bin/inkstone-admin"}));
}

TEST_F(Packaging, DeclaresConffilesScriptsAndDependencies) {
    Output conffiles = RunCommand(dir_, {"dpkg-deb", "-I", deb_, "conffiles"});
    ASSERT_TRUE(conffiles.ok()) << conffiles.text;
    EXPECT_EQ(conffiles.text, "/etc/inkstone/inkstone.conf\n/etc/logrotate.d/inkstone\n");

    Output depends = RunCommand(dir_, {"dpkg-deb", "-f", deb_, "Depends"});
    ASSERT_TRUE(depends.ok()) << depends.text;
    // dpkg-shlibdeps resolved the libraries the binaries link (package names with versions).
    for (const char* package :
         {"adduser", "libc6 (>=", "libsystemd0", "libfcgi0ldbl", "libmysqlcppconn", "libsodium23",
          "libcurl4", "libjsoncpp", "libssl3", "libstdc++6"}) {
        EXPECT_NE(depends.text.find(package), std::string::npos)
            << package << " not in Depends: " << depends.text;
    }
    Output fields =
        RunCommand(dir_, {"dpkg-deb", "-f", deb_, "Package", "Version", "Architecture"});
    ASSERT_TRUE(fields.ok()) << fields.text;
    EXPECT_NE(fields.text.find("Package: inkstone\n"), std::string::npos) << fields.text;

    const std::string control = dir_ + "/control";
    Output e = RunCommand(dir_, {"dpkg-deb", "-e", deb_, control});
    ASSERT_TRUE(e.ok()) << e.text;
    for (const char* script : {"postinst", "prerm", "postrm"}) {
        const std::string path = control + "/" + script;
        struct stat st {};
        ASSERT_EQ(stat(path.c_str(), &st), 0) << script;
        EXPECT_EQ(st.st_mode & 0777, 0755u) << script;
        Output sh = RunCommand(dir_, {"sh", "-n", path});
        EXPECT_TRUE(sh.ok()) << script << ": " << sh.text;
    }
    const std::string postinst = ReadFile(control + "/postinst");
    EXPECT_NE(postinst.find("adduser --system"), std::string::npos);
    EXPECT_NE(postinst.find("chown root:inkstone"), std::string::npos);
}

TEST_F(Packaging, UnitMatchesTheServer) {
    const std::string unit = InstalledText("/usr/lib/systemd/system/inkstone.service");
    ASSERT_FALSE(unit.empty());
    EXPECT_EQ(UnitValue(unit, "Type"), "notify");
    EXPECT_EQ(UnitValue(unit, "NotifyAccess"), "main");
    EXPECT_EQ(UnitValue(unit, "ExecStart"),
              "/usr/bin/inkstone --config /etc/inkstone/inkstone.conf");
    EXPECT_EQ(UnitValue(unit, "ExecReload"), "/bin/kill -HUP $MAINPID");
    EXPECT_EQ(UnitValue(unit, "KillSignal"), "SIGQUIT");
    EXPECT_EQ(UnitValue(unit, "KillMode"), "mixed");
    EXPECT_EQ(UnitValue(unit, "User"), "inkstone");
    EXPECT_EQ(UnitValue(unit, "Group"), "www-data");
    EXPECT_EQ(UnitValue(unit, "ProtectSystem"), "strict");
    EXPECT_EQ(UnitValue(unit, "NoNewPrivileges"), "yes");
    EXPECT_EQ(UnitValue(unit, "PrivateTmp"), "yes");
    EXPECT_EQ(UnitValue(unit, "RuntimeDirectory"), "inkstone");
    EXPECT_EQ(UnitValue(unit, "LogsDirectory"), "inkstone");
    const std::vector<std::string> rw = Split(UnitValue(unit, "ReadWritePaths"));
    EXPECT_EQ(std::set<std::string>(rw.begin(), rw.end()),
              (std::set<std::string>{"/run/inkstone", "/var/log/inkstone"}));
    // The drain: the master waits fcgi.graceful_timeout_s (default in the installed config)
    // plus 2 s before it kills what is left; systemd must not SIGKILL before that.
    const std::string conf = InstalledText("/etc/inkstone/inkstone.conf");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(conf, m, std::regex("\\n#? ?fcgi\\.graceful_timeout_s = (\\d+)")))
        << conf;
    const int graceful = std::stoi(m[1]);
    EXPECT_GE(std::stoi(UnitValue(unit, "TimeoutStopSec")), graceful + 2 + 5);

    // The logrotate file reopens through the master (SIGUSR1), never restarts.
    const std::string rotate = InstalledText("/etc/logrotate.d/inkstone");
    EXPECT_NE(rotate.find("/var/log/inkstone/*.log"), std::string::npos);
    EXPECT_NE(rotate.find("--signal=USR1 inkstone.service"), std::string::npos) << rotate;

    if (!Have("systemd-analyze")) {
        std::printf("packaging test: systemd-analyze not found: unit verification skipped\n");
        return;
    }
    // verify needs the binaries the unit names to exist: check a copy whose absolute paths
    // point into the temp root, everything else as shipped.
    const std::string vdir = dir_ + "/verify";
    fs::create_directories(vdir);
    std::vector<std::string> argv = {"systemd-analyze", "verify"};
    for (const char* name :
         {"inkstone.service", "inkstone-backup.service", "inkstone-backup.timer"}) {
        std::string text = InstalledText(std::string("/usr/lib/systemd/system/") + name);
        for (const char* path : {"/usr/bin/inkstone ", "/usr/lib/inkstone/"}) {
            size_t pos = 0;
            while ((pos = text.find(std::string("=") + path, pos)) != std::string::npos) {
                text.insert(pos + 1, root_);
                pos += root_.size() + 1;
            }
        }
        WriteFile(vdir + "/" + name, text);
        argv.push_back(vdir + "/" + name);
    }
    Output verify = RunCommand(dir_, argv);
    // Unknown keys and bad values are only warnings (status 0): any output is a failure.
    EXPECT_TRUE(verify.ok() && verify.text.empty()) << verify.text;
}

TEST_F(Packaging, ShippedConfigRefusesToStartWithoutKeys) {
    // As installed, the config asks for live payments: the server must refuse, naming what is
    // missing, until the operator sets the keys (deploy.md) — never start half-configured.
    Output check = RunCommand(dir_, {Installed("/usr/bin/inkstone"), "--config",
                                     Installed("/etc/inkstone/inkstone.conf"), "--check-config"});
    ASSERT_GE(check.status, 0);
    EXPECT_TRUE(WIFEXITED(check.status) && WEXITSTATUS(check.status) == 2) << check.text;
    EXPECT_NE(check.text.find("configuration error"), std::string::npos) << check.text;
}

/// The installed conffile with its absolute paths moved into the temp root, mock payments and
/// the test MariaDB: what an operator edits, minus what only a real host has.
std::string TestConfig(const std::string& root, const lib::base::DbConfig& db) {
    std::string text = ReadFile(root + "/etc/inkstone/inkstone.conf");
    const std::string what = "the installed inkstone.conf";
    MustReplace(text, "\nfcgi.listen = /run/inkstone/inkstone.sock\n",
                "\nfcgi.listen = " + root + "/run/inkstone/inkstone.sock\n", what);
    MustReplace(text, "\nlog.file = /var/log/inkstone/inkstone.log\n",
                "\nlog.file = " + root + "/var/log/inkstone/inkstone.log\n", what);
    MustReplace(text, "\nsql_dir = /usr/share/inkstone/sql\n",
                "\nsql_dir = " + root + "/usr/share/inkstone/sql\n", what);
    MustReplace(text, "\npayment.mode = live\n", "\npayment.mode = mock\n", what);
    text += "\n# --- packaging test ---\n";
    text += "db.host = " + db.host + "\n";
    text += "db.port = " + std::to_string(db.port) + "\n";
    text += "db.user = " + db.user + "\n";
    text += "db.password = \"" + db.password + "\"\n";
    text += "db.name = " + db.name + "\n";
    text += "fcgi.workers = 2\nfcgi.threads = 8\n";
    return text;
}

TEST_F(Packaging, InstalledServerServesAndStopsGracefully) {
    MariaDb db(dir_ + "/mariadb");
    db.Start();
    const std::string config = dir_ + "/inkstone.conf";
    std::string config_text = TestConfig(root_, db.AppConfig());
    if (HasFatalFailure()) return;
    WriteFile(config, config_text);

    Output migrate = RunCommand(
        dir_, {Installed("/usr/bin/inkstone-admin"), "--config", config, "migrate"}, 120s);
    ASSERT_TRUE(migrate.ok()) << migrate.text;
    EXPECT_NE(migrate.text.find("applied 001_init.sql"), std::string::npos) << migrate.text;

    // What systemd makes before ExecStart (RuntimeDirectory=, LogsDirectory=).
    fs::create_directories(root_ + "/run/inkstone");
    fs::create_directories(root_ + "/var/log/inkstone");

    // nginx from the installed snippets, their absolute paths moved into the temp root, next
    // to the harness's own top-level nginx.conf template.
    const std::string nginx_templates = dir_ + "/nginx-templates";
    fs::create_directories(nginx_templates);
    fs::copy_file(INKSTONE_SOURCE_DIR "/nginx/inkstone.conf.in",
                  nginx_templates + "/inkstone.conf.in");
    for (const char* name : {"inkstone-upstream", "inkstone-locations"}) {
        std::string text =
            InstalledText(std::string("/usr/share/inkstone/nginx/") + name + ".conf");
        ASSERT_FALSE(text.empty()) << name;
        if (std::string(name) == "inkstone-upstream") {
            // Upstream keepalive on, sized for the shipped defaults (README, nginx).
            EXPECT_NE(text.find("\n    keepalive 16;\n"), std::string::npos) << text;
            MustReplace(text, "server unix:/run/inkstone/inkstone.sock;",
                        "server unix:" + root_ + "/run/inkstone/inkstone.sock;", name);
        } else {
            EXPECT_NE(text.find("fastcgi_keep_conn on;"), std::string::npos) << name;
            MustReplace(text, "root /usr/share/inkstone/web;",
                        "root " + root_ + "/usr/share/inkstone/web;", name);
        }
        WriteFile(nginx_templates + "/" + name + ".conf.in", text);
    }
    NginxOptions nopt;
    nopt.prefix = dir_ + "/nginx";
    nopt.template_dir = nginx_templates;
    nopt.pool_address = "unix:" + root_ + "/run/inkstone/inkstone.sock";  // unused: rendered
    Nginx nginx(nopt);
    nginx.Start();
    HttpClient client(nginx.port(), 10s);

    // The unit's ExecStart, paths moved into the temp root; the working directory is the root,
    // as systemd's is `/`.
    const std::string unit = InstalledText("/usr/lib/systemd/system/inkstone.service");
    std::vector<std::string> exec = Split(UnitValue(unit, "ExecStart"));
    ASSERT_EQ(exec.size(), 3u) << UnitValue(unit, "ExecStart");
    EXPECT_EQ(exec[0], "/usr/bin/inkstone");
    EXPECT_EQ(exec[2], "/etc/inkstone/inkstone.conf");
    exec[0] = Installed(exec[0]);
    exec[2] = config;
    exec.insert(exec.begin(), {"env", "-C", root_});

    NotifySocket notify(dir_ + "/notify.sock");
    const std::string log = dir_ + "/server.out";
    Process server(exec, log, {{"NOTIFY_SOCKET", notify.path()}});
    std::vector<std::string> seen;
    ASSERT_TRUE(notify.WaitFor("READY=1", 60s, seen))
        << Joined(seen) << "\n"
        << ReadFile(log) << TailFile(root_ + "/var/log/inkstone/inkstone.log", 40);
    // Ready means serving: the very next request is answered by a worker, through nginx and
    // the installed snippets.
    HttpResponse health = client.Get("/api/v1/health");
    EXPECT_EQ(health.status, 200) << health.body << health.error;
    HttpResponse page = client.Get("/");
    EXPECT_EQ(page.status, 200);
    EXPECT_EQ(page.body, ReadFile(Installed("/usr/share/inkstone/web/index.html")));
    // The installed snippets route the metrics to the pool (loopback client: allowed).
    HttpResponse metrics = client.Get("/metrics");
    EXPECT_EQ(metrics.status, 200) << metrics.body;
    EXPECT_NE(metrics.body.find("# TYPE inkstone_http_requests_total counter"), std::string::npos);

    // The socket: mode 0660, the process's group (the unit makes that www-data, for nginx).
    struct stat st {};
    ASSERT_EQ(stat((root_ + "/run/inkstone/inkstone.sock").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0660u);
    EXPECT_EQ(st.st_gid, getegid());

    // ExecReload (SIGHUP): RELOADING=1, then READY=1 once the new generation serves.
    seen.clear();
    server.Signal(SIGHUP);
    ASSERT_TRUE(notify.WaitFor("RELOADING=1", 10s, seen)) << Joined(seen);
    ASSERT_TRUE(notify.WaitFor("READY=1", 30s, seen)) << Joined(seen);
    health = client.Get("/api/v1/health");
    EXPECT_EQ(health.status, 200) << health.body << health.error;

    // SIGUSR1 (logrotate's postrotate) reopens the log: a moved log file is recreated.
    const std::string server_log = root_ + "/var/log/inkstone/inkstone.log";
    ASSERT_TRUE(fs::exists(server_log));
    fs::rename(server_log, server_log + ".1");
    server.Signal(SIGUSR1);
    bool reopened = false;
    for (int i = 0; i < 100 && !reopened; ++i) {
        std::this_thread::sleep_for(50ms);
        client.Get("/api/v1/health");
        reopened = fs::exists(server_log);
    }
    EXPECT_TRUE(reopened) << "no new log after SIGUSR1";

    // The unit's KillSignal: STOPPING=1 and a clean exit within TimeoutStopSec.
    const std::string kill_signal = UnitValue(unit, "KillSignal");
    ASSERT_EQ(kill_signal, "SIGQUIT");
    const int stop_timeout = std::stoi(UnitValue(unit, "TimeoutStopSec"));
    seen.clear();
    const auto stop_begun = std::chrono::steady_clock::now();
    server.Signal(SIGQUIT);
    EXPECT_TRUE(notify.WaitFor("STOPPING=1", 5s, seen)) << Joined(seen);
    ASSERT_TRUE(server.Wait(std::chrono::seconds(stop_timeout)))
        << "still running after TimeoutStopSec=" << stop_timeout << "\n"
        << TailFile(server_log, 40);
    EXPECT_TRUE(WIFEXITED(server.status()) && WEXITSTATUS(server.status()) == 0)
        << "status " << server.status() << "\n"
        << TailFile(server_log, 40);
    EXPECT_LT(std::chrono::steady_clock::now() - stop_begun, 10s);  // nothing in flight
    EXPECT_FALSE(fs::exists(root_ + "/run/inkstone/inkstone.sock"));
    const std::string tail = ReadFile(server_log);
    EXPECT_NE(tail.find("graceful_shutdown"), std::string::npos) << TailFile(server_log, 20);
    EXPECT_NE(tail.find("pool_stopped"), std::string::npos) << TailFile(server_log, 20);
    nginx.Stop();

    // --- The backup script against the same database, and a restore of its dump. ---
    const std::string backups = dir_ + "/backups";
    const std::string cnf = dir_ + "/backup.cnf";
    WriteFile(cnf, "[client]\nuser=root\nsocket=" + db.socket() + "\n");
    // An old dump past the retention is removed; a recent one stays.
    fs::create_directories(backups);
    WriteFile(backups + "/inkstone-20000101-000000.sql.gz", "old");
    WriteFile(backups + "/inkstone-recent.sql.gz", "recent");
    ASSERT_EQ(
        system(("touch -d '20 days ago' " + backups + "/inkstone-20000101-000000.sql.gz").c_str()),
        0);
    Output backup = RunCommand(dir_, {Installed("/usr/lib/inkstone/inkstone-backup")}, 120s,
                               {{"INKSTONE_BACKUP_DIR", backups},
                                {"INKSTONE_BACKUP_CNF", cnf},
                                {"INKSTONE_BACKUP_KEEP_DAYS", "14"}});
    ASSERT_TRUE(backup.ok()) << backup.text;
    EXPECT_FALSE(fs::exists(backups + "/inkstone-20000101-000000.sql.gz")) << backup.text;
    EXPECT_TRUE(fs::exists(backups + "/inkstone-recent.sql.gz"));
    std::string dump;
    for (const auto& entry : fs::directory_iterator(backups)) {
        const std::string name = entry.path().filename();
        if (name.rfind("inkstone-2", 0) == 0 && name != "inkstone-20000101-000000.sql.gz") {
            dump = entry.path();
        }
        EXPECT_EQ(name.find("partial"), std::string::npos) << name;
    }
    ASSERT_FALSE(dump.empty()) << backup.text;
    ASSERT_EQ(stat(dump.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);

    db.Exec("CREATE DATABASE restore_check");
    Output restore =
        RunCommand(dir_,
                   {"sh", "-c",
                    "gunzip -c '" + dump + "' | mariadb --no-defaults -u root --socket='" +
                        db.socket() + "' restore_check"},
                   120s);
    ASSERT_TRUE(restore.ok()) << restore.text;
    EXPECT_EQ(db.Query("SELECT COUNT(*) FROM restore_check.schema_migrations"),
              db.Query("SELECT COUNT(*) FROM inkstone.schema_migrations"));
    EXPECT_EQ(db.Query("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = "
                       "'restore_check'"),
              db.Query("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = "
                       "'inkstone'"));

    // A failing dump (no such database) writes nothing and says so.
    Output failed = RunCommand(dir_, {Installed("/usr/lib/inkstone/inkstone-backup")}, 60s,
                               {{"INKSTONE_BACKUP_DIR", backups},
                                {"INKSTONE_BACKUP_CNF", cnf},
                                {"INKSTONE_DB_NAME", "no_such_db"}});
    EXPECT_FALSE(failed.ok()) << failed.text;
    EXPECT_NE(failed.text.find("no dump written"), std::string::npos) << failed.text;
    size_t dumps = 0;
    for (const auto& entry : fs::directory_iterator(backups)) {
        dumps += entry.path().filename().string().rfind("inkstone-2", 0) == 0;
    }
    EXPECT_EQ(dumps, 1u);
}

}  // namespace
}  // namespace inkstone::testing
