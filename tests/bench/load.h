#pragma once
/// Load generators for `make bench` (tests/bench/bench_main.cpp): wrk for request/response
/// scenarios, the raw database client, an epoll client holding thousands of SSE streams, and
/// the pool's memory read from /proc.
///
/// Not thread-safe: one driver thread uses them; children are harness Processes (killed when
/// the driver dies).
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/harness/process.h"

namespace inkstone::bench {

/// Latency percentiles of `samples_us` (sorted in place): p in [0, 100]. 0 when empty.
double PercentileMs(std::vector<int64_t>& samples_us, double p);

/// What one wrk run reports (auth.lua / plain.lua print it as a JSON line).
struct WrkResult {
    int64_t requests = 0;
    double seconds = 0;
    int64_t errors = 0;  ///< connect + read + write + timeouts + non-2xx/3xx statuses
    double p50_ms = 0;
    double p99_ms = 0;
    double per_second() const { return seconds > 0 ? static_cast<double>(requests) / seconds : 0; }
    /// Requests that got a 2xx/3xx answer.
    int64_t ok() const { return requests - errors; }
};

struct WrkOptions {
    std::string url;     ///< http://127.0.0.1:PORT/path
    std::string script;  ///< auth.lua or plain.lua
    std::vector<std::string> script_args;
    int connections = 16;
    int threads = 1;
    std::chrono::seconds duration{8};
    std::string log_path;  ///< wrk's output (the JSON line is read back from here)
};

/// A wrk run in the background: Start, then Finish() waits for it and reads its result.
class WrkRun {
  public:
    explicit WrkRun(WrkOptions options);
    bool running();
    /// Waits (up to the duration plus a margin) and parses the result; throws
    /// std::runtime_error with wrk's output when it failed or printed no result.
    WrkResult Finish();

  private:
    WrkOptions options_;
    testing::Process process_;
};

/// Runs wrk in the foreground.
WrkResult RunWrk(const WrkOptions& options);

/// What db-charge-bench prints.
struct DbChargeResult {
    int64_t transactions = 0;
    double per_second = 0;
    double p50_ms = 0;
    double p99_ms = 0;
    int64_t aborted = 0;
    int64_t insufficient = 0;
};

struct DbChargeOptions {
    std::string binary;
    std::string host;
    int port = 0;
    std::string user;
    std::string password;
    std::string name;
    int threads = 16;
    std::chrono::seconds duration{8};
    int64_t first_user = 1;
    int64_t users = 1;
    std::string log_path;
};

/// Runs db-charge-bench in the foreground; throws std::runtime_error with its output on failure.
DbChargeResult RunDbCharge(const DbChargeOptions& options);

/// Resident memory of a process tree (master and every descendant).
struct TreeMemory {
    int processes = 0;
    int64_t rss_bytes = 0;   ///< sum of VmRSS: pages shared between them are counted per process
    int64_t pss_bytes = 0;   ///< sum of Pss (shared pages split): what the tree really costs
    double cpu_seconds = 0;  ///< user + system time so far, all threads of all processes
};
TreeMemory MeasureTree(pid_t master);

/// One measurement window of StreamClient.
struct StreamWindow {
    int64_t events = 0;           ///< delta events received
    std::vector<int64_t> lag_us;  ///< per delta: receive time - the simulator's stamp
    double seconds = 0;
};

/// Holds many SSE streams open at once over plain sockets and one epoll loop on the calling
/// thread: POST /api/v1/writing/generate with `stream: true` and a prompt whose `stamp=1`
/// directive makes every delta the simulator's send time in µs. HTTP/1.0, so nginx sends the
/// body as is (no chunked framing) and closes at the end.
///
/// Errors counted: connect failures, a status other than 200, an `event: error`, a connection
/// closed before `event: done`.
class StreamClient {
  public:
    /// `tokens` are used round robin, one per stream. `body` is the JSON request body.
    StreamClient(int port, std::vector<std::string> tokens, std::string body);
    ~StreamClient();  ///< CloseAll()
    StreamClient(const StreamClient&) = delete;
    StreamClient& operator=(const StreamClient&) = delete;

    /// Opens streams until `target` are open, at most `per_second` new ones a second, serving
    /// the open ones meanwhile. `tick` runs about every 100 ms.
    void RampTo(size_t target, double per_second, const std::function<void()>& tick = {});
    /// Serves the open streams for `duration`.
    void RunFor(std::chrono::milliseconds duration, const std::function<void()>& tick = {});
    /// Serves the open streams while `keep_going()` is true (checked about every 100 ms).
    void RunWhile(const std::function<bool()>& keep_going, const std::function<void()>& tick = {});
    /// Hangs up every stream (the server sees the client leave).
    void CloseAll();

    /// Events since the last call (or construction), then starts a new window.
    StreamWindow TakeWindow();

    size_t open() const { return connections_.size(); }
    int64_t errors() const { return errors_; }
    int64_t completed() const { return completed_; }
    /// The first few error descriptions, for the report.
    const std::vector<std::string>& error_samples() const { return error_samples_; }

  private:
    struct Connection;
    void OpenOne();
    void Poll(int timeout_ms);
    void OnEvent(Connection& c, uint32_t events);
    void OnReadable(Connection& c);
    void ProcessLines(Connection& c, int64_t now_us);
    void Fail(Connection& c, const std::string& why);
    void Drop(Connection& c);

    int port_;
    std::vector<std::string> tokens_;
    std::string body_;
    int epoll_fd_ = -1;
    size_t next_token_ = 0;
    std::map<int, std::unique_ptr<Connection>> connections_;
    int64_t errors_ = 0;
    int64_t completed_ = 0;
    std::vector<std::string> error_samples_;
    StreamWindow window_;
    std::chrono::steady_clock::time_point window_start_;
};

}  // namespace inkstone::bench
