#include "lib/base/jobs.h"

#include <sodium.h>

#include <algorithm>
#include <map>

#include "lib/base/log.h"
#include "lib/base/metrics.h"

namespace inkstone::lib::base {

void JobRunner::Start(std::function<void()> thread_init, std::function<void()> thread_end) {
    if (jobs_.empty() || !threads_.empty()) return;
    thread_init_ = std::move(thread_init);
    thread_end_ = std::move(thread_end);
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = false;
    }
    std::map<std::string, std::vector<size_t>> lanes;
    for (size_t i = 0; i < jobs_.size(); ++i) lanes[jobs_[i].lane].push_back(i);
    for (auto& [name, lane] : lanes) {
        threads_.emplace_back(
            [this, indices = std::move(lane)]() mutable { Loop(std::move(indices)); });
    }
}

void JobRunner::Stop() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    for (std::thread& thread : threads_) {
        if (thread.joinable()) thread.join();
    }
    threads_.clear();
}

void JobRunner::RunAllOnce() {
    for (const Job& job : jobs_) RunOne(job);
}

void JobRunner::RunOne(const Job& job) {
    const auto started = std::chrono::steady_clock::now();
    const char* outcome = "ok";
    try {
        job.run();
    } catch (const std::exception& e) {
        outcome = "failed";
        Json::Value f;
        f["job"] = job.name;
        f["error"] = e.what();
        Log(LogLevel::kError, "job_failed", f);
    } catch (...) {
        outcome = "failed";
        Log(LogLevel::kError, "job_failed", Json::Value(job.name));
    }
    metrics::Count("inkstone_job_runs_total", {{"job", job.name}, {"outcome", outcome}});
    metrics::Observe(
        "inkstone_job_duration_seconds", {{"job", job.name}},
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

void JobRunner::Loop(std::vector<size_t> lane) {
    if (thread_init_) thread_init_();
    using Clock = std::chrono::steady_clock;
    std::vector<Clock::time_point> next(lane.size());
    for (size_t i = 0; i < lane.size(); ++i) {
        auto span = static_cast<uint32_t>(std::max<int64_t>(1, jobs_[lane[i]].interval.count()));
        next[i] = Clock::now() + std::chrono::milliseconds(randombytes_uniform(span));
    }
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
        auto wake = *std::min_element(next.begin(), next.end());
        cv_.wait_until(lock, wake, [this] { return stop_; });
        if (stop_) break;
        for (size_t i = 0; i < lane.size(); ++i) {
            if (Clock::now() < next[i]) continue;
            lock.unlock();
            RunOne(jobs_[lane[i]]);
            lock.lock();
            next[i] = Clock::now() + jobs_[lane[i]].interval;
            if (stop_) break;
        }
    }
    lock.unlock();
    if (thread_end_) thread_end_();
}

int RunBatches(const BatchBudget& budget, int64_t batch_size,
               const std::function<int64_t()>& batch) {
    const auto deadline = std::chrono::steady_clock::now() + budget.max_time;
    int batches = 0;
    while (batches < budget.max_batches) {
        ++batches;
        if (batch() < batch_size || std::chrono::steady_clock::now() >= deadline) break;
    }
    return batches;
}

}  // namespace inkstone::lib::base
