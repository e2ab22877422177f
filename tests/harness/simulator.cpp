#include "tests/harness/simulator.h"

#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "tests/harness/process_tree.h"

namespace inkstone::testing {

Simulator::Simulator(SimulatorOptions options) : options_(std::move(options)) {
    if (options_.dir.empty() || options_.dir[0] != '/') {
        throw std::invalid_argument("Simulator: dir must be an absolute path: " + options_.dir);
    }
    auto_port_ = options_.port == 0;
}

Simulator::~Simulator() {
    try {
        Stop();
    } catch (...) {
        // A destructor must not throw; Process::Stop already escalated to SIGKILL.
    }
}

std::string Simulator::base_url() const {
    return "http://127.0.0.1:" + std::to_string(options_.port) + "/api/v1";
}

void Simulator::Start(std::chrono::milliseconds timeout) {
    // As for nginx: a free port found a moment ago may be taken by a parallel test binary.
    for (int attempt = 1;; ++attempt) {
        if (auto_port_) options_.port = FreePort();
        try {
            StartOnce(timeout);
            return;
        } catch (const std::runtime_error& e) {
            const bool taken = std::strstr(e.what(), "Address already in use") != nullptr;
            if (!auto_port_ || !taken || attempt == 3) throw;
        }
    }
}

void Simulator::StartOnce(std::chrono::milliseconds timeout) {
    if (running()) throw std::logic_error("Simulator::Start: already running");
    std::error_code ec;
    std::filesystem::create_directories(options_.dir, ec);
    if (ec) throw std::system_error(ec, "mkdir " + options_.dir);
    const std::string binary = options_.binary_dir + "/tests/dashscope-sim";
    const std::string ready =
        "listening on http://127.0.0.1:" + std::to_string(options_.port) + "\n";
    const size_t log_start = ReadFile(stdout_log()).size();
    // setsid: a terminal's Ctrl-C goes to `make run`'s driver only, which stops it in order.
    process_ = std::make_unique<Process>(
        std::vector<std::string>{"setsid", binary, "--port", std::to_string(options_.port),
                                 "--api-key", options_.api_key, "--log", log_path()},
        stdout_log());
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        // The line is printed after listen(), by this process: unlike a bare port probe it
        // cannot be fooled by someone else listening there.
        if (ReadFile(stdout_log()).find(ready, log_start) != std::string::npos) return;
        if (!process_->running()) {
            throw std::runtime_error("dashscope-sim exited during startup:\n" + LogTail());
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            process_->Stop(std::chrono::milliseconds(500));
            throw std::runtime_error("dashscope-sim did not listen on 127.0.0.1:" +
                                     std::to_string(options_.port) + ":\n" + LogTail());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

void Simulator::Stop(std::chrono::milliseconds grace) {
    if (process_) process_->Stop(grace);
}

bool Simulator::running() { return process_ && process_->running(); }

std::string Simulator::LogTail(size_t lines) const {
    return "--- " + stdout_log() + "\n" + TailFile(stdout_log(), lines) + "--- " + log_path() +
           "\n" + TailFile(log_path(), lines);
}

SimulatorStats Simulator::Stats() const {
    const HttpResponse r = client(std::chrono::seconds(5)).Get("/_sim/stats");
    if (r.status != 200) {
        throw std::runtime_error("dashscope-sim /_sim/stats: HTTP " + std::to_string(r.status) +
                                 " " + r.error + " " + r.body);
    }
    const Json::Value body = r.JsonBody();
    SimulatorStats stats;
    stats.requests = body["requests"].asInt64();
    stats.active_streams = body["active_streams"].asInt64();
    stats.aborted_streams = body["aborted_streams"].asInt64();
    stats.completed_streams = body["completed_streams"].asInt64();
    stats.peak_active_streams = body["peak_active_streams"].asInt64();
    stats.connections = body["connections"].asInt64();
    return stats;
}

void Simulator::ResetStats() const {
    const HttpResponse r = client(std::chrono::seconds(5)).Request("POST", "/_sim/reset");
    if (r.status != 200) {
        throw std::runtime_error("dashscope-sim /_sim/reset: HTTP " + std::to_string(r.status) +
                                 " " + r.error);
    }
}

}  // namespace inkstone::testing
