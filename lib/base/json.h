#pragma once
/// JSON in both directions, below every layer that speaks it.
///
/// ToJson: jsoncpp values to compact text (no trailing newline, UTF-8 kept as is).
/// JsonScanner: a strict (RFC 8259), allocation-free scanner that reads only the fields asked
/// for and skips, while still validating, the rest. jsoncpp would build a whole DOM per
/// DashScope frame, which costs several times the framing itself; this keeps the stream
/// decoder well above its 300 MB/s target (README, Performance). Invalid UTF-8 in strings is
/// rejected; a lone surrogate escape becomes U+FFFD. Not thread-safe (one scanner, one text).
#include <json/value.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "lib/base/clock.h"

namespace inkstone::lib::base {

/// Serialises JSON compactly (no trailing newline), UTF-8 kept as is.
std::string ToJson(const Json::Value& value);

/// Optional values as the API renders them: the value, or JSON null. Times are RFC 3339 UTC.
Json::Value TimeOrNull(const std::optional<TimePoint>& t);
Json::Value IntOrNull(const std::optional<int64_t>& v);
Json::Value TextOrNull(const std::optional<std::string>& v);

namespace json_detail {

inline constexpr int kMaxJsonDepth = 64;

struct ByteTable {
    bool value[256];
};

// Bytes a string scan must stop at: the quote, a backslash, control characters, non-ASCII.
constexpr ByteTable MakeStringStops() {
    ByteTable table{};
    for (int c = 0; c < 256; ++c) table.value[c] = c == '"' || c == '\\' || c < 0x20 || c >= 0x80;
    return table;
}
inline constexpr ByteTable kStringStops = MakeStringStops();

/// Length of the UTF-8 sequence at `p` (RFC 3629: no overlongs, surrogates or > U+10FFFF),
/// or 0 when it is invalid or cut short by `end`.
inline size_t Utf8SequenceLength(const char* p, const char* end) {
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    const size_t available = static_cast<size_t>(end - p);
    const auto continuation = [&](size_t i) { return (u[i] & 0xC0) == 0x80; };
    const unsigned char lead = u[0];
    if (lead >= 0xC2 && lead <= 0xDF) return available >= 2 && continuation(1) ? 2 : 0;
    if (lead >= 0xE0 && lead <= 0xEF) {
        if (available < 3 || !continuation(1) || !continuation(2)) return 0;
        if (lead == 0xE0 && u[1] < 0xA0) return 0;  // overlong
        if (lead == 0xED && u[1] > 0x9F) return 0;  // surrogate
        return 3;
    }
    if (lead >= 0xF0 && lead <= 0xF4) {
        if (available < 4 || !continuation(1) || !continuation(2) || !continuation(3)) return 0;
        if (lead == 0xF0 && u[1] < 0x90) return 0;  // overlong
        if (lead == 0xF4 && u[1] > 0x8F) return 0;  // above U+10FFFF
        return 4;
    }
    return 0;
}

inline void AppendUtf8(std::string* out, uint32_t cp) {
    if (cp < 0x80) {
        out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

}  // namespace json_detail

/// Reads one JSON text from the front: `Peek`, `String`, `Key`, `Integer`, `Object(depth, f)`,
/// `Array(depth, f)`, `Skip(depth)`; every method returns false on malformed input (the
/// scanner is then unusable). Nesting deeper than json_detail::kMaxJsonDepth is rejected.
class JsonScanner {
  public:
    explicit JsonScanner(std::string_view text)
        : p_(text.data()), end_(text.data() + text.size()) {}

    void SkipSpace() {
        while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
    }
    bool AtEnd() {
        SkipSpace();
        return p_ == end_;
    }
    /// The next significant byte, or '\0' at the end.
    char Peek() {
        SkipSpace();
        return p_ < end_ ? *p_ : '\0';
    }
    bool Expect(char c) {
        SkipSpace();
        if (p_ == end_ || *p_ != c) return false;
        ++p_;
        return true;
    }
    /// Consumes `null` if it comes next.
    bool Null() {
        SkipSpace();
        return Literal("null");
    }

    /// A string, appended to `out` decoded (or only checked when `out` is null).
    bool String(std::string* out) {
        if (!Expect('"')) return false;
        const char* run = p_;
        for (;;) {
            while (p_ < end_ && !json_detail::kStringStops.value[static_cast<unsigned char>(*p_)])
                ++p_;
            if (p_ == end_) return false;
            const auto c = static_cast<unsigned char>(*p_);
            if (c == '"') {
                if (out != nullptr) out->append(run, static_cast<size_t>(p_ - run));
                ++p_;
                return true;
            }
            if (c >= 0x80) {
                const size_t length = json_detail::Utf8SequenceLength(p_, end_);
                if (length == 0) return false;
                p_ += length;
                continue;
            }
            if (c != '\\') return false;  // a raw control character
            if (out != nullptr) out->append(run, static_cast<size_t>(p_ - run));
            ++p_;
            if (!Escape(out)) return false;
            run = p_;
        }
    }

    /// An object key; the view is valid until the next Key call.
    bool Key(std::string_view* key) {
        SkipSpace();
        const char* start = p_;
        if (!String(nullptr)) return false;
        const std::string_view raw(start + 1, static_cast<size_t>(p_ - start - 2));
        if (raw.find('\\') == std::string_view::npos) {
            *key = raw;
            return true;
        }
        key_scratch_.clear();
        p_ = start;
        if (!String(&key_scratch_)) return false;
        *key = key_scratch_;
        return true;
    }

    /// A non-negative integer up to 2^53 (token counts).
    bool Integer(int64_t* out) {
        SkipSpace();
        const char* start = p_;
        if (!Number()) return false;
        int64_t value = 0;
        for (const char* q = start; q < p_; ++q) {
            if (*q < '0' || *q > '9') return false;
            value = value * 10 + (*q - '0');
            if (value > (int64_t{1} << 53)) return false;
        }
        *out = value;
        return true;
    }

    /// Checks and skips one value of any type.
    bool Skip(int depth) {
        switch (Peek()) {
            case '{':
                return Object(depth, [&](std::string_view) { return Skip(depth + 1); });
            case '[':
                return Array(depth, [&](size_t) { return Skip(depth + 1); });
            case '"':
                return String(nullptr);
            case 't':
                return Literal("true");
            case 'f':
                return Literal("false");
            case 'n':
                return Literal("null");
            default:
                return Number();
        }
    }

    /// `{...}` calling member(key) for each member; member must consume the value (and must
    /// not use `key` after that).
    template <typename Member>
    bool Object(int depth, Member&& member) {
        if (depth > json_detail::kMaxJsonDepth || !Expect('{')) return false;
        if (Expect('}')) return true;
        for (;;) {
            std::string_view key;
            if (!Key(&key) || !Expect(':') || !member(key)) return false;
            if (Expect(',')) continue;
            return Expect('}');
        }
    }

    /// `[...]` calling element(index) for each element; element must consume it.
    template <typename Element>
    bool Array(int depth, Element&& element) {
        if (depth > json_detail::kMaxJsonDepth || !Expect('[')) return false;
        if (Expect(']')) return true;
        for (size_t index = 0;; ++index) {
            if (!element(index)) return false;
            if (Expect(',')) continue;
            return Expect(']');
        }
    }

  private:
    bool Literal(std::string_view word) {
        if (static_cast<size_t>(end_ - p_) < word.size() ||
            std::memcmp(p_, word.data(), word.size()) != 0) {
            return false;
        }
        p_ += word.size();
        return true;
    }

    bool Digits() {
        const char* start = p_;
        while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
        return p_ > start;
    }

    bool Number() {
        if (p_ < end_ && *p_ == '-') ++p_;
        if (p_ == end_) return false;
        if (*p_ == '0') {
            ++p_;
        } else if (!Digits()) {
            return false;
        }
        if (p_ < end_ && *p_ == '.') {
            ++p_;
            if (!Digits()) return false;
        }
        if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
            ++p_;
            if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
            if (!Digits()) return false;
        }
        return true;
    }

    bool Hex4(uint32_t* out) {
        if (end_ - p_ < 4) return false;
        uint32_t value = 0;
        for (int i = 0; i < 4; ++i) {
            const char c = *p_++;
            value <<= 4;
            if (c >= '0' && c <= '9') {
                value |= static_cast<uint32_t>(c - '0');
            } else if (c >= 'a' && c <= 'f') {
                value |= static_cast<uint32_t>(c - 'a' + 10);
            } else if (c >= 'A' && c <= 'F') {
                value |= static_cast<uint32_t>(c - 'A' + 10);
            } else {
                return false;
            }
        }
        *out = value;
        return true;
    }

    /// After a backslash.
    bool Escape(std::string* out) {
        if (p_ == end_) return false;
        char plain;
        switch (*p_++) {
            case '"':
                plain = '"';
                break;
            case '\\':
                plain = '\\';
                break;
            case '/':
                plain = '/';
                break;
            case 'b':
                plain = '\b';
                break;
            case 'f':
                plain = '\f';
                break;
            case 'n':
                plain = '\n';
                break;
            case 'r':
                plain = '\r';
                break;
            case 't':
                plain = '\t';
                break;
            case 'u':
                return UnicodeEscape(out);
            default:
                return false;
        }
        if (out != nullptr) out->push_back(plain);
        return true;
    }

    /// After `\u`. A lone surrogate becomes U+FFFD, as in json_body, so text stays valid UTF-8.
    bool UnicodeEscape(std::string* out) {
        uint32_t cp;
        if (!Hex4(&cp)) return false;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            const char* after_high = p_;
            uint32_t low;
            if (end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u' && (p_ += 2, Hex4(&low)) &&
                low >= 0xDC00 && low <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else {
                p_ = after_high;
                cp = 0xFFFD;
            }
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            cp = 0xFFFD;
        }
        if (out != nullptr) json_detail::AppendUtf8(out, cp);
        return true;
    }

    const char* p_;
    const char* end_;
    std::string key_scratch_;
};

}  // namespace inkstone::lib::base
