#pragma once
/// One Stack per test binary, for GoogleTest: started by the first test that asks for it,
/// stopped after the last test by a gtest Environment. Its temp dir is removed when every test
/// passed, and kept (path and log files printed) when any failed.
///
/// Header-only on purpose: it needs gtest, and `make run` links the harness without it.
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "tests/harness/stack.h"

namespace inkstone::testing {

/// Options whose `failed` asks gtest whether any test of this binary has failed so far; use
/// them for a Stack a test creates itself.
inline StackOptions GtestStackOptions(StackOptions options = {}) {
    options.failed = [] { return ::testing::UnitTest::GetInstance()->Failed(); };
    return options;
}

namespace internal {

class SharedStackEnvironment final : public ::testing::Environment {
  public:
    explicit SharedStackEnvironment(std::unique_ptr<Stack>* stack) : stack_(stack) {}
    // Runs after the last test; environments added during the run are torn down too.
    void TearDown() override { stack_->reset(); }

  private:
    std::unique_ptr<Stack>* stack_;
};

}  // namespace internal

/// The binary's shared stack, started on first use with `options` (later calls ignore them).
/// If starting fails, this and every later call throw the same error (the test fails at once
/// instead of retrying a broken start). Call from the main test thread.
inline Stack& SharedStack(const StackOptions& options = {}) {
    static std::unique_ptr<Stack> stack;
    static std::string start_error;
    static bool registered = false;
    if (!start_error.empty()) throw std::runtime_error(start_error);
    if (stack) return *stack;
    if (!registered) {
        // gtest owns and deletes the environment.
        ::testing::AddGlobalTestEnvironment(new internal::SharedStackEnvironment(&stack));
        registered = true;
    }
    stack = std::make_unique<Stack>(GtestStackOptions(options));
    try {
        stack->Start();
    } catch (const std::exception& e) {
        start_error = std::string("shared test stack failed to start: ") + e.what();
        stack.reset();
        throw std::runtime_error(start_error);
    }
    return *stack;
}

}  // namespace inkstone::testing
