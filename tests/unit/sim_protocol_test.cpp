// The simulator's wire shapes against the captures in tests/unit/dashscope_captures.h, and its
// request validation.
#include <gtest/gtest.h>
#include <json/reader.h>

#include <memory>
#include <regex>
#include <set>
#include <string>
#include <variant>

#include "lib/base/utf8.h"
#include "tests/sim/png.h"
#include "tests/sim/protocol.h"

namespace inkstone::sim {
namespace {

Json::Value Parse(const std::string& text) {
    Json::CharReaderBuilder builder;
    std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
    Json::Value value;
    std::string errors;
    EXPECT_TRUE(reader->parse(text.data(), text.data() + text.size(), &value, &errors))
        << errors << ": " << text;
    return value;
}

GenerationRequest MustParse(Endpoint endpoint, const std::string& body) {
    auto parsed = ParseGenerationRequest(endpoint, body);
    if (const ApiFailure* f = std::get_if<ApiFailure>(&parsed)) {
        ADD_FAILURE() << f->status << " " << f->code << " " << f->message << " for " << body;
        return {};
    }
    return std::get<GenerationRequest>(parsed);
}

ApiFailure MustFail(Endpoint endpoint, const std::string& body) {
    auto parsed = ParseGenerationRequest(endpoint, body);
    if (std::holds_alternative<GenerationRequest>(parsed)) {
        ADD_FAILURE() << "accepted: " << body;
        return {};
    }
    return std::get<ApiFailure>(parsed);
}

TEST(SimProtocol, Models) {
    ASSERT_NE(FindModel("qwen-turbo"), nullptr);
    EXPECT_EQ(FindModel("qwen-plus")->kind, ModelKind::kText);
    EXPECT_EQ(FindModel("qwen-max")->kind, ModelKind::kText);
    EXPECT_EQ(FindModel("qwen-vl-plus")->kind, ModelKind::kVision);
    EXPECT_EQ(FindModel("wanx-v1")->kind, ModelKind::kImage);
    EXPECT_EQ(FindModel("qwen-max-latest"), nullptr);
    EXPECT_EQ(FindModel(""), nullptr);
}

TEST(SimProtocol, TextRequestDefaults) {
    const GenerationRequest r = MustParse(
        Endpoint::kText,
        R"({"model":"qwen-turbo","input":{"messages":[{"role":"system","content":"be brief"},)"
        R"({"role":"user","content":"写一首诗 [[sim:tokens=3]]"}]}})");
    EXPECT_EQ(r.model->name, "qwen-turbo");
    EXPECT_FALSE(r.message_format);
    EXPECT_FALSE(r.incremental);
    EXPECT_FALSE(r.max_tokens.has_value());
    EXPECT_EQ(r.prompt, "写一首诗");
    EXPECT_EQ(r.directives.tokens, 3);
    EXPECT_GT(r.input_tokens, 0);
    EXPECT_EQ(r.image_tokens, 0);
    // The directive does not count as input.
    const GenerationRequest plain = MustParse(
        Endpoint::kText,
        R"({"model":"qwen-turbo","input":{"messages":[{"role":"system","content":"be brief"},)"
        R"({"role":"user","content":"写一首诗"}]}})");
    EXPECT_EQ(plain.input_tokens, r.input_tokens);
}

TEST(SimProtocol, TextRequestParameters) {
    const GenerationRequest r = MustParse(
        Endpoint::kText,
        R"({"model":"qwen-plus","input":{"messages":[{"role":"user","content":"a"}]},)"
        R"("parameters":{"result_format":"message","incremental_output":true,"max_tokens":5,)"
        R"("temperature":0.7,"top_p":0.8,"stream":true,"seed":1}})");
    EXPECT_TRUE(r.message_format);
    EXPECT_TRUE(r.incremental);
    EXPECT_EQ(r.max_tokens, 5);
}

TEST(SimProtocol, PromptNextToMessagesIsTheLastUserMessage) {
    const GenerationRequest r = MustParse(
        Endpoint::kText,
        R"({"model":"qwen-max","input":{"prompt":"second","messages":[{"role":"user","content":"first"}]}})");
    EXPECT_EQ(r.prompt, "second");
    EXPECT_EQ(
        MustParse(Endpoint::kText, R"({"model":"qwen-max","input":{"prompt":"only"}})").prompt,
        "only");
}

TEST(SimProtocol, MultimodalRequest) {
    const GenerationRequest r = MustParse(
        Endpoint::kMultimodal,
        R"({"model":"qwen-vl-plus","input":{"messages":[{"role":"user","content":[)"
        R"({"image":"https://example.com/a.jpeg"},{"image":"data:image/png;base64,AAAA"},)"
        R"({"text":"What is in the picture?"}]}]},"parameters":{"result_format":"text"}})");
    EXPECT_TRUE(r.message_format);  // Qwen-VL ignores "text"
    EXPECT_EQ(r.image_tokens, 2 * 1230);
    EXPECT_GT(r.input_tokens, r.image_tokens);
    EXPECT_EQ(r.prompt, "What is in the picture?");
}

TEST(SimProtocol, ValidationErrorsAreDashScopes) {
    struct Case {
        Endpoint endpoint;
        std::string body;
        std::string code;
        std::string message_part;
    };
    const Case cases[] = {
        {Endpoint::kText, "{", "InvalidParameter", "JSON"},
        {Endpoint::kText, "[]", "InvalidParameter", "JSON"},
        {Endpoint::kText, R"({"input":{"prompt":"a"}})", "BadRequest.EmptyModel",
         "Required parameter \"model\" missing from request."},
        {Endpoint::kText, R"({"model":7,"input":{"prompt":"a"}})", "BadRequest.EmptyModel", ""},
        {Endpoint::kText, R"({"model":"qwen-ultra","input":{"prompt":"a"}})", "InvalidParameter",
         "Model not exist."},
        {Endpoint::kText, R"({"model":"qwen-vl-plus","input":{"prompt":"a"}})", "InvalidParameter",
         "url error"},
        {Endpoint::kMultimodal, R"({"model":"qwen-plus","input":{"prompt":"a"}})",
         "InvalidParameter", "url error"},
        {Endpoint::kText, R"({"model":"wanx-v1","input":{"prompt":"a"}})", "InvalidParameter",
         "url error"},
        {Endpoint::kText, R"({"model":"qwen-plus"})", "BadRequest.EmptyInput",
         "Required input parameter missing from request."},
        {Endpoint::kText, R"({"model":"qwen-plus","messages":[]})", "BadRequest.EmptyInput", ""},
        {Endpoint::kText, R"({"model":"qwen-plus","input":{}})", "InvalidParameter",
         "Either \"prompt\" or \"messages\" must exist and cannot both be none"},
        {Endpoint::kText, R"({"model":"qwen-plus","input":{"messages":[]}})", "InvalidParameter",
         ""},
        {Endpoint::kText, R"({"model":"qwen-plus","input":{"messages":"hi"}})", "InvalidParameter",
         ""},
        {Endpoint::kText, R"({"model":"qwen-plus","input":{"messages":[{"content":"a"}]}})",
         "InvalidParameter", ""},
        {Endpoint::kText,
         R"({"model":"qwen-plus","input":{"messages":[{"role":"god","content":"a"}]}})",
         "InvalidParameter", ""},
        {Endpoint::kText,
         R"({"model":"qwen-plus","input":{"messages":[{"role":"user","content":5}]}})",
         "InvalidParameter", ""},
        {Endpoint::kText,
         R"({"model":"qwen-plus","input":{"messages":[{"role":"system","content":"a"}]}})",
         "InvalidParameter", "user"},
        {Endpoint::kText, R"({"model":"qwen-plus","input":{"prompt":5}})", "InvalidParameter", ""},
        {Endpoint::kText,
         R"({"model":"qwen-max","input":{"prompt":"a"},"parameters":{"max_tokens":0}})",
         "InvalidParameter", "Range of max_tokens should be [1, 8192]"},
        {Endpoint::kText,
         R"({"model":"qwen-max","input":{"prompt":"a"},"parameters":{"max_tokens":9000}})",
         "InvalidParameter", "Range of max_tokens should be [1, 8192]"},
        {Endpoint::kText,
         R"({"model":"qwen-max","input":{"prompt":"a"},"parameters":{"max_tokens":"5"}})",
         "InvalidParameter", "max_tokens"},
        {Endpoint::kText,
         R"({"model":"qwen-max","input":{"prompt":"a"},"parameters":{"max_tokens":5.5}})",
         "InvalidParameter", "max_tokens"},
        {Endpoint::kText,
         R"({"model":"qwen-max","input":{"prompt":"a"},"parameters":{"temperature":2}})",
         "InvalidParameter", "Temperature should be in [0.0, 2.0)"},
        {Endpoint::kText, R"({"model":"qwen-max","input":{"prompt":"a"},"parameters":{"top_p":0}})",
         "InvalidParameter", "top_p"},
        {Endpoint::kText,
         R"({"model":"qwen-max","input":{"prompt":"a"},"parameters":{"result_format":"xml"}})",
         "InvalidParameter", "result_format"},
        {Endpoint::kText,
         R"({"model":"qwen-max","input":{"prompt":"a"},"parameters":{"incremental_output":"yes"}})",
         "InvalidParameter", "incremental_output"},
        {Endpoint::kText, R"({"model":"qwen-max","input":{"prompt":"a"},"parameters":[]})",
         "InvalidParameter", "parameters"},
        {Endpoint::kText, R"({"model":"qwen-max","input":{"prompt":"a [[sim:nope=1]]"}})",
         "InvalidParameter", "Invalid [[sim:]] directive: unknown key 'nope'."},
        {Endpoint::kMultimodal,
         R"({"model":"qwen-vl-plus","input":{"messages":[{"role":"user","content":[{"image":3}]}]}})",
         "InvalidParameter", ""},
        {Endpoint::kMultimodal,
         R"({"model":"qwen-vl-plus","input":{"messages":[{"role":"user","content":["text"]}]}})",
         "InvalidParameter", ""},
        {Endpoint::kMultimodal,
         R"({"model":"qwen-vl-plus","input":{"messages":[{"role":"user","content":[{}]}]}})",
         "InvalidParameter", ""},
    };
    for (const Case& c : cases) {
        const ApiFailure f = MustFail(c.endpoint, c.body);
        EXPECT_EQ(f.status, 400) << c.body;
        EXPECT_EQ(f.code, c.code) << c.body;
        EXPECT_NE(f.message.find(c.message_part), std::string::npos) << f.message;
    }
}

TEST(SimProtocol, ImageRequest) {
    auto ok = ParseImageRequest(
        R"({"model":"wanx-v1","input":{"prompt":"一只猫 [[sim:task=fail,task_ms=10]]"},)"
        R"("parameters":{"style":"<auto>","size":"1024*1024","n":2}})");
    ASSERT_TRUE(std::holds_alternative<ImageRequest>(ok));
    const ImageRequest& image = std::get<ImageRequest>(ok);
    EXPECT_EQ(image.n, 2);
    EXPECT_EQ(image.prompt, "一只猫");
    EXPECT_TRUE(image.directives.task_fail);
    EXPECT_EQ(image.directives.task_ms, 10);

    for (const char* bad : {
             R"({"model":"qwen-plus","input":{"prompt":"a"}})",
             R"({"model":"wanx-v9","input":{"prompt":"a"}})",
             R"({"model":"wanx-v1"})",
             R"({"model":"wanx-v1","input":{"prompt":""}})",
             R"({"model":"wanx-v1","input":{"prompt":"a"},"parameters":{"n":5}})",
             R"({"model":"wanx-v1","input":{"prompt":"a"},"parameters":{"n":"1"}})",
             R"({"model":"wanx-v1","input":{"prompt":"a [[sim:task=maybe]]"}})",
         }) {
        auto parsed = ParseImageRequest(bad);
        ASSERT_TRUE(std::holds_alternative<ApiFailure>(parsed)) << bad;
        EXPECT_EQ(std::get<ApiFailure>(parsed).status, 400) << bad;
    }
}

TEST(SimProtocol, PlanOutput) {
    GenerationRequest r;
    OutputPlan p = PlanOutput(r);
    EXPECT_EQ(p.deltas, 20);
    EXPECT_EQ(p.ending, Ending::kFinish);
    EXPECT_EQ(p.finish_reason, "stop");

    r.max_tokens = 5;
    p = PlanOutput(r);
    EXPECT_EQ(p.deltas, 5);
    EXPECT_EQ(p.finish_reason, "length");
    r.max_tokens = 20;
    EXPECT_EQ(PlanOutput(r).finish_reason, "stop");  // exactly enough is not a cut

    r.max_tokens.reset();
    r.directives.fail_after = 3;
    p = PlanOutput(r);
    EXPECT_EQ(p.deltas, 3);
    EXPECT_EQ(p.ending, Ending::kFail);
    r.directives.fail_after = 50;  // beyond the output: instead of the final frame
    EXPECT_EQ(PlanOutput(r).deltas, 20);
    EXPECT_EQ(PlanOutput(r).ending, Ending::kFail);
    r.directives.fail_after.reset();
    r.directives.cut_after = 0;
    EXPECT_EQ(PlanOutput(r).deltas, 0);
    EXPECT_EQ(PlanOutput(r).ending, Ending::kCut);
    r.directives.cut_after.reset();
    r.directives.hang_after = 2;
    EXPECT_EQ(PlanOutput(r).ending, Ending::kHang);
}

TEST(SimProtocol, TextIsDeterministicMixedAndValidUtf8) {
    TextGenerator a("写一篇关于秋天的散文");
    TextGenerator b("写一篇关于秋天的散文");
    TextGenerator other("写一篇关于春天的散文");
    std::string text_a;
    std::string text_b;
    std::string text_other;
    bool cjk = false;
    bool ascii_word = false;
    for (int i = 0; i < 200; ++i) {
        const std::string_view token = a.Next();
        EXPECT_FALSE(token.empty());
        text_a += token;
        text_b += b.Next();
        text_other += other.Next();
        if (static_cast<unsigned char>(token[0]) >= 0xe4) cjk = true;
        if (token[0] == ' ' && token.size() > 1 &&
            std::isalpha(static_cast<unsigned char>(token[1]))) {
            ascii_word = true;
        }
    }
    EXPECT_EQ(text_a, text_b);
    EXPECT_NE(text_a, text_other);
    EXPECT_TRUE(cjk);
    EXPECT_TRUE(ascii_word);
    EXPECT_TRUE(lib::base::IsValidUtf8(text_a));
}

// [STREAM]'s wire example, byte for byte: first and last frames.
TEST(SimProtocol, StreamFramesMatchTheCapture) {
    GenerationRequest r;
    r.model = FindModel("qwen-plus");
    r.message_format = true;
    r.incremental = true;
    r.input_tokens = 26;
    const std::string id = "d30a9914-ac97-9102-b746-ce0cb35e3fa2";
    Progress first;
    first.content = "I am";
    first.output_tokens = 1;
    EXPECT_EQ(SseFrame(1, "result", 200, StreamChunkJson(r, id, first)),
              "id:1\nevent:result\n:HTTP_STATUS/200\n"
              R"(data:{"output":{"choices":[{"message":{"content":"I am","role":"assistant"},)"
              R"("finish_reason":"null"}]},"usage":{"total_tokens":27,"output_tokens":1,)"
              R"("input_tokens":26,"prompt_tokens_details":{"cached_tokens":0}},)"
              R"("request_id":"d30a9914-ac97-9102-b746-ce0cb35e3fa2"})"
              "\n\n");
    Progress last;
    last.content = "";
    last.output_tokens = 66;
    last.finish_reason = "stop";
    EXPECT_EQ(StreamChunkJson(r, id, last),
              R"({"output":{"choices":[{"message":{"content":"","role":"assistant"},)"
              R"("finish_reason":"stop"}]},"usage":{"total_tokens":92,"output_tokens":66,)"
              R"("input_tokens":26,"prompt_tokens_details":{"cached_tokens":0}},)"
              R"("request_id":"d30a9914-ac97-9102-b746-ce0cb35e3fa2"})");
}

TEST(SimProtocol, TextFormatStreamChunk) {
    GenerationRequest r;
    r.model = FindModel("qwen-turbo");
    r.input_tokens = 11;
    Progress p;
    p.content = "你好";
    p.output_tokens = 2;
    EXPECT_EQ(StreamChunkJson(r, "x", p),
              R"({"output":{"finish_reason":"null","text":"你好"},"usage":{"total_tokens":13,)"
              R"("output_tokens":2,"input_tokens":11},"request_id":"x"})");
}

TEST(SimProtocol, MultimodalStreamChunks) {
    GenerationRequest r;
    r.model = FindModel("qwen-vl-plus");
    r.endpoint = Endpoint::kMultimodal;
    r.message_format = true;
    r.input_tokens = 1264;
    r.image_tokens = 1230;
    Progress p;
    p.content = "两";
    p.output_tokens = 1;
    const Json::Value chunk = Parse(StreamChunkJson(r, "x", p));
    EXPECT_EQ(chunk["output"]["choices"][0]["message"]["content"][0]["text"], "两");
    EXPECT_EQ(chunk["output"]["choices"][0]["finish_reason"], "null");
    EXPECT_EQ(chunk["usage"]["image_tokens"], 1230);
    EXPECT_EQ(chunk["usage"]["input_tokens"], 1264);
    p.content = "";
    p.finish_reason = "stop";
    const Json::Value last = Parse(StreamChunkJson(r, "x", p));
    EXPECT_TRUE(last["output"]["choices"][0]["message"]["content"].isArray());
    EXPECT_EQ(last["output"]["choices"][0]["message"]["content"].size(), 0u);
}

// [D4J]'s qwen-turbo capture, byte for byte.
TEST(SimProtocol, CompletionMatchesTheCaptures) {
    GenerationRequest r;
    r.model = FindModel("qwen-turbo");
    r.input_tokens = 11;
    Progress p;
    p.content = "你好！很高兴为你提供帮助。";
    p.output_tokens = 7;
    p.finish_reason = "stop";
    EXPECT_EQ(CompletionJson(r, "db13c38b-4291-9f90-9117-a6be2d823ee5", p),
              R"({"output":{"finish_reason":"stop","text":"你好！很高兴为你提供帮助。"},)"
              R"("usage":{"total_tokens":18,"output_tokens":7,"input_tokens":11},)"
              R"("request_id":"db13c38b-4291-9f90-9117-a6be2d823ee5"})");
    r.message_format = true;
    r.input_tokens = 22;
    p.content = "...";
    p.output_tokens = 17;
    EXPECT_EQ(CompletionJson(r, "id", p),
              R"({"output":{"choices":[{"finish_reason":"stop","message":{"role":"assistant",)"
              R"("content":"..."}}]},"usage":{"input_tokens":22,"output_tokens":17,)"
              R"("total_tokens":39},"request_id":"id"})");
    r.endpoint = Endpoint::kMultimodal;
    r.model = FindModel("qwen-vl-plus");
    r.input_tokens = 1264;
    r.image_tokens = 1230;
    p.content = "图片中有两辆自行车。";
    p.output_tokens = 7;
    const Json::Value vl = Parse(CompletionJson(r, "id", p));
    EXPECT_EQ(vl["output"]["choices"][0]["message"]["content"][0]["text"], "图片中有两辆自行车。");
    EXPECT_EQ(vl["usage"]["total_tokens"], 1271);
}

TEST(SimProtocol, ErrorShapes) {
    EXPECT_EQ(ErrorJson(InvalidApiKeyFailure(), "fb53c4ec-1c12-4fc4-a580-xxxxxx"),
              R"({"code":"InvalidApiKey","message":"Invalid API-key provided.",)"
              R"("request_id":"fb53c4ec-1c12-4fc4-a580-xxxxxx"})");
    EXPECT_EQ(SseFrame(1, "error", 400,
                       ErrorJson(ApiFailure{400, "InvalidParameter", "Preprocessor error"}, "r")),
              "id:1\nevent:error\n:HTTP_STATUS/400\n"
              R"(data:{"code":"InvalidParameter","message":"Preprocessor error","request_id":"r"})"
              "\n\n");

    const ApiFailure e401 = DirectiveFailure(SimError::kInvalidApiKey, false);
    EXPECT_EQ(e401.status, 401);
    EXPECT_EQ(e401.code, "InvalidApiKey");
    const ApiFailure e429 = DirectiveFailure(SimError::kThrottling, false);
    EXPECT_EQ(e429.status, 429);
    EXPECT_EQ(e429.code, "Throttling.RateQuota");
    const ApiFailure e500 = DirectiveFailure(SimError::kInternal, true);
    EXPECT_EQ(e500.status, 500);
    EXPECT_EQ(e500.code, "InternalError");
    const ApiFailure input = DirectiveFailure(SimError::kDataInspectionFailed, false);
    const ApiFailure output = DirectiveFailure(SimError::kDataInspectionFailed, true);
    EXPECT_EQ(input.status, 400);
    EXPECT_EQ(input.code, "DataInspectionFailed");
    EXPECT_EQ(input.message.rfind("Input data", 0), 0u);
    EXPECT_EQ(output.message.rfind("Output data", 0), 0u);

    EXPECT_EQ(ErrorFormFor(SimError::kInvalidApiKey), ErrorForm::kJson);
    EXPECT_EQ(ErrorFormFor(SimError::kThrottling), ErrorForm::kSse200);
    EXPECT_EQ(ErrorFormFor(SimError::kInternal), ErrorForm::kSse);
    EXPECT_EQ(ErrorFormFor(SimError::kDataInspectionFailed), ErrorForm::kSse);

    EXPECT_EQ(AsyncMismatchFailure(false).message,
              "current user api does not support synchronous calls");
    EXPECT_EQ(AsyncMismatchFailure(true).status, 403);
    EXPECT_EQ(MalformedHttpFailure(413).code, "BadRequest.TooLarge");
}

TEST(SimProtocol, TaskShapes) {
    EXPECT_EQ(TaskSubmitJson("0385dc79-5ff8-4d82-bcb6-xxxxxx", "4909100c-7b5a-9f92-bfe5-xxxxxx"),
              R"({"output":{"task_status":"PENDING","task_id":"0385dc79-5ff8-4d82-bcb6-xxxxxx"},)"
              R"("request_id":"4909100c-7b5a-9f92-bfe5-xxxxxx"})");

    TaskView unknown;
    unknown.task_id = "nope";
    EXPECT_EQ(TaskStatusJson(unknown, "r"),
              R"({"request_id":"r","output":{"task_id":"nope","task_status":"UNKNOWN"}})");

    TaskView task;
    task.task_id = "t";
    task.n = 2;
    task.submit_time = "2025-05-18 16:26:27.871";
    task.status = TaskStatus::kPending;
    Json::Value v = Parse(TaskStatusJson(task, "r"));
    EXPECT_EQ(v["output"]["task_status"], "PENDING");
    EXPECT_FALSE(v["output"].isMember("task_metrics"));

    task.status = TaskStatus::kRunning;
    task.scheduled_time = "2025-05-18 16:26:27.890";
    v = Parse(TaskStatusJson(task, "r"));
    EXPECT_EQ(v["output"]["task_status"], "RUNNING");
    EXPECT_EQ(v["output"]["task_metrics"]["TOTAL"], 2);
    EXPECT_FALSE(v.isMember("usage"));

    task.status = TaskStatus::kSucceeded;
    task.end_time = "2025-05-18 16:26:36.803";
    task.urls = {"http://127.0.0.1:1/_sim/img/t-0.png", "http://127.0.0.1:1/_sim/img/t-1.png"};
    v = Parse(TaskStatusJson(task, "r"));
    EXPECT_EQ(v["request_id"], "r");
    EXPECT_EQ(v["output"]["task_status"], "SUCCEEDED");
    EXPECT_EQ(v["output"]["end_time"], "2025-05-18 16:26:36.803");
    ASSERT_EQ(v["output"]["results"].size(), 2u);
    EXPECT_EQ(v["output"]["results"][1]["url"], "http://127.0.0.1:1/_sim/img/t-1.png");
    EXPECT_EQ(v["output"]["task_metrics"]["SUCCEEDED"], 2);
    EXPECT_EQ(v["usage"]["image_count"], 2);

    task.status = TaskStatus::kFailed;
    task.urls.clear();
    v = Parse(TaskStatusJson(task, "r"));
    EXPECT_EQ(v["output"]["task_status"], "FAILED");
    EXPECT_FALSE(v["output"]["code"].asString().empty());
    EXPECT_FALSE(v["output"]["message"].asString().empty());
    EXPECT_FALSE(v["output"].isMember("results"));
    EXPECT_EQ(v["output"]["task_metrics"]["FAILED"], 2);
    EXPECT_EQ(v["usage"]["image_count"], 0);
}

TEST(SimProtocol, JsonEscapingKeepsEveryTokenParseable) {
    GenerationRequest r;
    r.model = FindModel("qwen-turbo");
    TextGenerator text("escapes");
    std::string all;
    for (int i = 0; i < 500; ++i) all += text.Next();
    all += std::string("\x01\x1f\t\r\"\\", 6);
    Progress p;
    p.content = all;
    const Json::Value v = Parse(StreamChunkJson(r, "x", p));
    EXPECT_EQ(v["output"]["text"].asString(), all);
}

TEST(SimProtocol, UuidShape) {
    const std::regex shape("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i) {
        const std::string id = NewUuid();
        EXPECT_TRUE(std::regex_match(id, shape)) << id;
        seen.insert(id);
    }
    EXPECT_EQ(seen.size(), 100u);
}

TEST(SimPng, ValidStructure) {
    const std::string png = SolidPng(4, 3, 1, 2, 3);
    ASSERT_GE(png.size(), 8u + 25 + 12 + 12);
    EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    EXPECT_EQ(png.substr(12, 4), "IHDR");
    EXPECT_EQ(png.substr(33 + 4, 4), "IDAT");
    EXPECT_EQ(png.substr(png.size() - 8, 4), "IEND");
    // IEND's CRC is a constant: crc32("IEND").
    EXPECT_EQ(png.substr(png.size() - 4), std::string("\xae\x42\x60\x82", 4));
    EXPECT_THROW(SolidPng(0, 1, 0, 0, 0), std::invalid_argument);
    EXPECT_THROW(SolidPng(1, 257, 0, 0, 0), std::invalid_argument);
    EXPECT_GT(SolidPng(256, 256, 0, 0, 0).size(), 65535u * 3);  // several stored blocks
}

}  // namespace
}  // namespace inkstone::sim
