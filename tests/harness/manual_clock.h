#pragma once
/// A lib::base::Clock that stands still until a test moves it, for expiry and calendar tests.
/// Thread-safe.
#include <atomic>
#include <chrono>

#include "lib/base/clock.h"

namespace inkstone::testing {

class ManualClock final : public lib::base::Clock {
  public:
    explicit ManualClock(lib::base::TimePoint start = std::chrono::system_clock::now())
        : now_(start.time_since_epoch().count()) {}

    lib::base::TimePoint Now() const override {
        return lib::base::TimePoint(lib::base::TimePoint::duration(now_.load()));
    }
    void Set(lib::base::TimePoint t) { now_.store(t.time_since_epoch().count()); }
    void Advance(lib::base::TimePoint::duration d) { now_.fetch_add(d.count()); }

  private:
    std::atomic<lib::base::TimePoint::duration::rep> now_;
};

}  // namespace inkstone::testing
