#include "lib/http/sse.h"

#include <gtest/gtest.h>

#include "tests/unit/fake_stream.h"

namespace inkstone::lib {
using namespace inkstone::lib::base;
using namespace inkstone::lib::http;
namespace {

TEST(SseEncode, SimpleEvent) {
    EXPECT_EQ(EncodeSseEvent("delta", "{\"content\":\"hi\"}"),
              "event: delta\ndata: {\"content\":\"hi\"}\n\n");
    EXPECT_EQ(EncodeSseEvent("", "x"), "data: x\n\n");
    EXPECT_EQ(EncodeSseEvent("done", ""), "event: done\ndata: \n\n");
}

TEST(SseEncode, MultiLineDataCannotEndTheEventEarly) {
    EXPECT_EQ(EncodeSseEvent("e", "a\nb"), "event: e\ndata: a\ndata: b\n\n");
    EXPECT_EQ(EncodeSseEvent("e", "a\r\n\r\nb"), "event: e\ndata: a\ndata: \ndata: b\n\n");
    EXPECT_EQ(EncodeSseEvent("e", "a\rb\n"), "event: e\ndata: a\ndata: b\n\n");
    EXPECT_EQ(EncodeSseEvent("e\nevent: evil", "x"), "event: eevent: evil\ndata: x\n\n");
}

TEST(SseEncode, JsonEscapesNewlines) {
    Json::Value v;
    v["content"] = "line1\nline2 中文";
    EXPECT_EQ(EncodeSseJson("delta", v),
              "event: delta\ndata: {\"content\":\"line1\\nline2 中文\"}\n\n");
    EXPECT_EQ(EncodeSseComment("ping\n"), ": ping\n\n");
}

TEST(SseStream, FlushesEveryEventAndReportsGone) {
    testing::FakeStream fake;
    SseStream sse(fake);
    ASSERT_TRUE(sse.Start());
    EXPECT_EQ(fake.status, 200);
    Json::Value v;
    v["content"] = "a";
    ASSERT_TRUE(sse.Send("delta", v));
    EXPECT_EQ(fake.flushed, "event: delta\ndata: {\"content\":\"a\"}\n\n");
    EXPECT_TRUE(fake.pending.empty());
    ASSERT_TRUE(sse.Send("delta", v));
    EXPECT_EQ(fake.flushes, 2);
    fake.gone = true;
    EXPECT_FALSE(sse.Send("delta", v));
    EXPECT_TRUE(sse.ClientGone());
}

}  // namespace
}  // namespace inkstone::lib
