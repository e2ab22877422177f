// lib/base/metrics in one process: the text format (HELP, TYPE, cumulative buckets, escaping),
// counts from many threads, a full table dropping series instead of corrupting them; and the
// shipped Grafana dashboard and alert rules naming only series that exist.
#include "lib/base/metrics.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace inkstone::lib::base::metrics {
namespace {

std::string ReadSource(const std::string& relative) {
    std::ifstream in(std::string(INKSTONE_SOURCE_DIR) + "/" + relative);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

TEST(Metrics, RendersCountersHistogramsAndEscapedLabels) {
    Install(4096);
    Count("inkstone_orders_created_total", {{"kind", "recharge"}, {"method", "alipay"}}, 2);
    Count("inkstone_orders_created_total", {{"kind", "recharge"}, {"method", "alipay"}});
    Count("inkstone_payment_notifies_total", {{"provider", "wechat"},
                                              {"kind", "payment"},
                                              {"via", "notify"},
                                              {"outcome", "rejected"},
                                              {"reason", "say \"hi\"\\n"}});
    Observe("inkstone_job_duration_seconds", {{"job", "unit"}}, 0.02);
    Observe("inkstone_job_duration_seconds", {{"job", "unit"}}, 7);
    Observe("inkstone_job_duration_seconds", {{"job", "unit"}}, 1000);  // above every bucket
    const std::string text = Render();
    EXPECT_NE(text.find("# TYPE inkstone_orders_created_total counter\n"), std::string::npos);
    EXPECT_NE(text.find("inkstone_orders_created_total{kind=\"recharge\",method=\"alipay\"} 3\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("reason=\"say \\\"hi\\\"\\\\n\"} 1\n"), std::string::npos) << text;
    // Cumulative: 0.02 falls in le=0.05 and above, 7 in le=10, 1000 only in +Inf.
    EXPECT_NE(text.find("inkstone_job_duration_seconds_bucket{job=\"unit\",le=\"0.01\"} 0\n"),
              std::string::npos);
    EXPECT_NE(text.find("inkstone_job_duration_seconds_bucket{job=\"unit\",le=\"0.05\"} 1\n"),
              std::string::npos);
    EXPECT_NE(text.find("inkstone_job_duration_seconds_bucket{job=\"unit\",le=\"10\"} 2\n"),
              std::string::npos);
    EXPECT_NE(text.find("inkstone_job_duration_seconds_bucket{job=\"unit\",le=\"60\"} 2\n"),
              std::string::npos);
    EXPECT_NE(text.find("inkstone_job_duration_seconds_bucket{job=\"unit\",le=\"+Inf\"} 3\n"),
              std::string::npos);
    EXPECT_NE(text.find("inkstone_job_duration_seconds_count{job=\"unit\"} 3\n"),
              std::string::npos);
    EXPECT_NE(text.find("inkstone_job_duration_seconds_sum{job=\"unit\"} 1007.02"),
              std::string::npos)
        << text;
    EXPECT_EQ(StatusClass(204), "2xx");
    EXPECT_EQ(StatusClass(503), "5xx");
}

/// The value of the unlabelled sample `name` in a rendering (0 when absent).
double Sample(const std::string& text, const std::string& name) {
    const std::string prefix = "\n" + name + " ";
    const size_t at = text.find(prefix);
    return at == std::string::npos ? 0 : std::stod(text.substr(at + prefix.size()));
}

TEST(Metrics, ConcurrentCountsAreNotLost) {
    Install(4096);
    const double before = Sample(Render(), "inkstone_credits_charged_total");
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([] {
            for (int i = 0; i < 10000; ++i) {
                Count("inkstone_credits_charged_total", {}, 1);
                Count("inkstone_job_runs_total",
                      {{"job", "concurrent" + std::to_string(i % 7)}, {"outcome", "ok"}});
            }
        });
    }
    for (std::thread& t : threads) t.join();
    const std::string text = Render();
    EXPECT_EQ(Sample(text, "inkstone_credits_charged_total") - before, 80000);
    int64_t jobs = 0;
    const std::regex job_line(
        "inkstone_job_runs_total\\{job=\"concurrent[0-6]\",outcome=\"ok\"\\} ([0-9]+)");
    for (std::sregex_iterator it(text.begin(), text.end(), job_line); it != std::sregex_iterator();
         ++it) {
        jobs += std::stoll((*it)[1]);
    }
    EXPECT_EQ(jobs, 80000);
}

TEST(Metrics, TheDashboardAndTheAlertsNameOnlyRealSeries) {
    std::set<std::string> known;
    std::istringstream names(FamilyNames());
    for (std::string name; std::getline(names, name);) {
        known.insert(name);
        for (const char* suffix : {"_bucket", "_sum", "_count"}) known.insert(name + suffix);
    }
    for (const char* file :
         {"ops/grafana/inkstone-dashboard.json", "ops/prometheus/inkstone-alerts.yml"}) {
        const std::string text = ReadSource(file);
        ASSERT_FALSE(text.empty()) << file;
        int used = 0;
        const std::regex series("inkstone_[a-z_]+");
        for (std::sregex_iterator it(text.begin(), text.end(), series);
             it != std::sregex_iterator(); ++it) {
            const std::string name = it->str();
            if (name == "inkstone_" || name.rfind("inkstone_overview", 0) == 0) continue;
            EXPECT_TRUE(known.count(name)) << file << " names " << name;
            ++used;
        }
        EXPECT_GT(used, 5) << file;
    }
}

}  // namespace
}  // namespace inkstone::lib::base::metrics
