#pragma once
/// The text generations running on this worker (README, "Generation (Qwen)"): a slot each, so
/// one worker never runs more than its cap at once (other routes keep threads), the text each
/// has received, and its stop flag.
///
/// The board's thread does the database work of every generation running here, a tick every
/// `tick` (250 ms):
/// - it stores what arrived: a stream's first delta at the next tick, then each generation's
///   new text at most `flush_every` late (or after `flush_deltas` deltas), and with nothing new a
///   heartbeat every `heartbeat_every`. All of one tick's writes go in one transaction on one
///   connection, so a thousand streams cost one commit (one log flush) a tick, not a thousand,
///   and the request threads' connections stay free;
/// - it reads the stops: the owner's stop (POST .../cancel) is a flag in the row, because it may
///   reach any worker on any host; one indexed query a tick reads the stops of every RUNNING
///   generation, and the board wakes the generating thread of each one running here (a stop
///   that reaches this worker wakes it at once). A write that finds the row stopped or finished
///   stops it too.
///
/// Thread-safe.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace inkstone::lib::generation {

/// New text of one generation, appended to its row with a heartbeat.
struct ProgressFlush {
    int64_t generation_id = 0;
    std::string text;
    std::string delta_ends;  ///< the new deltas' ends, "12,20," (offsets in the whole text)
    int64_t deltas = 0;      ///< the stored count after this flush
};

struct LiveTiming {
    std::chrono::milliseconds tick{250};
    std::chrono::milliseconds flush_every{1000};
    int flush_deltas = 64;
    std::chrono::milliseconds heartbeat_every{5000};
};

/// One generation running here, shared by its generating thread and the board.
class LiveGeneration {
  public:
    LiveGeneration(int64_t generation_id, bool stream);
    ~LiveGeneration();
    LiveGeneration(const LiveGeneration&) = delete;
    LiveGeneration& operator=(const LiveGeneration&) = delete;

    /// The generating thread's next delta; returns its number (1, 2, ...).
    int64_t Append(std::string_view text);
    /// Everything received so far: the text, its delta ends ("5,12,") and count.
    void Received(std::string* text, std::string* ends, int64_t* deltas) const;

    /// Asks the generating thread to stop: sets the flag and makes WakeFd readable.
    void Stop();
    bool stopped() const { return stopped_.load(std::memory_order_acquire); }
    /// An eventfd that becomes readable on Stop(), for the upstream call to sleep on (-1 when
    /// the process is out of descriptors: then the call's periodic checks see the flag).
    int WakeFd() const { return wake_fd_; }

  private:
    friend class LiveBoard;
    using SteadyClock = std::chrono::steady_clock;
    /// The board's side: the flush due now, if any (marks it taken).
    bool TakeDue(const LiveTiming& timing, SteadyClock::time_point now, ProgressFlush* flush);
    /// The board's side: the flush taken last was written (or not).
    void Written(bool ok, SteadyClock::time_point at);

    const int64_t id_;
    const bool stream_;
    std::atomic<bool> stopped_{false};
    int wake_fd_ = -1;

    mutable std::mutex mutex_;
    std::string text_;
    std::string ends_;
    int64_t deltas_ = 0;
    size_t stored_bytes_ = 0, stored_ends_ = 0;  // what the row holds
    int64_t stored_deltas_ = 0;
    size_t taken_bytes_ = 0, taken_ends_ = 0;  // what the write in flight will hold
    int64_t taken_deltas_ = 0;
    SteadyClock::time_point last_write_;
};

class LiveBoard {
  public:
    /// Writes one tick's flushes in one transaction; for each, whether the row took it (false:
    /// stopped or finished meanwhile). Throws when the transaction failed (retried next tick).
    using ProgressWriter = std::function<std::vector<bool>(const std::vector<ProgressFlush>&)>;
    /// Reads the requested stops (Generations::CancelsRequested).
    using StopsSource = std::function<std::vector<int64_t>()>;

    /// `cap` text generations at once.
    LiveBoard(int cap, LiveTiming timing, ProgressWriter write, StopsSource stops);
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

    /// The generation runs here from now on (its row is RUNNING). Unregister when its call
    /// ended, before its finish is written.
    std::shared_ptr<LiveGeneration> Register(int64_t generation_id, bool stream);
    void Unregister(int64_t generation_id);
    /// Stops the generation when it runs here; false when it does not.
    bool StopLocal(int64_t generation_id);

    /// One tick: the due flushes, then the requested stops (the board's thread does this
    /// every `tick`; public for tests).
    void Tick();

    int running() const;
    int cap() const { return cap_; }

  private:
    void Loop();
    std::vector<std::shared_ptr<LiveGeneration>> Snapshot() const;

    const int cap_;
    const LiveTiming timing_;
    const ProgressWriter write_;
    const StopsSource stops_;
    std::atomic<int> reserved_{0};

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool quit_ = false;
    std::unordered_map<int64_t, std::shared_ptr<LiveGeneration>> live_;
    std::mutex tick_mutex_;  // one tick at a time (the thread's, a test's)
    std::thread thread_;
};

}  // namespace inkstone::lib::generation
