#pragma once
/// The text generations running on this worker (README, "Generation (Qwen)"): a slot each, so
/// one worker never runs more than its cap at once (other routes keep threads), and the stop
/// flag their generating threads check. The owner's stop (POST .../cancel) is a flag in the
/// database, because it may reach any worker on any host: the board's thread reads the flags of
/// every RUNNING generation with one indexed query twice a second, whatever the number of
/// generations, and wakes the generating thread of each one that runs here. A stop that reaches
/// the same worker wakes it at once.
///
/// Thread-safe.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace inkstone::lib::generation {

/// One generation running here, shared by its generating thread and the board.
class LiveGeneration {
  public:
    LiveGeneration();
    ~LiveGeneration();
    LiveGeneration(const LiveGeneration&) = delete;
    LiveGeneration& operator=(const LiveGeneration&) = delete;

    /// Asks the generating thread to stop: sets the flag and makes WakeFd readable.
    void Stop();
    bool stopped() const { return stopped_.load(std::memory_order_acquire); }
    /// An eventfd that becomes readable on Stop(), for the upstream call to sleep on (-1 when
    /// the process is out of descriptors: then the call's periodic checks see the flag).
    int WakeFd() const { return wake_fd_; }

  private:
    std::atomic<bool> stopped_{false};
    int wake_fd_ = -1;
};

class LiveBoard {
  public:
    /// Where the board reads the requested stops (Generations::CancelsRequested).
    using StopsSource = std::function<std::vector<int64_t>()>;

    /// `cap` text generations at once; `poll` between two reads of the requested stops.
    LiveBoard(int cap, StopsSource stops, std::chrono::milliseconds poll);
    ~LiveBoard();
    LiveBoard(const LiveBoard&) = delete;
    LiveBoard& operator=(const LiveBoard&) = delete;

    /// A place for one generation on this worker, held for the whole generation.
    class Slot {
      public:
        Slot(Slot&& other) noexcept : board_(other.board_) { other.board_ = nullptr; }
        Slot& operator=(Slot&&) = delete;
        ~Slot();

      private:
        friend class LiveBoard;
        explicit Slot(LiveBoard* board) : board_(board) {}
        LiveBoard* board_;
    };
    /// A slot, or ApiError 503 UNAVAILABLE (Retry-After 1) when `cap` generations run here.
    Slot Reserve();

    /// The generation is running here from now on: its stop flag. Unregister when it ends.
    std::shared_ptr<LiveGeneration> Register(int64_t generation_id);
    void Unregister(int64_t generation_id);
    /// Stops the generation when it runs here; false when it does not.
    bool StopLocal(int64_t generation_id);

    /// One read of the requested stops (the board's thread does this every `poll`).
    void PollStops();

    int running() const;
    int cap() const { return cap_; }

  private:
    void Loop();

    const int cap_;
    const StopsSource stops_;
    const std::chrono::milliseconds poll_;
    std::atomic<int> reserved_{0};

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool quit_ = false;
    std::unordered_map<int64_t, std::shared_ptr<LiveGeneration>> live_;
    std::thread thread_;
};

}  // namespace inkstone::lib::generation
