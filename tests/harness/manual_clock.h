#pragma once
/// A lib::Clock that stands still until a test moves it, for expiry and calendar tests.
/// Thread-safe.
#include <atomic>
#include <chrono>

#include "lib/clock.h"

namespace inkstone::testing {

class ManualClock final : public lib::Clock {
  public:
    explicit ManualClock(lib::TimePoint start = std::chrono::system_clock::now())
        : now_(start.time_since_epoch().count()) {}

    lib::TimePoint Now() const override {
        return lib::TimePoint(lib::TimePoint::duration(now_.load()));
    }
    void Set(lib::TimePoint t) { now_.store(t.time_since_epoch().count()); }
    void Advance(lib::TimePoint::duration d) { now_.fetch_add(d.count()); }

  private:
    std::atomic<lib::TimePoint::duration::rep> now_;
};

}  // namespace inkstone::testing
