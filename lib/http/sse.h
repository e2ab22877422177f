#pragma once
/// Server-Sent Events framing (the encoder the API streams with; the DashScope parser lives
/// with the provider).
#include <json/value.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "lib/http/message.h"

namespace inkstone::lib::http {

/// `event: <event>\ndata: <line>\n...\n\n`. Every line of `data` becomes its own `data:` line,
/// so a payload with newlines can never end the event early or inject another one. `event`
/// must be a single token (CR/LF are dropped).
std::string EncodeSseEvent(std::string_view event, std::string_view data);
/// The same with compact JSON as data (JSON never holds a raw newline).
std::string EncodeSseJson(std::string_view event, const Json::Value& data);
/// With an `id: <id>` line first: the browser's EventSource sends it back as Last-Event-ID
/// when it reconnects.
std::string EncodeSseJson(std::string_view event, const Json::Value& data, int64_t id);
/// `: <text>\n\n` — a comment, used as a heartbeat that clients ignore.
std::string EncodeSseComment(std::string_view text);

/// Writes SSE events through a StreamWriter: Start() sends 200 text/event-stream, Send()
/// writes and flushes one event at once. Every call reports whether the client is still there.
class SseStream {
  public:
    explicit SseStream(StreamWriter& writer) : writer_(writer) {}
    bool Start();
    bool Send(std::string_view event, const Json::Value& data);
    bool Send(std::string_view event, const Json::Value& data, int64_t id);
    bool Heartbeat();
    bool ClientGone() { return writer_.ClientGone(); }

  private:
    StreamWriter& writer_;
};

}  // namespace inkstone::lib::http
