// The DashScope simulator as a process, over real HTTP with libcurl: the wire shapes of
// DashScope's native protocol (README, "DashScope simulator"), every directive, auth, errors,
// stats, image tasks, keep-alive, garbage input, and 2,000 concurrent slow streams.
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <json/reader.h>
#include <json/writer.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness/process.h"
#include "tests/harness/shared_simulator.h"
#include "tests/harness/shared_stack.h"
#include "tests/harness/simulator.h"

namespace inkstone::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kTextPath = "/api/v1/services/aigc/text-generation/generation";
constexpr const char* kVisionPath = "/api/v1/services/aigc/multimodal-generation/generation";
constexpr const char* kImagePath = "/api/v1/services/aigc/text2image/image-synthesis";

Simulator& Sim() { return SharedSimulator("inkstone-sim-test-"); }

HttpHeaders Auth(HttpHeaders extra = {}) {
    extra.emplace("Authorization", std::string("Bearer ") + kSimulatorApiKey);
    return extra;
}

HttpHeaders Sse(HttpHeaders extra = {}) {
    extra.emplace("X-DashScope-SSE", "enable");
    return Auth(std::move(extra));
}

std::string TextBody(const std::string& prompt, const std::string& parameters = "{}",
                     const std::string& model = "qwen-plus") {
    Json::Value body;
    body["model"] = model;
    Json::Value message;
    message["role"] = "user";
    message["content"] = prompt;
    body["input"]["messages"].append(message);
    Json::CharReaderBuilder builder;
    std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
    std::string errors;
    Json::Value params;
    EXPECT_TRUE(
        reader->parse(parameters.data(), parameters.data() + parameters.size(), &params, &errors));
    body["parameters"] = params;
    Json::StreamWriterBuilder writer;
    writer["indentation"] = "";
    return Json::writeString(writer, body);
}

Json::Value ParseJson(const std::string& text) {
    Json::CharReaderBuilder builder;
    std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
    Json::Value value;
    std::string errors;
    EXPECT_TRUE(reader->parse(text.data(), text.data() + text.size(), &value, &errors))
        << errors << ": " << text;
    return value;
}

struct Frame {
    std::string id;
    std::string event;
    std::string status;  // from the `:HTTP_STATUS/NNN` comment
    std::string data;
    Json::Value json;
};

std::vector<Frame> ParseFrames(const std::string& body) {
    std::vector<Frame> frames;
    size_t pos = 0;
    while (pos < body.size()) {
        size_t end = body.find("\n\n", pos);
        if (end == std::string::npos) end = body.size();
        const std::string block = body.substr(pos, end - pos);
        pos = end + 2;
        if (block.empty()) continue;
        Frame frame;
        std::istringstream lines(block);
        for (std::string line; std::getline(lines, line);) {
            if (line.rfind("id:", 0) == 0) frame.id = line.substr(3);
            if (line.rfind("event:", 0) == 0) frame.event = line.substr(6);
            if (line.rfind(":HTTP_STATUS/", 0) == 0) frame.status = line.substr(13);
            if (line.rfind("data:", 0) == 0) frame.data = line.substr(5);
        }
        frame.json = ParseJson(frame.data);
        frames.push_back(std::move(frame));
    }
    return frames;
}

HttpResponse PostText(const std::string& prompt, const std::string& parameters = "{}",
                      const HttpHeaders& headers = Auth(), const std::string& model = "qwen-plus") {
    return Sim().client().Request("POST", kTextPath, TextBody(prompt, parameters, model), headers);
}

std::string MessageContent(const Json::Value& response) {
    return response["output"]["choices"][0]["message"]["content"].asString();
}

// The text of a streamed answer: the deltas joined (incremental) or the last frame's content.
std::string StreamedText(const std::vector<Frame>& frames) {
    std::string text;
    for (const Frame& f : frames) text += MessageContent(f.json);
    return text;
}

SimulatorStats WaitForStats(const std::function<bool(const SimulatorStats&)>& done,
                            milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    SimulatorStats stats = Sim().Stats();
    while (!done(stats) && Clock::now() < deadline) {
        std::this_thread::sleep_for(milliseconds(10));
        stats = Sim().Stats();
    }
    return stats;
}

TEST(Sim, JsonTextFormat) {
    const HttpResponse r = PostText("写一篇关于秋天的散文 [[sim:tokens=7]]");
    ASSERT_EQ(r.status, 200) << r.body << r.error;
    EXPECT_EQ(r.Header("content-type"), "application/json");
    const Json::Value body = r.JsonBody();
    EXPECT_EQ(body["output"]["finish_reason"], "stop");
    EXPECT_FALSE(body["output"]["text"].asString().empty());
    EXPECT_FALSE(body["output"].isMember("choices"));
    EXPECT_EQ(body["usage"]["output_tokens"], 7);
    EXPECT_GT(body["usage"]["input_tokens"].asInt(), 0);
    EXPECT_EQ(body["usage"]["total_tokens"].asInt(),
              body["usage"]["input_tokens"].asInt() + body["usage"]["output_tokens"].asInt());
    EXPECT_EQ(body["request_id"].asString().size(), 36u);
    EXPECT_EQ(body["request_id"].asString(), r.Header("x-request-id"));
    EXPECT_EQ(body.size(), 3u) << r.body;  // output, usage, request_id: no SDK-only fields
}

TEST(Sim, JsonMessageFormat) {
    const HttpResponse r = PostText("标题 [[sim:tokens=4]]", R"({"result_format":"message"})");
    ASSERT_EQ(r.status, 200) << r.body;
    const Json::Value body = r.JsonBody();
    const Json::Value& choice = body["output"]["choices"][0];
    EXPECT_EQ(choice["finish_reason"], "stop");
    EXPECT_EQ(choice["message"]["role"], "assistant");
    EXPECT_TRUE(choice["message"]["content"].isString());
    EXPECT_FALSE(body["output"].isMember("text"));
    EXPECT_EQ(body["usage"]["output_tokens"], 4);
}

TEST(Sim, SseFramesAndIncrementalDeltasEqualTheJsonText) {
    const std::string prompt = "写一篇关于秋天的散文";
    const HttpResponse json =
        PostText(prompt + " [[sim:tokens=12]]", R"({"result_format":"message"})");
    ASSERT_EQ(json.status, 200) << json.body;
    const HttpResponse r =
        PostText("[[sim:tokens=12,delay_ms=5]]" + prompt,
                 R"({"result_format":"message","incremental_output":true})", Sse());
    ASSERT_EQ(r.status, 200) << r.body << r.error;
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.Header("content-type"), "text/event-stream;charset=UTF-8");
    EXPECT_EQ(r.Header("transfer-encoding"), "chunked");
    // Exactly the [STREAM] capture's framing: no spaces after the colons, a blank line between.
    EXPECT_EQ(r.body.rfind("id:1\nevent:result\n:HTTP_STATUS/200\ndata:{\"output\":", 0), 0u)
        << r.body.substr(0, 200);
    const std::vector<Frame> frames = ParseFrames(r.body);
    ASSERT_EQ(frames.size(), 13u);
    for (size_t i = 0; i < frames.size(); ++i) {
        const Frame& f = frames[i];
        EXPECT_EQ(f.id, std::to_string(i + 1));
        EXPECT_EQ(f.event, "result");
        EXPECT_EQ(f.status, "200");
        const Json::Value& choice = f.json["output"]["choices"][0];
        const bool last = i + 1 == frames.size();
        EXPECT_EQ(choice["finish_reason"], last ? "stop" : "null");  // the string "null"
        EXPECT_TRUE(choice["finish_reason"].isString());
        EXPECT_EQ(choice["message"]["role"], "assistant");
        EXPECT_EQ(f.json["usage"]["output_tokens"].asUInt(), last ? 12u : i + 1);  // cumulative
        EXPECT_EQ(f.json["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
        EXPECT_EQ(f.json["request_id"].asString(), r.Header("x-request-id"));
        if (!last) {
            EXPECT_FALSE(MessageContent(f.json).empty());
        }
    }
    EXPECT_EQ(MessageContent(frames.back().json), "");
    EXPECT_EQ(StreamedText(frames), MessageContent(json.JsonBody()));
    EXPECT_EQ(r.body.find("[DONE]"), std::string::npos);
}

TEST(Sim, CumulativeStreamRepeatsTheTextSoFar) {
    const HttpResponse r = PostText("累积 [[sim:tokens=5]]", R"({"result_format":"text"})", Sse());
    ASSERT_EQ(r.status, 200) << r.body;
    const std::vector<Frame> frames = ParseFrames(r.body);
    ASSERT_EQ(frames.size(), 6u);
    std::string previous;
    for (const Frame& f : frames) {
        const std::string text = f.json["output"]["text"].asString();
        EXPECT_EQ(text.rfind(previous, 0), 0u) << text << " does not extend " << previous;
        EXPECT_GE(text.size(), previous.size());
        previous = text;
    }
    const Json::Value json = PostText("累积 [[sim:tokens=5]]").JsonBody();
    EXPECT_EQ(frames.back().json["output"]["text"], json["output"]["text"]);
    EXPECT_EQ(frames.back().json["output"]["finish_reason"], "stop");
}

TEST(Sim, AcceptEventStreamAlsoStreams) {
    const HttpResponse r =
        PostText("x [[sim:tokens=2]]", "{}", Auth({{"Accept", "text/event-stream"}}));
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(ParseFrames(r.body).size(), 3u);
}

TEST(Sim, TextIsDeterministicPerPrompt) {
    const auto text = [](const std::string& prompt) {
        return PostText(prompt).JsonBody()["output"]["text"].asString();
    };
    EXPECT_EQ(text("写一首诗"), text("写一首诗"));
    EXPECT_EQ(text("写一首诗"), text("写一首诗 [[sim:delay_ms=1]]"));
    EXPECT_NE(text("写一首诗"), text("写一首词"));
    EXPECT_EQ(PostText("x").JsonBody()["usage"]["output_tokens"], 20);  // the default
}

TEST(Sim, MaxTokensCutsWithLength) {
    const HttpResponse r = PostText("long [[sim:tokens=10]]", R"({"max_tokens":3})");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.JsonBody()["output"]["finish_reason"], "length");
    EXPECT_EQ(r.JsonBody()["usage"]["output_tokens"], 3);
    const std::vector<Frame> frames = ParseFrames(
        PostText("long [[sim:tokens=10]]", R"({"max_tokens":3,"incremental_output":true})", Sse())
            .body);
    ASSERT_EQ(frames.size(), 4u);
    EXPECT_EQ(frames.back().json["output"]["finish_reason"], "length");
}

TEST(Sim, MultimodalJsonAndStream) {
    const std::string body =
        R"({"model":"qwen-vl-plus","input":{"messages":[{"role":"user","content":[)"
        R"({"image":"https://dashscope.oss-cn-beijing.aliyuncs.com/images/dog_and_girl.jpeg"},)"
        R"({"text":"What scene is depicted in the image? [[sim:tokens=4]]"}]}]},)"
        R"("parameters":{"incremental_output":true}})";
    const HttpResponse json = Sim().client().Request("POST", kVisionPath, body, Auth());
    ASSERT_EQ(json.status, 200) << json.body;
    const Json::Value v = json.JsonBody();
    const Json::Value& content = v["output"]["choices"][0]["message"]["content"];
    ASSERT_TRUE(content.isArray());
    EXPECT_FALSE(content[0]["text"].asString().empty());
    EXPECT_GT(v["usage"]["image_tokens"].asInt(), 0);

    const HttpResponse stream = Sim().client().Request("POST", kVisionPath, body, Sse());
    const std::vector<Frame> frames = ParseFrames(stream.body);
    ASSERT_EQ(frames.size(), 5u);
    std::string text;
    for (size_t i = 0; i + 1 < frames.size(); ++i) {
        text += frames[i].json["output"]["choices"][0]["message"]["content"][0]["text"].asString();
    }
    EXPECT_EQ(text, content[0]["text"].asString());
    EXPECT_EQ(frames.back().json["output"]["choices"][0]["message"]["content"].size(), 0u);

    // A text model on the multimodal endpoint, and the other way round.
    const HttpResponse wrong = Sim().client().Request("POST", kVisionPath, TextBody("x"), Auth());
    EXPECT_EQ(wrong.status, 400);
    EXPECT_EQ(wrong.JsonBody()["code"], "InvalidParameter");
    EXPECT_EQ(PostText("x", "{}", Auth(), "qwen-vl-plus").status, 400);
}

// Arrival time of each frame, relative to the request's start.
std::vector<milliseconds> FrameTimes(const std::string& prompt, HttpResponse* response,
                                     milliseconds timeout = std::chrono::seconds(30)) {
    std::vector<milliseconds> times;
    const auto start = Clock::now();
    *response = Sim().client(timeout).Stream(
        "POST", kTextPath, TextBody(prompt, R"({"incremental_output":true})"), Sse(),
        [&](const std::string& chunk, Clock::time_point at) {
            size_t pos = 0;
            while ((pos = chunk.find("id:", pos)) != std::string::npos) {
                times.push_back(std::chrono::duration_cast<milliseconds>(at - start));
                pos += 3;
            }
            return true;
        });
    return times;
}

TEST(Sim, DelayAndFirstDelay) {
    HttpResponse r;
    const std::vector<milliseconds> times =
        FrameTimes("[[sim:tokens=3,first_delay_ms=300,delay_ms=150]]", &r);
    ASSERT_EQ(r.status, 200) << r.error;
    ASSERT_EQ(times.size(), 4u);
    EXPECT_GE(times[0].count(), 290);
    // Timers are scheduled from the plan, so one late frame may make the next gap shorter on a
    // loaded machine: check each gap loosely and their sum tightly.
    EXPECT_GE((times[1] - times[0]).count(), 60);
    EXPECT_GE((times[2] - times[1]).count(), 60);
    EXPECT_GE((times[2] - times[0]).count(), 280);
    EXPECT_LT((times[3] - times[2]).count(), 150);  // the final frame follows the last token
    EXPECT_LT(times[3].count(), 3000);

    const auto start = Clock::now();
    const HttpResponse json = PostText("[[sim:tokens=3,first_delay_ms=200,delay_ms=100]]");
    EXPECT_EQ(json.status, 200);
    EXPECT_GE(std::chrono::duration_cast<milliseconds>(Clock::now() - start).count(), 390);
}

TEST(Sim, AuthIsCheckedAndNotCounted) {
    Sim().ResetStats();
    const std::string body = TextBody("x");
    const HttpHeaders wrong[] = {
        {},
        {{"Authorization", "Bearer sk-wrong"}},
        {{"Authorization", std::string("Basic ") + kSimulatorApiKey}},
        {{"Authorization", std::string("Bearer ") + kSimulatorApiKey + "x"}},
        {{"Authorization", "Bearer "}},
    };
    for (const HttpHeaders& headers : wrong) {
        const HttpResponse r = Sim().client().Request("POST", kTextPath, body, headers);
        EXPECT_EQ(r.status, 401);
        const Json::Value v = r.JsonBody();
        EXPECT_EQ(v["code"], "InvalidApiKey");
        EXPECT_EQ(v["message"], "Invalid API-key provided.");
        EXPECT_EQ(v["request_id"].asString(), r.Header("x-request-id"));
        EXPECT_EQ(v.size(), 3u);
    }
    // The same for streams and tasks.
    EXPECT_EQ(
        Sim().client().Request("POST", kTextPath, body, {{"X-DashScope-SSE", "enable"}}).status,
        401);
    EXPECT_EQ(Sim().client().Get("/api/v1/tasks/x").status, 401);
    EXPECT_EQ(Sim().Stats().requests, 0);
    EXPECT_EQ(Sim()
                  .client()
                  .Request("POST", kTextPath, body,
                           {{"Authorization", std::string("bearer ") + kSimulatorApiKey}})
                  .status,
              200);
    EXPECT_EQ(Sim().Stats().requests, 1);
}

void ExpectFlatError(const HttpResponse& r, long status, const std::string& code,
                     const std::string& message_part = "") {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.Header("content-type"), "application/json");
    const Json::Value v = r.JsonBody();
    EXPECT_EQ(v["code"], code) << r.body;
    EXPECT_NE(v["message"].asString().find(message_part), std::string::npos) << r.body;
    EXPECT_EQ(v["request_id"].asString(), r.Header("x-request-id"));
    EXPECT_EQ(v.size(), 3u) << r.body;
}

TEST(Sim, RequestErrorsAreFlatAndReal) {
    ExpectFlatError(PostText("x", "{}", Auth(), "qwen-ultra"), 400, "InvalidParameter",
                    "Model not exist.");
    // Before any output, streaming or not, validation errors are plain JSON.
    ExpectFlatError(PostText("x", "{}", Sse(), "qwen-ultra"), 400, "InvalidParameter",
                    "Model not exist.");
    HttpClient c = Sim().client();
    ExpectFlatError(c.Request("POST", kTextPath, "{not json", Auth()), 400, "InvalidParameter");
    ExpectFlatError(c.Request("POST", kTextPath, R"({"model":"qwen-plus"})", Auth()), 400,
                    "BadRequest.EmptyInput");
    ExpectFlatError(c.Request("POST", kTextPath, R"({"model":"qwen-plus","input":{}})", Auth()),
                    400, "InvalidParameter", "Either \"prompt\" or \"messages\" must exist");
    ExpectFlatError(c.Request("POST", kTextPath, R"({"input":{"prompt":"x"}})", Auth()), 400,
                    "BadRequest.EmptyModel");
    ExpectFlatError(PostText("x [[sim:bogus=1]]"), 400, "InvalidParameter", "[[sim:]]");
    ExpectFlatError(PostText("x", R"({"max_tokens":0})"), 400, "InvalidParameter", "max_tokens");
    ExpectFlatError(
        c.Request("POST", kTextPath, TextBody("x"), Auth({{"X-DashScope-Async", "enable"}})), 403,
        "AccessDenied", "asynchronous");
    ExpectFlatError(c.Get(kTextPath, Auth()), 405, "MethodNotAllowed");
    ExpectFlatError(c.Get("/api/v1/services/aigc/nope", Auth()), 404, "NotFound");
}

TEST(Sim, ErrorDirectivesWithoutStream) {
    struct Case {
        std::string value;
        long status;
        std::string code;
    };
    for (const Case& c :
         {Case{"401", 401, "InvalidApiKey"}, Case{"429", 429, "Throttling.RateQuota"},
          Case{"500", 500, "InternalError"},
          Case{"DataInspectionFailed", 400, "DataInspectionFailed"}}) {
        ExpectFlatError(PostText("x [[sim:error=" + c.value + "]]"), c.status, c.code);
    }
}

TEST(Sim, ErrorDirectivesOnStreamsUseTheThreeWireForms) {
    // 401: JSON. 429: 200 + event:error. 500 / DataInspectionFailed: the real status with an
    // SSE-framed body. error_form= picks one explicitly.
    ExpectFlatError(PostText("x [[sim:error=401]]", "{}", Sse()), 401, "InvalidApiKey");

    const HttpResponse busy = PostText("x [[sim:error=429]]", "{}", Sse());
    EXPECT_EQ(busy.status, 200);
    EXPECT_EQ(busy.Header("content-type"), "text/event-stream;charset=UTF-8");
    std::vector<Frame> frames = ParseFrames(busy.body);
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0].id, "1");
    EXPECT_EQ(frames[0].event, "error");
    EXPECT_EQ(frames[0].status, "429");
    EXPECT_EQ(frames[0].json["code"], "Throttling.RateQuota");
    EXPECT_EQ(frames[0].json["request_id"].asString(), busy.Header("x-request-id"));

    struct Case {
        std::string value;
        long status;
        std::string code;
    };
    for (const Case& c : {Case{"500", 500, "InternalError"},
                          Case{"DataInspectionFailed", 400, "DataInspectionFailed"}}) {
        const HttpResponse r = PostText("x [[sim:error=" + c.value + "]]", "{}", Sse());
        EXPECT_EQ(r.status, c.status);
        EXPECT_EQ(r.Header("content-type"), "application/json");  // as captured
        frames = ParseFrames(r.body);
        ASSERT_EQ(frames.size(), 1u) << r.body;
        EXPECT_EQ(frames[0].event, "error");
        EXPECT_EQ(frames[0].status, std::to_string(c.status));
        EXPECT_EQ(frames[0].json["code"], c.code);
    }
    EXPECT_EQ(PostText("x [[sim:error=429,error_form=json]]", "{}", Sse()).JsonBody()["code"],
              "Throttling.RateQuota");
    EXPECT_EQ(PostText("x [[sim:error=401,error_form=sse200]]", "{}", Sse()).status, 200);
    const HttpResponse sse = PostText("x [[sim:error=429,error_form=sse]]", "{}", Sse());
    EXPECT_EQ(sse.status, 429);
    EXPECT_EQ(ParseFrames(sse.body).at(0).status, "429");
}

TEST(Sim, FailAfter) {
    Sim().ResetStats();
    const HttpResponse r =
        PostText("x [[sim:tokens=10,fail_after=3]]", R"({"incremental_output":true})", Sse());
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.error, "");  // the stream ends cleanly after the error frame
    const std::vector<Frame> frames = ParseFrames(r.body);
    ASSERT_EQ(frames.size(), 4u);
    for (size_t i = 0; i < 3; ++i) EXPECT_EQ(frames[i].event, "result");
    EXPECT_EQ(frames[3].id, "4");
    EXPECT_EQ(frames[3].event, "error");
    EXPECT_EQ(frames[3].status, "500");
    EXPECT_EQ(frames[3].json["code"], "InternalError");
    EXPECT_EQ(frames[3].json["request_id"].asString(), r.Header("x-request-id"));
    EXPECT_EQ(frames[3].json.size(), 3u);

    const std::vector<Frame> moderated = ParseFrames(
        PostText("x [[sim:fail_after=1,error=DataInspectionFailed]]", "{}", Sse()).body);
    ASSERT_EQ(moderated.size(), 2u);
    EXPECT_EQ(moderated[1].status, "400");
    EXPECT_EQ(moderated[1].json["code"], "DataInspectionFailed");
    EXPECT_EQ(moderated[1].json["message"].asString().rfind("Output data", 0), 0u);

    ExpectFlatError(PostText("x [[sim:fail_after=2]]"), 500, "InternalError");
    const SimulatorStats stats = Sim().Stats();
    EXPECT_EQ(stats.aborted_streams, 0);
    EXPECT_EQ(stats.completed_streams, 2);
}

TEST(Sim, CutAfterDropsTheConnection) {
    Sim().ResetStats();
    const HttpResponse r =
        PostText("x [[sim:tokens=10,cut_after=2]]", R"({"incremental_output":true})", Sse());
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.error, "");  // curl: transfer closed with outstanding read data remaining
    const std::vector<Frame> frames = ParseFrames(r.body);
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_EQ(frames[1].json["output"]["finish_reason"], "null");
    const HttpResponse json = PostText("x [[sim:cut_after=0]]");
    EXPECT_EQ(json.status, 0);
    EXPECT_NE(json.error, "");
    const SimulatorStats stats = Sim().Stats();
    EXPECT_EQ(stats.aborted_streams, 0);  // the simulator hung up, not the client
    EXPECT_EQ(stats.active_streams, 0);
}

TEST(Sim, HangAfterKeepsSilentUntilTheClientLeaves) {
    Sim().ResetStats();
    HttpResponse r;
    const std::vector<milliseconds> times =
        FrameTimes("[[sim:tokens=10,hang_after=2]]", &r, milliseconds(800));
    EXPECT_EQ(times.size(), 2u);
    EXPECT_NE(r.error, "");  // curl's own timeout ended it
    const SimulatorStats stats = WaitForStats(
        [](const SimulatorStats& s) { return s.aborted_streams == 1; }, milliseconds(1000));
    EXPECT_EQ(stats.aborted_streams, 1);
    EXPECT_EQ(stats.active_streams, 0);
}

TEST(Sim, ClientAbortIsSeenWithinASecondMidDelay) {
    Sim().ResetStats();
    Clock::time_point hung_up;
    const HttpResponse r = Sim().client().Stream(
        "POST", kTextPath, TextBody("[[sim:tokens=5,delay_ms=5000]]"), Sse(),
        [&](const std::string&, Clock::time_point at) {
            hung_up = at;
            return false;  // leave after the first token, while the simulator sleeps 5 s
        });
    EXPECT_TRUE(r.aborted);
    const SimulatorStats stats = WaitForStats(
        [](const SimulatorStats& s) { return s.aborted_streams == 1; }, milliseconds(2000));
    const auto seen = std::chrono::duration_cast<milliseconds>(Clock::now() - hung_up);
    EXPECT_EQ(stats.aborted_streams, 1);
    EXPECT_EQ(stats.active_streams, 0);
    EXPECT_LT(seen.count(), 1000);
}

TEST(Sim, StatsCountApiCallsThatPassedAuth) {
    Sim().ResetStats();
    EXPECT_EQ(Sim().Stats().requests, 0);
    PostText("a");
    PostText("b", "{}", Sse());
    PostText("c", "{}", Auth(), "qwen-ultra");  // rejected, but it passed auth
    PostText("d", "{}", {});                    // not counted
    Sim().client().Get("/api/v1/tasks/none", Auth());
    Sim().client().Get("/_sim/stats");  // not an API call
    const SimulatorStats stats = Sim().Stats();
    EXPECT_EQ(stats.requests, 4);
    EXPECT_EQ(stats.completed_streams, 1);
    EXPECT_EQ(stats.active_streams, 0);
    EXPECT_EQ(Sim().client().Request("GET", "/_sim/reset").status, 405);
}

std::string SubmitImage(const std::string& prompt, int n = 1) {
    const std::string body = R"({"model":"wanx-v1","input":{"prompt":")" + prompt +
                             R"("},"parameters":{"style":"<auto>","size":"1024*1024","n":)" +
                             std::to_string(n) + "}}";
    const HttpResponse r =
        Sim().client().Request("POST", kImagePath, body, Auth({{"X-DashScope-Async", "enable"}}));
    EXPECT_EQ(r.status, 200) << r.body;
    const Json::Value v = r.JsonBody();
    EXPECT_EQ(v["output"]["task_status"], "PENDING");
    EXPECT_EQ(v["request_id"].asString(), r.Header("x-request-id"));
    return v["output"]["task_id"].asString();
}

Json::Value QueryTask(const std::string& id) {
    const HttpResponse r = Sim().client().Get("/api/v1/tasks/" + id, Auth());
    EXPECT_EQ(r.status, 200) << r.body;
    return r.JsonBody();
}

TEST(Sim, ImageTaskSucceeds) {
    const std::string id = SubmitImage("一只猫 [[sim:task_ms=400]]", 2);
    ASSERT_EQ(id.size(), 36u);
    std::vector<std::string> seen;
    Json::Value v;
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    do {
        v = QueryTask(id);
        const std::string status = v["output"]["task_status"].asString();
        if (seen.empty() || seen.back() != status) seen.push_back(status);
        std::this_thread::sleep_for(milliseconds(30));
    } while (v["output"]["task_status"] != "SUCCEEDED" && Clock::now() < deadline);
    EXPECT_EQ(seen, (std::vector<std::string>{"PENDING", "RUNNING", "SUCCEEDED"}));
    EXPECT_EQ(v["output"]["task_id"], id);
    EXPECT_FALSE(v["output"]["end_time"].asString().empty());
    EXPECT_EQ(v["usage"]["image_count"], 2);
    ASSERT_EQ(v["output"]["results"].size(), 2u);
    const std::string url = v["output"]["results"][0]["url"].asString();
    const std::string prefix = "http://127.0.0.1:" + std::to_string(Sim().port()) + "/_sim/img/";
    ASSERT_EQ(url.rfind(prefix, 0), 0u) << url;
    const HttpResponse png = Sim().client().Get(url.substr(url.find("/_sim/")));
    EXPECT_EQ(png.status, 200);
    EXPECT_EQ(png.Header("content-type"), "image/png");
    EXPECT_EQ(png.body.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    EXPECT_EQ(Sim().client().Get("/_sim/img/" + id + "-7.png").status, 404);
}

TEST(Sim, ImageTaskFails) {
    const std::string id = SubmitImage("fail [[sim:task=fail,task_ms=0]]");
    const Json::Value v = QueryTask(id);
    EXPECT_EQ(v["output"]["task_status"], "FAILED");
    EXPECT_FALSE(v["output"]["code"].asString().empty());
    EXPECT_FALSE(v["output"]["message"].asString().empty());
    EXPECT_FALSE(v["output"].isMember("results"));
    EXPECT_EQ(v["usage"]["image_count"], 0);
}

TEST(Sim, ImageErrorsAndUnknownTasks) {
    const Json::Value unknown = QueryTask("0385dc79-5ff8-4d82-bcb6-000000000000");
    EXPECT_EQ(unknown["output"]["task_status"], "UNKNOWN");
    EXPECT_EQ(unknown["output"]["task_id"], "0385dc79-5ff8-4d82-bcb6-000000000000");
    EXPECT_EQ(QueryTask("%ff%00garbage")["output"]["task_status"], "UNKNOWN");
    const std::string body = R"({"model":"wanx-v1","input":{"prompt":"x"}})";
    ExpectFlatError(Sim().client().Request("POST", kImagePath, body, Auth()), 403, "AccessDenied",
                    "synchronous");
    ExpectFlatError(
        Sim().client().Request("POST", kImagePath,
                               R"({"model":"wanx-v1","input":{"prompt":"x [[sim:error=429]]"}})",
                               Auth({{"X-DashScope-Async", "enable"}})),
        429, "Throttling.RateQuota");
    ExpectFlatError(Sim().client().Request("POST", kImagePath,
                                           R"({"model":"qwen-plus","input":{"prompt":"x"}})",
                                           Auth({{"X-DashScope-Async", "enable"}})),
                    400, "InvalidParameter", "url error");
}

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
    static_cast<std::string*>(user)->append(data, size * count);
    return size * count;
}

using SlistPtr = std::unique_ptr<curl_slist, void (*)(curl_slist*)>;

SlistPtr HeaderList(const std::vector<std::string>& lines) {
    SlistPtr list(nullptr, curl_slist_free_all);
    for (const std::string& line : lines) {
        curl_slist* next = curl_slist_append(list.get(), line.c_str());
        if (next == nullptr) throw std::runtime_error("curl_slist_append failed");
        list.release();
        list.reset(next);
    }
    return list;
}

TEST(Sim, KeepAliveReusesOneConnection) {
    std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
    ASSERT_TRUE(curl);
    CURL* c = curl.get();
    const std::string auth = std::string("Authorization: Bearer ") + kSimulatorApiKey;
    const SlistPtr json_headers = HeaderList({auth, "Content-Type: application/json"});
    const SlistPtr sse_headers =
        HeaderList({auth, "Content-Type: application/json", "X-DashScope-SSE: enable"});
    const std::string url = "http://127.0.0.1:" + std::to_string(Sim().port()) + kTextPath;
    std::string body;
    ASSERT_EQ(curl_easy_setopt(c, CURLOPT_URL, url.c_str()), CURLE_OK);
    ASSERT_EQ(curl_easy_setopt(c, CURLOPT_NOPROXY, "*"), CURLE_OK);
    ASSERT_EQ(curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, AppendBody), CURLE_OK);
    ASSERT_EQ(curl_easy_setopt(c, CURLOPT_WRITEDATA, &body), CURLE_OK);
    ASSERT_EQ(curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L), CURLE_OK);
    long total_connects = 0;
    for (int i = 0; i < 6; ++i) {
        // Alternate SSE streams and plain JSON on the same connection.
        const bool stream = i % 2 == 0;
        const std::string payload =
            TextBody("keep alive " + std::to_string(i) + " [[sim:tokens=3]]");
        ASSERT_EQ(curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, payload.c_str()), CURLE_OK);
        ASSERT_EQ(curl_easy_setopt(c, CURLOPT_HTTPHEADER,
                                   stream ? sse_headers.get() : json_headers.get()),
                  CURLE_OK);
        body.clear();
        ASSERT_EQ(curl_easy_perform(c), CURLE_OK) << i;
        long status = 0;
        long connects = 0;
        ASSERT_EQ(curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status), CURLE_OK);
        ASSERT_EQ(curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects), CURLE_OK);
        EXPECT_EQ(status, 200) << body;
        EXPECT_EQ(body.find("event:result") != std::string::npos, stream) << body;
        total_connects += connects;
    }
    EXPECT_EQ(total_connects, 1);
}

TEST(Sim, PipelinedAndChunkedRequestsOnARawSocket) {
    const std::string json = TextBody("pipe [[sim:tokens=2]]");
    const std::string auth = std::string("Authorization: Bearer ") + kSimulatorApiKey + "\r\n";
    std::string chunked_body;
    for (size_t at = 0; at < json.size(); at += 7) {
        const std::string part = json.substr(at, 7);
        char size[16];
        std::snprintf(size, sizeof size, "%zx\r\n", part.size());
        chunked_body += size + part + "\r\n";
    }
    chunked_body += "0\r\n\r\n";
    const std::string requests =
        "POST " + std::string(kTextPath) + " HTTP/1.1\r\nHost: x\r\n" + auth +
        "Content-Length: " + std::to_string(json.size()) + "\r\n\r\n" + json + "POST " + kTextPath +
        " HTTP/1.1\r\nHost: x\r\n" + auth +
        "Transfer-Encoding: chunked\r\nX-DashScope-SSE: enable\r\n\r\n" + chunked_body +
        "GET /_sim/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    const std::string out = RawExchange(Sim().port(), requests);
    size_t responses = 0;
    for (size_t pos = 0; (pos = out.find("HTTP/1.1 200 OK\r\n", pos)) != std::string::npos; ++pos) {
        ++responses;
    }
    EXPECT_EQ(responses, 3u) << out;
    EXPECT_NE(out.find("transfer-encoding: chunked"), std::string::npos);
    EXPECT_NE(out.find("\r\n0\r\n\r\n"), std::string::npos);  // the stream's last chunk
    EXPECT_NE(out.find("\"active_streams\":"), std::string::npos);
}

TEST(Sim, ExpectContinueAndHttp10) {
    const std::string json = TextBody("continue [[sim:tokens=2]]");
    const std::string auth = std::string("Authorization: Bearer ") + kSimulatorApiKey + "\r\n";
    // Without the body the simulator must answer 100 Continue and wait.
    std::string out = RawExchange(
        Sim().port(),
        "POST " + std::string(kTextPath) + " HTTP/1.1\r\n" + auth +
            "Expect: 100-continue\r\nContent-Length: " + std::to_string(json.size()) + "\r\n\r\n",
        milliseconds(500));
    EXPECT_EQ(out, "HTTP/1.1 100 Continue\r\n\r\n");

    // HTTP/1.0: the stream is delimited by the close, not chunked.
    out = RawExchange(Sim().port(), "POST " + std::string(kTextPath) + " HTTP/1.0\r\n" + auth +
                                        "X-DashScope-SSE: enable\r\nContent-Length: " +
                                        std::to_string(json.size()) + "\r\n\r\n" + json);
    EXPECT_EQ(out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << out;
    EXPECT_EQ(out.find("chunked"), std::string::npos) << out;
    EXPECT_NE(out.find("connection: close"), std::string::npos) << out;
    EXPECT_EQ(ParseFrames(out.substr(out.find("\r\n\r\n") + 4)).size(), 3u);
}

TEST(Sim, GarbageNeverCrashesIt) {
    const std::string samples[] = {
        "GARBAGE\r\n\r\n",
        "GET / HTTP/9.9\r\n\r\n",
        "POST " + std::string(kTextPath) + " HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n",
        "POST " + std::string(kTextPath) + " HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "GET /" + std::string(70000, 'a') + " HTTP/1.1\r\n\r\n",
        std::string("\0\0\0\x01\xff\xfe", 6) + "\r\n\r\n",
    };
    for (const std::string& sample : samples) {
        const std::string out = RawExchange(Sim().port(), sample, milliseconds(2000));
        EXPECT_TRUE(out.rfind("HTTP/1.1 4", 0) == 0 || out.rfind("HTTP/1.1 5", 0) == 0)
            << out.substr(0, 200);
    }
    std::mt19937 random(7);
    for (int i = 0; i < 200; ++i) {
        std::string bytes(random() % 300, '\0');
        for (char& b : bytes) b = static_cast<char>(random());
        if (i % 2 == 0) bytes = "POST " + std::string(kTextPath) + " HTTP/1.1\r\n" + bytes;
        bytes += "\r\n\r\n";
        RawExchange(Sim().port(), bytes, milliseconds(200));
    }
    // Bodies that are JSON but not what DashScope expects.
    for (const char* body : {"null", "[]", "{\"model\":{},\"input\":[]}",
                             "{\"model\":\"qwen-plus\",\"input\":{\"messages\":[null]}}",
                             "{\"model\":\"qwen-plus\",\"input\":{\"messages\":[{\"role\":\"user\","
                             "\"content\":[{}]}]}}"}) {
        const HttpResponse r = Sim().client().Request("POST", kTextPath, body, Auth());
        EXPECT_EQ(r.status, 400) << body;
    }
    EXPECT_TRUE(Sim().running());
    EXPECT_EQ(Sim().client().Get("/_sim/stats").status, 200);
}

TEST(Sim, LogHasOneLinePerRequestWithoutTheKey) {
    PostText("logged [[sim:tokens=2,delay_ms=1]]");
    // The simulator logs an exchange right after sending its reply, so the line may trail it.
    const std::string logged = "\"directives\":{\"delay_ms\":\"1\",\"tokens\":\"2\"}";
    std::string log = ReadFile(Sim().log_path());
    for (const auto deadline = Clock::now() + milliseconds(2000);
         log.find(logged) == std::string::npos && Clock::now() < deadline;
         log = ReadFile(Sim().log_path())) {
        std::this_thread::sleep_for(milliseconds(10));
    }
    EXPECT_NE(log.find("\"event\":\"sim.request\""), std::string::npos);
    EXPECT_NE(log.find(logged), std::string::npos)
        << log.substr(log.size() > 2000 ? log.size() - 2000 : 0);
    EXPECT_NE(log.find("\"model\":\"qwen-plus\""), std::string::npos);
    EXPECT_EQ(log.find(kSimulatorApiKey), std::string::npos);
    std::istringstream lines(log);
    for (std::string line; std::getline(lines, line);) {
        ParseJson(line);
    }
}

// The harness side: a Stack starts its own simulator before the pool and points the pool's
// qwen.* config (file and environment) at it.
TEST(SimStack, StackStartsTheSimulatorForThePool) {
    StackOptions options = GtestStackOptions();
    options.with_nginx = false;
    options.workers = 1;
    options.threads = 2;
    // A developer's exported key must not send test traffic to the real DashScope.
    ASSERT_EQ(setenv("QWEN_API_KEY", "sk-a-developers-real-key", 1), 0);
    Stack stack(options);
    stack.Start();
    ASSERT_EQ(unsetenv("QWEN_API_KEY"), 0);
    std::string pool_env = ReadFile("/proc/" + std::to_string(stack.pool().pid()) + "/environ");
    std::replace(pool_env.begin(), pool_env.end(), '\0', '\n');
    EXPECT_NE(pool_env.find(std::string("\nQWEN_API_KEY=") + kSimulatorApiKey + "\n"),
              std::string::npos);
    EXPECT_EQ(pool_env.find("sk-a-developers-real-key"), std::string::npos);
    EXPECT_NE(pool_env.find("\nQWEN_BASE_URL=http://127.0.0.1:"), std::string::npos);
    ASSERT_GT(stack.sim_port(), 0);
    EXPECT_TRUE(stack.pool().running());
    const std::string conf = ReadFile(stack.pool().config_path());
    EXPECT_NE(conf.find("qwen.base_url = http://127.0.0.1:" + std::to_string(stack.sim_port()) +
                        "/api/v1"),
              std::string::npos)
        << conf;
    EXPECT_NE(conf.find(std::string("qwen.api_key = ") + kSimulatorApiKey), std::string::npos);
    const SimulatorStats stats = stack.SimStats();
    EXPECT_EQ(stats.active_streams, 0);
    EXPECT_EQ(stack.DeadComponent(), "");
    stack.simulator().Stop();
    EXPECT_EQ(stack.DeadComponent(), "dashscope-sim");
    EXPECT_NE(stack.LogTail("dashscope-sim").find("listening on"), std::string::npos);
}

int64_t RssKb(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
    }
    return -1;
}

// README "Performance": the simulator is the streaming benchmark's upstream. 2,000 concurrent
// slow streams (a token a second), driven by one curl multi handle.
TEST(Sim, Soak2000ConcurrentSlowStreams) {
    constexpr int kStreams = 2000;
    Sim().ResetStats();
    const int64_t rss_before = RssKb(Sim().pid());
    CURLM* multi = curl_multi_init();
    ASSERT_NE(multi, nullptr);
    std::unique_ptr<CURLM, CURLMcode (*)(CURLM*)> multi_guard(multi, curl_multi_cleanup);
    const SlistPtr headers =
        HeaderList({std::string("Authorization: Bearer ") + kSimulatorApiKey,
                    "Content-Type: application/json", "X-DashScope-SSE: enable"});
    const std::string url = "http://127.0.0.1:" + std::to_string(Sim().port()) + kTextPath;
    std::vector<std::string> bodies(kStreams);
    std::vector<std::unique_ptr<CURL, void (*)(CURL*)>> handles;
    for (int i = 0; i < kStreams; ++i) {
        handles.emplace_back(curl_easy_init(), curl_easy_cleanup);
        CURL* c = handles.back().get();
        ASSERT_NE(c, nullptr);
        const std::string payload =
            TextBody("soak " + std::to_string(i) + " [[sim:tokens=3,delay_ms=1000]]",
                     R"({"incremental_output":true})");
        ASSERT_EQ(curl_easy_setopt(c, CURLOPT_URL, url.c_str()), CURLE_OK);
        ASSERT_EQ(curl_easy_setopt(c, CURLOPT_NOPROXY, "*"), CURLE_OK);
        ASSERT_EQ(curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L), CURLE_OK);
        ASSERT_EQ(curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get()), CURLE_OK);
        ASSERT_EQ(curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, payload.c_str()), CURLE_OK);
        ASSERT_EQ(curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, AppendBody), CURLE_OK);
        ASSERT_EQ(curl_easy_setopt(c, CURLOPT_WRITEDATA, &bodies[i]), CURLE_OK);
        ASSERT_EQ(curl_easy_setopt(c, CURLOPT_PRIVATE, reinterpret_cast<char*>(&bodies[i])),
                  CURLE_OK);
        ASSERT_EQ(curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L), CURLE_OK);
        ASSERT_EQ(curl_multi_add_handle(multi, c), CURLM_OK);
    }

    const auto start = Clock::now();
    int running = 0;
    int errors = 0;
    int done = 0;
    int64_t peak_rss = 0;
    int64_t peak_active = 0;
    auto next_sample = start + milliseconds(500);
    do {
        ASSERT_EQ(curl_multi_perform(multi, &running), CURLM_OK);
        int queued = 0;
        while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
            if (msg->msg != CURLMSG_DONE) continue;
            ++done;
            long status = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            if (msg->data.result != CURLE_OK || status != 200) {
                if (++errors <= 5) {
                    ADD_FAILURE() << "stream failed: " << curl_easy_strerror(msg->data.result)
                                  << " HTTP " << status;
                }
            }
        }
        if (Clock::now() >= next_sample) {
            // Sampled while the streams sleep between tokens.
            next_sample = Clock::now() + milliseconds(500);
            peak_rss = std::max(peak_rss, RssKb(Sim().pid()));
            peak_active = std::max(peak_active, Sim().Stats().active_streams);
        }
        if (running > 0) {
            ASSERT_EQ(curl_multi_poll(multi, nullptr, 0, 100, nullptr), CURLM_OK);
        }
    } while (running > 0 && Clock::now() - start < std::chrono::seconds(60));
    const auto elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
    for (auto& h : handles) curl_multi_remove_handle(multi, h.get());

    EXPECT_EQ(done, kStreams);
    EXPECT_EQ(errors, 0);
    int complete = 0;
    for (const std::string& body : bodies) {
        if (body.find("\"finish_reason\":\"stop\"") != std::string::npos &&
            body.rfind("id:4\n") != std::string::npos) {
            ++complete;
        }
    }
    EXPECT_EQ(complete, kStreams);
    const SimulatorStats stats = Sim().Stats();
    EXPECT_EQ(stats.completed_streams, kStreams);
    EXPECT_EQ(stats.aborted_streams, 0);
    EXPECT_EQ(stats.peak_active_streams, kStreams);  // all of them open at once
    EXPECT_LT(elapsed.count(), 20000);
    std::printf(
        "[soak] %d streams of 3 tokens at 1/s: %lld ms, peak active seen %lld, simulator "
        "RSS %lld kB before, %lld kB peak (this build)\n",
        kStreams, static_cast<long long>(elapsed.count()), static_cast<long long>(peak_active),
        static_cast<long long>(rss_before), static_cast<long long>(peak_rss));
}

}  // namespace
}  // namespace inkstone::testing
