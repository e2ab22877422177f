// Compiled as part of lib/billing by the forbidden-include check: Connector/C++ is private to
// lib/db, so this must fail to compile (with the poison header's message).
#include <cppconn/exception.h>

#include "lib/billing/wallet.h"

int ForbiddenIncludeProbe() { return sizeof(sql::SQLException) > 0 ? 1 : 0; }
