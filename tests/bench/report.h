#pragma once
/// The one table `make bench` prints and writes as JSON: a row per scenario, each with its
/// ratio to the baseline measured in the same run and its target.
#include <json/value.h>

#include <optional>
#include <string>
#include <vector>

namespace inkstone::bench {

struct Row {
    std::string scenario;
    std::optional<double> per_second;  ///< requests (or transactions, events) per second
    std::optional<double> p50_ms;
    std::optional<double> p99_ms;
    std::string ratio;   ///< against its baseline, as text ("0.86x floor req/s; p99 1.10x")
    std::string target;  ///< "" when the row is a baseline
    std::optional<bool> pass;
    std::string detail;  ///< errors, memory, checks, configuration
};

class Report {
  public:
    void Add(Row row) { rows_.push_back(std::move(row)); }
    const std::vector<Row>& rows() const { return rows_; }

    /// The table as monospaced text, details under it.
    std::string Text() const;
    /// `{"date", "command", "machine": {...}, "settings": {...}, "rows": [...]}`.
    Json::Value ToJson(const Json::Value& header) const;
    /// True when no row with a target failed.
    bool AllPassed() const;

  private:
    std::vector<Row> rows_;
};

/// "1,234" style number with `decimals` digits after the point.
std::string Number(double value, int decimals = 0);

}  // namespace inkstone::bench
