#include "lib/http/json_body.h"

#include <json/reader.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>

#include "lib/base/errors.h"
#include "lib/base/utf8.h"

namespace inkstone::lib::http {
namespace {

constexpr int kMaxDepth = 32;

base::ApiError InvalidJson(std::string_view reason) {
    return base::ApiError(base::ErrorCode::kInvalidJson,
                          "request body is not valid JSON: " + std::string(reason));
}

bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }

// RFC 8259 number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool IsJsonNumber(std::string_view token) {
    size_t i = 0;
    const size_t n = token.size();
    auto digits = [&] {
        const size_t start = i;
        while (i < n && IsDigit(token[i])) ++i;
        return i > start;
    };
    if (i < n && token[i] == '-') ++i;
    if (i < n && token[i] == '0') {
        ++i;
    } else if (!digits()) {
        return false;
    }
    if (i < n && token[i] == '.') {
        ++i;
        if (!digits()) return false;
    }
    if (i < n && (token[i] == 'e' || token[i] == 'E')) {
        ++i;
        if (i < n && (token[i] == '+' || token[i] == '-')) ++i;
        if (!digits()) return false;
    }
    return i == n;
}

bool IsNumberChar(unsigned char c) {
    return IsDigit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

// jsoncpp 1.9.5 is laxer than RFC 8259 even in strict mode: it reads `-` as 0, `+1`, `01` and
// `1.` as numbers, accepts raw control characters inside strings, and stops at a NUL byte so
// `{}\0garbage` passes failIfExtra. Its stackLimit also counts the leaf value, not containers.
// One pass over the bytes closes those gaps before jsoncpp sees them. Returns the problem, or
// an empty view.
std::string_view LexicalProblem(std::string_view body) {
    int depth = 0;
    size_t i = 0;
    const size_t n = body.size();
    while (i < n) {
        const auto c = static_cast<unsigned char>(body[i]);
        if (c == '"') {
            for (++i; i < n; ++i) {
                const auto s = static_cast<unsigned char>(body[i]);
                if (s == '\\') {
                    ++i;  // jsoncpp validates the escape itself
                } else if (s == '"') {
                    break;
                } else if (s < 0x20) {
                    return "unescaped control character in a string";
                }
            }
            ++i;
            continue;
        }
        if (c == '-' || c == '+' || c == '.' || IsDigit(c)) {
            const size_t start = i;
            while (i < n && IsNumberChar(static_cast<unsigned char>(body[i]))) ++i;
            if (!IsJsonNumber(body.substr(start, i - start))) return "malformed number";
            continue;
        }
        if (c == '{' || c == '[') {
            if (++depth > kMaxDepth) return "nested deeper than 32 levels";
        } else if (c == '}' || c == ']') {
            --depth;
        } else if (c == '\0') {
            return "NUL byte outside a string";
        }
        ++i;
    }
    return {};
}

// jsoncpp reports `* Line 1, Column 8\n  Duplicate key: 'a'\n...`; keep the first error as one
// line: `line 1, column 8: Duplicate key: 'a'`.
std::string OneLineError(const std::string& errors) {
    std::string out;
    size_t pos = 0;
    for (int line = 0; line < 2 && pos < errors.size(); ++line) {
        size_t end = errors.find('\n', pos);
        if (end == std::string::npos) end = errors.size();
        std::string_view text(errors.data() + pos, end - pos);
        while (!text.empty() && (text.front() == '*' || text.front() == ' ')) text.remove_prefix(1);
        if (!text.empty()) {
            if (!out.empty()) out += ": ";
            out.append(text.data(), text.size());
        }
        pos = end + 1;
    }
    if (out.rfind("Line ", 0) == 0) out[0] = 'l';
    const size_t column = out.find(", Column ");
    if (column != std::string::npos) out[column + 2] = 'c';
    return out.empty() ? std::string("syntax error") : out;
}

Json::CharReader& Reader() {
    // A CharReader keeps parse state, so each thread gets its own, built once.
    thread_local const std::unique_ptr<Json::CharReader> reader = [] {
        Json::CharReaderBuilder builder;
        Json::CharReaderBuilder::strictMode(&builder.settings_);
        // jsoncpp counts values on the stack including the leaf, so 32 containers holding a
        // scalar need 33. LexicalProblem already enforces the 32-container limit exactly; this
        // is the backstop that keeps recursion bounded.
        builder["stackLimit"] = kMaxDepth + 1;
        return std::unique_ptr<Json::CharReader>(builder.newCharReader());
    }();
    return *reader;
}

const Json::Value* Find(const Json::Value& object, std::string_view name) {
    if (!object.isObject()) return nullptr;
    const Json::Value* value = object.find(name.data(), name.data() + name.size());
    if (value == nullptr || value->isNull()) return nullptr;
    return value;
}

base::ApiError Invalid(std::string_view field, std::string detail) {
    return base::ApiError::Validation(std::string(field), std::move(detail));
}

std::string StringRule(size_t min_chars, size_t max_chars) {
    const auto unit = [](size_t n) { return n == 1 ? " character" : " characters"; };
    if (min_chars == max_chars) {
        return "must be a string of exactly " + std::to_string(max_chars) + unit(max_chars);
    }
    if (min_chars == 0) {
        return "must be a string of at most " + std::to_string(max_chars) + unit(max_chars);
    }
    return "must be a string of " + std::to_string(min_chars) + " to " + std::to_string(max_chars) +
           " characters";
}

// `item` is the 1-based position inside an array, or 0 for a plain field. The rule text is only
// built on failure: these reads run on every request.
std::string CheckedString(const Json::Value& value, std::string_view field, size_t min_chars,
                          size_t max_chars, size_t item = 0) {
    const auto rule = [&] {
        std::string text = StringRule(min_chars, max_chars);
        return item == 0 ? text : "item " + std::to_string(item) + " " + text;
    };
    if (!value.isString()) throw Invalid(field, rule());
    const char* begin = nullptr;
    const char* end = nullptr;
    value.getString(&begin, &end);
    const std::string_view text(begin, static_cast<size_t>(end - begin));
    if (text.find('\0') != std::string_view::npos) {
        throw Invalid(field, "must not contain NUL characters");
    }
    // Values parsed by ParseJsonObject are valid already; this guards objects built elsewhere.
    if (!base::IsValidUtf8(text)) throw Invalid(field, "must be valid UTF-8");
    const size_t length = base::Utf8Length(text);
    if (length < min_chars || length > max_chars) throw Invalid(field, rule());
    return std::string(text);
}

std::string IntRule(int64_t min, int64_t max) {
    return "must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
}

int64_t CheckedInt(const Json::Value& value, std::string_view field, int64_t min, int64_t max) {
    int64_t result;
    // Only integer tokens: jsoncpp's isInt64() is also true for 3.0.
    if (value.type() == Json::intValue) {
        result = value.asInt64();
    } else if (value.type() == Json::uintValue &&
               value.asUInt64() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        result = static_cast<int64_t>(value.asUInt64());
    } else {
        throw Invalid(field, IntRule(min, max));
    }
    if (result < min || result > max) throw Invalid(field, IntRule(min, max));
    return result;
}

std::string FormatNumber(double value) {
    char buffer[32];
    const int n = std::snprintf(buffer, sizeof buffer, "%g", value);
    if (n < 0 || static_cast<size_t>(n) >= sizeof buffer) return "?";
    return std::string(buffer, static_cast<size_t>(n));
}

}  // namespace

Json::Value ParseJsonObject(std::string_view body) {
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
        throw base::ApiError(base::ErrorCode::kInvalidJson, "request body must be a JSON object");
    }
    if (!base::IsValidUtf8(body)) throw InvalidJson("not valid UTF-8");
    if (const std::string_view problem = LexicalProblem(body); !problem.empty()) {
        throw InvalidJson(problem);
    }
    Json::Value root;
    std::string errors;
    bool ok = false;
    try {
        ok = Reader().parse(body.data(), body.data() + body.size(), &root, &errors);
    } catch (const Json::Exception& e) {
        // jsoncpp throws (rather than returning false) when stackLimit is exceeded.
        throw InvalidJson(e.what());
    }
    if (!ok) throw InvalidJson(OneLineError(errors));
    if (!root.isObject()) {
        throw base::ApiError(base::ErrorCode::kInvalidJson, "request body must be a JSON object");
    }
    return root;
}

std::string JsonFields::RequiredString(std::string_view name, size_t min_chars,
                                       size_t max_chars) const {
    const Json::Value* value = Find(object_, name);
    if (value == nullptr) throw Invalid(name, "is required");
    return CheckedString(*value, name, min_chars, max_chars);
}

std::optional<std::string> JsonFields::OptionalString(std::string_view name, size_t min_chars,
                                                      size_t max_chars) const {
    const Json::Value* value = Find(object_, name);
    if (value == nullptr) return std::nullopt;
    return CheckedString(*value, name, min_chars, max_chars);
}

int64_t JsonFields::RequiredInt(std::string_view name, int64_t min, int64_t max) const {
    const Json::Value* value = Find(object_, name);
    if (value == nullptr) throw Invalid(name, "is required");
    return CheckedInt(*value, name, min, max);
}

std::optional<int64_t> JsonFields::OptionalInt(std::string_view name, int64_t min,
                                               int64_t max) const {
    const Json::Value* value = Find(object_, name);
    if (value == nullptr) return std::nullopt;
    return CheckedInt(*value, name, min, max);
}

std::optional<double> JsonFields::OptionalNumber(std::string_view name, double min,
                                                 double max) const {
    const Json::Value* value = Find(object_, name);
    if (value == nullptr) return std::nullopt;
    // isDouble() is true for int, uint and real values, false for bools and strings.
    const double number = value->isDouble() ? value->asDouble() : std::nan("");
    if (!(number >= min && number <= max)) {
        throw Invalid(name,
                      "must be a number from " + FormatNumber(min) + " to " + FormatNumber(max));
    }
    return number;
}

std::optional<bool> JsonFields::OptionalBool(std::string_view name) const {
    const Json::Value* value = Find(object_, name);
    if (value == nullptr) return std::nullopt;
    if (!value->isBool()) throw Invalid(name, "must be true or false");
    return value->asBool();
}

std::optional<std::vector<std::string>> JsonFields::OptionalStringArray(std::string_view name,
                                                                        size_t max_items,
                                                                        size_t max_chars) const {
    const Json::Value* value = Find(object_, name);
    if (value == nullptr) return std::nullopt;
    if (!value->isArray() || value->size() > max_items) {
        throw Invalid(name, "must be an array of at most " + std::to_string(max_items) +
                                " strings of 1 to " + std::to_string(max_chars) + " characters");
    }
    std::vector<std::string> items;
    items.reserve(value->size());
    for (Json::ArrayIndex i = 0; i < value->size(); ++i) {
        items.push_back(CheckedString((*value)[i], name, 1, max_chars, i + 1));
    }
    return items;
}

bool JsonFields::Has(std::string_view name) const { return Find(object_, name) != nullptr; }

}  // namespace inkstone::lib::http
