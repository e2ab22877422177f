#include "lib/http/router.h"

#include <gtest/gtest.h>

namespace inkstone::lib {
using namespace inkstone::lib::base;
using namespace inkstone::lib::http;
namespace {

class Nop final : public Handler {
  public:
    Response Handle(const Request&, StreamWriter&) const override { return Response::NoContent(); }
};

const Nop kA, kB, kC, kD;

Router MakeRouter() {
    return Router({
        {Method::kGet, "/api/v1/health", &kA},
        {Method::kGet, "/api/v1/orders/{order_no}", &kB},
        {Method::kPost, "/api/v1/orders/{order_no}", &kC},
        {Method::kGet, "/api/v1/orders/export", &kD},
        {Method::kGet, "/api/v1/users/{id}/orders/{order_no}", &kA},
    });
}

TEST(Router, FindsLiteralRoute) {
    Router r = MakeRouter();
    auto m = r.Find(Method::kGet, "/api/v1/health");
    ASSERT_EQ(m.outcome, Router::Outcome::kFound);
    EXPECT_EQ(m.route->handler, &kA);
    EXPECT_TRUE(m.params.empty());
}

TEST(Router, CapturesAndDecodesParameters) {
    Router r = MakeRouter();
    auto m = r.Find(Method::kGet, "/api/v1/users/42/orders/A%2DB");
    ASSERT_EQ(m.outcome, Router::Outcome::kFound);
    EXPECT_EQ(m.params.at("id"), "42");
    EXPECT_EQ(m.params.at("order_no"), "A-B");
}

TEST(Router, LiteralBeatsParameter) {
    Router r = MakeRouter();
    EXPECT_EQ(r.Find(Method::kGet, "/api/v1/orders/export").route->handler, &kD);
    EXPECT_EQ(r.Find(Method::kGet, "/api/v1/orders/X1").route->handler, &kB);
    // POST has no literal route: backtracks to the parameter route.
    auto post = r.Find(Method::kPost, "/api/v1/orders/export");
    ASSERT_EQ(post.outcome, Router::Outcome::kFound);
    EXPECT_EQ(post.route->handler, &kC);
    EXPECT_EQ(post.params.at("order_no"), "export");
}

TEST(Router, MethodNotAllowedListsAllowedMethods) {
    Router r = MakeRouter();
    auto m = r.Find(Method::kDelete, "/api/v1/orders/X1");
    EXPECT_EQ(m.outcome, Router::Outcome::kMethodNotAllowed);
    EXPECT_EQ(m.allow, "GET, POST");
    EXPECT_EQ(r.Find(Method::kPost, "/api/v1/health").outcome, Router::Outcome::kMethodNotAllowed);
}

TEST(Router, HeadMatchesGet) {
    Router r = MakeRouter();
    EXPECT_EQ(r.Find(Method::kHead, "/api/v1/health").outcome, Router::Outcome::kFound);
}

TEST(Router, NotFoundCases) {
    Router r = MakeRouter();
    for (const char* path :
         {"", "/", "/api", "/api/v1", "/api/v1/", "/api/v1/health/", "/api/v1//health",
          "/api/v1/healthz", "/api/v1/orders", "/api/v1/orders/", "/api/v1/orders/1/2",
          "api/v1/health", "/api/v1/../v1/health", "/API/V1/HEALTH"}) {
        EXPECT_EQ(r.Find(Method::kGet, path).outcome, Router::Outcome::kNotFound) << path;
    }
}

TEST(Router, RejectsBadTables) {
    EXPECT_THROW(Router({{Method::kGet, "/a", &kA}, {Method::kGet, "/a", &kB}}),
                 std::invalid_argument);
    EXPECT_THROW(Router({{Method::kGet, "/a/", &kA}}), std::invalid_argument);
    EXPECT_THROW(Router({{Method::kGet, "/a//b", &kA}}), std::invalid_argument);
    EXPECT_THROW(Router({{Method::kGet, "/a/{}", &kA}}), std::invalid_argument);
    EXPECT_THROW(Router({{Method::kGet, "/a/{x}", &kA}, {Method::kPost, "/a/{y}", &kA}}),
                 std::invalid_argument);
    EXPECT_THROW(Router({{Method::kGet, "/a", nullptr}}), std::invalid_argument);
}

}  // namespace
}  // namespace inkstone::lib
