#pragma once
/// UTF-8 checks (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).
#include <cstddef>
#include <string>
#include <string_view>

namespace inkstone::lib::base {

bool IsValidUtf8(std::string_view text);
/// Number of code points; only meaningful for valid UTF-8.
size_t Utf8Length(std::string_view text);

/// The first `max_chars` code points of valid UTF-8 `text` (all of it when shorter).
std::string Utf8Prefix(std::string_view text, size_t max_chars);

}  // namespace inkstone::lib::base
