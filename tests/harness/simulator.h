#pragma once
/// The DashScope simulator (`<build>/tests/dashscope-sim`, README "DashScope simulator") as a child
/// process, for the tests and `make run`, plus its `/_sim/stats` counters.
///
/// Layout under `dir`: sim.log (one JSON line per request), stdout.log (its own output).
///
/// Not thread-safe: start and stop from one thread (see Process on PR_SET_PDEATHSIG); Stats()
/// and ResetStats() may be called from any thread.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "tests/harness/http_client.h"
#include "tests/harness/process.h"

namespace inkstone::testing {

/// The key the simulator accepts unless told otherwise.
inline constexpr const char* kSimulatorApiKey = "sk-inkstone-sim";

struct SimulatorOptions {
    std::string dir;  ///< absolute; created if missing
    int port = 0;     ///< 127.0.0.1:port; 0 = a free port chosen at Start()
    std::string api_key = kSimulatorApiKey;
    std::string binary_dir = INKSTONE_BINARY_DIR;  ///< holds tests/dashscope-sim
};

/// `GET /_sim/stats`.
struct SimulatorStats {
    int64_t requests = 0;         ///< generation/task API calls that passed auth
    int64_t active_streams = 0;   ///< SSE streams open now
    int64_t aborted_streams = 0;  ///< streams whose client hung up before the end
    int64_t completed_streams = 0;
    int64_t peak_active_streams = 0;
    int64_t connections = 0;  ///< open TCP connections (the stats request's own included)
};

class Simulator {
  public:
    explicit Simulator(SimulatorOptions options);
    ~Simulator();  ///< Stop()
    Simulator(const Simulator&) = delete;
    Simulator& operator=(const Simulator&) = delete;

    /// Starts it and waits until it listens. A port chosen here that someone took meanwhile is
    /// retried on another one (read port() afterwards). Throws std::runtime_error with its
    /// output when it exits or is not ready within `timeout`.
    void Start(std::chrono::milliseconds timeout = std::chrono::seconds(15));
    /// SIGTERM, then SIGKILL after `grace`. No-op when not running.
    void Stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
    bool running();

    int port() const { return options_.port; }
    /// What inkstone's `qwen.base_url` should be: "http://127.0.0.1:PORT/api/v1".
    std::string base_url() const;
    const std::string& api_key() const { return options_.api_key; }
    pid_t pid() const { return process_ ? process_->pid() : -1; }
    std::string log_path() const { return options_.dir + "/sim.log"; }
    std::string stdout_log() const { return options_.dir + "/stdout.log"; }
    std::string LogTail(size_t lines = 30) const;

    /// The counters. Throws std::runtime_error when the simulator does not answer.
    SimulatorStats Stats() const;
    /// `POST /_sim/reset`: requests, aborted and completed back to 0.
    void ResetStats() const;
    /// A client for the simulator itself (paths start with /api/v1/ or /_sim/).
    HttpClient client(std::chrono::milliseconds timeout = std::chrono::seconds(30)) const {
        return HttpClient(options_.port, timeout);
    }

  private:
    void StartOnce(std::chrono::milliseconds timeout);

    SimulatorOptions options_;
    bool auto_port_ = false;
    std::unique_ptr<Process> process_;
};

}  // namespace inkstone::testing
