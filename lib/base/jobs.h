#pragma once
/// Periodic background jobs (order expiry, refund recovery, purges), run by every worker
/// process on threads of their own: one per lane (Job::lane), so a job that waits on someone
/// else (reconciliation asks the payment providers) never delays the jobs of another lane
/// (generation recovery, image polling). A job must be safe to run on every worker of every host
/// at the same moment: jobs coordinate only through the database (row locks, conditional
/// UPDATEs, unique keys), never through process memory, and never with GET_LOCK.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace inkstone::lib::base {

/// Bounds one run of a job that works in batches (purges, expiry, recovery): it stops after
/// `max_batches` batches or once `max_time` has passed, whichever comes first, and the next run
/// picks up the rest. So one run never holds the job thread for long, whatever the backlog.
struct BatchBudget {
    int max_batches;
    std::chrono::milliseconds max_time;
};

/// Calls `batch()`, which handles at most `batch_size` rows and returns how many it handled,
/// again while it returns a full batch and the budget lasts. Returns the batches run.
int RunBatches(const BatchBudget& budget, int64_t batch_size,
               const std::function<int64_t()>& batch);

struct Job {
    Job(std::string job_name, std::chrono::milliseconds every, std::function<void()> body,
        std::string job_lane = {})
        : name(std::move(job_name)),
          interval(every),
          run(std::move(body)),
          lane(std::move(job_lane)) {}

    std::string name;
    std::chrono::milliseconds interval;
    std::function<void()> run;  ///< exceptions are logged, never fatal
    /// Jobs of one lane run one after another on one thread; each lane has its own. "" is the
    /// default lane.
    std::string lane;
};

class JobRunner {
  public:
    explicit JobRunner(std::vector<Job> jobs) : jobs_(std::move(jobs)) {}
    ~JobRunner() { Stop(); }
    JobRunner(const JobRunner&) = delete;
    JobRunner& operator=(const JobRunner&) = delete;

    /// Starts one thread per lane. Each job first runs after a random part of its interval, so
    /// workers started together do not run in lockstep. `thread_init`/`thread_end` wrap each
    /// thread (db::Pool::ThreadInit/ThreadEnd).
    void Start(std::function<void()> thread_init = {}, std::function<void()> thread_end = {});
    /// Stops and joins every lane; a job that is running finishes first. Idempotent.
    void Stop();
    /// Runs every job once now, on the calling thread (tests, `inkstone-admin run-jobs`).
    void RunAllOnce();

  private:
    void Loop(std::vector<size_t> lane);
    void RunOne(const Job& job);

    std::vector<Job> jobs_;
    std::vector<std::thread> threads_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::function<void()> thread_init_;
    std::function<void()> thread_end_;
};

}  // namespace inkstone::lib::base
