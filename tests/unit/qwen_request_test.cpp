// Request building and response decoding of the Qwen provider (no network).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lib/ai/qwen_provider.h"
#include "tests/unit/dashscope_captures.h"

namespace inkstone::lib {
using namespace inkstone::lib::base;
using namespace inkstone::lib::ai;
namespace {

namespace captures = testing::captures;
using Kind = UpstreamError::Kind;
using Headers = std::vector<std::string>;

QwenConfig TestConfig() {
    QwenConfig config;
    config.api_key = "sk-test";
    config.base_url = "https://dashscope.example/api/v1";
    return config;
}

GenerateRequest TextRequest() {
    GenerateRequest request;
    request.model = "qwen-plus";
    request.messages = {{"system", "You are a writer."}, {"user", "Write a poem about \"ink\"."}};
    return request;
}

TEST(BuildGenerateCallTest, TextNonStream) {
    GenerateRequest request = TextRequest();
    request.max_tokens = 100;
    request.temperature = 0.7;
    const HttpCall call = BuildGenerateCall(TestConfig(), request, false);
    EXPECT_EQ(call.method, "POST");
    EXPECT_EQ(call.url,
              "https://dashscope.example/api/v1/services/aigc/text-generation/generation");
    EXPECT_EQ(call.headers,
              (Headers{"Authorization: Bearer sk-test", "Content-Type: application/json",
                       "Accept: application/json"}));
    EXPECT_EQ(call.body,
              R"({"input":{"messages":[{"content":"You are a writer.","role":"system"},)"
              R"({"content":"Write a poem about \"ink\".","role":"user"}]},"model":"qwen-plus",)"
              R"("parameters":{"max_tokens":100,"result_format":"message","temperature":0.7}})");
}

TEST(BuildGenerateCallTest, TextStream) {
    GenerateRequest request = TextRequest();
    request.model = "qwen-turbo";
    request.messages[1].content = "写一首诗";
    const HttpCall call = BuildGenerateCall(TestConfig(), request, true);
    EXPECT_EQ(call.url,
              "https://dashscope.example/api/v1/services/aigc/text-generation/generation");
    EXPECT_EQ(call.headers,
              (Headers{"Authorization: Bearer sk-test", "Content-Type: application/json",
                       "Accept: text/event-stream", "X-DashScope-SSE: enable"}));
    EXPECT_EQ(
        call.body,
        R"({"input":{"messages":[{"content":"You are a writer.","role":"system"},)"
        R"({"content":"写一首诗","role":"user"}]},"model":"qwen-turbo",)"
        R"("parameters":{"incremental_output":true,"result_format":"message","stream":true}})");
}

TEST(BuildGenerateCallTest, VisionPutsTheImagesFirstInTheLastUserMessage) {
    GenerateRequest request;
    request.model = "qwen-vl-plus";
    request.messages = {{"system", "You describe images."}, {"user", "What is this?"}};
    request.images = {"https://e.example/a.png", "https://e.example/b.jpg"};
    request.temperature = 1.0;
    const HttpCall call = BuildGenerateCall(TestConfig(), request, true);
    EXPECT_EQ(call.url,
              "https://dashscope.example/api/v1/services/aigc/multimodal-generation/generation");
    EXPECT_EQ(call.headers,
              (Headers{"Authorization: Bearer sk-test", "Content-Type: application/json",
                       "Accept: text/event-stream", "X-DashScope-SSE: enable"}));
    EXPECT_EQ(
        call.body,
        R"({"input":{"messages":[{"content":[{"text":"You describe images."}],"role":"system"},)"
        R"({"content":[{"image":"https://e.example/a.png"},{"image":"https://e.example/b.jpg"},)"
        R"({"text":"What is this?"}],"role":"user"}]},"model":"qwen-vl-plus",)"
        R"("parameters":{"incremental_output":true,"result_format":"message","stream":true,)"
        R"("temperature":1.0}})");
}

TEST(BuildGenerateCallTest, MultimodalEndpointForImagesOrVlModels) {
    GenerateRequest request = TextRequest();
    request.model = "qwen-vl-max";
    EXPECT_NE(BuildGenerateCall(TestConfig(), request, false).url.find("multimodal-generation"),
              std::string::npos);
    request.model = "qwen-max";
    request.images = {"https://e.example/a.png"};
    EXPECT_NE(BuildGenerateCall(TestConfig(), request, false).url.find("multimodal-generation"),
              std::string::npos);
    // Without any user message the images get one of their own.
    request.messages = {{"system", "s"}};
    EXPECT_NE(BuildGenerateCall(TestConfig(), request, false)
                  .body.find(R"({"content":[{"image":"https://e.example/a.png"}],"role":"user"})"),
              std::string::npos);
}

TEST(BuildImageSubmitCallTest, AsyncTask) {
    ImageRequest request;
    request.model = "wanx-v1";
    request.prompt = "a cat";
    request.negative_prompt = "blurry";
    request.size = "1024*1024";
    request.n = 2;
    const HttpCall call = BuildImageSubmitCall(TestConfig(), request);
    EXPECT_EQ(call.method, "POST");
    EXPECT_EQ(call.url,
              "https://dashscope.example/api/v1/services/aigc/text2image/image-synthesis");
    EXPECT_EQ(call.headers,
              (Headers{"Authorization: Bearer sk-test", "Content-Type: application/json",
                       "Accept: application/json", "X-DashScope-Async: enable"}));
    EXPECT_EQ(call.body,
              R"({"input":{"negative_prompt":"blurry","prompt":"a cat"},"model":"wanx-v1",)"
              R"("parameters":{"n":2,"size":"1024*1024"}})");

    ImageRequest minimal;
    minimal.model = "wanx-v1";
    minimal.prompt = "a cat";
    EXPECT_EQ(BuildImageSubmitCall(TestConfig(), minimal).body,
              R"({"input":{"prompt":"a cat"},"model":"wanx-v1","parameters":{}})");
}

TEST(BuildTaskQueryCallTest, GetWithoutTheAsyncHeader) {
    const HttpCall call = BuildTaskQueryCall(TestConfig(), "0385dc79-5ff8");
    EXPECT_EQ(call.method, "GET");
    EXPECT_EQ(call.url, "https://dashscope.example/api/v1/tasks/0385dc79-5ff8");
    EXPECT_EQ(call.headers, (Headers{"Authorization: Bearer sk-test", "Accept: application/json"}));
    EXPECT_EQ(call.body, "");
}

TEST(IsValidTaskIdTest, OnlyUrlSafeIds) {
    EXPECT_TRUE(IsValidTaskId("0385dc79-5ff8-4d82-bcb6-a1b2c3"));
    EXPECT_TRUE(IsValidTaskId("task_1"));
    EXPECT_FALSE(IsValidTaskId(""));
    EXPECT_FALSE(IsValidTaskId("../services"));
    EXPECT_FALSE(IsValidTaskId("a/b"));
    EXPECT_FALSE(IsValidTaskId("a?b"));
    EXPECT_FALSE(IsValidTaskId("a b"));
    EXPECT_FALSE(IsValidTaskId(std::string(129, 'a')));
}

TEST(DecodeImageTaskBodyTest, EveryStatus) {
    Outcome<ImageTask> task = DecodeImageTaskBody(captures::kTaskSubmitted);
    ASSERT_TRUE(task.ok());
    EXPECT_EQ(task.value().task_id, "0385dc79-5ff8-4d82-bcb6-xxxxxx");
    EXPECT_EQ(task.value().status, TaskStatus::kPending);
    EXPECT_EQ(task.value().request_id, "4909100c-7b5a-9f92-bfe5-xxxxxx");

    task = DecodeImageTaskBody(captures::kTaskRunning);
    ASSERT_TRUE(task.ok());
    EXPECT_EQ(task.value().status, TaskStatus::kRunning);

    task = DecodeImageTaskBody(captures::kTaskSucceeded);
    ASSERT_TRUE(task.ok());
    EXPECT_EQ(task.value().status, TaskStatus::kSucceeded);
    EXPECT_EQ(task.value().image_urls,
              std::vector<std::string>{"https://dashscope-result-bj.oss-cn-beijing.aliyuncs.com/"
                                       "1.png?Expires=1&OSSAccessKeyId=a&Signature=b"});
    EXPECT_EQ(task.value().image_count, 1);

    task = DecodeImageTaskBody(captures::kTaskFailed);
    ASSERT_TRUE(task.ok());
    EXPECT_EQ(task.value().status, TaskStatus::kFailed);
    EXPECT_EQ(task.value().code, "InvalidParameter.FileDownload");
    EXPECT_EQ(task.value().message, "download for input_image error");
    EXPECT_EQ(task.value().image_count, 0);

    task = DecodeImageTaskBody(captures::kTaskUnknown);
    ASSERT_TRUE(task.ok());
    EXPECT_EQ(task.value().status, TaskStatus::kUnknown);

    task = DecodeImageTaskBody(
        R"({"output":{"task_id":"t","task_status":"SUSPENDED"},"request_id":"r"})");
    ASSERT_TRUE(task.ok());
    EXPECT_EQ(task.value().status, TaskStatus::kRunning);
}

TEST(DecodeImageTaskBodyTest, ErrorsAndGarbage) {
    Outcome<ImageTask> task = DecodeImageTaskBody(captures::kThrottlingBody);
    ASSERT_FALSE(task.ok());
    EXPECT_EQ(task.error().kind, Kind::kRateLimited);
    for (const char* bad : {"", "<html>", "[]", R"({"output":{"task_status":"PENDING"}})",
                            R"({"output":{"task_id":"t","task_status":"DONE"}})",
                            R"({"output":{"task_id":"t"}})", R"({"request_id":"r"})"}) {
        task = DecodeImageTaskBody(bad);
        ASSERT_FALSE(task.ok()) << bad;
        EXPECT_EQ(task.error().kind, Kind::kProtocol) << bad;
    }
}

TEST(QwenProviderTest, WithoutAKeyEveryCallFailsWithAuthAndNoNetwork) {
    QwenConfig config;
    config.base_url = "http://127.0.0.1:1";  // nothing listens; a call would be kNetwork
    QwenProvider provider(config);
    const NoCancel never;
    const Outcome<GenerateResult> result = provider.Generate(TextRequest(), nullptr, never);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().kind, Kind::kAuth);
    ImageRequest image;
    image.model = "wanx-v1";
    image.prompt = "p";
    EXPECT_EQ(provider.SubmitImageTask(image, never).error().kind, Kind::kAuth);
    EXPECT_EQ(provider.GetImageTask("t1", never).error().kind, Kind::kAuth);
}

TEST(QwenProviderTest, AnInvalidTaskIdIsABadRequestWithNoCall) {
    QwenConfig config = TestConfig();
    config.base_url = "http://127.0.0.1:1";
    QwenProvider provider(config);
    const Outcome<ImageTask> task = provider.GetImageTask("../x", NoCancel());
    ASSERT_FALSE(task.ok());
    EXPECT_EQ(task.error().kind, Kind::kBadRequest);
}

TEST(QwenProviderTest, TheBaseUrlMustBeHttp) {
    QwenConfig config = TestConfig();
    config.base_url = "dashscope.aliyuncs.com";
    EXPECT_THROW(QwenProvider{config}, ConfigError);
    config.base_url = "http://127.0.0.1:8090/api/v1/";  // a trailing slash is dropped
    EXPECT_NO_THROW(QwenProvider{config});
}

}  // namespace
}  // namespace inkstone::lib
