#pragma once
/// UTF-8 checks (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).
#include <cstddef>
#include <string_view>

namespace inkstone::lib::base {

bool IsValidUtf8(std::string_view text);
/// Number of code points; only meaningful for valid UTF-8.
size_t Utf8Length(std::string_view text);

}  // namespace inkstone::lib::base
