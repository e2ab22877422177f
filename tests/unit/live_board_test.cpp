// The generations running on one worker (lib/generation/live.h): the cap refuses before
// anything else happens, a stop reaches a generation running here (flag and eventfd), and the
// board's thread applies the stops the database reports.
#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "lib/base/errors.h"
#include "lib/generation/live.h"

namespace inkstone::lib::generation {
namespace {

using namespace std::chrono_literals;

LiveTiming Ticks(std::chrono::milliseconds tick) {
    LiveTiming timing;
    timing.tick = tick;
    return timing;
}

std::vector<bool> NoWrites(const std::vector<ProgressFlush>& flushes) {
    return std::vector<bool>(flushes.size(), true);
}

bool Readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, 0) == 1;
}

TEST(LiveBoard, TheCapRefusesWith503AndASlotComesBack) {
    LiveBoard board(2, Ticks(1000ms), NoWrites, [] { return std::vector<int64_t>{}; });
    {
        LiveBoard::Slot a = board.Reserve();
        LiveBoard::Slot b = board.Reserve();
        try {
            board.Reserve();
            FAIL() << "a third slot was given";
        } catch (const base::ApiError& e) {
            EXPECT_EQ(e.code, base::ErrorCode::kUnavailable);
            EXPECT_EQ(e.retry_after_s, 1);
        }
    }
    // Both released: two more fit.
    LiveBoard::Slot c = board.Reserve();
    LiveBoard::Slot d = board.Reserve();
    SUCCEED();
}

TEST(LiveBoard, ALocalStopSetsTheFlagAndWakesTheCall) {
    LiveBoard board(4, Ticks(1000ms), NoWrites, [] { return std::vector<int64_t>{}; });
    auto live = board.Register(7, true);
    EXPECT_EQ(board.running(), 1);
    EXPECT_FALSE(live->stopped());
    ASSERT_GE(live->WakeFd(), 0);
    EXPECT_FALSE(Readable(live->WakeFd()));
    EXPECT_FALSE(board.StopLocal(8));  // not running here
    EXPECT_TRUE(board.StopLocal(7));
    EXPECT_TRUE(live->stopped());
    EXPECT_TRUE(Readable(live->WakeFd()));
    board.Unregister(7);
    EXPECT_EQ(board.running(), 0);
    EXPECT_FALSE(board.StopLocal(7));
}

TEST(LiveBoard, TheBoardAppliesTheStopsTheDatabaseReports) {
    std::mutex mu;
    std::vector<int64_t> requested;
    std::atomic<int> reads{0};
    LiveBoard board(4, Ticks(20ms), NoWrites, [&] {
        ++reads;
        std::lock_guard<std::mutex> lock(mu);
        return requested;
    });
    // Nothing runs here: the board does not read at all.
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(reads.load(), 0);

    auto mine = board.Register(1, true);
    auto other = board.Register(2, true);
    {
        std::lock_guard<std::mutex> lock(mu);
        requested = {2, 99};  // 99 runs on another worker
    }
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    while (!other->stopped() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(5ms);
    }
    EXPECT_TRUE(other->stopped());
    EXPECT_FALSE(mine->stopped());
    EXPECT_GT(reads.load(), 0);
}

TEST(LiveBoard, AFailingReadIsRetriedNotFatal) {
    std::atomic<int> reads{0};
    LiveBoard board(4, Ticks(10ms), NoWrites, [&]() -> std::vector<int64_t> {
        if (++reads < 3) throw std::runtime_error("database away");
        return {5};
    });
    auto live = board.Register(5, true);
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    while (!live->stopped() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(5ms);
    }
    EXPECT_TRUE(live->stopped());
    EXPECT_GE(reads.load(), 3);
}

TEST(LiveBoard, OneWriteATickCarriesEveryDueFlush) {
    std::mutex mu;
    std::vector<std::vector<ProgressFlush>> writes;
    LiveTiming timing;
    timing.tick = 1h;  // the test ticks
    timing.flush_every = 0ms;
    LiveBoard board(
        4, timing,
        [&](const std::vector<ProgressFlush>& flushes) {
            std::lock_guard<std::mutex> lock(mu);
            writes.push_back(flushes);
            std::vector<bool> kept(flushes.size(), true);
            for (size_t i = 0; i < flushes.size(); ++i) {
                if (flushes[i].generation_id == 3) kept[i] = false;  // finished elsewhere
            }
            return kept;
        },
        [] { return std::vector<int64_t>{}; });
    auto a = board.Register(1, true);
    auto b = board.Register(2, false);
    auto c = board.Register(3, true);
    EXPECT_EQ(a->Append("春眠"), 1);
    EXPECT_EQ(a->Append("不觉晓"), 2);
    b->Append("x");
    c->Append("y");
    board.Tick();
    ASSERT_EQ(writes.size(), 1u);
    ASSERT_EQ(writes[0].size(), 3u);
    for (const ProgressFlush& f : writes[0]) {
        if (f.generation_id != 1) continue;
        EXPECT_EQ(f.text, "春眠不觉晓");
        EXPECT_EQ(f.delta_ends, "6,15,");
        EXPECT_EQ(f.deltas, 2);
    }
    EXPECT_TRUE(c->stopped()) << "a row that took no write stops its generation";
    EXPECT_FALSE(a->stopped());
    // The next flush carries only what arrived since, with ends in the whole text.
    a->Append("处处");
    board.Tick();
    ASSERT_EQ(writes.size(), 2u);
    bool seen = false;
    for (const ProgressFlush& f : writes[1]) {
        if (f.generation_id != 1) continue;
        seen = true;
        EXPECT_EQ(f.text, "处处");
        EXPECT_EQ(f.delta_ends, "21,");
        EXPECT_EQ(f.deltas, 3);
    }
    EXPECT_TRUE(seen);
    std::string text, ends;
    int64_t deltas = 0;
    a->Received(&text, &ends, &deltas);
    EXPECT_EQ(text, "春眠不觉晓处处");
    EXPECT_EQ(ends, "6,15,21,");
    EXPECT_EQ(deltas, 3);
}

TEST(LiveBoard, AFailedWriteIsResentWhole) {
    int calls = 0;
    std::vector<ProgressFlush> last;
    LiveTiming timing;
    timing.tick = 1h;
    timing.flush_every = 0ms;
    timing.heartbeat_every = 0ms;
    LiveBoard board(
        2, timing,
        [&](const std::vector<ProgressFlush>& flushes) -> std::vector<bool> {
            last = flushes;
            if (++calls == 1) throw std::runtime_error("database away");
            return std::vector<bool>(flushes.size(), true);
        },
        [] { return std::vector<int64_t>{}; });
    auto a = board.Register(1, true);
    a->Append("one");
    board.Tick();
    a->Append("two");
    board.Tick();
    ASSERT_EQ(last.size(), 1u);
    EXPECT_EQ(last[0].text, "onetwo");
    EXPECT_EQ(last[0].delta_ends, "3,6,");
}

}  // namespace
}  // namespace inkstone::lib::generation
