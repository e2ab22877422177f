#pragma once
/// One DashScope simulator per test binary, for GoogleTest: started by the first test that asks
/// for it, stopped after the last test by a gtest Environment, its directory kept (with the
/// log's tail printed) when a test failed. Header-only because it needs gtest.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>

#include "tests/harness/process.h"
#include "tests/harness/simulator.h"

namespace inkstone::testing {

namespace internal {

class SharedSimulatorEnvironment final : public ::testing::Environment {
  public:
    SharedSimulatorEnvironment(std::unique_ptr<Simulator>* sim, std::string dir)
        : sim_(sim), dir_(std::move(dir)) {}
    void TearDown() override {
        const bool failed = ::testing::UnitTest::GetInstance()->Failed();
        if (*sim_ && failed) {
            std::fprintf(stderr, "[sim] kept %s; last log lines:\n%s\n", dir_.c_str(),
                         (*sim_)->LogTail(5).c_str());
        }
        sim_->reset();
        if (!failed) RemoveTree(dir_);
    }

  private:
    std::unique_ptr<Simulator>* sim_;
    std::string dir_;
};

}  // namespace internal

/// The binary's simulator, in a fresh temp dir named after `dir_prefix` (later calls ignore it).
/// Call from the main test thread (the simulator dies with the thread that started it).
inline Simulator& SharedSimulator(const std::string& dir_prefix) {
    static std::unique_ptr<Simulator> sim;
    if (sim) return *sim;
    SimulatorOptions options;
    options.dir = MakeTempDir(dir_prefix);
    // gtest owns and deletes the environment.
    ::testing::AddGlobalTestEnvironment(
        new internal::SharedSimulatorEnvironment(&sim, options.dir));
    sim = std::make_unique<Simulator>(options);
    sim->Start();
    return *sim;
}

}  // namespace inkstone::testing
