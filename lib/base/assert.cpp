#include "lib/base/assert.h"

#include <json/value.h>

#include <atomic>

#include "lib/base/log.h"

namespace inkstone::lib::base {
namespace {

std::atomic<uint64_t> g_violations{0};

}  // namespace

void InvariantFailed(const char* expression, const char* file, int line, std::string_view context) {
    g_violations.fetch_add(1, std::memory_order_relaxed);
    std::string where = std::string(file) + ":" + std::to_string(line);
    Json::Value fields;
    fields["expression"] = expression;
    fields["where"] = where;
    fields["context"] = std::string(context);
    Log(LogLevel::kError, "invariant_violation", fields);
    throw InvariantError(std::string("invariant violated: ") + expression + " at " + where +
                         (context.empty() ? "" : " (" + std::string(context) + ")"));
}

uint64_t InvariantViolations() { return g_violations.load(std::memory_order_relaxed); }

}  // namespace inkstone::lib::base
