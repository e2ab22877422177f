#include "lib/router.h"

#include <cgicc/CgiUtils.h>

#include <array>
#include <stdexcept>

namespace inkstone::lib {

// A segment trie: literal children are tried before the parameter child, with backtracking,
// so `/orders/export` and `/orders/{order_no}` can coexist.
struct Router::Node {
    std::vector<std::pair<std::string, std::unique_ptr<Node>>> literals;
    std::unique_ptr<Node> param;
    std::string param_name;
    std::array<int, 8> route_of_method;  ///< index into routes_, -1 = none

    Node() { route_of_method.fill(-1); }

    Node* Literal(std::string_view segment) const {
        for (const auto& [name, child] : literals) {
            if (name == segment) return child.get();
        }
        return nullptr;
    }
};

namespace {

/// Splits off the next segment of `rest` (which starts after a '/').
std::string_view NextSegment(std::string_view& rest) {
    size_t slash = rest.find('/');
    std::string_view segment = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    return segment;
}

}  // namespace

Router::Router(std::vector<Route> routes) : routes_(std::move(routes)), root_(new Node) {
    for (size_t i = 0; i < routes_.size(); ++i) {
        const Route& route = routes_[i];
        if (route.pattern.size() < 2 || route.pattern[0] != '/' || route.pattern.back() == '/') {
            throw std::invalid_argument("bad route pattern: " + route.pattern);
        }
        if (route.handler == nullptr) {
            throw std::invalid_argument("route without handler: " + route.pattern);
        }
        Node* node = root_.get();
        std::string_view rest = std::string_view(route.pattern).substr(1);
        while (true) {
            bool last = rest.find('/') == std::string_view::npos;
            std::string_view segment = NextSegment(rest);
            if (segment.empty()) throw std::invalid_argument("empty segment: " + route.pattern);
            if (segment.front() == '{') {
                if (segment.size() < 3 || segment.back() != '}') {
                    throw std::invalid_argument("bad parameter in " + route.pattern);
                }
                std::string name(segment.substr(1, segment.size() - 2));
                if (!node->param) {
                    node->param = std::make_unique<Node>();
                    node->param_name = name;
                } else if (node->param_name != name) {
                    throw std::invalid_argument("conflicting parameter names in " + route.pattern);
                }
                node = node->param.get();
            } else {
                Node* child = node->Literal(segment);
                if (child == nullptr) {
                    node->literals.emplace_back(std::string(segment), std::make_unique<Node>());
                    child = node->literals.back().second.get();
                }
                node = child;
            }
            if (last) break;
        }
        int& slot = node->route_of_method[static_cast<size_t>(route.method)];
        if (slot != -1) throw std::invalid_argument("duplicate route: " + route.pattern);
        slot = static_cast<int>(i);
    }
}

Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

Router::Match Router::Find(Method method, std::string_view path) const {
    Match match;
    if (path.size() < 2 || path[0] != '/' || path.back() == '/') return match;

    std::vector<std::pair<std::string_view, std::string_view>> params;
    const Node* found = nullptr;

    // Depth-first over segments, literal before parameter; depth is the route depth (tiny).
    auto descend = [&](auto&& self, const Node* node, std::string_view rest) -> bool {
        std::string_view tail = rest;
        bool last = tail.find('/') == std::string_view::npos;
        std::string_view segment = NextSegment(tail);
        if (segment.empty()) return false;
        if (const Node* child = node->Literal(segment)) {
            if (last) {
                found = child;
                return true;
            }
            if (self(self, child, tail)) return true;
        }
        if (node->param) {
            params.emplace_back(node->param_name, segment);
            if (last) {
                found = node->param.get();
                return true;
            }
            if (self(self, node->param.get(), tail)) return true;
            params.pop_back();
        }
        return false;
    };
    if (!descend(descend, root_.get(), path.substr(1))) return match;

    Method effective = method == Method::kHead ? Method::kGet : method;
    int index = method == Method::kOther ? -1 : found->route_of_method[static_cast<size_t>(effective)];
    if (index < 0) {
        bool any = false;
        for (size_t m = 0; m < found->route_of_method.size(); ++m) {
            if (found->route_of_method[m] < 0) continue;
            if (any) match.allow += ", ";
            match.allow += MethodName(static_cast<Method>(m));
            any = true;
        }
        if (!any) return match;  // an inner node only: not a route
        match.outcome = Outcome::kMethodNotAllowed;
        return match;
    }
    match.outcome = Outcome::kFound;
    match.route = &routes_[static_cast<size_t>(index)];
    for (const auto& [name, raw] : params) {
        match.params.emplace(std::string(name), cgicc::form_urldecode(std::string(raw)));
    }
    return match;
}

}  // namespace inkstone::lib
