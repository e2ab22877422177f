#pragma once
/// Routing: method + path pattern → handler, with the route's auth requirement and body rules.
/// Patterns are literal segments and `{name}` parameters:
/// `/api/v1/credit/recharge/orders/{order_no}`. The table itself lives in one file
/// (handlers/routes.cpp). Lookup allocates only for the captured parameters and is safe from any
/// number of threads once built.
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lib/http/message.h"

namespace inkstone::lib::http {

/// One handler shape: a final class, dependencies in the constructor, one const entry point.
class Handler {
  public:
    virtual ~Handler() = default;
    /// Returns the response, or streams through `stream` and returns one with `streamed = true`.
    /// May throw ApiError (becomes the error response) — anything else is a 500 and a log line.
    virtual Response Handle(const Request& request, StreamWriter& stream) const = 0;
};

enum class Auth { kPublic, kUser, kAdmin };
enum class BodyKind { kNone, kJson, kForm, kAny };

inline constexpr size_t kDefaultBodyLimit = 64 * 1024;

struct Route {
    Method method;
    std::string pattern;
    const Handler* handler;
    Auth auth = Auth::kPublic;
    BodyKind body = BodyKind::kNone;
    size_t body_limit = kDefaultBodyLimit;
};

class Router {
  public:
    enum class Outcome { kFound, kNotFound, kMethodNotAllowed };
    struct Match {
        Outcome outcome = Outcome::kNotFound;
        const Route* route = nullptr;
        std::map<std::string, std::string> params;
        std::string allow;  ///< for 405: "GET, POST"
    };

    /// Throws std::invalid_argument on a duplicate (method, pattern) or a malformed pattern.
    explicit Router(std::vector<Route> routes);
    ~Router();
    Router(Router&&) noexcept;
    Router& operator=(Router&&) noexcept;

    /// HEAD matches GET routes.
    Match Find(Method method, std::string_view path) const;
    const std::vector<Route>& routes() const { return routes_; }

  private:
    struct Node;
    std::vector<Route> routes_;
    std::unique_ptr<Node> root_;
};

}  // namespace inkstone::lib::http
