#pragma once
/// The one routing table (routes.cpp): method, path, handler, auth requirement, body kind and
/// body limit, one row per endpoint (nginx's static command tables). The mock payment route
/// exists only in mock mode, the test hooks only with `testing.hooks`.
#include <vector>

#include "lib/http/router.h"

namespace inkstone::handlers {

struct HandlerSet;

std::vector<lib::http::Route> Routes(const HandlerSet& handlers);

}  // namespace inkstone::handlers
