// Google Benchmark micro-benchmarks of the hot code paths.
#include <benchmark/benchmark.h>

#include "lib/base/utf8.h"
#include "lib/http/json_body.h"
#include "lib/http/router.h"
#include "lib/http/sse.h"

namespace {

using namespace inkstone;

class Nop final : public lib::http::Handler {
  public:
    lib::http::Response Handle(const lib::http::Request&, lib::http::StreamWriter&) const override {
        return lib::http::Response::NoContent();
    }
};

const Nop kNop;

/// A table shaped like the real API (about 30 routes, a few with parameters).
lib::http::Router ApiShapedRouter() {
    std::vector<lib::http::Route> routes;
    for (const char* path : {"/api/v1/health",
                             "/api/v1/auth/register",
                             "/api/v1/auth/login",
                             "/api/v1/auth/logout",
                             "/api/v1/users/me",
                             "/api/v1/credit/balance",
                             "/api/v1/credit/prices",
                             "/api/v1/credit/transactions",
                             "/api/v1/credit/recharge",
                             "/api/v1/credit/recharge/orders",
                             "/api/v1/credit/recharge/orders/{order_no}",
                             "/api/v1/credit/membership/prices",
                             "/api/v1/credit/membership",
                             "/api/v1/credit/membership/orders",
                             "/api/v1/payment/mock/pay",
                             "/api/v1/payment/alipay/notify",
                             "/api/v1/payment/wechat/notify",
                             "/api/v1/ai/models",
                             "/api/v1/writing/tools",
                             "/api/v1/writing/generate",
                             "/api/v1/writing/history",
                             "/api/v1/image/generate",
                             "/api/v1/image/tasks/{task_id}"}) {
        routes.push_back({lib::http::Method::kGet, path, &kNop});
        routes.push_back({lib::http::Method::kPost, path, &kNop});
    }
    return lib::http::Router(std::move(routes));
}

void BM_RouterLiteral(benchmark::State& state) {
    lib::http::Router router = ApiShapedRouter();
    for (auto _ : state) {
        auto m = router.Find(lib::http::Method::kGet, "/api/v1/credit/balance");
        benchmark::DoNotOptimize(m);
    }
}
BENCHMARK(BM_RouterLiteral);

void BM_RouterWithParameter(benchmark::State& state) {
    lib::http::Router router = ApiShapedRouter();
    for (auto _ : state) {
        auto m =
            router.Find(lib::http::Method::kGet, "/api/v1/credit/recharge/orders/R20261126ABCDEF");
        benchmark::DoNotOptimize(m);
    }
}
BENCHMARK(BM_RouterWithParameter);

void BM_RouterNotFound(benchmark::State& state) {
    lib::http::Router router = ApiShapedRouter();
    for (auto _ : state) {
        auto m = router.Find(lib::http::Method::kGet, "/api/v1/credit/nothing/here");
        benchmark::DoNotOptimize(m);
    }
}
BENCHMARK(BM_RouterNotFound);

const std::string kGenerateBody =
    R"({"tool_type":"article","prompt":"写一篇关于秋天的散文，500字左右，语言优美。","model":"qwen-plus","stream":true,"max_tokens":800,"temperature":0.7})";

void BM_JsonParseGenerateBody(benchmark::State& state) {
    for (auto _ : state) {
        Json::Value v = lib::http::ParseJsonObject(kGenerateBody);
        benchmark::DoNotOptimize(v);
    }
    state.SetBytesProcessed(state.iterations() * kGenerateBody.size());
}
BENCHMARK(BM_JsonParseGenerateBody);

void BM_JsonEncodeBalance(benchmark::State& state) {
    Json::Value v;
    v["credits"] = 110;
    v["is_member"] = false;
    v["member_expired_at"] = Json::nullValue;
    v["cost_per_generation"] = 10;
    for (auto _ : state) {
        std::string s = lib::base::ToJson(v);
        benchmark::DoNotOptimize(s);
    }
}
BENCHMARK(BM_JsonEncodeBalance);

void BM_Utf8Validate(benchmark::State& state) {
    std::string text;
    while (text.size() < 64 * 1024) text += "inkstone 写作平台 Qwen streaming ✍️ ";
    for (auto _ : state) benchmark::DoNotOptimize(lib::base::IsValidUtf8(text));
    state.SetBytesProcessed(state.iterations() * text.size());
}
BENCHMARK(BM_Utf8Validate);

void BM_SseEncodeDelta(benchmark::State& state) {
    Json::Value v;
    v["content"] = "秋天的风";
    for (auto _ : state) {
        std::string s = lib::http::EncodeSseJson("delta", v);
        benchmark::DoNotOptimize(s);
    }
}
BENCHMARK(BM_SseEncodeDelta);

}  // namespace
