#include "fcgi/pool.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "fcgi/scoreboard.h"
#include "fcgi/worker.h"
#include "lib/base/log.h"
#include "lib/base/metrics.h"

namespace inkstone::fcgi {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// How long a reload waits for its new generation before draining the old one regardless.
constexpr std::chrono::seconds kReloadWait{10};

struct Child {
    pid_t pid;
    int generation;
    Clock::time_point started;
    bool stopping = false;  ///< the master told it to exit: no replacement
    bool replaced = false;  ///< retiring and already replaced
};

int WorkerCount(const lib::base::Config& config) {
    if (config.fcgi.workers > 0) return config.fcgi.workers;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores > 0 ? static_cast<int>(cores) : 1;
}

Json::Value Fields(std::initializer_list<std::pair<const char*, Json::Value>> items) {
    Json::Value f(Json::objectValue);
    for (const auto& [k, v] : items) f[k] = v;
    return f;
}

// systemd's readiness protocol (Type=notify, packaging/inkstone.service): READY=1 once every
// worker of the current generation serves (at start, and again when a reload's new generation
// does), RELOADING=1 when a SIGHUP reload begins, STOPPING=1 when a shutdown begins. Only the
// master notifies (NotifyAccess=main). Without NOTIFY_SOCKET (make run, the tests) sd_notify
// does nothing.
void Notify(const std::string& state) {
    const int rc = sd_notify(0, state.c_str());
    if (rc < 0) {
        lib::base::Log(lib::base::LogLevel::kWarn, "sd_notify_failed",
                       Json::Value(std::strerror(-rc)));
    }
}

/// RELOADING=1 carries the time the reload began (systemd 253+ wants it; older ones ignore it).
std::string MonotonicUsec() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::to_string(static_cast<uint64_t>(ts.tv_sec) * 1000000 +
                          static_cast<uint64_t>(ts.tv_nsec) / 1000);
}

class Master {
  public:
    Master(lib::base::Config config, std::function<lib::base::Config()> reload,
           ApplicationFactory factory)
        : config_(std::move(config)), reload_(std::move(reload)), factory_(std::move(factory)) {}

    int Run();

  private:
    void Spawn();
    void Reap();
    void OnExit(pid_t pid, int status);
    void Reload();
    void Signal(int sig, bool only_generation_old);
    void BeginShutdown(bool graceful);
    int ActiveCurrent() const;
    /// Every worker the current generation should have is running and accepting.
    bool CurrentGenerationServes() const;
    /// READY=1 once the current generation serves (or a reload gave up waiting for it).
    void NotifyReadyWhenServing(Clock::time_point now);
    /// One pass of the supervision loop: reap, respawn, drain, escalate. false once the pool
    /// has stopped (shutting down and no child left).
    bool Supervise();
    void DrainOldGeneration(Clock::time_point now);
    void OnSignal(int sig, const siginfo_t& info);
    void Unlisten();

    lib::base::Config config_;
    std::function<lib::base::Config()> reload_;
    ApplicationFactory factory_;
    Scoreboard* board_ = nullptr;
    int listen_fd_ = -1;
    int generation_ = 1;
    std::vector<Child> children_;
    int crash_streak_ = 0;
    Clock::time_point next_spawn_ = Clock::time_point::min();
    bool shutting_down_ = false;
    Clock::time_point kill_at_ = Clock::time_point::max();
    Clock::time_point reload_started_ = Clock::time_point::max();
    bool ready_notified_ = false;  ///< READY=1 sent for the current generation
};

int Master::ActiveCurrent() const {
    return static_cast<int>(std::count_if(children_.begin(), children_.end(), [&](const Child& c) {
        return c.generation == generation_ && !c.stopping && !c.replaced;
    }));
}

bool Master::CurrentGenerationServes() const {
    int ready = 0;
    for (const Child& c : children_) {
        if (c.generation != generation_ || c.stopping) continue;
        WorkerSlot* slot = board_->Find(c.pid);
        if (slot != nullptr && slot->state.load() == static_cast<int32_t>(WorkerState::kReady)) {
            ++ready;
        }
    }
    return ready >= WorkerCount(config_);
}

void Master::NotifyReadyWhenServing(Clock::time_point now) {
    if (ready_notified_) return;
    // A reload whose new generation is not all up after 10 s drains the old one anyway
    // (DrainOldGeneration); it is then as done as it gets, and systemd must not stay in
    // "reloading". The first start has no such limit: systemd's TimeoutStartSec decides.
    const bool reload_gave_up =
        reload_started_ != Clock::time_point::max() && now - reload_started_ > kReloadWait;
    if (!CurrentGenerationServes() && !reload_gave_up) return;
    ready_notified_ = true;
    Notify("READY=1\nSTATUS=serving: " + std::to_string(WorkerCount(config_)) +
           " workers, generation " + std::to_string(generation_));
    lib::base::Log(lib::base::LogLevel::kInfo, "pool_ready",
                   Fields({{"generation", generation_}, {"workers", WorkerCount(config_)}}));
}

void Master::Spawn() {
    // The slot is claimed before fork so the child knows it without a race; the master fills
    // in the pid right after fork returns, before it can reap anything.
    WorkerSlot* slot = board_->Claim(-1, generation_);
    if (slot == nullptr) {
        lib::base::Log(lib::base::LogLevel::kError, "scoreboard_full");
        next_spawn_ = Clock::now() + milliseconds(1000);
        return;
    }
    pid_t pid = fork();
    if (pid < 0) {
        lib::base::Log(lib::base::LogLevel::kError, "fork_failed",
                       Json::Value(std::strerror(errno)));
        board_->Release(slot);
        next_spawn_ = Clock::now() + milliseconds(1000);
        return;
    }
    if (pid == 0) {
        sigset_t unblock;
        sigemptyset(&unblock);
        sigaddset(&unblock, SIGCHLD);
        sigaddset(&unblock, SIGUSR2);
        pthread_sigmask(SIG_UNBLOCK, &unblock, nullptr);
        RunWorker(listen_fd_, config_, board_, slot, factory_);
    }
    slot->pid = pid;
    children_.push_back(Child{pid, generation_, Clock::now()});
    lib::base::Log(lib::base::LogLevel::kInfo, "worker_started",
                   Fields({{"pid", pid}, {"generation", generation_}}));
}

void Master::OnExit(pid_t pid, int status) {
    auto it = std::find_if(children_.begin(), children_.end(),
                           [&](const Child& c) { return c.pid == pid; });
    if (WorkerSlot* slot = board_->Find(pid)) board_->Release(slot);
    if (it == children_.end()) return;
    Child child = *it;
    children_.erase(it);

    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == kWorkerExitOk;
    Json::Value f = Fields({{"pid", pid}, {"generation", child.generation}});
    if (WIFSIGNALED(status)) f["signal"] = WTERMSIG(status);
    if (WIFEXITED(status)) f["exit_code"] = WEXITSTATUS(status);
    if (child.stopping || shutting_down_) {
        lib::base::Log(lib::base::LogLevel::kInfo, "worker_stopped", f);
        return;
    }
    if (clean) {
        // Retired after max_requests; its replacement may already be running.
        board_->recycles++;
        lib::base::Log(lib::base::LogLevel::kInfo, "worker_retired", f);
        return;
    }
    board_->restarts++;
    auto lived = Clock::now() - child.started;
    crash_streak_ = lived < std::chrono::seconds(5) ? crash_streak_ + 1 : 1;
    // First crash: replace at once. A crash loop backs off 0.2 s, 0.4 s, ... up to 10 s.
    auto delay = crash_streak_ <= 1
                     ? milliseconds(0)
                     : std::min(milliseconds(10000),
                                milliseconds(200) * (1 << std::min(crash_streak_ - 2, 6)));
    next_spawn_ = Clock::now() + delay;
    f["restart_in_ms"] = Json::Int64(delay.count());
    lib::base::Log(lib::base::LogLevel::kError, "worker_died", f);
}

void Master::Reap() {
    while (true) {
        int status = 0;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) return;
        OnExit(pid, status);
    }
}

void Master::Signal(int sig, bool only_old_generation) {
    for (Child& child : children_) {
        if (only_old_generation && child.generation == generation_) continue;
        kill(child.pid, sig);
    }
}

void Master::Reload() {
    Notify("RELOADING=1\nMONOTONIC_USEC=" + MonotonicUsec() + "\nSTATUS=reloading");
    try {
        lib::base::Config fresh = reload_();
        if (fresh.fcgi.listen != config_.fcgi.listen) {
            lib::base::Log(lib::base::LogLevel::kWarn, "reload_listen_ignored",
                           Json::Value("changing fcgi.listen needs a restart"));
            fresh.fcgi.listen = config_.fcgi.listen;
        }
        config_ = std::move(fresh);
        lib::base::LogInit(config_.log);
    } catch (const std::exception& e) {
        lib::base::Log(lib::base::LogLevel::kError, "reload_failed", Json::Value(e.what()));
        // The running generation goes on serving with the running config.
        Notify("READY=1\nSTATUS=reload failed, serving the previous config: " +
               std::string(e.what()));
        return;
    }
    board_->reloads++;
    ++generation_;
    board_->generation = generation_;
    reload_started_ = Clock::now();
    ready_notified_ = false;
    crash_streak_ = 0;
    next_spawn_ = Clock::time_point::min();
    lib::base::Log(lib::base::LogLevel::kInfo, "reload", Fields({{"generation", generation_}}));
}

void Master::BeginShutdown(bool graceful) {
    if (shutting_down_ && graceful) return;
    shutting_down_ = true;
    Notify(graceful ? "STOPPING=1\nSTATUS=draining" : "STOPPING=1\nSTATUS=stopping");
    for (Child& c : children_) c.stopping = true;
    Signal(graceful ? SIGQUIT : SIGTERM, false);
    auto grace = graceful ? std::chrono::seconds(config_.fcgi.graceful_timeout_s + 2)
                          : std::chrono::seconds(3);
    kill_at_ = std::min(kill_at_, Clock::now() + grace);
    lib::base::Log(lib::base::LogLevel::kInfo, graceful ? "graceful_shutdown" : "fast_shutdown");
}

// Each streaming request holds two descriptors in its worker (nginx's connection and the one to
// DashScope), so `fcgi.threads` in the thousands needs more than the usual soft limit of 1024.
// Raised once in the master, up to the hard limit (no privilege needed), so workers of every
// generation inherit it, a reload to more threads included; failing is logged, not fatal.
void RaiseDescriptorLimit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
        lib::base::Log(lib::base::LogLevel::kWarn, "rlimit_nofile",
                       Json::Value(std::strerror(errno)));
        return;
    }
    if (limit.rlim_cur >= limit.rlim_max) return;
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
        lib::base::Log(lib::base::LogLevel::kWarn, "rlimit_nofile",
                       Json::Value(std::strerror(errno)));
    }
}

int Master::Run() {
    RaiseDescriptorLimit();
    try {
        listen_fd_ = BindListener(config_.fcgi.listen, config_.fcgi.backlog);
    } catch (const std::exception& e) {
        lib::base::Log(lib::base::LogLevel::kError, "listen_failed", Json::Value(e.what()));
        return 1;
    }
    board_ = Scoreboard::Create();
    // Before any fork: every worker adds to this one table (README, "Metrics").
    lib::base::metrics::Install();
    board_->master_pid = getpid();
    board_->started_ms = NowMs();
    board_->generation = generation_;

    // Signals are taken synchronously with sigtimedwait below (nginx's master loop): nothing
    // runs in a handler.
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2}) {
        sigaddset(&set, sig);
    }
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    signal(SIGPIPE, SIG_IGN);

    lib::base::Log(lib::base::LogLevel::kInfo, "pool_started",
                   Fields({{"listen", config_.fcgi.listen},
                           {"workers", WorkerCount(config_)},
                           {"threads", config_.fcgi.threads}}));
    while (Supervise()) {
        siginfo_t info{};
        timespec tick{0, 50 * 1000 * 1000};
        const int sig = sigtimedwait(&set, &info, &tick);
        if (sig > 0) OnSignal(sig, info);
    }
    Unlisten();
    lib::base::Log(lib::base::LogLevel::kInfo, "pool_stopped");
    return 0;
}

bool Master::Supervise() {
    Reap();
    const auto now = Clock::now();
    if (shutting_down_) {
        if (children_.empty()) return false;
        if (now >= kill_at_) {
            Signal(SIGKILL, false);
            kill_at_ = now + std::chrono::seconds(1);
        }
        return true;
    }
    while (ActiveCurrent() < WorkerCount(config_) && now >= next_spawn_) Spawn();
    DrainOldGeneration(now);
    NotifyReadyWhenServing(now);
    return true;
}

void Master::DrainOldGeneration(Clock::time_point now) {
    // After a reload, drain the old generation once the new one accepts (or after 10 s): the
    // socket never closes, so nothing in between is refused.
    const bool old_running = std::any_of(children_.begin(), children_.end(), [&](const Child& c) {
        return c.generation != generation_ && !c.stopping;
    });
    if (!old_running) return;
    const bool ready = std::all_of(children_.begin(), children_.end(), [&](const Child& c) {
        if (c.generation != generation_) return true;
        WorkerSlot* slot = board_->Find(c.pid);
        return slot != nullptr && slot->state.load() == static_cast<int32_t>(WorkerState::kReady);
    });
    if (!ready && now - reload_started_ <= kReloadWait) return;
    for (Child& c : children_) {
        if (c.generation != generation_ && !c.stopping) {
            c.stopping = true;
            kill(c.pid, kSignalRetire);
        }
    }
}

void Master::OnSignal(int sig, const siginfo_t& info) {
    switch (sig) {
        case SIGTERM:
        case SIGINT:
            BeginShutdown(false);
            break;
        case SIGQUIT:
            BeginShutdown(true);
            break;
        case SIGHUP:
            if (!shutting_down_) Reload();
            break;
        case SIGUSR1:
            lib::base::LogReopen();
            Signal(SIGUSR1, false);
            break;
        case SIGUSR2:
            // A worker reached max_requests and is draining: replace it now.
            for (Child& c : children_) {
                if (c.pid == info.si_pid) c.replaced = true;
            }
            break;
        default:
            break;
    }
}

void Master::Unlisten() {
    close(listen_fd_);
    if (config_.fcgi.listen.find('/') != std::string::npos ||
        config_.fcgi.listen.find(':') == std::string::npos) {
        unlink(config_.fcgi.listen.c_str());
    }
}

}  // namespace

int RunPool(lib::base::Config config, std::function<lib::base::Config()> reload,
            ApplicationFactory factory) {
    Master master(std::move(config), std::move(reload), std::move(factory));
    return master.Run();
}

}  // namespace inkstone::fcgi
