#include "lib/ai/provider.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lib/http/message.h"

namespace inkstone::lib {
using namespace inkstone::lib::base;
using namespace inkstone::lib::http;
using namespace inkstone::lib::ai;
namespace {

using Kind = UpstreamError::Kind;

TEST(ToApiErrorTest, MapsEveryKindPerSpec) {
    struct Case {
        Kind kind;
        int status;
        const char* code;
    };
    for (const Case& c : std::vector<Case>{
             {Kind::kAuth, 502, "UPSTREAM_ERROR"},
             {Kind::kRateLimited, 503, "UPSTREAM_BUSY"},
             {Kind::kBadRequest, 502, "UPSTREAM_ERROR"},
             {Kind::kContentRejected, 422, "CONTENT_REJECTED"},
             {Kind::kServer, 502, "UPSTREAM_ERROR"},
             {Kind::kTimeout, 504, "UPSTREAM_TIMEOUT"},
             {Kind::kNetwork, 502, "UPSTREAM_ERROR"},
             {Kind::kProtocol, 502, "UPSTREAM_ERROR"},
             {Kind::kCancelled, 502, "UPSTREAM_ERROR"},
         }) {
        UpstreamError error;
        error.kind = c.kind;
        const ApiError api = ToApiError(error);
        EXPECT_EQ(HttpStatus(api.code), c.status) << UpstreamErrorKindName(c.kind);
        EXPECT_EQ(MachineCode(api.code), c.code) << UpstreamErrorKindName(c.kind);
        EXPECT_FALSE(api.detail.empty());
    }
}

TEST(ToApiErrorTest, UpstreamTextNeverReachesTheClient) {
    UpstreamError error;
    error.kind = Kind::kAuth;
    error.http_status = 401;
    error.code = "InvalidApiKey";
    error.message = "Invalid API-key provided: sk-live-0123456789";
    error.request_id = "req-1";
    const std::string body = ToJson(ToApiError(error).Body());
    for (const char* secret : {"sk-live", "InvalidApiKey", "API-key", "req-1", "401"}) {
        EXPECT_EQ(body.find(secret), std::string::npos) << secret << " in " << body;
    }
}

TEST(UpstreamErrorKindNameTest, NamesAreDistinct) {
    std::vector<std::string_view> names;
    for (Kind kind :
         {Kind::kAuth, Kind::kRateLimited, Kind::kBadRequest, Kind::kContentRejected, Kind::kServer,
          Kind::kTimeout, Kind::kNetwork, Kind::kProtocol, Kind::kCancelled}) {
        const std::string_view name = UpstreamErrorKindName(kind);
        EXPECT_EQ(std::count(names.begin(), names.end(), name), 0) << name;
        names.push_back(name);
    }
}

TEST(OutcomeTest, HoldsAValueOrAnError) {
    Outcome<int> good(7);
    ASSERT_TRUE(good.ok());
    EXPECT_EQ(good.value(), 7);
    UpstreamError error;
    error.kind = Kind::kTimeout;
    Outcome<int> bad(error);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().kind, Kind::kTimeout);
}

TEST(CancelFlagTest, CancelsOnce) {
    CancelFlag flag;
    EXPECT_FALSE(flag.IsCancelled());
    flag.Cancel();
    EXPECT_TRUE(flag.IsCancelled());
    EXPECT_FALSE(NoCancel().IsCancelled());
}

class FakeProvider final : public Provider {
  public:
    Outcome<GenerateResult> Generate(const GenerateRequest&, StreamSink*,
                                     const CancelToken&) override {
        GenerateResult result;
        result.content = "fake";
        result.finish_reason = "stop";
        return result;
    }
    Outcome<ImageTask> SubmitImageTask(const ImageRequest&, const CancelToken&) override {
        return ImageTask();
    }
    Outcome<ImageTask> GetImageTask(std::string_view, const CancelToken&) override {
        return ImageTask();
    }
};

TEST(ProviderMapTest, RegistersQwenByName) {
    EXPECT_EQ(ProviderNames(), std::vector<std::string>{"qwen"});
    const Config config;
    const ProviderMap providers(config);
    EXPECT_NE(providers.Find("qwen"), nullptr);
    EXPECT_EQ(providers.Find("openai"), nullptr);
    EXPECT_EQ(providers.Find(""), nullptr);
    EXPECT_NE(MakeProvider("qwen", config), nullptr);
    EXPECT_EQ(MakeProvider("nope", config), nullptr);
}

TEST(ProviderMapTest, TestsCanPutFakesIn) {
    ProviderMap providers;
    EXPECT_EQ(providers.Find("qwen"), nullptr);
    providers.Add("qwen", std::make_unique<FakeProvider>());
    Provider* provider = providers.Find("qwen");
    ASSERT_NE(provider, nullptr);
    const Outcome<GenerateResult> result = provider->Generate({}, nullptr, NoCancel());
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(result.value().content, "fake");
}

TEST(ProviderMapTest, AnUnusableConfigIsAConfigError) {
    Config config;
    config.qwen.base_url = "ftp://example.com";
    EXPECT_THROW(ProviderMap{config}, ConfigError);
}

TEST(TaskStatusNameTest, DashScopeSpelling) {
    EXPECT_EQ(TaskStatusName(TaskStatus::kPending), "PENDING");
    EXPECT_EQ(TaskStatusName(TaskStatus::kRunning), "RUNNING");
    EXPECT_EQ(TaskStatusName(TaskStatus::kSucceeded), "SUCCEEDED");
    EXPECT_EQ(TaskStatusName(TaskStatus::kFailed), "FAILED");
    EXPECT_EQ(TaskStatusName(TaskStatus::kCanceled), "CANCELED");
    EXPECT_EQ(TaskStatusName(TaskStatus::kUnknown), "UNKNOWN");
}

}  // namespace
}  // namespace inkstone::lib
