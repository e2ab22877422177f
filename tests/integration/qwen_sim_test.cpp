// The Qwen provider against the DashScope simulator (tests/sim, README "DashScope simulator") as a
// process: the two implementations of DashScope's native protocol checked against each other,
// directive by directive.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "lib/ai/qwen_provider.h"
#include "tests/harness/process.h"
#include "tests/harness/shared_simulator.h"
#include "tests/harness/simulator.h"

namespace inkstone::testing {
namespace {

using lib::ai::GenerateRequest;
using lib::ai::GenerateResult;
using lib::ai::Outcome;
using Kind = lib::ai::UpstreamError::Kind;
using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

long long MsSince(SteadyClock::time_point start) {
    return std::chrono::duration_cast<milliseconds>(SteadyClock::now() - start).count();
}

Simulator& Sim() { return SharedSimulator("inkstone-qwen-sim-test-"); }

lib::base::QwenConfig Config() {
    lib::base::QwenConfig config;
    config.api_key = Sim().api_key();
    config.base_url = Sim().base_url();
    config.idle_timeout_ms = 5000;
    config.total_timeout_ms = 30000;
    return config;
}

GenerateRequest Request(const std::string& prompt, const std::string& model = "qwen-plus") {
    GenerateRequest request;
    request.model = model;
    request.messages = {{"system", "You are a helpful writer."}, {"user", prompt}};
    return request;
}

class Collect final : public lib::ai::StreamSink {
  public:
    bool OnDelta(std::string_view text) override {
        text_ += text;
        ++count;
        return true;
    }
    const std::string& text() const { return text_; }
    int count = 0;

  private:
    std::string text_;
};

/// Waits until the simulator counts `aborted` aborted streams; returns how long that took.
long long WaitForAborted(int64_t aborted, int timeout_ms) {
    const auto started = SteadyClock::now();
    while (MsSince(started) < timeout_ms) {
        if (Sim().Stats().aborted_streams >= aborted) return MsSince(started);
        std::this_thread::sleep_for(milliseconds(20));
    }
    return -1;
}

TEST(QwenSim, StreamedTextEqualsJsonText) {
    lib::ai::QwenProvider provider(Config());
    const lib::ai::NoCancel never;
    for (const std::string model : {"qwen-turbo", "qwen-plus", "qwen-max"}) {
        const std::string prompt = "写一篇关于秋天的散文 [[sim:tokens=24]]";
        const Outcome<GenerateResult> json =
            provider.Generate(Request(prompt, model), nullptr, never);
        ASSERT_TRUE(json.ok()) << json.error().message;
        Collect sink;
        const Outcome<GenerateResult> stream =
            provider.Generate(Request(prompt, model), &sink, never);
        ASSERT_TRUE(stream.ok()) << stream.error().message;
        EXPECT_FALSE(json.value().content.empty());
        EXPECT_EQ(sink.text(), json.value().content) << model;
        EXPECT_EQ(sink.count, 24);
        EXPECT_EQ(stream.value().finish_reason, "stop");
        EXPECT_EQ(json.value().finish_reason, "stop");
        EXPECT_EQ(stream.value().usage.output_tokens, 24);
        EXPECT_EQ(json.value().usage.output_tokens, 24);
        EXPECT_EQ(stream.value().usage.input_tokens, json.value().usage.input_tokens);
        EXPECT_FALSE(stream.value().request_id.empty());
    }
}

TEST(QwenSim, MaxTokensFinishesWithLength) {
    lib::ai::QwenProvider provider(Config());
    GenerateRequest request = Request("long [[sim:tokens=10]]");
    request.max_tokens = 3;
    Collect sink;
    const Outcome<GenerateResult> result = provider.Generate(request, &sink, lib::ai::NoCancel());
    ASSERT_TRUE(result.ok()) << result.error().message;
    EXPECT_EQ(result.value().finish_reason, "length");
    EXPECT_EQ(sink.count, 3);
}

TEST(QwenSim, DeltasArriveOneByOne) {
    lib::ai::QwenProvider provider(Config());
    class Timed final : public lib::ai::StreamSink {
      public:
        bool OnDelta(std::string_view) override {
            times.push_back(SteadyClock::now());
            return true;
        }
        std::vector<SteadyClock::time_point> times;
    } sink;
    ASSERT_TRUE(
        provider.Generate(Request("x [[sim:tokens=4,delay_ms=200]]"), &sink, lib::ai::NoCancel())
            .ok());
    ASSERT_EQ(sink.times.size(), 4u);
    for (size_t i = 1; i < sink.times.size(); ++i) {
        const auto gap =
            std::chrono::duration_cast<milliseconds>(sink.times[i] - sink.times[i - 1]).count();
        EXPECT_GE(gap, 150) << i;
        EXPECT_LE(gap, 600) << i;
    }
}

TEST(QwenSim, VisionWithImages) {
    lib::ai::QwenProvider provider(Config());
    GenerateRequest request = Request("What is in the picture? [[sim:tokens=5]]", "qwen-vl-plus");
    request.images = {"https://example.com/a.png"};
    Collect sink;
    const Outcome<GenerateResult> stream = provider.Generate(request, &sink, lib::ai::NoCancel());
    ASSERT_TRUE(stream.ok()) << stream.error().message;
    const Outcome<GenerateResult> json = provider.Generate(request, nullptr, lib::ai::NoCancel());
    ASSERT_TRUE(json.ok()) << json.error().message;
    EXPECT_EQ(sink.count, 5);
    EXPECT_EQ(sink.text(), json.value().content);
}

TEST(QwenSim, ErrorDirectivesBeforeAnyOutput) {
    lib::ai::QwenProvider provider(Config());
    struct Case {
        const char* error;
        Kind kind;
        int api_status;
    };
    for (const Case& c : {Case{"401", Kind::kAuth, 502}, Case{"429", Kind::kRateLimited, 503},
                          Case{"500", Kind::kServer, 502},
                          Case{"DataInspectionFailed", Kind::kContentRejected, 422}}) {
        for (const bool stream : {false, true}) {
            Collect sink;
            const Outcome<GenerateResult> result =
                provider.Generate(Request(std::string("x [[sim:error=") + c.error + "]]"),
                                  stream ? &sink : nullptr, lib::ai::NoCancel());
            ASSERT_FALSE(result.ok()) << c.error;
            EXPECT_EQ(result.error().kind, c.kind) << c.error << " stream=" << stream;
            EXPECT_FALSE(result.error().after_output) << c.error;
            EXPECT_FALSE(result.error().request_id.empty()) << c.error;
            EXPECT_EQ(lib::base::HttpStatus(lib::ai::ToApiError(result.error()).code),
                      c.api_status);
            EXPECT_EQ(sink.count, 0);
        }
    }
}

TEST(QwenSim, WrongKeyModelAndEndpoint) {
    lib::base::QwenConfig config = Config();
    config.api_key = "sk-wrong";
    lib::ai::QwenProvider wrong_key(config);
    EXPECT_EQ(wrong_key.Generate(Request("x"), nullptr, lib::ai::NoCancel()).error().kind,
              Kind::kAuth);
    lib::ai::QwenProvider provider(Config());
    const Outcome<GenerateResult> no_model =
        provider.Generate(Request("x", "qwen-nonexistent"), nullptr, lib::ai::NoCancel());
    ASSERT_FALSE(no_model.ok());
    EXPECT_EQ(no_model.error().kind, Kind::kBadRequest);
    EXPECT_EQ(no_model.error().code, "InvalidParameter");
}

TEST(QwenSim, FailAfterAndModerationMidStream) {
    lib::ai::QwenProvider provider(Config());
    Collect sink;
    Outcome<GenerateResult> result =
        provider.Generate(Request("x [[sim:tokens=10,fail_after=3]]"), &sink, lib::ai::NoCancel());
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().kind, Kind::kServer);
    EXPECT_TRUE(result.error().after_output);
    EXPECT_EQ(sink.count, 3);

    Collect moderated;
    result = provider.Generate(Request("x [[sim:fail_after=1,error=DataInspectionFailed]]"),
                               &moderated, lib::ai::NoCancel());
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().kind, Kind::kContentRejected);
    EXPECT_TRUE(result.error().after_output);
    EXPECT_EQ(moderated.count, 1);
}

TEST(QwenSim, CutAfterIsANetworkErrorAfterOutput) {
    lib::ai::QwenProvider provider(Config());
    Collect sink;
    const Outcome<GenerateResult> result =
        provider.Generate(Request("x [[sim:tokens=10,cut_after=2]]"), &sink, lib::ai::NoCancel());
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().kind, Kind::kNetwork);
    EXPECT_TRUE(result.error().after_output);
    EXPECT_EQ(sink.count, 2);
}

TEST(QwenSim, HangAfterHitsTheIdleTimeoutAndUpstreamSeesTheAbort) {
    lib::base::QwenConfig config = Config();
    config.idle_timeout_ms = 500;
    lib::ai::QwenProvider provider(config);
    Sim().ResetStats();
    Collect sink;
    const auto started = SteadyClock::now();
    const Outcome<GenerateResult> result =
        provider.Generate(Request("x [[sim:tokens=10,hang_after=2]]"), &sink, lib::ai::NoCancel());
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().kind, Kind::kTimeout);
    EXPECT_TRUE(result.error().after_output);
    EXPECT_EQ(sink.count, 2);
    EXPECT_GE(MsSince(started), 500);
    EXPECT_LT(MsSince(started), 2500);
    EXPECT_GE(WaitForAborted(1, 2000), 0);
}

TEST(QwenSim, CancelReachesUpstreamWithinASecond) {
    lib::ai::QwenProvider provider(Config());
    Sim().ResetStats();
    lib::ai::CancelFlag flag;
    Collect sink;
    std::thread canceller([&] {
        std::this_thread::sleep_for(milliseconds(300));
        flag.Cancel();
    });
    const Outcome<GenerateResult> result =
        provider.Generate(Request("x [[sim:tokens=50,delay_ms=100]]"), &sink, flag);
    canceller.join();
    const auto cancelled = SteadyClock::now();
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().kind, Kind::kCancelled);
    EXPECT_TRUE(result.error().after_output);
    const long long seen = WaitForAborted(1, 2000);
    EXPECT_GE(seen, 0);
    EXPECT_LT(MsSince(cancelled), 1000);
}

TEST(QwenSim, ImageTasksSucceedAndFail) {
    lib::ai::QwenProvider provider(Config());
    const lib::ai::NoCancel never;
    for (const bool fail : {false, true}) {
        lib::ai::ImageRequest image;
        image.model = "wanx-v1";
        image.prompt = std::string("a cat [[sim:task_ms=300") + (fail ? ",task=fail]]" : "]]");
        image.size = "1024*1024";
        image.n = 1;
        const Outcome<lib::ai::ImageTask> submitted = provider.SubmitImageTask(image, never);
        ASSERT_TRUE(submitted.ok()) << submitted.error().message;
        EXPECT_EQ(submitted.value().status, lib::ai::TaskStatus::kPending);
        Outcome<lib::ai::ImageTask> polled = submitted;
        const auto started = SteadyClock::now();
        while (MsSince(started) < 5000) {
            polled = provider.GetImageTask(submitted.value().task_id, never);
            ASSERT_TRUE(polled.ok()) << polled.error().message;
            if (polled.value().status != lib::ai::TaskStatus::kPending &&
                polled.value().status != lib::ai::TaskStatus::kRunning) {
                break;
            }
            std::this_thread::sleep_for(milliseconds(100));
        }
        if (fail) {
            EXPECT_EQ(polled.value().status, lib::ai::TaskStatus::kFailed);
            EXPECT_FALSE(polled.value().code.empty());
        } else {
            EXPECT_EQ(polled.value().status, lib::ai::TaskStatus::kSucceeded);
            EXPECT_EQ(polled.value().image_urls.size(), 1u);
            EXPECT_EQ(polled.value().image_count, 1);
        }
    }
    const Outcome<lib::ai::ImageTask> unknown = provider.GetImageTask("no-such-task", never);
    ASSERT_TRUE(unknown.ok()) << unknown.error().message;
    EXPECT_EQ(unknown.value().status, lib::ai::TaskStatus::kUnknown);
}

}  // namespace
}  // namespace inkstone::testing
