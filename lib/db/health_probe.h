#pragma once
/// A database check that answers within a deadline, for GET /health: a frozen server (SIGSTOP,
/// a stalled disk, a partition) makes a query hang for the connector's read timeout, and a
/// health check that hangs with it tells a load balancer nothing until long after the fact.
///
/// The probe owns one connection of its own (connect and read timeouts of 1 s) and one thread
/// that runs `SELECT 1` on it. Check() asks for a fresh run and waits for it up to its budget;
/// at most one run is in flight, so however many checks arrive while the server is frozen, one
/// probe thread waits on it, never a request thread per call.
///
/// Thread-safe. Construct it before request threads start (it builds a db::Pool); its thread
/// starts with the first Check().
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "lib/base/config.h"
#include "lib/db/db.h"

namespace inkstone::lib::db {

class HealthProbe {
  public:
    explicit HealthProbe(const base::DbConfig& config);
    /// Stops the thread; waits for a run in flight (at most the probe's own timeouts).
    ~HealthProbe();
    HealthProbe(const HealthProbe&) = delete;
    HealthProbe& operator=(const HealthProbe&) = delete;

    /// True when a `SELECT 1` that started no earlier than this call (or one already in flight)
    /// answered within `budget`; false when it failed or is still waiting.
    bool Check(std::chrono::milliseconds budget);

  private:
    void Loop();

    Pool pool_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::thread thread_;
    bool stop_ = false;
    bool wanted_ = false;    ///< a caller waits for a run that has not started yet
    bool running_ = false;   ///< a run is in flight
    uint64_t started_ = 0;   ///< runs started
    uint64_t finished_ = 0;  ///< runs finished
    bool last_ok_ = false;   ///< the result of run number `finished_`
};

}  // namespace inkstone::lib::db
