#include "lib/db/health_probe.h"

namespace inkstone::lib::db {
HealthProbe::~HealthProbe() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

bool HealthProbe::Check(std::chrono::milliseconds budget) {
    const auto deadline = std::chrono::steady_clock::now() + budget;
    std::unique_lock<std::mutex> lock(mu_);
    if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
    // The run to wait for: the one in flight, else the next one.
    const uint64_t target = running_ ? started_ : started_ + 1;
    if (!running_) {
        wanted_ = true;
        cv_.notify_all();
    }
    if (!cv_.wait_until(lock, deadline, [&] { return finished_ >= target || stop_; })) {
        return false;
    }
    return finished_ >= target && last_ok_;
}

void HealthProbe::Loop() {
    Pool::ThreadInit();
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
        cv_.wait(lock, [this] { return wanted_ || stop_; });
        if (stop_) break;
        wanted_ = false;
        running_ = true;
        ++started_;
        lock.unlock();
        const bool ok = pool_.Ping();
        lock.lock();
        running_ = false;
        last_ok_ = ok;
        ++finished_;
        cv_.notify_all();
    }
    lock.unlock();
    Pool::ThreadEnd();
}

}  // namespace inkstone::lib::db
