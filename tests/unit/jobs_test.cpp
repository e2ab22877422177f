#include "lib/base/jobs.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

namespace inkstone::lib {
using namespace inkstone::lib::base;
namespace {

using namespace std::chrono_literals;

TEST(RunBatchesTest, StopsAtAShortBatchTheBatchCapOrTheTimeBudget) {
    int calls = 0;
    // A backlog of 2.5 batches: three calls, the last one short.
    int64_t backlog = 250;
    auto take = [&] {
        ++calls;
        const int64_t n = std::min<int64_t>(100, backlog);
        backlog -= n;
        return n;
    };
    EXPECT_EQ(RunBatches({10, std::chrono::seconds(10)}, 100, take), 3);
    EXPECT_EQ(backlog, 0);
    // An endless backlog: the batch cap ends the run.
    calls = 0;
    EXPECT_EQ(RunBatches({4, std::chrono::seconds(10)}, 100,
                         [&] {
                             ++calls;
                             return 100;
                         }),
              4);
    EXPECT_EQ(calls, 4);
    // A slow batch: the time budget ends the run after the batch that crossed it.
    calls = 0;
    EXPECT_EQ(RunBatches({1000, std::chrono::milliseconds(30)}, 100,
                         [&] {
                             ++calls;
                             std::this_thread::sleep_for(std::chrono::milliseconds(20));
                             return 100;
                         }),
              2);
}

TEST(JobRunner, RunsEachJobRepeatedlyAndSurvivesExceptions) {
    std::atomic<int> good{0};
    std::atomic<int> bad{0};
    std::atomic<int> inits{0};
    JobRunner runner({
        {"good", 20ms, [&] { good++; }},
        {"bad", 20ms,
         [&] {
             bad++;
             throw std::runtime_error("job failure is logged, not fatal");
         }},
    });
    runner.Start([&] { inits++; }, [&] { inits++; });
    std::this_thread::sleep_for(300ms);
    runner.Stop();
    EXPECT_GE(good.load(), 5);
    EXPECT_GE(bad.load(), 5);
    EXPECT_EQ(inits.load(), 2);  // thread init and end, once each
    int after = good.load();
    std::this_thread::sleep_for(60ms);
    EXPECT_EQ(good.load(), after);  // stopped means stopped
}

TEST(JobRunner, StopIsPromptWithLongIntervals) {
    std::atomic<int> runs{0};
    JobRunner runner({{"hourly", std::chrono::hours(1), [&] { runs++; }}});
    runner.Start();
    auto t0 = std::chrono::steady_clock::now();
    runner.Stop();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
    runner.Stop();  // idempotent
    runner.RunAllOnce();
    EXPECT_GE(runs.load(), 1);
}

// A job that waits on someone else (reconciliation asking a provider) runs on its own lane:
// the jobs of the default lane (generation recovery, image polling) keep their pace meanwhile.
TEST(JobRunner, ASlowLaneNeverDelaysAnotherLane) {
    std::atomic<int> quick{0};
    std::atomic<int> slow{0};
    std::atomic<int> inits{0};
    JobRunner runner({
        {"quick", 10ms, [&] { quick++; }},
        {"provider", 1ms,
         [&] {
             slow++;
             std::this_thread::sleep_for(600ms);
         },
         "payments"},
    });
    runner.Start([&] { inits++; }, [&] { inits++; });
    std::this_thread::sleep_for(400ms);
    // In 400 ms the quick job ran many times although the slow one holds its thread throughout.
    EXPECT_GE(quick.load(), 10);
    EXPECT_EQ(slow.load(), 1);
    runner.Stop();
    EXPECT_EQ(inits.load(), 4);  // each lane's thread was initialised and ended
}

}  // namespace
}  // namespace inkstone::lib
