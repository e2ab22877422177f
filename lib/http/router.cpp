#include "lib/http/router.h"

#include <cgicc/CgiUtils.h>

#include <array>
#include <stdexcept>

namespace inkstone::lib::http {

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

    Method effective = method == Method::kHead ? Method::kGet : method;
    auto route_of = [&](const Node* node) {
        return method == Method::kOther ? -1
                                        : node->route_of_method[static_cast<size_t>(effective)];
    };
    auto has_any = [](const Node* node) {
        for (int index : node->route_of_method) {
            if (index >= 0) return true;
        }
        return false;
    };

    // Depth-first over segments, literal before parameter; depth is the route depth (tiny).
    // The first end node with a route for the method wins; an end node with routes for other
    // methods only is remembered for a 405.
    std::vector<std::pair<std::string_view, std::string_view>> params;
    const Node* found = nullptr;
    const Node* other_method = nullptr;
    auto descend = [&](auto&& self, const Node* node, std::string_view rest) -> bool {
        std::string_view tail = rest;
        bool last = tail.find('/') == std::string_view::npos;
        std::string_view segment = NextSegment(tail);
        if (segment.empty()) return false;
        auto visit = [&](const Node* child) {
            if (!last) return self(self, child, tail);
            if (route_of(child) >= 0) {
                found = child;
                return true;
            }
            if (other_method == nullptr && has_any(child)) other_method = child;
            return false;
        };
        if (const Node* child = node->Literal(segment)) {
            if (visit(child)) return true;
        }
        if (node->param) {
            params.emplace_back(node->param_name, segment);
            if (visit(node->param.get())) return true;
            params.pop_back();
        }
        return false;
    };
    if (!descend(descend, root_.get(), path.substr(1))) {
        if (other_method == nullptr) return match;
        for (size_t m = 0; m < other_method->route_of_method.size(); ++m) {
            if (other_method->route_of_method[m] < 0) continue;
            if (!match.allow.empty()) match.allow += ", ";
            match.allow += MethodName(static_cast<Method>(m));
        }
        match.outcome = Outcome::kMethodNotAllowed;
        return match;
    }
    int index = route_of(found);
    match.outcome = Outcome::kFound;
    match.route = &routes_[static_cast<size_t>(index)];
    for (const auto& [name, raw] : params) {
        match.params.emplace(std::string(name), cgicc::form_urldecode(std::string(raw)));
    }
    return match;
}

}  // namespace inkstone::lib::http
