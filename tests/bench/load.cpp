#include "tests/bench/load.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <json/reader.h>
#include <json/value.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include "tests/harness/process_tree.h"

namespace inkstone::bench {
namespace {

using Clock = std::chrono::steady_clock;

/// The last line of `text` that parses as a JSON object.
Json::Value LastJsonLine(const std::string& text) {
    std::istringstream lines(text);
    std::string line;
    Json::Value found;
    Json::CharReaderBuilder builder;
    const std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
    while (std::getline(lines, line)) {
        if (line.empty() || line[0] != '{') continue;
        Json::Value value;
        std::string errors;
        if (reader->parse(line.data(), line.data() + line.size(), &value, &errors) &&
            value.isObject()) {
            found = value;
        }
    }
    return found;
}

int64_t RealtimeMicros() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

/// "VmRSS:   1234 kB" style fields of a /proc file, in bytes; 0 when absent.
int64_t ProcField(const std::string& path, const std::string& name) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        if (line.compare(0, name.size(), name) != 0) continue;
        return std::atoll(line.c_str() + name.size()) * 1024;
    }
    return 0;
}

/// utime + stime of /proc/PID/stat (fields 14 and 15, after the parenthesised name).
double CpuSeconds(const std::string& path) {
    const std::string text = testing::ReadFile(path);
    const size_t paren = text.rfind(')');
    if (paren == std::string::npos) return 0;
    std::istringstream fields(text.substr(paren + 2));
    std::string field;
    double ticks = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
        if (i >= 14) ticks += std::atof(field.c_str());
    }
    return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace

double PercentileMs(std::vector<int64_t>& samples_us, double p) {
    if (samples_us.empty()) return 0;
    std::sort(samples_us.begin(), samples_us.end());
    const auto index =
        static_cast<size_t>(std::floor(p / 100.0 * static_cast<double>(samples_us.size() - 1)));
    return static_cast<double>(samples_us[index]) / 1000.0;
}

// ---- wrk ----

namespace {

std::vector<std::string> WrkArgv(const WrkOptions& o) {
    std::vector<std::string> argv = {"wrk",
                                     "-t" + std::to_string(o.threads),
                                     "-c" + std::to_string(o.connections),
                                     "-d" + std::to_string(o.duration.count()) + "s",
                                     "--timeout",
                                     "10s",
                                     "-s",
                                     o.script,
                                     o.url};
    if (!o.script_args.empty()) {
        argv.push_back("--");
        for (const std::string& arg : o.script_args) argv.push_back(arg);
    }
    return argv;
}

}  // namespace

WrkRun::WrkRun(WrkOptions options)
    : options_(std::move(options)), process_(WrkArgv(options_), options_.log_path) {}

bool WrkRun::running() { return process_.running(); }

WrkResult WrkRun::Finish() {
    if (!process_.Wait(options_.duration + std::chrono::seconds(30))) {
        process_.Stop(std::chrono::milliseconds(1000));
        throw std::runtime_error("wrk did not finish; see " + options_.log_path);
    }
    const std::string output = testing::ReadFile(options_.log_path);
    if (!WIFEXITED(process_.status()) || WEXITSTATUS(process_.status()) != 0) {
        throw std::runtime_error("wrk failed:\n" + output);
    }
    const Json::Value json = LastJsonLine(output);
    if (!json.isObject()) throw std::runtime_error("wrk printed no result:\n" + output);
    WrkResult r;
    r.requests = json["requests"].asInt64();
    r.seconds = json["duration_us"].asDouble() / 1e6;
    r.errors = json["connect_errors"].asInt64() + json["read_errors"].asInt64() +
               json["write_errors"].asInt64() + json["status_errors"].asInt64() +
               json["timeouts"].asInt64();
    r.p50_ms = json["p50_us"].asDouble() / 1000.0;
    r.p99_ms = json["p99_us"].asDouble() / 1000.0;
    return r;
}

WrkResult RunWrk(const WrkOptions& options) { return WrkRun(options).Finish(); }

// ---- db-charge-bench ----

DbChargeResult RunDbCharge(const DbChargeOptions& o) {
    testing::Process process(
        {o.binary, "--db-host", o.host, "--db-port", std::to_string(o.port), "--db-user", o.user,
         "--db-name", o.name, "--threads", std::to_string(o.threads), "--seconds",
         std::to_string(o.duration.count()), "--first-user", std::to_string(o.first_user),
         "--users", std::to_string(o.users)},
        o.log_path, {{"BENCH_DB_PASSWORD", o.password}});
    if (!process.Wait(o.duration + std::chrono::seconds(60))) {
        process.Stop(std::chrono::milliseconds(1000));
        throw std::runtime_error("db-charge-bench did not finish; see " + o.log_path);
    }
    const std::string output = testing::ReadFile(o.log_path);
    const Json::Value json = LastJsonLine(output);
    if (!WIFEXITED(process.status()) || WEXITSTATUS(process.status()) != 0 || !json.isObject()) {
        throw std::runtime_error("db-charge-bench failed:\n" + output);
    }
    DbChargeResult r;
    r.transactions = json["transactions"].asInt64();
    r.per_second = json["per_second"].asDouble();
    r.p50_ms = json["p50_ms"].asDouble();
    r.p99_ms = json["p99_ms"].asDouble();
    r.aborted = json["aborted"].asInt64();
    r.insufficient = json["insufficient"].asInt64();
    return r;
}

// ---- memory ----

TreeMemory MeasureTree(pid_t master) {
    TreeMemory m;
    if (master <= 0) return m;
    std::vector<pid_t> pids = {master};
    for (pid_t pid : testing::Descendants(master)) pids.push_back(pid);
    for (pid_t pid : pids) {
        const std::string dir = "/proc/" + std::to_string(pid);
        const int64_t rss = ProcField(dir + "/status", "VmRSS:");
        if (rss == 0) continue;  // gone meanwhile
        ++m.processes;
        m.rss_bytes += rss;
        m.pss_bytes += ProcField(dir + "/smaps_rollup", "Pss:");
        m.cpu_seconds += CpuSeconds(dir + "/stat");
    }
    return m;
}

// ---- streams ----

struct StreamClient::Connection {
    int fd = -1;
    enum class State { kConnecting, kSending, kHeaders, kBody } state = State::kConnecting;
    std::string out;  // request bytes not yet written
    std::string in;   // bytes not yet consumed
    std::string event;
    bool done = false;
};

StreamClient::StreamClient(int port, std::vector<std::string> tokens, std::string body)
    : port_(port), tokens_(std::move(tokens)), body_(std::move(body)) {
    if (tokens_.empty()) throw std::invalid_argument("StreamClient: no tokens");
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
    window_start_ = Clock::now();
}

StreamClient::~StreamClient() {
    CloseAll();
    if (epoll_fd_ >= 0) close(epoll_fd_);
}

void StreamClient::Fail(Connection& c, const std::string& why) {
    ++errors_;
    if (error_samples_.size() < 5) error_samples_.push_back(why);
    Drop(c);
}

void StreamClient::Drop(Connection& c) {
    // close() also takes the socket out of the epoll set (it is never dup'ed).
    const int fd = c.fd;
    close(fd);
    connections_.erase(fd);  // destroys c
}

void StreamClient::OpenOne() {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        ++errors_;
        if (error_samples_.size() < 5)
            error_samples_.push_back(std::string("socket: ") + strerror(errno));
        return;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    auto c = std::make_unique<Connection>();
    c->fd = fd;
    const std::string& token = tokens_[next_token_++ % tokens_.size()];
    c->out =
        "POST /api/v1/writing/generate HTTP/1.0\r\nHost: 127.0.0.1\r\n"
        "Authorization: Bearer " +
        token +
        "\r\nContent-Type: application/json\r\n"
        "Accept: text/event-stream\r\nContent-Length: " +
        std::to_string(body_.size()) + "\r\n\r\n" + body_;
    Connection& ref = *c;
    connections_[fd] = std::move(c);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
        Fail(ref, std::string("connect: ") + strerror(errno));
        return;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        Fail(ref, std::string("epoll_ctl: ") + strerror(errno));
    }
}

void StreamClient::OnEvent(Connection& c, uint32_t events) {
    if (c.state == Connection::State::kConnecting || c.state == Connection::State::kSending) {
        if ((events & EPOLLOUT) == 0 && (events & (EPOLLERR | EPOLLHUP)) == 0) return;
        int error = 0;
        socklen_t length = sizeof error;
        if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0) {
            Fail(c, std::string("connect: ") + strerror(error != 0 ? error : errno));
            return;
        }
        c.state = Connection::State::kSending;
        while (!c.out.empty()) {
            const ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN) return;
                Fail(c, std::string("send: ") + strerror(errno));
                return;
            }
            c.out.erase(0, static_cast<size_t>(n));
        }
        c.state = Connection::State::kHeaders;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.fd = c.fd;
        if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev) != 0) {
            Fail(c, std::string("epoll_ctl: ") + strerror(errno));
            return;
        }
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) OnReadable(c);
}

void StreamClient::OnReadable(Connection& c) {
    char buffer[16384];
    for (;;) {
        const ssize_t n = recv(c.fd, buffer, sizeof buffer, 0);
        if (n < 0) {
            if (errno == EAGAIN) return;
            Fail(c, std::string("recv: ") + strerror(errno));
            return;
        }
        if (n == 0) {
            if (c.done) {
                ++completed_;
                Drop(c);
            } else {
                Fail(c, "closed before event: done: " + c.in.substr(0, 200));
            }
            return;
        }
        const int64_t now_us = RealtimeMicros();
        c.in.append(buffer, static_cast<size_t>(n));
        if (c.state == Connection::State::kHeaders) {
            const size_t end = c.in.find("\r\n\r\n");
            if (end == std::string::npos) continue;
            // "HTTP/1.1 200 OK"
            const size_t space = c.in.find(' ');
            const int status = space == std::string::npos ? 0 : std::atoi(c.in.c_str() + space + 1);
            if (status != 200) {
                Fail(c, "HTTP " + std::to_string(status) + ": " + c.in.substr(end + 4, 200));
                return;
            }
            c.in.erase(0, end + 4);
            c.state = Connection::State::kBody;
        }
        const int fd = c.fd;
        ProcessLines(c, now_us);
        if (connections_.count(fd) == 0) return;  // failed on an error event
    }
}

void StreamClient::ProcessLines(Connection& c, int64_t now_us) {
    static constexpr std::string_view kContent = "\"content\":\"";
    size_t start = 0;
    for (;;) {
        const size_t newline = c.in.find('\n', start);
        if (newline == std::string::npos) break;
        std::string_view line(c.in.data() + start, newline - start);
        start = newline + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.rfind("event: ", 0) == 0) {
            c.event = std::string(line.substr(7));
            if (c.event == "done") c.done = true;
            if (c.event == "error") {
                Fail(c, "event: error");
                return;
            }
            continue;
        }
        if (c.event != "delta" || line.rfind("data: ", 0) != 0) continue;
        const size_t at = line.find(kContent);
        if (at == std::string_view::npos) continue;
        int64_t stamp = 0;
        for (size_t i = at + kContent.size(); i < line.size() && line[i] >= '0' && line[i] <= '9';
             ++i) {
            stamp = stamp * 10 + (line[i] - '0');
        }
        ++window_.events;
        if (stamp > 0) window_.lag_us.push_back(now_us - stamp);
    }
    c.in.erase(0, start);
}

void StreamClient::Poll(int timeout_ms) {
    epoll_event events[256];
    const int n = epoll_wait(epoll_fd_, events, 256, timeout_ms);
    if (n < 0) {
        if (errno == EINTR) return;
        throw std::system_error(errno, std::generic_category(), "epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
        const auto it = connections_.find(events[i].data.fd);
        if (it == connections_.end()) continue;
        OnEvent(*it->second, events[i].events);
    }
}

void StreamClient::RampTo(size_t target, double per_second, const std::function<void()>& tick) {
    const auto start = Clock::now();
    // A broken server fails streams as fast as they open; bound the ramp in time too.
    const auto give_up =
        start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                    2.0 * static_cast<double>(target) / per_second + 30));
    size_t opened = 0;
    auto next_tick = start;
    while (connections_.size() < target && Clock::now() < give_up) {
        const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
        const auto due = static_cast<size_t>(elapsed * per_second) + 1;
        // At most 64 at a time, so the open ones are served between bursts.
        for (int burst = 0; burst < 64 && opened < due && connections_.size() < target; ++burst) {
            OpenOne();
            ++opened;
        }
        Poll(5);
        if (tick && Clock::now() >= next_tick) {
            tick();
            next_tick = Clock::now() + std::chrono::milliseconds(100);
        }
    }
}

void StreamClient::RunFor(std::chrono::milliseconds duration, const std::function<void()>& tick) {
    const auto end = Clock::now() + duration;
    RunWhile([&] { return Clock::now() < end; }, tick);
}

void StreamClient::RunWhile(const std::function<bool()>& keep_going,
                            const std::function<void()>& tick) {
    auto next_tick = Clock::now();
    while (keep_going()) {
        Poll(20);
        if (tick && Clock::now() >= next_tick) {
            tick();
            next_tick = Clock::now() + std::chrono::milliseconds(100);
        }
    }
}

void StreamClient::CloseAll() {
    while (!connections_.empty()) Drop(*connections_.begin()->second);
}

StreamWindow StreamClient::TakeWindow() {
    StreamWindow out = std::move(window_);
    out.seconds = std::chrono::duration<double>(Clock::now() - window_start_).count();
    window_ = StreamWindow{};
    window_start_ = Clock::now();
    return out;
}

}  // namespace inkstone::bench
