#pragma once
/// A database check that answers within a deadline, for GET /health: a frozen server (SIGSTOP,
/// a stalled disk, a partition) makes a query hang for the connector's read timeout, and a
/// health check that hangs with it tells a load balancer nothing until long after the fact.
///
/// The probe has one thread that runs Pool::Ping (`SELECT 1` on a pooled connection, so a
/// connection the server dropped is found and replaced, as requests need). Check() asks for a
/// fresh run and waits for it up to its budget; at most one run is in flight, so however many
/// checks arrive while the server is frozen, one probe thread (and one connection) waits on
/// it, never a request thread per call. When the server thaws, the run in flight answers at
/// once.
///
/// Thread-safe. Its thread starts with the first Check().
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "lib/db/db.h"

namespace inkstone::lib::db {

class HealthProbe {
  public:
    /// `pool` must outlive the probe.
    explicit HealthProbe(Pool& pool) : pool_(pool) {}
    /// Stops the thread; waits for a run in flight (at most the probe's own timeouts).
    ~HealthProbe();
    HealthProbe(const HealthProbe&) = delete;
    HealthProbe& operator=(const HealthProbe&) = delete;

    /// True when a `SELECT 1` that started no earlier than this call (or one already in flight)
    /// answered within `budget`; false when it failed or is still waiting.
    bool Check(std::chrono::milliseconds budget);

  private:
    void Loop();

    Pool& pool_;
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
