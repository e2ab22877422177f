#pragma once
/// Prometheus metrics (README, "Metrics"), counted in one table shared by every process of a
/// pool: the master maps it (MAP_SHARED | MAP_ANONYMOUS) before it forks its workers, each
/// worker adds to it with lock-free atomics, and whichever worker serves GET /metrics renders
/// it. So a scrape sees the sum over all workers, and a worker that dies or is recycled takes
/// nothing with it: its counts stay in the table. Counters never reset while the master lives.
///
/// Why not prometheus-cpp: its registry lives in one process's heap, so a pool of forked workers
/// would need each one scraped (or a push gateway) and would lose a dead worker's counts; here
/// the table is the aggregation.
///
/// Every family is declared in the catalog (metrics.cpp, kFamilies): its name, type, help text
/// and, for a histogram, its buckets. Count and Observe name a family and give its labels; a
/// series is created on first use. Until Install is called (a unit test, inkstone-admin), both
/// do nothing. A full table drops new series and counts them in
/// inkstone_metrics_series_dropped_total.
///
/// Thread- and process-safe after Install; Install itself runs once, before any fork.
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace inkstone::lib::base::metrics {

/// `{{"route", "/api/v1/credit/balance"}, {"status", "2xx"}}`: label names and values. Values
/// are escaped when rendered; keep them to bounded sets (route patterns, not paths).
using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

/// Maps the shared table (`capacity` series, including each histogram bucket). Call once, in
/// the process that forks the others. Aborts when the mapping fails (startup only).
void Install(int capacity = 4096);
bool Installed();

/// Adds `delta` (>= 0) to the counter `family` with `labels`. Unknown families are a bug
/// (asserted in debug builds, ignored otherwise).
void Count(std::string_view family, Labels labels, double delta = 1);

/// Records `value` in the histogram `family` (its bucket, _sum and _count).
void Observe(std::string_view family, Labels labels, double value);

/// Sets the gauge `family` to `value` (gauges owned by one process: the master's own numbers).
void Set(std::string_view family, Labels labels, double value);

/// Lines for the families whose values are read at scrape time from elsewhere (the pool's
/// scoreboard): called with each family's name while rendering, it appends that family's
/// sample lines (`name{labels} value\n`) to `out`.
using ScrapeHook = std::function<void(std::string_view family, std::string& out)>;

/// Appends one sample line `name{labels} value\n` (no braces when `labels` is empty; `labels`
/// already in `a="x",b="y"` form), for ScrapeHooks.
void AppendSample(std::string& out, std::string_view name, std::string_view labels, double value);

/// The whole table in the Prometheus text exposition format (0.0.4): every catalog family with
/// its HELP and TYPE lines, then its series sorted by labels; histograms with cumulative
/// buckets, +Inf, _sum and _count. Families without a series yet have only HELP and TYPE.
std::string Render(const ScrapeHook& scrape = nullptr);

/// Every family name of the catalog (for the test that the dashboard names only real series).
std::string FamilyNames();

/// "2xx" for 200..299, ...
std::string_view StatusClass(int status);

}  // namespace inkstone::lib::base::metrics
