#include "tests/harness/pool.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

#include "tests/harness/process_tree.h"

namespace inkstone::testing {
namespace {

void MakeDirs(const std::string& path) {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) throw std::system_error(ec, "mkdir " + path);
}

// The config reader accepts quoted values; quote only what would not survive unquoted.
std::string ConfigValue(const std::string& value) {
    const bool plain = !value.empty() && value.find_first_of(" \t#\"'") == std::string::npos;
    if (plain) return value;
    return value.find('"') == std::string::npos ? "\"" + value + "\"" : "'" + value + "'";
}

bool IsUnixListen(const std::string& listen) { return listen.find('/') != std::string::npos; }

// The master creates the socket file at bind() and listens right after; only a successful
// connect() proves it is ready.
bool UnixSocketAccepts(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) return false;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket(AF_UNIX)");
    const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    return ok;
}

bool TcpAccepts(const std::string& listen) {
    const size_t colon = listen.rfind(':');
    if (colon == std::string::npos) return false;
    return WaitForPort(std::stoi(listen.substr(colon + 1)), std::chrono::milliseconds(0));
}

std::string DescribeStatus(int status) {
    if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
    return "status " + std::to_string(status);
}

}  // namespace

AppPool::AppPool(AppPoolOptions options) : options_(std::move(options)) {
    if (options_.dir.empty() || options_.dir[0] != '/') {
        throw std::invalid_argument("AppPool: dir must be an absolute path: " + options_.dir);
    }
    if (options_.working_dir.empty()) options_.working_dir = options_.dir;
}

AppPool::~AppPool() {
    try {
        Stop();
    } catch (...) {
        // A destructor must not throw; Stop() already escalated to SIGKILL where it could.
    }
}

std::string AppPool::Value(const std::string& key, const std::string& fallback) const {
    const auto it = options_.config.find(key);
    return it == options_.config.end() ? fallback : it->second;
}

std::string AppPool::listen() const {
    return Value("fcgi.listen", options_.dir + "/run/inkstone.sock");
}

std::string AppPool::nginx_address() const {
    const std::string l = listen();
    return IsUnixListen(l) ? "unix:" + l : l;
}

std::string AppPool::status_path() const {
    return Value("fcgi.status_path", lib::base::FcgiConfig().status_path);
}

void AppPool::WriteConfig() {
    MakeDirs(options_.dir + "/run");
    MakeDirs(options_.dir + "/logs");
    const lib::base::DbConfig& db = options_.db;
    std::map<std::string, std::string> keys = {
        {"fcgi.listen", options_.dir + "/run/inkstone.sock"},
        {"fcgi.workers", std::to_string(options_.workers)},
        {"fcgi.threads", std::to_string(options_.threads)},
        {"fcgi.max_requests", std::to_string(options_.max_requests)},
        {"fcgi.graceful_timeout_s", std::to_string(options_.graceful_timeout_s)},
        {"db.host", db.host},
        {"db.port", std::to_string(db.port)},
        {"db.user", db.user},
        {"db.password", db.password},
        {"db.name", db.name},
        {"db.pool_size", std::to_string(db.pool_size)},
        {"log.file", log_path()},
        {"sql_dir", options_.sql_dir},
        // payment.mode has no default; tests pay with the mock route unless they say live.
        {"payment.mode", "mock"},
        // Every test client is 127.0.0.1: the per-address limits would stop any test that
        // registers a few dozen users. Tests of the limits set their own.
        {"auth.registrations_per_address", "1000000"},
        {"auth.login_failures_per_address", "1000000"},
        {"auth.login_failures_per_username", "1000000"},
    };
    if (!db.socket.empty()) keys["db.socket"] = db.socket;
    if (!db.hosts.empty()) keys["db.hosts"] = db.hosts;
    if (db.sync_wait) keys["db.sync_wait"] = "true";
    for (const auto& [key, value] : options_.config) keys[key] = value;

    const std::string socket = listen();
    if (IsUnixListen(socket) && socket.size() >= sizeof(sockaddr_un::sun_path)) {
        throw std::runtime_error("unix socket path too long (" + std::to_string(socket.size()) +
                                 " bytes, max " +
                                 std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                                 "): " + socket + "; use a shorter directory");
    }

    std::string text = "# Written by the test harness (tests/harness/pool.cpp); edits are lost.\n";
    for (const auto& [key, value] : keys) text += key + " = " + ConfigValue(value) + "\n";
    WriteFile(config_path(), text);
}

void AppPool::SetConfig(const std::string& key, const std::string& value) {
    options_.config[key] = value;
    WriteConfig();
}

std::vector<std::string> AppPool::Command(const std::string& binary) const {
    // Process has no working-directory option; `env -C` changes it and execs in place (same
    // pid). setsid keeps a terminal's Ctrl-C away from the pool, so the driver stops it in order.
    return {
        "setsid",   "env",        "-C", options_.working_dir, options_.binary_dir + "/" + binary,
        "--config", config_path()};
}

void AppPool::RunMigrations(std::chrono::milliseconds timeout) {
    WriteConfig();
    const std::string log = options_.dir + "/logs/migrate.log";
    const size_t before = ReadFile(log).size();
    std::vector<std::string> argv = Command("inkstone-admin");
    argv.push_back("migrate");
    Process admin(argv, log, options_.env);
    const bool exited = admin.Wait(timeout);
    if (!exited) admin.Stop(std::chrono::milliseconds(1000));
    const std::string output = ReadFile(log).substr(before);
    if (!exited) {
        throw std::runtime_error("inkstone-admin migrate timed out; output:\n" + output);
    }
    if (!WIFEXITED(admin.status()) || WEXITSTATUS(admin.status()) != 0) {
        throw std::runtime_error("inkstone-admin migrate failed (" +
                                 DescribeStatus(admin.status()) + "); output:\n" + output);
    }
}

bool AppPool::Ready() {
    const std::string l = listen();
    return IsUnixListen(l) ? UnixSocketAccepts(l) : TcpAccepts(l);
}

void AppPool::Start(std::chrono::milliseconds timeout) {
    if (running()) throw std::logic_error("AppPool::Start: already running");
    WriteConfig();
    const std::string l = listen();
    // A socket file left by a killed pool would look ready before the new master binds.
    if (IsUnixListen(l) && unlink(l.c_str()) != 0 && errno != ENOENT) {
        throw std::system_error(errno, std::generic_category(), "unlink " + l);
    }
    process_ = std::make_unique<Process>(Command("inkstone"), log_path(), options_.env);

    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (!process_->running()) {
            throw std::runtime_error("inkstone exited during startup (" +
                                     DescribeStatus(process_->status()) + "):\n" + LogTail());
        }
        if (Ready()) return;
        if (std::chrono::steady_clock::now() >= deadline) {
            KillTree(*process_);
            throw std::runtime_error("inkstone did not accept on " + l + " within " +
                                     std::to_string(timeout.count()) + " ms:\n" + LogTail());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

bool AppPool::Stop(std::chrono::milliseconds grace) {
    return process_ ? StopTree(*process_, SIGQUIT, grace) : true;
}

void AppPool::Kill() {
    if (process_) KillTree(*process_);
}

void AppPool::Signal(int sig) {
    if (process_) process_->Signal(sig);
}

bool AppPool::WaitExit(std::chrono::milliseconds timeout) {
    return !process_ || process_->Wait(timeout);
}

bool AppPool::running() { return process_ && process_->running(); }

int AppPool::exit_status() const { return process_ ? process_->status() : 0; }

std::string AppPool::LogTail(size_t lines) const {
    return "--- " + log_path() + "\n" + TailFile(log_path(), lines);
}

}  // namespace inkstone::testing
