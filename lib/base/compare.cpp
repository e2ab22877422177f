#include "lib/base/compare.h"

#include <sodium.h>

namespace inkstone::lib::base {

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    if (a.empty()) return true;
    return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace inkstone::lib::base
