#include "tests/sim/directives.h"

#include <charconv>

namespace inkstone::sim {
namespace {

constexpr std::string_view kOpen = "[[sim:";
constexpr std::string_view kClose = "]]";
constexpr int64_t kMaxTokens = 100000;
constexpr int64_t kMaxDelayMs = 600000;
constexpr int64_t kMaxTaskMs = 86400000;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view Trim(std::string_view s) {
    while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
    while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
    return s;
}

// Error messages quote what the client wrote; keep them short printable ASCII so they can be
// echoed into a JSON body and a log line as they are.
std::string Printable(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 40)) {
        out += (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? c : '?';
    }
    if (s.size() > 40) out += "...";
    return out;
}

bool ParseCount(std::string_view text, int64_t max, int64_t* out) {
    if (text.empty()) return false;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, *out);
    return ec == std::errc() && ptr == end && *out >= 0 && *out <= max;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        const auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

// Applies one key=value; returns the problem or "".
std::string Apply(std::string_view key, std::string_view value, Directives* d) {
    const auto count = [&](int64_t max, int64_t* field) -> std::string {
        if (ParseCount(value, max, field)) return {};
        return "'" + std::string(key) + "' wants an integer from 0 to " + std::to_string(max);
    };
    const auto after = [&](std::optional<int64_t>* field) -> std::string {
        int64_t n = 0;
        std::string problem = count(kMaxTokens, &n);
        if (problem.empty()) *field = n;
        return problem;
    };
    if (key == "tokens") return count(kMaxTokens, &d->tokens);
    if (key == "delay_ms") return count(kMaxDelayMs, &d->delay_ms);
    if (key == "first_delay_ms") return count(kMaxDelayMs, &d->first_delay_ms);
    if (key == "fail_after") return after(&d->fail_after);
    if (key == "cut_after") return after(&d->cut_after);
    if (key == "hang_after") return after(&d->hang_after);
    if (key == "task_ms") {
        int64_t n = 0;
        std::string problem = count(kMaxTaskMs, &n);
        if (problem.empty()) d->task_ms = n;
        return problem;
    }
    if (key == "error") {
        if (value == "401") {
            d->error = SimError::kInvalidApiKey;
        } else if (value == "429") {
            d->error = SimError::kThrottling;
        } else if (value == "500") {
            d->error = SimError::kInternal;
        } else if (EqualsIgnoreCase(value, "DataInspectionFailed")) {
            d->error = SimError::kDataInspectionFailed;
        } else {
            return "'error' wants 401, 429, 500 or DataInspectionFailed";
        }
        return {};
    }
    if (key == "error_form") {
        if (value == "json") {
            d->error_form = ErrorForm::kJson;
        } else if (value == "sse") {
            d->error_form = ErrorForm::kSse;
        } else if (value == "sse200") {
            d->error_form = ErrorForm::kSse200;
        } else {
            return "'error_form' wants json, sse or sse200";
        }
        return {};
    }
    if (key == "task") {
        if (value != "fail" && value != "ok") return "'task' wants fail or ok";
        d->task_fail = value == "fail";
        return {};
    }
    if (key == "stamp") {
        if (value != "0" && value != "1") return "'stamp' wants 0 or 1";
        d->stamp = value == "1";
        return {};
    }
    return "unknown key '" + Printable(key) + "'";
}

// Parses the inside of one block ("tokens=5, delay_ms=10"); returns the problem or "".
std::string ParseBlock(std::string_view body, Directives* d) {
    while (!body.empty()) {
        const size_t comma = body.find(',');
        const std::string_view item = Trim(body.substr(0, comma));
        body = comma == std::string_view::npos ? std::string_view() : body.substr(comma + 1);
        if (item.empty()) continue;  // "[[sim:]]", "a=1,,b=2", a trailing comma
        const size_t eq = item.find('=');
        if (eq == std::string_view::npos) return "'" + Printable(item) + "' is not key=value";
        const std::string_view key = Trim(item.substr(0, eq));
        const std::string_view value = Trim(item.substr(eq + 1));
        std::string problem = Apply(key, value, d);
        if (!problem.empty()) return problem;
        d->given.emplace_back(std::string(key), std::string(value));
    }
    return {};
}

}  // namespace

ParsedPrompt ParseDirectives(std::string_view message) {
    ParsedPrompt parsed;
    std::string text;
    size_t pos = 0;
    while (pos < message.size()) {
        const size_t open = message.find(kOpen, pos);
        if (open == std::string_view::npos) break;
        const size_t close = message.find(kClose, open + kOpen.size());
        if (close == std::string_view::npos) {
            parsed.error = "unterminated [[sim: block (missing ]])";
            break;
        }
        text.append(message.substr(pos, open - pos));
        const std::string_view body =
            message.substr(open + kOpen.size(), close - open - kOpen.size());
        std::string problem = ParseBlock(body, &parsed.directives);
        if (!problem.empty() && parsed.error.empty()) parsed.error = std::move(problem);
        pos = close + kClose.size();
    }
    if (pos < message.size()) text.append(message.substr(pos));

    const Directives& d = parsed.directives;
    const int endings =
        d.fail_after.has_value() + d.cut_after.has_value() + d.hang_after.has_value();
    if (parsed.error.empty() && endings > 1) {
        parsed.error = "fail_after, cut_after and hang_after exclude each other";
    }
    if (!parsed.error.empty()) parsed.error = "Invalid [[sim:]] directive: " + parsed.error + ".";
    parsed.text = std::string(Trim(text));
    return parsed;
}

}  // namespace inkstone::sim
