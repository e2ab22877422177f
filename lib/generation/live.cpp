#include "lib/generation/live.h"

#include <json/value.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <exception>

#include "lib/base/errors.h"
#include "lib/base/log.h"

namespace inkstone::lib::generation {

LiveGeneration::LiveGeneration() : wake_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

LiveGeneration::~LiveGeneration() {
    if (wake_fd_ >= 0) close(wake_fd_);
}

void LiveGeneration::Stop() {
    if (stopped_.exchange(true, std::memory_order_acq_rel)) return;
    if (wake_fd_ >= 0) {
        const uint64_t one = 1;
        // The eventfd stays readable from now on: every later wait returns at once too.
        [[maybe_unused]] const ssize_t n = write(wake_fd_, &one, sizeof one);
    }
}

LiveBoard::LiveBoard(int cap, StopsSource stops, std::chrono::milliseconds poll)
    : cap_(std::max(1, cap)), stops_(std::move(stops)), poll_(poll) {
    thread_ = std::thread([this] { Loop(); });
}

LiveBoard::~LiveBoard() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        quit_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

LiveBoard::Slot::~Slot() {
    if (board_ != nullptr) board_->reserved_.fetch_sub(1, std::memory_order_acq_rel);
}

LiveBoard::Slot LiveBoard::Reserve() {
    if (reserved_.fetch_add(1, std::memory_order_acq_rel) >= cap_) {
        reserved_.fetch_sub(1, std::memory_order_acq_rel);
        base::ApiError busy(base::ErrorCode::kUnavailable,
                            "too many generations running on this server, try again shortly");
        busy.retry_after_s = 1;
        throw busy;
    }
    return Slot(this);
}

std::shared_ptr<LiveGeneration> LiveBoard::Register(int64_t generation_id) {
    auto live = std::make_shared<LiveGeneration>();
    {
        std::lock_guard<std::mutex> lock(mutex_);
        live_[generation_id] = live;
    }
    wake_.notify_all();  // the board sleeps while nothing runs here
    return live;
}

void LiveBoard::Unregister(int64_t generation_id) {
    std::lock_guard<std::mutex> lock(mutex_);
    live_.erase(generation_id);
}

bool LiveBoard::StopLocal(int64_t generation_id) {
    std::shared_ptr<LiveGeneration> live;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto it = live_.find(generation_id);
        if (it == live_.end()) return false;
        live = it->second;
    }
    live->Stop();
    return true;
}

int LiveBoard::running() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<int>(live_.size());
}

void LiveBoard::PollStops() {
    for (const int64_t id : stops_()) StopLocal(id);
}

void LiveBoard::Loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!quit_) {
        if (live_.empty()) {
            wake_.wait(lock, [this] { return quit_ || !live_.empty(); });
            continue;
        }
        wake_.wait_for(lock, poll_, [this] { return quit_; });
        if (quit_ || live_.empty()) continue;
        lock.unlock();
        try {
            PollStops();
        } catch (const std::exception& e) {
            // The database is away: stops wait for the next read (the generating thread's own
            // flushes see them too).
            base::Log(base::LogLevel::kWarn, "generation.stop_poll_failed", Json::Value(e.what()));
        }
        lock.lock();
    }
}

}  // namespace inkstone::lib::generation
