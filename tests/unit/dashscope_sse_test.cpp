#include "lib/ai/dashscope_sse.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/dashscope_captures.h"

namespace inkstone::lib {
using namespace inkstone::lib::base;
using namespace inkstone::lib::ai;
namespace {

namespace captures = testing::captures;
using Kind = UpstreamError::Kind;
using State = DashScopeStreamDecoder::State;

struct CopiedEvent {
    std::string id, event, data, comments;
    int http_status = 0;
    bool operator==(const CopiedEvent& o) const {
        return id == o.id && event == o.event && data == o.data && comments == o.comments &&
               http_status == o.http_status;
    }
};

std::ostream& operator<<(std::ostream& out, const CopiedEvent& e) {
    return out << "{id=" << e.id << " event=" << e.event << " data=" << e.data
               << " comments=" << e.comments << " status=" << e.http_status << "}";
}

class Collect final : public SseEventHandler {
  public:
    bool OnEvent(const SseEvent& e) override {
        events.push_back({std::string(e.id), std::string(e.event), std::string(e.data),
                          std::string(e.comments), e.http_status});
        return static_cast<int>(events.size()) != stop_after;
    }
    std::vector<CopiedEvent> events;
    int stop_after = -1;
};

std::vector<CopiedEvent> ParseAll(std::string_view bytes) {
    SseParser parser;
    Collect collect;
    EXPECT_EQ(parser.Feed(bytes, collect), SseParser::Status::kOk);
    EXPECT_EQ(parser.Finish(collect), SseParser::Status::kOk);
    return collect.events;
}

std::string Replace(std::string text, std::string_view from, std::string_view to) {
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
        text.replace(at, from.size(), to);
        at += to.size();
    }
    return text;
}

// ---------------------------------------------------------------------------------------------
// SseParser

TEST(SseParserTest, ParsesTheStreamCapture) {
    const auto events = ParseAll(captures::kStream);
    ASSERT_EQ(events.size(), 3u);
    EXPECT_EQ(events[0].id, "1");
    EXPECT_EQ(events[1].id, "2");
    EXPECT_EQ(events[2].id, "15");
    for (const auto& e : events) {
        EXPECT_EQ(e.event, "result");
        EXPECT_EQ(e.http_status, 200);
        EXPECT_EQ(e.comments, "HTTP_STATUS/200");
        EXPECT_EQ(e.data.front(), '{');
        EXPECT_EQ(e.data.back(), '}');
    }
    EXPECT_NE(events[0].data.find(R"("content":"I am")"), std::string::npos);
}

TEST(SseParserTest, SpaceAfterTheColonIsOptionalAndOnlyOneIsDropped) {
    const auto events = ParseAll("id: 7\nevent: result\ndata: x\n\ndata:y\n\ndata:  z\n\n");
    ASSERT_EQ(events.size(), 3u);
    EXPECT_EQ(events[0].id, "7");
    EXPECT_EQ(events[0].event, "result");
    EXPECT_EQ(events[0].data, "x");
    EXPECT_EQ(events[1].data, "y");
    EXPECT_EQ(events[2].data, " z");
}

TEST(SseParserTest, AllThreeLineEndsGiveTheSameEvents) {
    const std::string lf(captures::kStream);
    const auto expected = ParseAll(lf);
    EXPECT_EQ(ParseAll(Replace(lf, "\n", "\r\n")), expected);
    EXPECT_EQ(ParseAll(Replace(lf, "\n", "\r")), expected);
    // Mixed within one stream.
    EXPECT_EQ(ParseAll("data:a\r\n\ndata:b\r\r"),
              (std::vector<CopiedEvent>{{"", "", "a", "", 0}, {"", "", "b", "", 0}}));
}

TEST(SseParserTest, MultiLineDataIsJoinedWithNewlines) {
    const auto events = ParseAll("data:first\ndata: second\ndata\n\n");
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].data, "first\nsecond\n");
}

TEST(SseParserTest, CommentsAreExposedAndHttpStatusIsParsed) {
    const auto events =
        ParseAll(": ping\n:HTTP_STATUS/429\ndata:x\n\n:HTTP_STATUS/2000\ndata:y\n\n");
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].comments, " ping\nHTTP_STATUS/429");
    EXPECT_EQ(events[0].http_status, 429);
    EXPECT_EQ(events[1].http_status, 0);  // not three digits
}

TEST(SseParserTest, EventsWithoutDataAreNotDispatchedAndFieldsDoNotCarryOver) {
    const auto events =
        ParseAll("id:1\nevent:ping\n:c\n\ndata:x\n\nretry:10\nstatus:400\ndata:y\n\n");
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0], (CopiedEvent{"", "", "x", "", 0}));
    EXPECT_EQ(events[1], (CopiedEvent{"", "", "y", "", 0}));
}

TEST(SseParserTest, ALeadingBomIsSkipped) {
    const auto events = ParseAll(
        "\xEF\xBB\xBF"
        "data:x\n\n");
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].data, "x");
}

TEST(SseParserTest, SplitsAtEveryOffsetGiveTheSameEvents) {
    for (const std::string& stream :
         {std::string(captures::kStream), Replace(std::string(captures::kStream), "\n", "\r\n"),
          Replace(std::string(captures::kStream), "\n", "\r")}) {
        const auto expected = ParseAll(stream);
        ASSERT_EQ(expected.size(), 3u);
        for (size_t cut = 0; cut <= stream.size(); ++cut) {
            SseParser parser;
            Collect collect;
            ASSERT_EQ(parser.Feed(std::string_view(stream).substr(0, cut), collect),
                      SseParser::Status::kOk);
            ASSERT_EQ(parser.Feed(std::string_view(stream).substr(cut), collect),
                      SseParser::Status::kOk);
            ASSERT_EQ(parser.Finish(collect), SseParser::Status::kOk);
            ASSERT_EQ(collect.events, expected) << "cut at " << cut;
        }
        // And one byte at a time (every split at once, including inside "\r\n" and UTF-8).
        SseParser parser;
        Collect collect;
        for (const char c : stream) {
            ASSERT_EQ(parser.Feed(std::string_view(&c, 1), collect), SseParser::Status::kOk);
        }
        EXPECT_EQ(collect.events, expected);
    }
}

TEST(SseParserTest, SplitsInsideUtf8KeepTheBytes) {
    const std::string stream = "data:你好\n\n";
    for (size_t cut = 0; cut <= stream.size(); ++cut) {
        SseParser parser;
        Collect collect;
        parser.Feed(std::string_view(stream).substr(0, cut), collect);
        parser.Feed(std::string_view(stream).substr(cut), collect);
        ASSERT_EQ(collect.events.size(), 1u);
        EXPECT_EQ(collect.events[0].data, "你好");
    }
}

TEST(SseParserTest, ALineOverTheLimitIsAnErrorThatSticks) {
    SseParser parser(SseLimits{100, 1000});
    Collect collect;
    const std::string chunk(40, 'a');
    EXPECT_EQ(parser.Feed("data:" + chunk, collect), SseParser::Status::kOk);
    EXPECT_EQ(parser.Feed(chunk, collect), SseParser::Status::kOk);
    EXPECT_EQ(parser.Feed(chunk, collect), SseParser::Status::kLineTooLong);
    EXPECT_EQ(parser.Feed("\n\n", collect), SseParser::Status::kLineTooLong);
    EXPECT_EQ(parser.Finish(collect), SseParser::Status::kLineTooLong);
    // A complete line over the limit inside one chunk, too.
    SseParser other(SseLimits{100, 1000});
    EXPECT_EQ(other.Feed("data:" + std::string(200, 'b') + "\n\n", collect),
              SseParser::Status::kLineTooLong);
    EXPECT_TRUE(collect.events.empty());
}

TEST(SseParserTest, AnEventOverTheLimitIsAnError) {
    SseParser parser(SseLimits{100, 250});
    Collect collect;
    const std::string line = "data:" + std::string(90, 'x') + "\n";
    EXPECT_EQ(parser.Feed(line + line, collect), SseParser::Status::kOk);
    EXPECT_EQ(parser.Feed(line, collect), SseParser::Status::kEventTooLarge);
    EXPECT_TRUE(collect.events.empty());
}

TEST(SseParserTest, FinishDispatchesAnUnterminatedEvent) {
    SseParser parser;
    Collect collect;
    EXPECT_EQ(parser.Feed("id:1\ndata:x", collect), SseParser::Status::kOk);
    EXPECT_TRUE(parser.HasPendingEvent());
    EXPECT_TRUE(collect.events.empty());
    EXPECT_EQ(parser.Finish(collect), SseParser::Status::kOk);
    ASSERT_EQ(collect.events.size(), 1u);
    EXPECT_EQ(collect.events[0].data, "x");
    EXPECT_FALSE(parser.HasPendingEvent());
}

TEST(SseParserTest, AHandlerCanStopAndParsingResumesAfterTheEvent) {
    SseParser parser;
    Collect collect;
    collect.stop_after = 1;
    EXPECT_EQ(parser.Feed("data:a\n\ndata:b\n\n", collect), SseParser::Status::kStopped);
    ASSERT_EQ(collect.events.size(), 1u);
    EXPECT_EQ(parser.Feed("data:c\n\n", collect), SseParser::Status::kOk);
    ASSERT_EQ(collect.events.size(), 2u);
    EXPECT_EQ(collect.events[1].data, "c");
}

// ---------------------------------------------------------------------------------------------
// ParseDashScopeDoc

DashScopeDoc Doc(std::string_view json) {
    DashScopeDoc doc;
    EXPECT_TRUE(ParseDashScopeDoc(json, &doc)) << json;
    return doc;
}

std::string FirstData(std::string_view stream) { return ParseAll(stream).at(0).data; }

TEST(DashScopeDocTest, ReadsAnIntermediateFrame) {
    const DashScopeDoc doc = Doc(FirstData(captures::kStream));
    EXPECT_EQ(doc.text, "I am");
    EXPECT_EQ(doc.finish_reason, "");  // the string "null"
    EXPECT_TRUE(doc.has_output);
    ASSERT_TRUE(doc.has_usage);
    EXPECT_EQ(doc.usage.input_tokens, 26);
    EXPECT_EQ(doc.usage.output_tokens, 1);
    EXPECT_EQ(doc.request_id, captures::kStreamRequestId);
    EXPECT_EQ(doc.code, "");
}

TEST(DashScopeDocTest, ReadsTheTextAndMessageFormatsAndContentLists) {
    DashScopeDoc doc = Doc(captures::kTextBody);
    EXPECT_EQ(doc.text, "你好！很高兴为你提供帮助。");
    EXPECT_EQ(doc.finish_reason, "stop");
    EXPECT_EQ(doc.usage.input_tokens, 11);
    EXPECT_EQ(doc.usage.output_tokens, 7);

    doc = Doc(captures::kMessageBody);
    EXPECT_EQ(doc.text, "I am Qwen.");
    EXPECT_EQ(doc.finish_reason, "stop");

    doc = Doc(captures::kVisionBody);
    EXPECT_EQ(doc.text, "图片中有两辆自行车。");
    EXPECT_EQ(doc.usage.input_tokens, 1264);

    doc = Doc(
        R"({"output":{"choices":[{"message":{"content":[{"image":"u"},{"text":"a"},{"text":"b"},7]}}]}})");
    EXPECT_EQ(doc.text, "ab");
}

TEST(DashScopeDocTest, ChoicesWinOverTheLegacyTextInAnyOrder) {
    EXPECT_EQ(
        Doc(R"({"output":{"text":"old","finish_reason":"x","choices":[{"finish_reason":"stop","message":{"content":"new"}}]}})")
            .text,
        "new");
    const DashScopeDoc doc = Doc(
        R"({"output":{"choices":[{"finish_reason":"stop","message":{"content":"new"}}],"text":"old","finish_reason":"x"}})");
    EXPECT_EQ(doc.text, "new");
    EXPECT_EQ(doc.finish_reason, "stop");
    EXPECT_EQ(
        Doc(R"({"output":{"choices":[{"message":{"content":"a"}},{"message":{"content":"b"}}]}})")
            .text,
        "a");
}

TEST(DashScopeDocTest, NullFinishReasonsMeanNotFinished) {
    EXPECT_EQ(Doc(R"({"output":{"choices":[{"finish_reason":null,"message":{"content":"x"}}]}})")
                  .finish_reason,
              "");
    EXPECT_EQ(Doc(R"({"output":{"choices":[{"finish_reason":"null"}]}})").finish_reason, "");
    EXPECT_EQ(Doc(R"({"output":{"choices":[{"finish_reason":"length"}]}})").finish_reason,
              "length");
    EXPECT_EQ(Doc(R"({"output":{"text":null,"finish_reason":"stop"}})").text, "");
}

TEST(DashScopeDocTest, DecodesEscapes) {
    EXPECT_EQ(Doc(R"({"output":{"text":"a\"b\\c\/d\n\t\u4f60\ud83d\ude00"}})").text,
              "a\"b\\c/d\n\t你\xF0\x9F\x98\x80");
    // Lone surrogates become U+FFFD, so the text stays valid UTF-8.
    EXPECT_EQ(Doc(R"({"output":{"text":"\ud800x\udc00"}})").text, "\xEF\xBF\xBDx\xEF\xBF\xBD");
    EXPECT_EQ(Doc(R"({"output":{"text":"\ud800\u0041"}})").text,
              "\xEF\xBF\xBD"
              "A");
    // An escaped key still matches.
    EXPECT_EQ(Doc(R"({"outp\u0075t":{"text":"k"}})").text, "k");
}

TEST(DashScopeDocTest, ReadsErrorDocumentsLeniently) {
    DashScopeDoc doc = Doc(captures::kInvalidApiKeyBody);
    EXPECT_EQ(doc.code, "InvalidApiKey");
    EXPECT_EQ(doc.message, "Invalid API-key provided.");
    EXPECT_EQ(doc.request_id, "fb53c4ec-1c12-4fc4-a580-xxxxxx");
    EXPECT_FALSE(doc.has_output);
    doc = Doc(R"({"code":500,"msg":"gateway","request_id":null})");
    EXPECT_EQ(doc.code, "");
    EXPECT_EQ(doc.message, "gateway");
}

TEST(DashScopeDocTest, SkipsEveryKindOfValue) {
    const DashScopeDoc doc = Doc(
        R"( { "a" : [1, -2.5e+3, 0, 0.0, 1E-2, true, false, null, "s\u00e9", {"b":[[],{}]}] ,
              "output" : { "x" : {"y": [ {"z": "w"} ]}, "text" : "ok" } } )");
    EXPECT_EQ(doc.text, "ok");
}

TEST(DashScopeDocTest, RejectsGarbage) {
    const std::string deep = std::string(100, '[') + std::string(100, ']');
    for (const std::string& bad : std::vector<std::string>{
             "",
             " ",
             "{",
             "[]",
             "null",
             "\"x\"",
             R"({"a":})",
             R"({"a":1,})",
             R"({"a" 1})",
             R"({a:1})",
             R"({"a":1} x)",
             R"({"a":1}{})",
             R"({"a":01})",
             R"({"a":1.})",
             R"({"a":-})",
             R"({"a":+1})",
             R"({"a":tru})",
             R"({"a":"\x"})",
             R"({"a":"\u12"})",
             "{\"a\":\"raw\ncontrol\"}",
             "{\"a\":\"\xC3\x28\"}",          // invalid UTF-8 in a skipped string
             "{\"a\":\"\xE0\x80\xAF\"}",      // overlong
             "{\"a\":\"\xED\xA0\x80\"}",      // a surrogate
             "{\"a\":\"\xF4\x90\x80\x80\"}",  // above U+10FFFF
             "{\"a\":\"\xE4\xBD\"}",          // cut short
             R"({"a":)" + deep + "}",
             R"({"output":{"text":5}})",
             R"({"output":{"choices":[{"message":{"content":5}}]}})",
             R"({"output":{"choices":{}}})",
             R"({"output":{"choices":[{"finish_reason":1}]}})",
             R"({"output":"x"})",
             R"({"usage":{"output_tokens":-1}})",
             R"({"usage":{"output_tokens":1.5}})",
             R"({"usage":{"output_tokens":99999999999999999999}})",
             R"({"usage":[]})",
         }) {
        DashScopeDoc doc;
        EXPECT_FALSE(ParseDashScopeDoc(bad, &doc)) << bad;
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

TEST(ClassifyDashScopeErrorTest, CodesFirstThenStatus) {
    struct Case {
        int status;
        const char* code;
        const char* message;
        Kind kind;
    };
    for (const Case& c : std::vector<Case>{
             {401, "InvalidApiKey", "Invalid API-key provided.", Kind::kAuth},
             {401, "invalid_api_key", "", Kind::kAuth},
             {403, "AccessDenied.Unpurchased", "", Kind::kAuth},
             {400, "Arrearage", "Access denied, please make sure...", Kind::kAuth},
             {429, "AccessDenied", "current user api does not support asynchronous calls",
              Kind::kAuth},
             {429, "Throttling", "", Kind::kRateLimited},
             {429, "Throttling.RateQuota", "", Kind::kRateLimited},
             {200, "Throttling.AllocationQuota", "Allocated quota exceeded", Kind::kRateLimited},
             {429, "limit_burst_rate", "", Kind::kRateLimited},
             {400, "DataInspectionFailed", "Input data may contain inappropriate content.",
              Kind::kContentRejected},
             {400, "data_inspection_failed", "", Kind::kContentRejected},
             {400, "InvalidParameter",
              "<400> InternalError.Algo.DataInspectionFailed: Input text data may contain "
              "inappropriate content.",
              Kind::kContentRejected},
             {400, "InvalidParameter", "Model not exist.", Kind::kBadRequest},
             {400, "InvalidParameter",
              "<400> InternalError.Algo.InvalidParameter: Range of max_tokens should be [1, 32768]",
              Kind::kBadRequest},
             {400, "BadRequest.EmptyInput", "", Kind::kBadRequest},
             {413, "BadRequest.TooLarge", "Payload Too Large", Kind::kBadRequest},
             {404, "ModelNotFound", "", Kind::kBadRequest},
             {400, "InvalidURL", "", Kind::kBadRequest},
             {408, "RequestTimeOut", "", Kind::kTimeout},
             {500, "InternalError", "", Kind::kServer},
             {500, "InternalError.Algo", "", Kind::kServer},
             {503, "ModelUnavailable", "", Kind::kServer},
             {503, "ModelServingError", "", Kind::kServer},
             {401, "", "", Kind::kAuth},
             {403, "", "", Kind::kAuth},
             {429, "", "", Kind::kRateLimited},
             {408, "", "", Kind::kTimeout},
             {504, "", "", Kind::kTimeout},
             {400, "SomethingNew", "", Kind::kBadRequest},
             {404, "", "", Kind::kBadRequest},
             {500, "", "", Kind::kServer},
             {502, "", "", Kind::kServer},
             {503, "", "", Kind::kServer},
             {302, "", "", Kind::kServer},
             {200, "Mystery", "", Kind::kServer},
         }) {
        EXPECT_EQ(ClassifyDashScopeError(c.status, c.code, c.message), c.kind)
            << c.status << " " << c.code << " " << c.message;
    }
}

TEST(DecodeDashScopeErrorBodyTest, FlatJsonBodies) {
    UpstreamError e = DecodeDashScopeErrorBody(401, captures::kInvalidApiKeyBody);
    EXPECT_EQ(e.kind, Kind::kAuth);
    EXPECT_EQ(e.http_status, 401);
    EXPECT_EQ(e.code, "InvalidApiKey");
    EXPECT_EQ(e.message, "Invalid API-key provided.");
    EXPECT_EQ(e.request_id, "fb53c4ec-1c12-4fc4-a580-xxxxxx");
    EXPECT_FALSE(e.after_output);

    EXPECT_EQ(DecodeDashScopeErrorBody(400, captures::kDataInspectionBody).kind,
              Kind::kContentRejected);
    EXPECT_EQ(DecodeDashScopeErrorBody(429, captures::kThrottlingBody).kind, Kind::kRateLimited);
    EXPECT_EQ(DecodeDashScopeErrorBody(500, captures::kInternalErrorBody).kind, Kind::kServer);
    EXPECT_EQ(DecodeDashScopeErrorBody(400, captures::kModelNotExistBody).kind, Kind::kBadRequest);
}

TEST(DecodeDashScopeErrorBodyTest, SseFramedBodies) {
    UpstreamError e = DecodeDashScopeErrorBody(400, captures::kSseErrorBody400);
    EXPECT_EQ(e.kind, Kind::kBadRequest);
    EXPECT_EQ(e.http_status, 400);
    EXPECT_EQ(e.code, "InvalidParameter");
    EXPECT_EQ(e.request_id, "req-400");
    // No final blank line, and the comment's status wins.
    e = DecodeDashScopeErrorBody(400, captures::kThrottlingFrame);
    EXPECT_EQ(e.kind, Kind::kRateLimited);
    EXPECT_EQ(e.http_status, 429);
    EXPECT_EQ(e.code, "Throttling.AllocationQuota");
}

TEST(DecodeDashScopeErrorBodyTest, AnythingElseIsClassifiedByStatus) {
    UpstreamError e =
        DecodeDashScopeErrorBody(502, "<html><body>502 Bad Gateway</body></html>\n", "hdr-id");
    EXPECT_EQ(e.kind, Kind::kServer);
    EXPECT_EQ(e.http_status, 502);
    EXPECT_EQ(e.request_id, "hdr-id");
    EXPECT_NE(e.message.find("502 Bad Gateway"), std::string::npos);
    EXPECT_EQ(DecodeDashScopeErrorBody(429, "").kind, Kind::kRateLimited);
    EXPECT_EQ(DecodeDashScopeErrorBody(401, "{not json").kind, Kind::kAuth);
    EXPECT_EQ(DecodeDashScopeErrorBody(504, "data:{garbage\n\n").kind, Kind::kTimeout);
}

TEST(DecodeDashScopeResultTest, ReadsNonStreamBodies) {
    Outcome<GenerateResult> r = DecodeDashScopeResult(captures::kTextBody);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().content, "你好！很高兴为你提供帮助。");
    EXPECT_EQ(r.value().finish_reason, "stop");
    EXPECT_EQ(r.value().usage.input_tokens, 11);
    EXPECT_EQ(r.value().usage.output_tokens, 7);
    EXPECT_EQ(r.value().request_id, "db13c38b-4291-9f90-9117-a6be2d823ee5");

    r = DecodeDashScopeResult(captures::kVisionBody);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().content, "图片中有两辆自行车。");
}

TEST(DecodeDashScopeResultTest, ErrorsAndGarbage) {
    Outcome<GenerateResult> r = DecodeDashScopeResult(captures::kThrottlingBody);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, Kind::kRateLimited);
    EXPECT_EQ(r.error().request_id, "req-429");

    r = DecodeDashScopeResult("<html>");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, Kind::kProtocol);

    r = DecodeDashScopeResult(R"({"output":{"text":"x"},"request_id":"r"})");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, Kind::kProtocol);
    EXPECT_EQ(r.error().request_id, "r");
}

// ---------------------------------------------------------------------------------------------
// DashScopeStreamDecoder

class RecordingSink final : public StreamSink {
  public:
    bool OnDelta(std::string_view text) override {
        deltas.emplace_back(text);
        return static_cast<int>(deltas.size()) != stop_after;
    }
    std::string Text() const {
        std::string all;
        for (const auto& d : deltas) all += d;
        return all;
    }
    std::vector<std::string> deltas;
    int stop_after = -1;
};

TEST(DashScopeStreamDecoderTest, DecodesTheStreamCapture) {
    RecordingSink sink;
    DashScopeStreamDecoder decoder(sink);
    EXPECT_EQ(decoder.Feed(captures::kStream), State::kFinished);
    EXPECT_EQ(decoder.Finish(), State::kFinished);
    EXPECT_EQ(sink.deltas, (std::vector<std::string>{"I am", " Qwen"}));  // "" is not a delta
    EXPECT_EQ(decoder.result().finish_reason, "stop");
    EXPECT_EQ(decoder.result().usage.input_tokens, 26);
    EXPECT_EQ(decoder.result().usage.output_tokens, 66);  // the last cumulative value
    EXPECT_EQ(decoder.result().request_id, captures::kStreamRequestId);
    EXPECT_EQ(decoder.result().content, "");
    EXPECT_TRUE(decoder.after_output());
}

TEST(DashScopeStreamDecoderTest, EverySplitOffsetGivesTheSameResult) {
    for (const std::string& stream :
         {std::string(captures::kStream), Replace(std::string(captures::kStream), "\n", "\r\n")}) {
        for (size_t cut = 0; cut <= stream.size(); ++cut) {
            for (size_t cut2 = cut; cut2 <= stream.size(); cut2 += 37) {
                RecordingSink sink;
                DashScopeStreamDecoder decoder(sink);
                decoder.Feed(std::string_view(stream).substr(0, cut));
                decoder.Feed(std::string_view(stream).substr(cut, cut2 - cut));
                decoder.Feed(std::string_view(stream).substr(cut2));
                ASSERT_EQ(decoder.Finish(), State::kFinished) << cut << "," << cut2;
                ASSERT_EQ(sink.Text(), "I am Qwen");
                ASSERT_EQ(decoder.result().usage.output_tokens, 66);
            }
        }
    }
}

TEST(DashScopeStreamDecoderTest, UsageIsCumulativeLastValueWins) {
    RecordingSink sink;
    DashScopeStreamDecoder decoder(sink);
    const std::string stream(captures::kStream);
    // Feed only the first two frames: still streaming, usage so far is frame 2's.
    const size_t third = stream.find("id:15");
    EXPECT_EQ(decoder.Feed(std::string_view(stream).substr(0, third)), State::kStreaming);
    EXPECT_EQ(decoder.result().usage.output_tokens, 4);
    EXPECT_EQ(decoder.result().finish_reason, "");
}

TEST(DashScopeStreamDecoderTest, AnErrorFrameInA200Stream) {
    for (const std::string_view frame : {captures::kThrottlingFrame, captures::kErrorFrame}) {
        RecordingSink sink;
        DashScopeStreamDecoder decoder(sink);
        State state = decoder.Feed(frame);
        if (state == State::kStreaming) state = decoder.Finish();  // the capture has no blank line
        ASSERT_EQ(state, State::kFailed);
        EXPECT_FALSE(decoder.error().after_output);
        EXPECT_TRUE(sink.deltas.empty());
    }
    RecordingSink sink;
    DashScopeStreamDecoder decoder(sink);
    decoder.Feed(captures::kThrottlingFrame);
    decoder.Finish();
    EXPECT_EQ(decoder.error().kind, Kind::kRateLimited);
    EXPECT_EQ(decoder.error().http_status, 429);
    EXPECT_EQ(decoder.error().code, "Throttling.AllocationQuota");
    EXPECT_EQ(decoder.error().message, "Allocated quota exceeded");
    EXPECT_EQ(decoder.error().request_id, "x");

    DashScopeStreamDecoder higress(sink);
    EXPECT_EQ(higress.Feed(captures::kErrorFrame), State::kFailed);
    EXPECT_EQ(higress.error().kind, Kind::kBadRequest);
    EXPECT_EQ(higress.error().http_status, 400);
    EXPECT_EQ(higress.error().request_id, "0cbe6006-faec-9854-bf8b-c906d75c3bd8");
}

TEST(DashScopeStreamDecoderTest, AnErrorAfterOutputSaysSo) {
    const std::string stream =
        std::string(captures::kStream.substr(0, captures::kStream.find("id:2"))) +
        "id:2\nevent:error\n:HTTP_STATUS/400\n"
        R"(data:{"code":"DataInspectionFailed","message":"Output data may contain inappropriate content.","request_id":"r2"})"
        "\n\n";
    RecordingSink sink;
    DashScopeStreamDecoder decoder(sink);
    EXPECT_EQ(decoder.Feed(stream), State::kFailed);
    EXPECT_EQ(sink.deltas, std::vector<std::string>{"I am"});
    EXPECT_EQ(decoder.error().kind, Kind::kContentRejected);
    EXPECT_TRUE(decoder.error().after_output);
    EXPECT_EQ(decoder.error().request_id, "r2");
}

TEST(DashScopeStreamDecoderTest, AnErrorStatusCommentOrACodeWithoutOutputIsAnError) {
    RecordingSink sink;
    DashScopeStreamDecoder by_status(sink);
    EXPECT_EQ(by_status.Feed("event:result\n:HTTP_STATUS/500\ndata:{\"request_id\":\"r\"}\n\n"),
              State::kFailed);
    EXPECT_EQ(by_status.error().kind, Kind::kServer);
    DashScopeStreamDecoder by_code(sink);
    EXPECT_EQ(by_code.Feed("data:{\"code\":\"Throttling\",\"message\":\"m\"}\n\n"), State::kFailed);
    EXPECT_EQ(by_code.error().kind, Kind::kRateLimited);
}

TEST(DashScopeStreamDecoderTest, TheSinkCanStopTheStream) {
    RecordingSink sink;
    sink.stop_after = 1;
    DashScopeStreamDecoder decoder(sink);
    EXPECT_EQ(decoder.Feed(captures::kStream), State::kStopped);
    EXPECT_EQ(sink.deltas.size(), 1u);
    EXPECT_TRUE(decoder.after_output());
    EXPECT_EQ(decoder.Feed("more"), State::kStopped);
}

TEST(DashScopeStreamDecoderTest, ACutStreamIsAProtocolError) {
    const std::string_view stream = captures::kStream;
    for (const size_t cut : {size_t{0}, stream.find("id:2") - 40, stream.find("id:15") + 30}) {
        RecordingSink sink;
        DashScopeStreamDecoder decoder(sink);
        decoder.Feed(stream.substr(0, cut));
        ASSERT_EQ(decoder.Finish(), State::kFailed) << cut;
        EXPECT_EQ(decoder.error().kind, Kind::kProtocol);
        EXPECT_EQ(decoder.error().after_output, cut > stream.find("id:2"));  // frame 1 complete
    }
    // Cut right after the last frame's data line: the frame is complete, so it finishes.
    const size_t end_of_data = stream.rfind("\n\n");
    RecordingSink sink;
    DashScopeStreamDecoder decoder(sink);
    decoder.Feed(stream.substr(0, end_of_data));
    EXPECT_EQ(decoder.Finish(), State::kFinished);
}

TEST(DashScopeStreamDecoderTest, GarbageAndOversizeAreProtocolErrors) {
    for (const std::string& bad :
         {std::string("data:not json\n\n"), std::string("data:{\"output\":{\"text\":1}}\n\n"),
          std::string("data:{\"output\":{}}\ndata:{}\n\n"),
          std::string("\x00\xff\xfe\n\n", 5) + "data:\xff\n\n"}) {
        RecordingSink sink;
        DashScopeStreamDecoder decoder(sink);
        EXPECT_EQ(decoder.Feed(bad), State::kFailed) << bad;
        EXPECT_EQ(decoder.error().kind, Kind::kProtocol);
    }
    RecordingSink sink;
    DashScopeStreamDecoder decoder(sink, 200, SseLimits{1024, 1024});
    EXPECT_EQ(decoder.Feed("data:" + std::string(2000, 'x')), State::kFailed);
    EXPECT_EQ(decoder.error().kind, Kind::kProtocol);
}

TEST(DashScopeStreamDecoderTest, DoneEventsAndEmptyDataAreIgnoredAndLaterBytesToo) {
    RecordingSink sink;
    DashScopeStreamDecoder decoder(sink);
    EXPECT_EQ(decoder.Feed("event:done\ndata:[DONE]\n\ndata:\n\n"), State::kStreaming);
    EXPECT_EQ(decoder.Feed(captures::kStream), State::kFinished);
    EXPECT_EQ(decoder.Feed("data:garbage\n\n"), State::kFinished);
    EXPECT_EQ(decoder.Finish(), State::kFinished);
    EXPECT_EQ(sink.Text(), "I am Qwen");
}

TEST(DashScopeStreamDecoderTest, MultimodalStream) {
    RecordingSink sink;
    DashScopeStreamDecoder decoder(sink);
    EXPECT_EQ(decoder.Feed(captures::kVisionStream), State::kFinished);
    EXPECT_EQ(sink.deltas, std::vector<std::string>{"两"});
    EXPECT_EQ(decoder.result().usage.input_tokens, 1264);
}

TEST(DashScopeStreamDecoderTest, JsonNullFinishReasonKeepsStreaming) {
    RecordingSink sink;
    DashScopeStreamDecoder decoder(sink);
    EXPECT_EQ(
        decoder.Feed(
            R"(data:{"output":{"choices":[{"message":{"content":"a"},"finish_reason":null}]}})"
            "\n\n"),
        State::kStreaming);
    EXPECT_EQ(decoder.Finish(), State::kFailed);
    EXPECT_EQ(decoder.error().kind, Kind::kProtocol);
    EXPECT_TRUE(decoder.error().after_output);
}

}  // namespace
}  // namespace inkstone::lib
