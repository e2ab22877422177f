#pragma once
/// A value or a typed failure, for code whose failures are expected outcomes (a forged payment
/// notify, a provider answering garbage) rather than bugs: callers branch on `ok()` and read
/// `value()` or `error()`/`detail()`. Exceptions stay for bugs and broken setups.
#include <string>
#include <utility>
#include <variant>

namespace inkstone::lib::base {

/// A failure: a code from a closed enum and a text for logs (never secrets, never key material).
template <typename E>
struct Failure {
    E code;
    std::string detail;
};

template <typename E>
Failure<E> Fail(E code, std::string detail) {
    return Failure<E>{code, std::move(detail)};
}

template <typename T, typename E>
class Result {
  public:
    Result(T value) : state_(std::move(value)) {}               // NOLINT: implicit on purpose
    Result(Failure<E> failure) : state_(std::move(failure)) {}  // NOLINT

    bool ok() const { return state_.index() == 0; }
    /// Precondition: ok().
    const T& value() const& { return std::get<0>(state_); }
    T&& value() && { return std::get<0>(std::move(state_)); }
    /// Precondition: !ok().
    E error() const { return std::get<1>(state_).code; }
    const std::string& detail() const { return std::get<1>(state_).detail; }

  private:
    std::variant<T, Failure<E>> state_;
};

}  // namespace inkstone::lib::base
