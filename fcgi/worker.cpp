#include "fcgi/worker.h"

#include <arpa/inet.h>
#include <fcgiapp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fcgi/fcgi_io.h"
#include "lib/base/address.h"
#include "lib/base/compare.h"
#include "lib/base/log.h"
#include "lib/base/metrics.h"

namespace inkstone::fcgi {
namespace {

struct Worker {
    int listen_fd;
    const lib::base::Config& config;
    Scoreboard* board;
    WorkerSlot* slot;
    Application* app = nullptr;
    int wake_fd = -1;
    /// A TCP listener: its peers are checked against `allow` before libfcgi reads a byte.
    bool tcp = false;
    std::vector<lib::base::Cidr> allow;
    std::atomic<int64_t> last_refusal_log_ms{0};
    std::atomic<bool> stopping{false};
    std::atomic<bool> retire{false};
    std::atomic<int> running{0};
};

bool IsLoopback(const std::string& addr) {
    return addr.rfind("127.", 0) == 0 || addr == "::1" || addr.rfind("::ffff:127.", 0) == 0 ||
           addr.empty() /* unix-socket peers that set no REMOTE_ADDR */;
}

/// GET /metrics (README, "Metrics"): loopback clients, the addresses of fcgi.metrics_allow, and
/// the holder of fcgi.metrics_bearer_secret; everyone else gets 403.
lib::http::Response MetricsResponse(const Worker& w, const lib::http::Request& request) {
    bool allowed = IsLoopback(request.remote_addr);
    if (!allowed && !w.config.fcgi.metrics_allow.empty()) {
        const auto ranges = lib::base::ParseCidrList(w.config.fcgi.metrics_allow);
        const auto address = lib::base::ParseIpAddress(request.remote_addr);
        allowed = ranges && address && lib::base::AnyContains(*ranges, *address);
    }
    const std::string& secret = w.config.fcgi.metrics_bearer_secret;
    if (!allowed && !secret.empty()) {
        const std::string header = request.Header("authorization");
        constexpr std::string_view kBearer = "Bearer ";
        allowed =
            header.size() > kBearer.size() && header.compare(0, kBearer.size(), kBearer) == 0 &&
            lib::base::ConstantTimeEquals(std::string_view(header).substr(kBearer.size()), secret);
    }
    if (!allowed) {
        return lib::http::Response::Error(
            lib::base::ApiError(lib::base::ErrorCode::kForbidden, "forbidden"));
    }
    const Scoreboard* board = w.board;
    lib::http::Response response = lib::http::Response::Text(
        200, "text/plain; version=0.0.4; charset=utf-8",
        lib::base::metrics::Render([board](std::string_view family, std::string& out) {
            if (board != nullptr) board->AppendMetrics(family, out);
        }));
    response.headers.emplace_back("Cache-Control", "no-store");
    return response;
}

void ServeOne(Worker& w, FCGX_Request& fcgi) {
    auto start = std::chrono::steady_clock::now();
    lib::http::Request request;
    bool truncated = ReadRequest(fcgi, w.app->MaxBodyBytes(), request);
    bool head = request.method == lib::http::Method::kHead;

    if (request.path == w.config.fcgi.status_path) {
        lib::http::Response status = IsLoopback(request.remote_addr)
                                         ? lib::http::Response::Json(200, w.board->Status(NowMs()))
                                         : lib::http::Response::Error(lib::base::ApiError(
                                               lib::base::ErrorCode::kForbidden, "forbidden"));
        status.headers.emplace_back("Cache-Control", "no-store");
        WriteResponse(fcgi, status, head);
        return;
    }

    if (request.path == w.config.fcgi.metrics_path) {
        WriteResponse(fcgi, MetricsResponse(w, request), head);
        return;
    }

    FcgiStreamWriter stream(fcgi);
    // Tests need to know which process answered (streams too); never exposed without
    // testing.hooks.
    if (w.config.testing.hooks) stream.AddHeader("X-Inkstone-Worker", std::to_string(getpid()));
    lib::http::Response response = w.app->Serve(request, stream, truncated);
    if (w.config.testing.hooks)
        response.headers.emplace_back("X-Inkstone-Worker", std::to_string(getpid()));
    if (!response.streamed && !stream.begun()) WriteResponse(fcgi, response, head);

    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    if (ms >= w.config.fcgi.slow_request_ms) {
        w.slot->slow++;
        Json::Value f;
        f["path"] = request.path;
        f["duration_ms"] = Json::Int64(ms);
        f["request_id"] = request.request_id;
        lib::base::Log(lib::base::LogLevel::kWarn, "slow_request", f);
    }
}

void StopAccepting(Worker& w) {
    w.stopping = true;
    uint64_t one = 1;
    // The eventfd stays readable, so every thread sees it, now or whenever it next waits.
    if (write(w.wake_fd, &one, sizeof one) != sizeof one) {
        lib::base::Log(lib::base::LogLevel::kError, "wake_failed",
                       Json::Value(std::strerror(errno)));
    }
}

/// The peer of an accepted TCP connection, or nullopt when it cannot be told.
std::optional<lib::base::IpAddress> PeerOf(const sockaddr_storage& peer) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* bytes = nullptr;
    if (peer.ss_family == AF_INET) {
        bytes = &reinterpret_cast<const sockaddr_in&>(peer).sin_addr;
    } else if (peer.ss_family == AF_INET6) {
        bytes = &reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr;
    } else {
        return std::nullopt;
    }
    if (inet_ntop(peer.ss_family, bytes, text, sizeof text) == nullptr) return std::nullopt;
    return lib::base::ParseIpAddress(text);
}

void LogRefusal(Worker& w, const std::string& peer) {
    // At most one line a second per worker: a stranger hammering the port must not flood the log.
    const int64_t now = NowMs();
    int64_t last = w.last_refusal_log_ms.load();
    if (now - last < 1000 || !w.last_refusal_log_ms.compare_exchange_strong(last, now)) return;
    Json::Value f;
    f["peer"] = peer;
    f["listen"] = w.config.fcgi.listen;
    lib::base::Log(lib::base::LogLevel::kWarn, "fcgi_peer_refused", f);
}

/// FCGX_Accept_r, but over TCP the connection is accepted here first and a peer outside
/// fcgi.allow is closed before anything is read from it: a FastCGI client sets REMOTE_ADDR and
/// every other parameter itself. libfcgi has no hook between its accept() and its first read
/// (its FCGI_WEB_SERVER_ADDRS knows exact IPv4 addresses only), so the accepted socket is
/// handed to it as the request's connection, the way a kept connection is, and the request's
/// listening socket is -1 so libfcgi never accepts one unchecked. Returns FCGX_Accept_r's code;
/// -EAGAIN when there was nothing (left) to accept.
int Accept(Worker& w, FCGX_Request& fcgi) {
    if (!w.tcp || fcgi.ipcFd >= 0) return FCGX_Accept_r(&fcgi);
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    const int fd = accept4(w.listen_fd, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_CLOEXEC);
    if (fd < 0) return -errno;
    const std::optional<lib::base::IpAddress> address = PeerOf(peer);
    if (!address || !lib::base::AnyContains(w.allow, *address)) {
        close(fd);
        LogRefusal(w, address ? address->ToString() : "(unknown)");
        return -EAGAIN;
    }
    // libfcgi sets this on the TCP connections it accepts itself.
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcgi.ipcFd = fd;
    // FCGX_Accept_r first finishes the previous request and would close a connection not
    // marked kept; the request read next sets the flag for real.
    fcgi.keepConnection = 1;
    return FCGX_Accept_r(&fcgi);
}

/// Puts this thread's waiter at the end of the listening socket's wait queue. With
/// EPOLLEXCLUSIVE the kernel hands a connection to the first idle waiter in that queue, which
/// is in registration order: without this the threads of the worker that started first take
/// every connection while any of them is idle, and the other workers idle. Re-registering
/// after each accept makes the order "longest waiting first", across workers.
bool RequeueWaiter(Worker& w, int ep) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.fd = w.listen_fd;
    return epoll_ctl(ep, EPOLL_CTL_DEL, w.listen_fd, nullptr) == 0 &&
           epoll_ctl(ep, EPOLL_CTL_ADD, w.listen_fd, &ev) == 0;
}

enum class Wait { kReady, kAgain, kStop };

/// Blocks until FCGX_Accept_r has something to read: a new connection on the listening socket,
/// or (the wake eventfd ends the wait) a stop. A connection nginx kept open (`fastcgi_keep_conn
/// on`) is not waited for here: its next request never shows on the listening socket, and
/// FCGX_Accept_r's own blocking read waits for it (or for nginx closing it) at no extra system
/// call. Nothing needs to interrupt that read: a draining worker serves a kept connection until
/// nginx closes it (ServeKeptUntilClosed), and its drain deadline ends the process.
Wait WaitForWork(Worker& w, int ep, const FCGX_Request& fcgi) {
    if (fcgi.ipcFd >= 0) return Wait::kReady;
    epoll_event events[2];
    const int n = epoll_wait(ep, events, 2, -1);
    if (n < 0) return errno == EINTR ? Wait::kAgain : Wait::kStop;
    bool readable = false;
    for (int i = 0; i < n; ++i) {
        if (events[i].data.fd == w.wake_fd) return Wait::kStop;
        if (events[i].data.fd == w.listen_fd) readable = true;
    }
    if (w.stopping.load()) return Wait::kStop;
    return readable ? Wait::kReady : Wait::kAgain;
}

/// A draining worker never closes a connection nginx kept. nginx may pick an idle kept
/// connection for its next request at any moment, and the close can reach it only after it
/// sent one: a GET it would retry elsewhere, but a POST already sent is never resent, so the
/// client would get nginx's 502. Only nginx closes a kept connection safely (it decides before
/// it sends), and it does so on its own: an idle one after the upstream's `keepalive_timeout`,
/// a busy one after `keepalive_time` or `keepalive_requests` (nginx/inkstone-upstream.conf.in).
/// So the thread goes on serving requests on it until nginx closes it; the worker's drain
/// deadline bounds the wait. No new connection is taken meanwhile (listen_sock -1).
template <typename Serve>
void ServeKeptUntilClosed(FCGX_Request& fcgi, const Serve& serve) {
    fcgi.listen_sock = -1;
    // FCGX_Accept_r blocks in its read for the next request; when nginx closed the connection
    // libfcgi closes our end too and, with no listening socket, says so.
    while (fcgi.ipcFd >= 0 && FCGX_Accept_r(&fcgi) >= 0) serve();
}

void* ThreadMain(void* arg) {
    Worker& w = *static_cast<Worker*>(arg);
    w.app->ThreadStarted();

    int ep = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    // EPOLLEXCLUSIVE wakes one waiting thread per connection instead of the whole herd.
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.fd = w.listen_fd;
    bool ok = ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, w.listen_fd, &ev) == 0;
    ev.events = EPOLLIN;
    ev.data.fd = w.wake_fd;
    ok = ok && epoll_ctl(ep, EPOLL_CTL_ADD, w.wake_fd, &ev) == 0;
    if (!ok) {
        lib::base::Log(lib::base::LogLevel::kError, "epoll_setup_failed",
                       Json::Value(std::strerror(errno)));
        w.retire = true;
    }

    FCGX_Request fcgi;
    FCGX_InitRequest(&fcgi, w.tcp ? -1 : w.listen_fd, 0);
    w.slot->threads++;
    const auto serve = [&w, &fcgi] {
        w.slot->busy++;
        uint64_t accepted = ++w.slot->accepted;
        ServeOne(w, fcgi);
        FCGX_Finish_r(&fcgi);
        w.slot->busy--;
        int64_t max = w.config.fcgi.max_requests;
        if (max > 0 && accepted >= static_cast<uint64_t>(max) && !w.retire.exchange(true)) {
            // Stop taking connections now; the main thread asks the master for a replacement.
            StopAccepting(w);
        }
    };
    while (ok && !w.stopping.load()) {
        const Wait wait = WaitForWork(w, ep, fcgi);
        if (wait == Wait::kStop) break;
        if (wait == Wait::kAgain) continue;

        const bool from_listener = fcgi.ipcFd < 0;
        int rc = Accept(w, fcgi);
        if (rc < 0) {
            // Lost the race for the connection (EAGAIN), the peer gave up, or (TCP) a kept
            // connection ended and libfcgi, which may not accept, says EBADF: wait again.
            if (rc != -EAGAIN && rc != -EWOULDBLOCK && rc != -EINTR && rc != -ECONNABORTED &&
                rc != -EBADF) {
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
            continue;
        }
        if (from_listener && !RequeueWaiter(w, ep)) {
            lib::base::Log(lib::base::LogLevel::kError, "epoll_requeue_failed",
                           Json::Value(std::strerror(errno)));
            ok = false;
            w.retire = true;
        }
        serve();
    }
    // EPOLLEXCLUSIVE may have woken only this thread for a connection that arrived as the worker
    // began to stop; leaving without it would strand it in the backlog (no other worker's thread
    // was woken) until the next connection arrives. So: leave the wait queue first (no wakeup
    // can be given to this thread any more), then take what the kernel may already have handed
    // us. The socket is non-blocking, so with nothing waiting this is one EAGAIN.
    if (ep >= 0) close(ep);
    ep = -1;
    if (ok && fcgi.ipcFd < 0 && Accept(w, fcgi) >= 0) serve();
    // Whatever ended the loop (an epoll failure too): a kept connection is never closed here.
    ServeKeptUntilClosed(fcgi, serve);
    FCGX_Free(&fcgi, 1);
    w.slot->threads--;
    // Before ThreadStopping: LimitIdle may close DB connections, which needs this thread's
    // client-library state.
    if (w.stopping.load()) w.app->Draining(w.running.load() - 1);
    w.app->ThreadStopping();
    w.running--;
    return nullptr;
}

}  // namespace

void RunWorker(int listen_fd, const lib::base::Config& config, Scoreboard* board, WorkerSlot* slot,
               const ApplicationFactory& factory) {
    pid_t master = getppid();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != master) _exit(kWorkerExitOk);

    // A client abort must never kill the process: writes report EPIPE instead.
    signal(SIGPIPE, SIG_IGN);
    // The master blocks the signals it waits for; the worker waits for kSignalRetire too, so it
    // is blocked here, before any thread starts (threads inherit the mask).
    sigset_t retire_set;
    sigemptyset(&retire_set);
    sigaddset(&retire_set, kSignalRetire);
    pthread_sigmask(SIG_BLOCK, &retire_set, nullptr);
    if (FCGX_Init() != 0) _exit(kWorkerExitStartup);

    std::unique_ptr<Application> app;
    try {
        app = factory(config);
    } catch (const std::exception& e) {
        lib::base::Log(lib::base::LogLevel::kError, "worker_startup_failed", Json::Value(e.what()));
        _exit(kWorkerExitStartup);
    }

    Worker w{listen_fd, config, board, slot};
    w.app = app.get();
    sockaddr_storage bound{};
    socklen_t bound_length = sizeof bound;
    w.tcp = getsockname(listen_fd, reinterpret_cast<sockaddr*>(&bound), &bound_length) == 0 &&
            (bound.ss_family == AF_INET || bound.ss_family == AF_INET6);
    // Checked when the config was loaded; an empty list here would refuse everyone.
    w.allow = lib::base::ParseCidrList(config.fcgi.allow).value_or(std::vector<lib::base::Cidr>{});
    w.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (w.wake_fd < 0) _exit(kWorkerExitStartup);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, static_cast<size_t>(config.fcgi.thread_stack_kb) * 1024);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (int i = 0; i < config.fcgi.threads; ++i) {
        pthread_t tid;
        w.running++;
        if (pthread_create(&tid, &attr, ThreadMain, &w) != 0) {
            w.running--;
            lib::base::Log(lib::base::LogLevel::kError, "thread_create_failed", Json::Value(i));
            break;
        }
    }
    pthread_attr_destroy(&attr);
    if (w.running.load() == 0) _exit(kWorkerExitStartup);
    slot->state = static_cast<int32_t>(WorkerState::kReady);
    app->StartBackground();

    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, kSignalRetire}) {
        sigaddset(&set, sig);
    }

    // Two drains. A stop (SIGQUIT: shutdown) waits graceful_timeout_s. A retirement
    // (max_requests, or kSignalRetire from the master after a reload) happens while the rest of
    // the pool serves, so it waits for every generation in flight to end on its own: up to the
    // upstream call's total timeout plus graceful_timeout_s for the finish. A stop during a
    // retirement shortens it.
    const auto stop_drain = std::chrono::seconds(config.fcgi.graceful_timeout_s);
    const auto retire_drain = std::chrono::milliseconds(config.qwen.total_timeout_ms) + stop_drain;
    bool draining = false;
    auto deadline = std::chrono::steady_clock::time_point::max();
    while (true) {
        timespec tick{0, 50 * 1000 * 1000};
        int sig = sigtimedwait(&set, nullptr, &tick);
        if (sig == SIGTERM || sig == SIGINT) _exit(kWorkerExitOk);
        if (sig == SIGUSR1) lib::base::LogReopen();
        if (getppid() != master) _exit(kWorkerExitOk);

        const bool retiring = sig == kSignalRetire || w.retire.load();
        if (!draining && (sig == SIGQUIT || retiring)) {
            draining = true;
            slot->state = static_cast<int32_t>(WorkerState::kDraining);
            // Retiring on max_requests: ask the master for a replacement before we stop.
            if (w.retire.load() && sig != SIGQUIT) kill(master, SIGUSR2);
            StopAccepting(w);
            app->StopBackground();
            app->Draining(w.running.load());
            deadline =
                std::chrono::steady_clock::now() +
                (sig == SIGQUIT ? std::chrono::duration_cast<std::chrono::milliseconds>(stop_drain)
                                : retire_drain);
        } else if (draining && sig == SIGQUIT) {
            deadline = std::min(deadline, std::chrono::steady_clock::now() + stop_drain);
        }
        if (draining && w.running.load() == 0) _exit(kWorkerExitOk);
        if (draining && std::chrono::steady_clock::now() >= deadline) {
            lib::base::Log(lib::base::LogLevel::kWarn, "drain_deadline_passed",
                           Json::Value(slot->busy.load()));
            _exit(kWorkerExitOk);
        }
    }
}

}  // namespace inkstone::fcgi
