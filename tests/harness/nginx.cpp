#include "tests/harness/nginx.h"

#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

#include "tests/harness/process_tree.h"

namespace inkstone::testing {
namespace {

constexpr const char* kFastcgiParams = "/etc/nginx/fastcgi_params";

bool IsPlaceholderChar(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

void MakeDirs(const std::string& path) {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) throw std::system_error(ec, "mkdir " + path);
}

bool Executable(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

// nginx only honours `user` as root; the names must resolve there (root always does). Without
// a passwd entry fall back to the number: nginx ignores the directive when not root anyway.
std::pair<std::string, std::string> CurrentUserAndGroup() {
    std::string user = std::to_string(geteuid());
    std::string group = std::to_string(getegid());
    if (const passwd* pw = getpwuid(geteuid())) user = pw->pw_name;
    if (const struct group* gr = getgrgid(getegid())) group = gr->gr_name;
    return {user, group};
}

// The pid file is written after the listening sockets are bound, so it holding the master's
// pid means nginx is really the one on the port (not a process that raced us to it).
bool PidFileNames(const std::string& path, pid_t pid) {
    const std::string text = ReadFile(path);
    return !text.empty() && std::strtol(text.c_str(), nullptr, 10) == pid;
}

}  // namespace

std::string RenderTemplate(const std::string& text,
                           const std::map<std::string, std::string>& values) {
    std::string out;
    out.reserve(text.size());
    size_t i = 0;
    while (i < text.size()) {
        if (text[i] == '@') {
            size_t end = i + 1;
            while (end < text.size() && IsPlaceholderChar(text[end])) ++end;
            if (end > i + 1 && end < text.size() && text[end] == '@') {
                const std::string name = text.substr(i + 1, end - i - 1);
                const auto it = values.find(name);
                if (it == values.end()) {
                    throw std::runtime_error("template placeholder @" + name + "@ has no value");
                }
                out += it->second;
                i = end + 1;
                continue;
            }
        }
        out += text[i++];
    }
    return out;
}

std::string Nginx::FindBinary() {
    const char* path = std::getenv("PATH");
    std::string dirs = path != nullptr ? path : "";
    size_t start = 0;
    while (start <= dirs.size()) {
        size_t end = dirs.find(':', start);
        if (end == std::string::npos) end = dirs.size();
        const std::string dir = dirs.substr(start, end - start);
        if (!dir.empty() && Executable(dir + "/nginx")) return dir + "/nginx";
        start = end + 1;
    }
    if (Executable("/usr/sbin/nginx")) return "/usr/sbin/nginx";
    throw std::runtime_error("nginx not found in PATH nor /usr/sbin (apt-get install nginx)");
}

Nginx::Nginx(NginxOptions options) : options_(std::move(options)) {
    if (options_.prefix.empty() || options_.prefix[0] != '/') {
        throw std::invalid_argument("Nginx: prefix must be an absolute path: " + options_.prefix);
    }
    if (options_.pool_address.empty()) throw std::invalid_argument("Nginx: no pool_address");
    if (options_.upstream_keepalive < 0) {
        throw std::invalid_argument("Nginx: upstream_keepalive must be >= 0");
    }
    auto_port_ = options_.port == 0;
    if (auto_port_) options_.port = FreePort();
}

Nginx::~Nginx() {
    try {
        Stop();
    } catch (...) {
        // A destructor must not throw; Stop() already escalated to SIGKILL where it could.
    }
}

void Nginx::Render() {
    const std::string& p = options_.prefix;
    MakeDirs(p + "/conf");
    MakeDirs(p + "/logs");
    MakeDirs(p + "/temp");

    const std::string params = ReadFile(kFastcgiParams);
    if (params.empty()) {
        throw std::runtime_error(std::string(kFastcgiParams) +
                                 " is missing (apt-get install nginx)");
    }
    WriteFile(p + "/conf/fastcgi_params", params);

    const auto [user, group] = CurrentUserAndGroup();
    const bool keepalive = options_.upstream_keepalive > 0;
    const std::map<std::string, std::string> values = {
        {"PREFIX", p},
        {"USER", user},
        {"GROUP", group},
        {"LISTEN", "127.0.0.1:" + std::to_string(options_.port)},
        {"POOL_ADDRESS", options_.pool_address},
        {"UPSTREAM_KEEPALIVE",
         keepalive ? "keepalive " + std::to_string(options_.upstream_keepalive) + ";" : ""},
        {"FASTCGI_KEEP_CONN", keepalive ? "on" : "off"},
        {"STATUS_PATH", options_.status_path},
        {"METRICS_PATH", options_.metrics_path},
        {"WEB_ROOT", options_.web_root},
        {"AUTH_RATE", options_.auth_rate},
        {"AUTH_BURST", std::to_string(options_.auth_burst)},
    };
    const std::pair<const char*, const char*> files[] = {
        {"inkstone.conf.in", "nginx.conf"},
        {"inkstone-upstream.conf.in", "inkstone-upstream.conf"},
        {"inkstone-locations.conf.in", "inkstone-locations.conf"},
    };
    for (const auto& [source, target] : files) {
        const std::string path = options_.template_dir + "/" + source;
        const std::string text = ReadFile(path);
        if (text.empty()) throw std::runtime_error("nginx template missing or empty: " + path);
        std::string rendered = RenderTemplate(text, values);
        if (std::string(target) == "inkstone-upstream.conf") {
            // The upstream has one `server POOL;` line: more pools (app hosts) become more lines.
            const std::string line = "server " + options_.pool_address + ";";
            const size_t at = rendered.find(line);
            if (at == std::string::npos && !options_.more_pool_addresses.empty()) {
                throw std::runtime_error("nginx upstream template has no '" + line + "'");
            }
            std::string more;
            for (const std::string& address : options_.more_pool_addresses) {
                more += "\n    server " + address + ";";
            }
            if (at != std::string::npos) rendered.insert(at + line.size(), more);
        }
        WriteFile(p + "/conf/" + target, rendered);
    }

    // Rewritten whole on every render, so a file dropped from the options disappears too.
    RemoveTree(p + "/conf/local.d");
    MakeDirs(p + "/conf/local.d");
    for (const auto& [name, text] : options_.local_conf) {
        if (name.empty() || name.find('/') != std::string::npos || name.size() < 5 ||
            name.compare(name.size() - 5, 5, ".conf") != 0) {
            throw std::invalid_argument("NginxOptions::local_conf: bad file name " + name);
        }
        WriteFile(p + "/conf/local.d/" + name, text);
    }
}

void Nginx::Start(std::chrono::milliseconds timeout) {
    // FreePort() only finds a port that was free a moment ago; with test binaries running in
    // parallel another process may take it first. Only a port we chose may be changed.
    for (int attempt = 1;; ++attempt) {
        try {
            StartOnce(timeout);
            return;
        } catch (const std::runtime_error& e) {
            const bool taken = std::strstr(e.what(), "Address already in use") != nullptr;
            if (!auto_port_ || !taken || attempt == 3) throw;
            options_.port = FreePort();
        }
    }
}

void Nginx::StartOnce(std::chrono::milliseconds timeout) {
    if (running()) throw std::logic_error("Nginx::Start: already running");
    Render();
    const std::string pid_file = options_.prefix + "/nginx.pid";
    if (unlink(pid_file.c_str()) != 0 && errno != ENOENT) {
        throw std::system_error(errno, std::generic_category(), "unlink " + pid_file);
    }
    // setsid: a terminal's Ctrl-C goes to the driver only, which then stops nginx in order.
    process_ = std::make_unique<Process>(
        std::vector<std::string>{"setsid", FindBinary(), "-p", options_.prefix + "/", "-c",
                                 conf_path(), "-e", "stderr"},
        stderr_log());

    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (!process_->running()) {
            throw std::runtime_error("nginx exited during startup (status " +
                                     std::to_string(process_->status()) + "):\n" + LogTail());
        }
        if (PidFileNames(pid_file, process_->pid()) &&
            WaitForPort(options_.port, std::chrono::milliseconds(0))) {
            return;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            KillTree(*process_);
            throw std::runtime_error("nginx did not listen on 127.0.0.1:" +
                                     std::to_string(options_.port) + ":\n" + LogTail());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

void Nginx::Stop(std::chrono::milliseconds grace) {
    if (process_) StopTree(*process_, SIGQUIT, grace);
}

void Nginx::Kill() {
    if (process_) KillTree(*process_);
}

void Nginx::Reload() {
    if (!running()) throw std::logic_error("Nginx::Reload: not running");
    process_->Signal(SIGHUP);
}

bool Nginx::running() { return process_ && process_->running(); }

std::string Nginx::LogTail(size_t lines) const {
    return "--- " + stderr_log() + "\n" + TailFile(stderr_log(), lines) + "--- " + error_log() +
           "\n" + TailFile(error_log(), lines);
}

}  // namespace inkstone::testing
