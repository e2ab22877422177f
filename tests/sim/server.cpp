#include "tests/sim/server.h"

#include <arpa/inet.h>
#include <json/value.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <deque>
#include <functional>
#include <optional>
#include <queue>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "lib/base/log.h"
#include "tests/sim/http_parser.h"
#include "tests/sim/png.h"
#include "tests/sim/protocol.h"

namespace inkstone::sim {
namespace {

using Clock = std::chrono::steady_clock;
using WallClock = std::chrono::system_clock;

constexpr uint64_t kListenToken = 0;
constexpr uint64_t kWakeToken = 1;
constexpr uint64_t kFirstConnection = 2;
constexpr int kMaxEvents = 512;
constexpr size_t kReadChunk = 64 * 1024;
// A busy connection (streaming, waiting) may send this much ahead before it is dropped.
constexpr size_t kMaxBufferedInput = 1024 * 1024;
// A reader this far behind is not reading at all; it counts as gone.
constexpr size_t kMaxPendingOutput = 8 * 1024 * 1024;
// Zero-delay streams yield to other connections every this many frames.
constexpr int kMaxFramesPerTurn = 64;
constexpr int kMaxTimersPerTurn = 4096;
// Tasks are forgotten oldest first beyond this (they then read as UNKNOWN, like expiry).
constexpr size_t kMaxTasks = 100000;
constexpr std::chrono::milliseconds kAcceptPause{100};
constexpr std::chrono::milliseconds kSweepInterval{1000};
// After our last byte, how long a closing connection keeps reading (and dropping) what the
// client still sends, so the kernel does not answer it with a reset that destroys the reply.
constexpr std::chrono::milliseconds kLingerTime{2000};

constexpr std::string_view kTextPath = "/api/v1/services/aigc/text-generation/generation";
constexpr std::string_view kMultimodalPath =
    "/api/v1/services/aigc/multimodal-generation/generation";
constexpr std::string_view kImagePath = "/api/v1/services/aigc/text2image/image-synthesis";
constexpr std::string_view kTasksPrefix = "/api/v1/tasks/";
constexpr std::string_view kImageFilePrefix = "/_sim/img/";

std::system_error SysError(const std::string& what) {
    return std::system_error(errno, std::generic_category(), what);
}

const char* Reason(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 413:
            return "Payload Too Large";
        case 429:
            return "Too Many Requests";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 501:
            return "Not Implemented";
    }
    return "Unknown";
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        const auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

bool ContainsIgnoreCase(std::string_view haystack, std::string_view needle) {
    if (needle.size() > haystack.size()) return false;
    for (size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
        if (EqualsIgnoreCase(haystack.substr(i, needle.size()), needle)) return true;
    }
    return false;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

// An id from a URL, made safe to echo into JSON and logs.
std::string SafeId(std::string_view id) {
    std::string out;
    for (char c : id.substr(0, 128)) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_';
        out += ok ? c : '?';
    }
    return out;
}

// DashScope's task time format: "2025-05-18 16:26:27.871" (UTC here).
std::string FormatTime(WallClock::time_point at) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch());
    const std::time_t seconds = static_cast<std::time_t>(ms.count() / 1000);
    std::tm tm{};
    if (gmtime_r(&seconds, &tm) == nullptr) return "";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%03d", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms.count() % 1000));
    return buf;
}

std::string StampNow() {
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(WallClock::now().time_since_epoch());
    return std::to_string(us.count()) + " ";
}

uint64_t Hash(std::string_view s) {
    uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
    return h;
}

enum class Phase {
    kIdle,          // reading the next request
    kDelayedReply,  // a non-stream generation "thinking" until its timer
    kStreaming,     // SSE headers sent, tokens on a timer
    kHanging,       // hang_after reached: silence until the client leaves
};

// One request/response on a connection, from the request line to the log line.
struct Exchange {
    Clock::time_point started;
    std::string method;
    std::string path;
    std::string model;
    std::string request_id;
    std::vector<std::pair<std::string, std::string>> directives;
    bool keep_alive = true;
    bool stream = false;
    int status = 0;
    std::string outcome;

    // A generation (kDelayedReply, kStreaming, kHanging).
    std::optional<GenerationRequest> generation;
    OutputPlan plan;
    std::optional<TextGenerator> text;
    int64_t emitted = 0;
    std::string content;  // the text so far (cumulative streams and non-stream replies)
    Clock::time_point first_token_at;
    bool chunked = false;      // the stream's body framing (HTTP/1.1)
    bool stream_open = false;  // stream headers sent, the stream not ended yet
};

struct Connection {
    uint64_t id = 0;
    int fd = -1;
    uint32_t events = 0;  // what epoll watches
    std::string in;
    std::string out;
    size_t out_pos = 0;
    Phase phase = Phase::kIdle;
    bool continue_sent = false;
    bool close_when_flushed = false;
    bool lingering = false;  // our side is shut down; dropping input until the client closes
    bool broken = false;     // the peer left or a write failed; Settle() closes it
    uint64_t timer_seq = 0;
    Clock::time_point last_active;  // or, while lingering, when the linger began
    std::unique_ptr<Exchange> ex;
};

struct Timer {
    Clock::time_point at;
    uint64_t connection;
    uint64_t seq;
    bool operator>(const Timer& other) const { return at > other.at; }
};

struct Task {
    Clock::time_point submitted;
    WallClock::time_point submitted_wall;
    int64_t duration_ms = 0;
    bool fail = false;
    int n = 1;
};

struct Stats {
    int64_t requests = 0;
    int64_t active_streams = 0;
    int64_t aborted_streams = 0;
    int64_t completed_streams = 0;
    int64_t peak_active_streams = 0;
};

}  // namespace

class Server::Impl {
  public:
    explicit Impl(ServerOptions options);
    ~Impl();
    int port() const { return port_; }
    void Run();
    void RequestStop();

  private:
    // The loop.
    void Accept();
    void OnEvent(uint64_t token, uint32_t events);
    void RunTimers();
    int NextTimeoutMs() const;
    void Arm(Connection& c, Clock::time_point at);
    void Disarm(Connection& c) { ++c.timer_seq; }
    void OnTimer(Connection& c);
    void Sweep();

    // Bytes.
    void ReadInput(Connection& c);
    void Send(Connection& c, std::string_view bytes);
    void Flush(Connection& c);
    void Watch(Connection& c, uint32_t events);
    void Settle(uint64_t id);
    void Close(Connection& c);

    // Requests.
    void ProcessInput(Connection& c);
    void Handle(Connection& c, const HttpRequest& request);
    void HandleGeneration(Connection& c, const HttpRequest& request, Endpoint endpoint);
    void HandleImageSubmit(Connection& c, const HttpRequest& request);
    void HandleTaskQuery(Connection& c, std::string_view id);
    void HandleImageFile(Connection& c, std::string_view name);
    bool Authorized(const HttpRequest& request) const;

    // Responses.
    void Reply(Connection& c, int status, std::string_view content_type, std::string_view body);
    void ReplyFailure(Connection& c, const ApiFailure& failure);
    void ReplyStreamError(Connection& c, const ApiFailure& failure, ErrorForm form);
    void FinishExchange(Connection& c);
    void LogExchange(const Exchange& ex) const;
    std::string StatsJson() const;

    // Generations.
    void StartStream(Connection& c);
    void StreamStep(Connection& c);
    void SendStreamPiece(Connection& c, std::string_view bytes);
    std::string NextToken(Exchange& ex);
    void EndStream(Connection& c);
    void CloseStream(Connection& c, bool aborted);
    void CompleteReply(Connection& c);
    void OnPeerGone(Connection& c);

    TaskView ViewTask(const std::string& id, Clock::time_point now) const;

    ServerOptions options_;
    ParseLimits limits_;
    int listen_fd_ = -1;
    int epoll_fd_ = -1;
    int wake_fd_ = -1;
    int port_ = 0;
    bool stop_ = false;
    uint64_t next_id_ = kFirstConnection;
    std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections_;
    std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
    std::optional<Clock::time_point> accept_resume_at_;
    Clock::time_point next_sweep_;
    std::unordered_map<std::string, Task> tasks_;
    std::deque<std::string> task_order_;
    Stats stats_;
    std::vector<char> read_buffer_ = std::vector<char>(kReadChunk);  // shared: one thread
};

Server::Impl::Impl(ServerOptions options) : options_(std::move(options)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) throw SysError("socket");
    const int one = 1;
    if (setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
        throw SysError("setsockopt SO_REUSEADDR");
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(options_.port));
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        throw SysError("bind 127.0.0.1:" + std::to_string(options_.port));
    }
    if (listen(listen_fd_, options_.backlog) != 0) throw SysError("listen");
    socklen_t len = sizeof addr;
    if (getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        throw SysError("getsockname");
    }
    port_ = ntohs(addr.sin_port);

    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) throw SysError("epoll_create1");
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) throw SysError("eventfd");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenToken;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev) != 0) throw SysError("epoll_ctl");
    ev.data.u64 = kWakeToken;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) throw SysError("epoll_ctl");
}

Server::Impl::~Impl() {
    for (auto& [id, c] : connections_) close(c->fd);
    for (int fd : {listen_fd_, epoll_fd_, wake_fd_}) {
        if (fd >= 0) close(fd);
    }
}

void Server::Impl::RequestStop() {
    const uint64_t one = 1;
    // Only write(2): this runs in signal handlers. A full counter (EAGAIN) already means "stop".
    const ssize_t written = write(wake_fd_, &one, sizeof one);
    (void)written;
}

void Server::Impl::Run() {
    next_sweep_ = Clock::now() + kSweepInterval;
    epoll_event events[kMaxEvents];
    while (!stop_) {
        const int n = epoll_wait(epoll_fd_, events, kMaxEvents, NextTimeoutMs());
        if (n < 0) {
            if (errno == EINTR) continue;
            throw SysError("epoll_wait");
        }
        for (int i = 0; i < n; ++i) OnEvent(events[i].data.u64, events[i].events);
        RunTimers();
    }
    std::vector<uint64_t> ids;
    for (const auto& [id, c] : connections_) ids.push_back(id);
    for (uint64_t id : ids) {
        Connection& c = *connections_.at(id);
        if (c.ex) {
            if (c.ex->stream_open) CloseStream(c, false);
            c.ex->outcome = "shutdown";
            LogExchange(*c.ex);
        }
        Close(c);
    }
}

int Server::Impl::NextTimeoutMs() const {
    std::optional<Clock::time_point> next = next_sweep_;
    if (!timers_.empty()) next = std::min(*next, timers_.top().at);
    if (accept_resume_at_) next = std::min(*next, *accept_resume_at_);
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(*next - Clock::now());
    return static_cast<int>(std::max<int64_t>(0, wait.count()));
}

void Server::Impl::OnEvent(uint64_t token, uint32_t events) {
    if (token == kListenToken) {
        Accept();
        return;
    }
    if (token == kWakeToken) {
        uint64_t value = 0;
        const ssize_t got = read(wake_fd_, &value, sizeof value);
        (void)got;  // the wake-up itself is the message
        stop_ = true;
        return;
    }
    const auto it = connections_.find(token);
    if (it == connections_.end()) return;
    Connection& c = *it->second;
    if (events & EPOLLOUT) Flush(c);
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ReadInput(c);
    Settle(token);
}

void Server::Impl::Accept() {
    for (;;) {
        const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            // Out of descriptors or memory: the listening socket would stay readable and spin
            // the loop, so stop watching it for a moment and let connections finish.
            lib::base::Log(lib::base::LogLevel::kWarn, "sim.accept_failed",
                           Json::Value(std::system_category().message(errno)));
            epoll_event ev{};
            ev.data.u64 = kListenToken;
            if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &ev) != 0) {
                throw SysError("epoll_ctl pause listen");
            }
            accept_resume_at_ = Clock::now() + kAcceptPause;
            return;
        }
        const int one = 1;
        // Small SSE frames must leave at once; Nagle would hold one back for the previous ACK.
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
            lib::base::Log(lib::base::LogLevel::kWarn, "sim.nodelay_failed",
                           Json::Value(std::system_category().message(errno)));
        }
        auto c = std::make_unique<Connection>();
        c->id = next_id_++;
        c->fd = fd;
        c->events = EPOLLIN | EPOLLRDHUP;
        c->last_active = Clock::now();
        epoll_event ev{};
        ev.events = c->events;
        ev.data.u64 = c->id;
        if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
            lib::base::Log(lib::base::LogLevel::kWarn, "sim.epoll_add_failed",
                           Json::Value(std::system_category().message(errno)));
            close(fd);
            continue;
        }
        const uint64_t id = c->id;
        connections_.emplace(id, std::move(c));
    }
}

void Server::Impl::Arm(Connection& c, Clock::time_point at) {
    ++c.timer_seq;
    timers_.push(Timer{at, c.id, c.timer_seq});
}

void Server::Impl::RunTimers() {
    const Clock::time_point now = Clock::now();
    if (accept_resume_at_ && *accept_resume_at_ <= now) {
        accept_resume_at_.reset();
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = kListenToken;
        if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &ev) != 0) {
            throw SysError("epoll_ctl resume listen");
        }
    }
    if (next_sweep_ <= now) Sweep();
    for (int fired = 0; fired < kMaxTimersPerTurn && !timers_.empty();) {
        const Timer timer = timers_.top();
        if (timer.at > now) break;
        timers_.pop();
        const auto it = connections_.find(timer.connection);
        if (it == connections_.end() || it->second->timer_seq != timer.seq) continue;
        ++fired;
        OnTimer(*it->second);
        Settle(timer.connection);
    }
}

void Server::Impl::Sweep() {
    const Clock::time_point now = Clock::now();
    next_sweep_ = now + kSweepInterval;
    std::vector<uint64_t> idle;
    for (const auto& [id, c] : connections_) {
        const bool idle_too_long = c->phase == Phase::kIdle && !c->ex && !c->close_when_flushed &&
                                   now - c->last_active > options_.idle_timeout;
        const bool lingered_enough = c->lingering && now - c->last_active > kLingerTime;
        // A reader that stopped reading our last bytes for that long is not coming back.
        const bool stuck_closing =
            c->close_when_flushed && !c->lingering && now - c->last_active > options_.idle_timeout;
        if (idle_too_long || lingered_enough || stuck_closing) idle.push_back(id);
    }
    for (uint64_t id : idle) Close(*connections_.at(id));
}

void Server::Impl::OnTimer(Connection& c) {
    switch (c.phase) {
        case Phase::kStreaming:
            StreamStep(c);
            break;
        case Phase::kDelayedReply:
            CompleteReply(c);
            break;
        case Phase::kIdle:
        case Phase::kHanging:
            return;
    }
    if (c.phase == Phase::kIdle) ProcessInput(c);
}

void Server::Impl::ReadInput(Connection& c) {
    for (;;) {
        const ssize_t n = recv(c.fd, read_buffer_.data(), read_buffer_.size(), 0);
        if (n > 0 && c.lingering) continue;
        if (n > 0) {
            c.in.append(read_buffer_.data(), static_cast<size_t>(n));
            if (c.phase != Phase::kIdle && c.in.size() > kMaxBufferedInput) {
                c.broken = true;
                return;
            }
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        // 0: the client closed (or half-closed, which for a waiting stream means the same);
        // < 0: reset. Either way nobody reads what comes next.
        c.broken = true;
        return;
    }
    if (c.lingering) return;
    c.last_active = Clock::now();
    if (c.phase == Phase::kIdle) ProcessInput(c);
}

void Server::Impl::Send(Connection& c, std::string_view bytes) {
    if (c.broken) return;
    c.out.append(bytes);
    Flush(c);
}

void Server::Impl::Flush(Connection& c) {
    while (!c.broken && c.out_pos < c.out.size()) {
        const ssize_t n =
            send(c.fd, c.out.data() + c.out_pos, c.out.size() - c.out_pos, MSG_NOSIGNAL);
        if (n > 0) {
            c.out_pos += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        c.broken = true;
    }
    if (c.broken) return;
    if (c.out_pos == c.out.size()) {
        c.out.clear();
        c.out_pos = 0;
        if (c.out.capacity() > 4 * kReadChunk) std::string().swap(c.out);
    } else if (c.out.size() - c.out_pos > kMaxPendingOutput) {
        c.broken = true;
        return;
    }
    const bool pending = c.out_pos < c.out.size();
    const uint32_t base = EPOLLIN | EPOLLRDHUP;
    Watch(c, pending ? base | EPOLLOUT : base);
}

void Server::Impl::Watch(Connection& c, uint32_t events) {
    if (c.events == events) return;
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = c.id;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev) != 0) {
        c.broken = true;
        return;
    }
    c.events = events;
}

// The one place a connection is destroyed, after whatever touched it has returned.
void Server::Impl::Settle(uint64_t id) {
    const auto it = connections_.find(id);
    if (it == connections_.end()) return;
    Connection& c = *it->second;
    if (c.broken) {
        OnPeerGone(c);
        Close(c);
        return;
    }
    if (!c.close_when_flushed || c.lingering || c.out_pos != c.out.size()) return;
    // A close with unread input makes the kernel send RST, and a RST can wipe our answer from
    // the client's receive buffer before it reads it: send FIN, drain, then close (as nginx's
    // lingering_close).
    if (shutdown(c.fd, SHUT_WR) != 0) {
        Close(c);
        return;
    }
    c.lingering = true;
    c.last_active = Clock::now();
    c.in.clear();
}

void Server::Impl::Close(Connection& c) {
    if (close(c.fd) != 0 && errno != EINTR) {
        lib::base::Log(lib::base::LogLevel::kWarn, "sim.close_failed",
                       Json::Value(std::system_category().message(errno)));
    }
    connections_.erase(c.id);  // destroys c
}

void Server::Impl::OnPeerGone(Connection& c) {
    if (!c.ex) return;
    Exchange& ex = *c.ex;
    if (ex.stream_open) {
        ex.outcome = c.phase == Phase::kHanging ? "client_left_hang" : "client_aborted";
        CloseStream(c, true);
    } else {
        ex.outcome = "client_gone";
    }
    LogExchange(ex);
    c.ex.reset();
}

void Server::Impl::ProcessInput(Connection& c) {
    while (c.phase == Phase::kIdle && !c.ex && !c.close_when_flushed && !c.broken &&
           !c.in.empty()) {
        ParseResult parsed = ParseHttpRequest(c.in, limits_);
        if (parsed.status == ParseStatus::kIncomplete) {
            if (parsed.expects_continue && !c.continue_sent) {
                c.continue_sent = true;
                Send(c, "HTTP/1.1 100 Continue\r\n\r\n");
            }
            return;
        }
        if (parsed.status == ParseStatus::kError) {
            c.ex = std::make_unique<Exchange>();
            c.ex->started = Clock::now();
            c.ex->request_id = NewUuid();
            c.ex->keep_alive = false;
            ReplyFailure(c, MalformedHttpFailure(parsed.error_status));
            return;
        }
        c.in.erase(0, parsed.consumed);
        c.continue_sent = false;
        Handle(c, parsed.request);
    }
    if (c.phase == Phase::kIdle && c.in.empty() && c.in.capacity() > kReadChunk) {
        std::string().swap(c.in);
    }
}

bool Server::Impl::Authorized(const HttpRequest& request) const {
    std::string_view value = request.Header("authorization");
    constexpr std::string_view kScheme = "bearer ";
    if (value.size() <= kScheme.size() ||
        !EqualsIgnoreCase(value.substr(0, kScheme.size()), kScheme)) {
        return false;
    }
    value.remove_prefix(kScheme.size());
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    return value == options_.api_key;
}

void Server::Impl::Handle(Connection& c, const HttpRequest& request) {
    auto ex = std::make_unique<Exchange>();
    ex->started = Clock::now();
    ex->method = request.method;
    ex->path = request.path.substr(0, 200);
    ex->request_id = NewUuid();
    ex->keep_alive = request.keep_alive;
    c.ex = std::move(ex);
    const std::string& path = request.path;
    const std::string& method = request.method;

    if (path == "/_sim/stats" || path == "/_sim/reset") {
        const bool reset = path == "/_sim/reset";
        if (method != (reset ? "POST" : "GET")) return ReplyFailure(c, MethodNotAllowedFailure());
        if (reset) {
            stats_.requests = 0;
            stats_.aborted_streams = 0;
            stats_.completed_streams = 0;
            stats_.peak_active_streams = stats_.active_streams;
        }
        return Reply(c, 200, "application/json", StatsJson());
    }
    if (StartsWith(path, kImageFilePrefix)) {
        if (method != "GET") return ReplyFailure(c, MethodNotAllowedFailure());
        return HandleImageFile(c, std::string_view(path).substr(kImageFilePrefix.size()));
    }

    const bool text = path == kTextPath;
    const bool multimodal = path == kMultimodalPath;
    const bool image = path == kImagePath;
    const bool task = StartsWith(path, kTasksPrefix) && path.size() > kTasksPrefix.size() &&
                      path.find('/', kTasksPrefix.size()) == std::string::npos;
    if (!text && !multimodal && !image && !task) return ReplyFailure(c, NotFoundFailure());
    if (!Authorized(request)) return ReplyFailure(c, InvalidApiKeyFailure());
    ++stats_.requests;
    if (method != (task ? "GET" : "POST")) return ReplyFailure(c, MethodNotAllowedFailure());
    if (task) return HandleTaskQuery(c, std::string_view(path).substr(kTasksPrefix.size()));
    if (image) return HandleImageSubmit(c, request);
    HandleGeneration(c, request, text ? Endpoint::kText : Endpoint::kMultimodal);
}

void Server::Impl::HandleGeneration(Connection& c, const HttpRequest& request, Endpoint endpoint) {
    Exchange& ex = *c.ex;
    ex.stream = EqualsIgnoreCase(request.Header("x-dashscope-sse"), "enable") ||
                ContainsIgnoreCase(request.Header("accept"), "text/event-stream");
    if (EqualsIgnoreCase(request.Header("x-dashscope-async"), "enable")) {
        return ReplyFailure(c, AsyncMismatchFailure(true));
    }
    std::variant<GenerationRequest, ApiFailure> parsed =
        ParseGenerationRequest(endpoint, request.body);
    if (const ApiFailure* failure = std::get_if<ApiFailure>(&parsed)) {
        return ReplyFailure(c, *failure);
    }
    GenerationRequest& generation = std::get<GenerationRequest>(parsed);
    ex.model = std::string(generation.model->name);
    ex.directives = generation.directives.given;
    const Directives& d = generation.directives;
    if (d.error && !d.fail_after) {
        const ApiFailure failure = DirectiveFailure(*d.error, false);
        if (!ex.stream) return ReplyFailure(c, failure);
        return ReplyStreamError(
            c, failure,
            d.error_form == ErrorForm::kDefault ? ErrorFormFor(*d.error) : d.error_form);
    }

    ex.plan = PlanOutput(generation);
    ex.text.emplace(generation.prompt);
    ex.first_token_at = ex.started + std::chrono::milliseconds(d.first_delay_ms);
    const int64_t delay_ms = d.delay_ms;
    ex.generation = std::move(generation);
    if (ex.stream) return StartStream(c);

    c.phase = Phase::kDelayedReply;
    const Clock::time_point reply_at =
        ex.first_token_at +
        std::chrono::milliseconds(delay_ms * std::max<int64_t>(0, ex.plan.deltas - 1));
    if (reply_at <= Clock::now()) return CompleteReply(c);
    Arm(c, reply_at);
}

void Server::Impl::StartStream(Connection& c) {
    Exchange& ex = *c.ex;
    ex.status = 200;
    ex.chunked = ex.keep_alive;  // HTTP/1.0 readers get the body delimited by the close
    std::string head =
        "HTTP/1.1 200 OK\r\n"
        "content-type: text/event-stream;charset=UTF-8\r\n"
        "cache-control: no-cache\r\n"
        "x-dashscope-call-gateway: true\r\n"
        "x-request-id: " +
        ex.request_id + "\r\n";
    head += ex.chunked ? "transfer-encoding: chunked\r\n" : "connection: close\r\n";
    head += "\r\n";
    Send(c, head);
    ex.stream_open = true;
    ++stats_.active_streams;
    stats_.peak_active_streams = std::max(stats_.peak_active_streams, stats_.active_streams);
    c.phase = Phase::kStreaming;
    StreamStep(c);
}

std::string Server::Impl::NextToken(Exchange& ex) {
    if (ex.generation->directives.stamp) return StampNow();
    return std::string(ex.text->Next());
}

void Server::Impl::SendStreamPiece(Connection& c, std::string_view bytes) {
    if (!c.ex->chunked) return Send(c, bytes);
    char size[24];
    std::snprintf(size, sizeof size, "%zx\r\n", bytes.size());
    std::string chunk = size;
    chunk.append(bytes).append("\r\n");
    Send(c, chunk);
}

// Sends every token that is due (a late loop catches up rather than drifting), then re-arms
// for the next one, or ends the stream.
void Server::Impl::StreamStep(Connection& c) {
    Exchange& ex = *c.ex;
    const GenerationRequest& generation = *ex.generation;
    const std::chrono::milliseconds delay(generation.directives.delay_ms);
    const Clock::time_point now = Clock::now();
    for (int frames = 0;; ++frames) {
        if (c.broken) return;
        if (ex.emitted == ex.plan.deltas) return EndStream(c);
        const Clock::time_point due = ex.first_token_at + delay * ex.emitted;
        if (due > now) return Arm(c, due);
        if (frames == kMaxFramesPerTurn) return Arm(c, now);
        const std::string token = NextToken(ex);
        ++ex.emitted;
        if (!generation.incremental) ex.content += token;
        Progress progress;
        progress.content = generation.incremental ? std::string_view(token) : ex.content;
        progress.output_tokens = ex.emitted;
        SendStreamPiece(c, SseFrame(ex.emitted, "result", 200,
                                    StreamChunkJson(generation, ex.request_id, progress)));
    }
}

void Server::Impl::EndStream(Connection& c) {
    Exchange& ex = *c.ex;
    const GenerationRequest& generation = *ex.generation;
    const int64_t frame_id = ex.emitted + 1;
    switch (ex.plan.ending) {
        case Ending::kFinish: {
            Progress progress;
            // Incremental streams end with an empty delta; cumulative ones repeat everything.
            progress.content = generation.incremental ? std::string_view() : ex.content;
            progress.output_tokens = ex.emitted;
            progress.finish_reason = ex.plan.finish_reason;
            SendStreamPiece(c, SseFrame(frame_id, "result", 200,
                                        StreamChunkJson(generation, ex.request_id, progress)));
            ex.outcome = std::string(ex.plan.finish_reason);
            break;
        }
        case Ending::kFail: {
            const ApiFailure failure = DirectiveFailure(
                generation.directives.error.value_or(SimError::kInternal), ex.emitted > 0);
            SendStreamPiece(
                c, SseFrame(frame_id, "error", failure.status, ErrorJson(failure, ex.request_id)));
            ex.outcome = "fail_after";
            break;
        }
        case Ending::kCut:
            // No final frame and no terminating chunk: the reader sees a truncated body.
            ex.outcome = "cut_after";
            CloseStream(c, false);
            LogExchange(ex);
            c.ex.reset();
            c.close_when_flushed = true;
            return;
        case Ending::kHang:
            c.phase = Phase::kHanging;
            return;
    }
    if (ex.chunked) Send(c, "0\r\n\r\n");
    CloseStream(c, false);
    FinishExchange(c);
}

void Server::Impl::CloseStream(Connection& c, bool aborted) {
    Exchange& ex = *c.ex;
    if (!ex.stream_open) return;
    ex.stream_open = false;
    --stats_.active_streams;
    ++(aborted ? stats_.aborted_streams : stats_.completed_streams);
}

void Server::Impl::CompleteReply(Connection& c) {
    Exchange& ex = *c.ex;
    const GenerationRequest& generation = *ex.generation;
    for (int64_t i = 0; i < ex.plan.deltas; ++i) ex.content += NextToken(ex);
    ex.emitted = ex.plan.deltas;
    switch (ex.plan.ending) {
        case Ending::kFinish: {
            Progress progress;
            progress.content = ex.content;
            progress.output_tokens = ex.emitted;
            progress.finish_reason = ex.plan.finish_reason;
            ex.outcome = std::string(ex.plan.finish_reason);
            return Reply(c, 200, "application/json",
                         CompletionJson(generation, ex.request_id, progress));
        }
        case Ending::kFail:
            return ReplyFailure(
                c, DirectiveFailure(generation.directives.error.value_or(SimError::kInternal),
                                    ex.emitted > 0));
        case Ending::kCut:
            ex.outcome = "cut_after";
            LogExchange(ex);
            c.ex.reset();
            c.close_when_flushed = true;
            return;
        case Ending::kHang:
            c.phase = Phase::kHanging;
            return;
    }
}

void Server::Impl::HandleImageSubmit(Connection& c, const HttpRequest& request) {
    Exchange& ex = *c.ex;
    if (!EqualsIgnoreCase(request.Header("x-dashscope-async"), "enable")) {
        return ReplyFailure(c, AsyncMismatchFailure(false));
    }
    std::variant<ImageRequest, ApiFailure> parsed = ParseImageRequest(request.body);
    if (const ApiFailure* failure = std::get_if<ApiFailure>(&parsed)) {
        return ReplyFailure(c, *failure);
    }
    const ImageRequest& image = std::get<ImageRequest>(parsed);
    ex.model = std::string(image.model->name);
    ex.directives = image.directives.given;
    if (image.directives.error) {
        return ReplyFailure(c, DirectiveFailure(*image.directives.error, false));
    }
    Task task;
    task.submitted = Clock::now();
    task.submitted_wall = WallClock::now();
    task.duration_ms = image.directives.task_ms.value_or(options_.default_task_ms);
    task.fail = image.directives.task_fail;
    task.n = image.n;
    const std::string id = NewUuid();
    tasks_.emplace(id, task);
    task_order_.push_back(id);
    while (task_order_.size() > kMaxTasks) {
        tasks_.erase(task_order_.front());
        task_order_.pop_front();
    }
    ex.outcome = "task " + id;
    Reply(c, 200, "application/json", TaskSubmitJson(id, ex.request_id));
}

TaskView Server::Impl::ViewTask(const std::string& id, Clock::time_point now) const {
    TaskView view;
    view.task_id = id;
    const auto it = tasks_.find(id);
    if (it == tasks_.end()) return view;  // UNKNOWN: never submitted, or forgotten
    const Task& task = it->second;
    const std::chrono::milliseconds duration(task.duration_ms);
    const auto elapsed = now - task.submitted;
    view.n = task.n;
    view.submit_time = FormatTime(task.submitted_wall);
    // PENDING for the first half, RUNNING for the second, then the result.
    if (elapsed < duration / 2) {
        view.status = TaskStatus::kPending;
        return view;
    }
    view.scheduled_time = FormatTime(task.submitted_wall + duration / 2);
    if (elapsed < duration) {
        view.status = TaskStatus::kRunning;
        return view;
    }
    view.end_time = FormatTime(task.submitted_wall + duration);
    view.status = task.fail ? TaskStatus::kFailed : TaskStatus::kSucceeded;
    if (!task.fail) {
        for (int i = 0; i < task.n; ++i) {
            view.urls.push_back("http://127.0.0.1:" + std::to_string(port_) +
                                std::string(kImageFilePrefix) + id + "-" + std::to_string(i) +
                                ".png");
        }
    }
    return view;
}

void Server::Impl::HandleTaskQuery(Connection& c, std::string_view id) {
    const TaskView view = ViewTask(SafeId(id), Clock::now());
    c.ex->outcome = view.status == TaskStatus::kUnknown ? "task unknown" : "task";
    Reply(c, 200, "application/json", TaskStatusJson(view, c.ex->request_id));
}

void Server::Impl::HandleImageFile(Connection& c, std::string_view name) {
    // "<task id>-<index>.png", served only once the task has SUCCEEDED.
    constexpr std::string_view kSuffix = ".png";
    const size_t dash = name.rfind('-');
    if (name.size() <= kSuffix.size() || name.substr(name.size() - kSuffix.size()) != kSuffix ||
        dash == std::string_view::npos) {
        return ReplyFailure(c, NotFoundFailure());
    }
    const std::string id(name.substr(0, dash));
    const std::string_view index_text =
        name.substr(dash + 1, name.size() - kSuffix.size() - dash - 1);
    const TaskView view = ViewTask(id, Clock::now());
    int index = -1;
    if (index_text.size() == 1 && index_text[0] >= '0' && index_text[0] <= '9') {
        index = index_text[0] - '0';
    }
    if (view.status != TaskStatus::kSucceeded || index < 0 || index >= view.n) {
        return ReplyFailure(c, NotFoundFailure());
    }
    const uint64_t h = Hash(name);
    Reply(c, 200, "image/png",
          SolidPng(64, 64, static_cast<uint8_t>(h), static_cast<uint8_t>(h >> 8),
                   static_cast<uint8_t>(h >> 16)));
}

void Server::Impl::Reply(Connection& c, int status, std::string_view content_type,
                         std::string_view body) {
    Exchange& ex = *c.ex;
    ex.status = status;
    std::string head = "HTTP/1.1 " + std::to_string(status) + " " + Reason(status) + "\r\n";
    head.append("content-type: ").append(content_type).append("\r\n");
    head.append("content-length: ").append(std::to_string(body.size())).append("\r\n");
    head.append("x-request-id: ").append(ex.request_id).append("\r\n");
    if (!ex.keep_alive) head.append("connection: close\r\n");
    head.append("\r\n");
    head.append(body);
    Send(c, head);
    FinishExchange(c);
}

void Server::Impl::ReplyFailure(Connection& c, const ApiFailure& failure) {
    c.ex->outcome = failure.code;
    Reply(c, failure.status, "application/json", ErrorJson(failure, c.ex->request_id));
}

void Server::Impl::ReplyStreamError(Connection& c, const ApiFailure& failure, ErrorForm form) {
    Exchange& ex = *c.ex;
    ex.outcome = failure.code;
    const std::string frame =
        SseFrame(1, "error", failure.status, ErrorJson(failure, ex.request_id));
    switch (form) {
        case ErrorForm::kSse200:
            return Reply(c, 200, "text/event-stream;charset=UTF-8", frame);
        case ErrorForm::kSse:
            // As captured: the real status, an SSE-framed body, yet labelled JSON.
            return Reply(c, failure.status, "application/json", frame);
        case ErrorForm::kDefault:
        case ErrorForm::kJson:
            break;
    }
    Reply(c, failure.status, "application/json", ErrorJson(failure, ex.request_id));
}

void Server::Impl::FinishExchange(Connection& c) {
    LogExchange(*c.ex);
    if (!c.ex->keep_alive) c.close_when_flushed = true;
    c.ex.reset();
    c.phase = Phase::kIdle;
    c.last_active = Clock::now();
    Disarm(c);
}

void Server::Impl::LogExchange(const Exchange& ex) const {
    Json::Value fields;
    fields["method"] = ex.method;
    fields["path"] = ex.path;
    if (!ex.model.empty()) fields["model"] = ex.model;
    fields["status"] = ex.status;
    fields["stream"] = ex.stream;
    if (!ex.outcome.empty()) fields["outcome"] = ex.outcome;
    fields["request_id"] = ex.request_id;
    if (ex.generation) fields["output_tokens"] = static_cast<Json::Int64>(ex.emitted);
    if (!ex.directives.empty()) {
        Json::Value directives(Json::objectValue);
        for (const auto& [key, value] : ex.directives) directives[key] = value;
        fields["directives"] = directives;
    }
    fields["duration_ms"] = static_cast<Json::Int64>(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - ex.started).count());
    lib::base::Log(lib::base::LogLevel::kInfo, "sim.request", fields);
}

std::string Server::Impl::StatsJson() const {
    return "{\"requests\":" + std::to_string(stats_.requests) +
           ",\"active_streams\":" + std::to_string(stats_.active_streams) +
           ",\"aborted_streams\":" + std::to_string(stats_.aborted_streams) +
           ",\"completed_streams\":" + std::to_string(stats_.completed_streams) +
           ",\"peak_active_streams\":" + std::to_string(stats_.peak_active_streams) +
           ",\"connections\":" + std::to_string(connections_.size()) + "}";
}

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Server::~Server() = default;
int Server::port() const { return impl_->port(); }
void Server::Run() { impl_->Run(); }
void Server::RequestStop() { impl_->RequestStop(); }

}  // namespace inkstone::sim
