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

bool Readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, 0) == 1;
}

TEST(LiveBoard, TheCapRefusesWith503AndASlotComesBack) {
    LiveBoard board(
        2, [] { return std::vector<int64_t>{}; }, 1000ms);
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
    LiveBoard board(
        4, [] { return std::vector<int64_t>{}; }, 1000ms);
    auto live = board.Register(7);
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
    LiveBoard board(
        4,
        [&] {
            ++reads;
            std::lock_guard<std::mutex> lock(mu);
            return requested;
        },
        20ms);
    // Nothing runs here: the board does not read at all.
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(reads.load(), 0);

    auto mine = board.Register(1);
    auto other = board.Register(2);
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
    LiveBoard board(
        4,
        [&]() -> std::vector<int64_t> {
            if (++reads < 3) throw std::runtime_error("database away");
            return {5};
        },
        10ms);
    auto live = board.Register(5);
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    while (!live->stopped() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(5ms);
    }
    EXPECT_TRUE(live->stopped());
    EXPECT_GE(reads.load(), 3);
}

}  // namespace
}  // namespace inkstone::lib::generation
