#include "lib/generation/live.h"

#include <json/value.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <exception>

#include "lib/base/errors.h"
#include "lib/base/log.h"

namespace inkstone::lib::generation {

LiveGeneration::LiveGeneration(int64_t generation_id, bool stream)
    : id_(generation_id),
      stream_(stream),
      wake_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      last_write_(SteadyClock::now()) {}

LiveGeneration::~LiveGeneration() {
    if (wake_fd_ >= 0) close(wake_fd_);
}

int64_t LiveGeneration::Append(std::string_view text) {
    std::lock_guard<std::mutex> lock(mutex_);
    text_.append(text);
    ends_ += std::to_string(text_.size());
    ends_ += ',';
    return ++deltas_;
}

void LiveGeneration::Received(std::string* text, std::string* ends, int64_t* deltas) const {
    std::lock_guard<std::mutex> lock(mutex_);
    *text = text_;
    *ends = ends_;
    *deltas = deltas_;
}

void LiveGeneration::Stop() {
    if (stopped_.exchange(true, std::memory_order_acq_rel)) return;
    if (wake_fd_ >= 0) {
        const uint64_t one = 1;
        // The eventfd stays readable from now on: every later wait returns at once too.
        [[maybe_unused]] const ssize_t n = write(wake_fd_, &one, sizeof one);
    }
}

bool LiveGeneration::TakeDue(const LiveTiming& timing, SteadyClock::time_point now,
                             ProgressFlush* flush) {
    std::lock_guard<std::mutex> lock(mutex_);
    const int64_t pending = deltas_ - stored_deltas_;
    const auto since = now - last_write_;
    // A stream's first delta goes out at the next tick: a reattach shows it, and a stop after
    // it is charged on every worker's evidence.
    const bool due =
        (stream_ && stored_deltas_ == 0 && pending > 0) || since >= timing.heartbeat_every ||
        (pending > 0 && (since >= timing.flush_every || pending >= timing.flush_deltas));
    if (!due) return false;
    flush->generation_id = id_;
    flush->text = text_.substr(stored_bytes_);
    flush->delta_ends = ends_.substr(stored_ends_);
    flush->deltas = deltas_;
    taken_bytes_ = text_.size();
    taken_ends_ = ends_.size();
    taken_deltas_ = deltas_;
    return true;
}

void LiveGeneration::Written(bool ok, SteadyClock::time_point at) {
    std::lock_guard<std::mutex> lock(mutex_);
    // Written or not, wait a full interval before the next try (a database that is away is
    // not asked again every tick).
    last_write_ = at;
    if (!ok) return;
    stored_bytes_ = taken_bytes_;
    stored_ends_ = taken_ends_;
    stored_deltas_ = taken_deltas_;
}

LiveBoard::LiveBoard(int cap, LiveTiming timing, ProgressWriter write, StopsSource stops)
    : cap_(std::max(1, cap)), timing_(timing), write_(std::move(write)), stops_(std::move(stops)) {
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

std::shared_ptr<LiveGeneration> LiveBoard::Register(int64_t generation_id, bool stream) {
    auto live = std::make_shared<LiveGeneration>(generation_id, stream);
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

std::vector<std::shared_ptr<LiveGeneration>> LiveBoard::Snapshot() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::shared_ptr<LiveGeneration>> out;
    out.reserve(live_.size());
    for (const auto& [id, live] : live_) out.push_back(live);
    // A tick's transaction locks its rows in id order, as any other multi-row writer would.
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a->id_ < b->id_; });
    return out;
}

void LiveBoard::Tick() {
    std::lock_guard<std::mutex> one_at_a_time(tick_mutex_);
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::shared_ptr<LiveGeneration>> taken;
    std::vector<ProgressFlush> flushes;
    for (const std::shared_ptr<LiveGeneration>& live : Snapshot()) {
        ProgressFlush flush;
        if (live->stopped() || !live->TakeDue(timing_, now, &flush)) continue;
        taken.push_back(live);
        flushes.push_back(std::move(flush));
    }
    if (!flushes.empty()) {
        std::vector<bool> kept;
        try {
            kept = write_(flushes);
        } catch (const std::exception& e) {
            // The database is away: the text waits for a later tick (the finish writes all of
            // it anyway; a heartbeat that stays stale is recovery's business).
            base::Log(base::LogLevel::kWarn, "generation.flush_failed", Json::Value(e.what()));
        }
        const bool ok = kept.size() == flushes.size();
        for (size_t i = 0; i < taken.size(); ++i) {
            taken[i]->Written(ok, now);
            if (ok && !kept[i]) taken[i]->Stop();  // stopped or finished by someone else
        }
    }
    try {
        for (const int64_t id : stops_()) StopLocal(id);
    } catch (const std::exception& e) {
        base::Log(base::LogLevel::kWarn, "generation.stop_poll_failed", Json::Value(e.what()));
    }
}

void LiveBoard::Loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!quit_) {
        if (live_.empty()) {
            wake_.wait(lock, [this] { return quit_ || !live_.empty(); });
            continue;
        }
        wake_.wait_for(lock, timing_.tick, [this] { return quit_; });
        if (quit_ || live_.empty()) continue;
        lock.unlock();
        Tick();
        lock.lock();
    }
}

}  // namespace inkstone::lib::generation
