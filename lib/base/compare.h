#pragma once
/// Comparing secrets (tokens, bearer secrets, digests) without leaking where they differ.
#include <string_view>

namespace inkstone::lib::base {

/// Constant-time equality for secrets and their digests (sodium_memcmp). Different lengths
/// compare unequal (the length is not secret).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace inkstone::lib::base
