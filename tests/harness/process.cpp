#include "tests/harness/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

extern char** environ;

namespace inkstone::testing {
namespace {

std::system_error SysError(const std::string& what) {
    return std::system_error(errno, std::generic_category(), what);
}

// Owns a descriptor so every early return closes it.
class Fd {
  public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    ~Fd() { Reset(); }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }
    void Reset() {
        if (fd_ >= 0) close(fd_);
        fd_ = -1;
    }
    void Release() { fd_ = -1; }

  private:
    int fd_;
};

// Everything the child needs is built before fork(): between fork and exec only
// async-signal-safe calls are allowed (the parent may have other threads holding malloc locks).
struct ExecPlan {
    std::vector<std::string> argv_storage;
    std::vector<std::string> env_storage;
    std::vector<char*> argv;
    std::vector<char*> envp;
};

ExecPlan MakePlan(std::vector<std::string> args, const std::map<std::string, std::string>& env) {
    ExecPlan plan;
    plan.argv_storage = std::move(args);
    std::map<std::string, std::string> merged;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        const char* eq = std::strchr(*e, '=');
        if (eq == nullptr) continue;
        merged[std::string(*e, static_cast<size_t>(eq - *e))] = eq + 1;
    }
    for (const auto& [key, value] : env) merged[key] = value;
    for (const auto& [key, value] : merged) plan.env_storage.push_back(key + "=" + value);
    for (auto& a : plan.argv_storage) plan.argv.push_back(a.data());
    plan.argv.push_back(nullptr);
    for (auto& e : plan.env_storage) plan.envp.push_back(e.data());
    plan.envp.push_back(nullptr);
    return plan;
}

[[noreturn]] void ChildFail(int report_fd, int err) {
    // Best effort: the parent reads the errno to report a failed exec.
    ssize_t ignored = write(report_fd, &err, sizeof err);
    (void)ignored;
    _exit(127);
}

}  // namespace

Process::Process(std::vector<std::string> argv, std::string log_path,
                 std::map<std::string, std::string> env) {
    if (argv.empty()) throw std::invalid_argument("Process: empty argv");
    ExecPlan plan = MakePlan(std::move(argv), env);

    Fd log_fd(log_path.empty()
                  ? -1
                  : open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!log_path.empty() && log_fd.get() < 0) throw SysError("open " + log_path);
    Fd null_fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (null_fd.get() < 0) throw SysError("open /dev/null");
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) throw SysError("pipe2");
    Fd report_read(report[0]);
    Fd report_write(report[1]);

    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) throw SysError("fork");
    if (pid == 0) {
        // PR_SET_PDEATHSIG fires when the forking *thread* exits; harness objects live on the
        // main thread (or outlive the thread that made them).
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) ChildFail(report[1], errno);
        if (getppid() != parent) _exit(127);  // parent already gone before prctl took effect
        // Signal mask and ignored dispositions survive exec; a parent that blocks SIGTERM for
        // sigwait() must not hand that on to mariadbd or nginx.
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        struct sigaction dfl;
        std::memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2}) {
            sigaction(sig, &dfl, nullptr);
        }
        if (dup2(null_fd.get(), STDIN_FILENO) < 0) ChildFail(report[1], errno);
        if (log_fd.get() >= 0) {
            if (dup2(log_fd.get(), STDOUT_FILENO) < 0) ChildFail(report[1], errno);
            if (dup2(log_fd.get(), STDERR_FILENO) < 0) ChildFail(report[1], errno);
        }
        execvpe(plan.argv[0], plan.argv.data(), plan.envp.data());
        ChildFail(report[1], errno);
    }

    report_write.Reset();
    int child_errno = 0;
    ssize_t n;
    do {
        n = read(report_read.get(), &child_errno, sizeof child_errno);
    } while (n < 0 && errno == EINTR);
    pid_ = pid;
    if (n == static_cast<ssize_t>(sizeof child_errno)) {
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
        status_ = status;
        errno = child_errno;
        throw SysError("exec " + plan.argv_storage[0]);
    }
}

Process::~Process() { Stop(); }

Process::Process(Process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(other.status_) {}

Process& Process::operator=(Process&& other) noexcept {
    if (this != &other) {
        Stop();
        pid_ = std::exchange(other.pid_, -1);
        status_ = other.status_;
    }
    return *this;
}

bool Process::running() {
    if (pid_ <= 0) return false;
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == 0) return true;
    if (r == pid_) status_ = status;
    // r < 0 (ECHILD): someone else reaped it; either way it is gone.
    pid_ = -1;
    return false;
}

void Process::Signal(int sig) {
    // pid_ <= 0 must never reach kill(): kill(-1, sig) signals every process we may signal.
    if (!running()) return;
    if (kill(pid_, sig) != 0 && errno != ESRCH) throw SysError("kill");
}

bool Process::Wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto pause = std::chrono::milliseconds(1);
    while (running()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::milliseconds(20));
    }
    return true;
}

void Process::Stop(std::chrono::milliseconds grace) {
    if (!running()) return;
    kill(pid_, SIGTERM);
    if (Wait(grace)) return;
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    status_ = status;
    pid_ = -1;
}

int FreePort() {
    Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) throw SysError("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        throw SysError("bind 127.0.0.1:0");
    }
    socklen_t len = sizeof addr;
    if (getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        throw SysError("getsockname");
    }
    return ntohs(addr.sin_port);
}

bool WaitForPort(int port, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (fd.get() < 0) throw SysError("socket");
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(static_cast<uint16_t>(port));
        if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

std::string MakeTempDir(const std::string& prefix) {
    const char* tmp = std::getenv("TMPDIR");
    std::string base = (tmp != nullptr && *tmp != '\0') ? tmp : "/tmp";
    std::string templ = base + "/" + prefix + "XXXXXX";
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr) throw SysError("mkdtemp " + templ);
    if (chmod(buf.data(), 0755) != 0) throw SysError("chmod " + std::string(buf.data()));
    return buf.data();
}

void RemoveTree(const std::string& path) {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
}

std::string ReadFile(const std::string& path) {
    Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return "";
    std::string out;
    char buf[65536];
    for (;;) {
        const ssize_t n = read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw SysError("read " + path);
        if (n == 0) return out;
        out.append(buf, static_cast<size_t>(n));
    }
}

void WriteFile(const std::string& path, const std::string& content) {
    Fd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) throw SysError("open " + path);
    size_t done = 0;
    while (done < content.size()) {
        const ssize_t n = write(fd.get(), content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw SysError("write " + path);
        done += static_cast<size_t>(n);
    }
    if (close(fd.get()) != 0) {
        fd.Release();
        throw SysError("close " + path);
    }
    fd.Release();
}

}  // namespace inkstone::testing
