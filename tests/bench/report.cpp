#include "tests/bench/report.h"

#include <algorithm>
#include <cstdio>

namespace inkstone::bench {
namespace {

/// Display width: the table is ASCII except the arrows and symbols below, one column each.
size_t Width(const std::string& text) {
    size_t width = 0;
    for (unsigned char c : text) {
        if ((c & 0xC0) != 0x80) ++width;  // count code points, not bytes
    }
    return width;
}

std::string Pad(const std::string& text, size_t width, bool right) {
    const size_t w = Width(text);
    if (w >= width) return text;
    const std::string fill(width - w, ' ');
    return right ? fill + text : text + fill;
}

std::string Ms(const std::optional<double>& ms) {
    if (!ms) return "-";
    if (*ms < 10) return Number(*ms, 2) + " ms";
    return Number(*ms, 1) + " ms";
}

std::string Verdict(const std::optional<bool>& pass) {
    if (!pass) return "-";
    return *pass ? "PASS" : "FAIL";
}

}  // namespace

std::string Number(double value, int decimals) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
    std::string text = buffer;
    const size_t point = text.find('.');
    size_t digits_end = point == std::string::npos ? text.size() : point;
    const size_t digits_start = text[0] == '-' ? 1 : 0;
    for (size_t i = digits_end; i > digits_start + 3; i -= 3) text.insert(i - 3, ",");
    return text;
}

std::string Report::Text() const {
    const std::vector<std::string> header = {"scenario",          "req/s",  "p50",   "p99",
                                             "ratio to baseline", "target", "result"};
    std::vector<std::vector<std::string>> cells;
    for (const Row& row : rows_) {
        cells.push_back({row.scenario, row.per_second ? Number(*row.per_second) : "-",
                         Ms(row.p50_ms), Ms(row.p99_ms), row.ratio.empty() ? "-" : row.ratio,
                         row.target.empty() ? "-" : row.target, Verdict(row.pass)});
    }
    std::vector<size_t> widths;
    for (size_t i = 0; i < header.size(); ++i) {
        size_t w = Width(header[i]);
        for (const auto& line : cells) w = std::max(w, Width(line[i]));
        widths.push_back(w);
    }
    const auto line_of = [&](const std::vector<std::string>& values) {
        std::string out = "|";
        for (size_t i = 0; i < values.size(); ++i) {
            const bool numeric = i >= 1 && i <= 3;
            out += " " + Pad(values[i], widths[i], numeric) + " |";
        }
        return out + "\n";
    };
    std::string out = line_of(header);
    std::string rule = "|";
    for (size_t i = 0; i < widths.size(); ++i) {
        const bool numeric = i >= 1 && i <= 3;
        rule += std::string(widths[i] + 1, '-') + (numeric ? ":|" : "-|");
    }
    out += rule + "\n";
    for (const auto& line : cells) out += line_of(line);
    out += "\n";
    for (const Row& row : rows_) {
        if (!row.detail.empty()) out += "- " + row.scenario + ": " + row.detail + "\n";
    }
    return out;
}

Json::Value Report::ToJson(const Json::Value& header) const {
    Json::Value out = header;
    Json::Value rows(Json::arrayValue);
    for (const Row& row : rows_) {
        Json::Value r(Json::objectValue);
        r["scenario"] = row.scenario;
        r["per_second"] = row.per_second ? Json::Value(*row.per_second) : Json::Value();
        r["p50_ms"] = row.p50_ms ? Json::Value(*row.p50_ms) : Json::Value();
        r["p99_ms"] = row.p99_ms ? Json::Value(*row.p99_ms) : Json::Value();
        r["ratio"] = row.ratio;
        r["target"] = row.target;
        r["pass"] = row.pass ? Json::Value(*row.pass) : Json::Value();
        r["detail"] = row.detail;
        rows.append(r);
    }
    out["rows"] = rows;
    out["all_passed"] = AllPassed();
    return out;
}

bool Report::AllPassed() const {
    return std::none_of(rows_.begin(), rows_.end(),
                        [](const Row& row) { return row.pass && !*row.pass; });
}

}  // namespace inkstone::bench
