#pragma once
/// What the dispatcher needs to enforce a route's auth requirement: bearer token → principal.
#include <optional>
#include <string_view>

#include "lib/http/message.h"

namespace inkstone::lib::http {

class Authenticator {
  public:
    virtual ~Authenticator() = default;
    /// The principal of a live token, or nullopt for an unknown, malformed, expired or revoked
    /// one. Reads shared state (the DB), so a logout on any host is seen at once.
    /// May throw db::DbError (→ 503 when the DB is down).
    virtual std::optional<Principal> Authenticate(std::string_view bearer_token) const = 0;
};

}  // namespace inkstone::lib::http
