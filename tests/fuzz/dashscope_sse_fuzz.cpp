// libFuzzer target for the DashScope stream decoder: any bytes, split anywhere, must end in
// events, a finish or a typed UpstreamError, never a crash, a leak or unbounded memory. It also
// checks that splitting never changes the outcome: the input fed whole and fed in the chunks
// the first byte picks must produce the same events, deltas and state.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "lib/ai/dashscope_sse.h"

namespace {

using namespace inkstone::lib::base;
using namespace inkstone::lib::http;
using namespace inkstone::lib::ai;
using namespace inkstone::lib::payments;
using namespace inkstone::lib::billing;

class Transcript final : public SseEventHandler {
  public:
    bool OnEvent(const SseEvent& event) override {
        text.append(event.id).push_back('\x1f');
        text.append(event.event).push_back('\x1f');
        text.append(event.data).push_back('\x1f');
        text.append(event.comments).push_back('\x1f');
        text.append(std::to_string(event.http_status)).push_back('\x1e');
        return true;
    }
    std::string text;
};

class Deltas final : public StreamSink {
  public:
    bool OnDelta(std::string_view delta) override {
        if (delta.empty()) std::abort();  // the contract: never an empty delta
        text.append(delta).push_back('\x1e');
        return true;
    }
    std::string text;
};

/// Splits `input` at sizes drawn from `seed` (1..64 bytes), calling feed for each piece.
template <typename Feed>
void Split(std::string_view input, uint8_t seed, Feed&& feed) {
    uint32_t state = seed * 2654435761u + 1;
    while (!input.empty()) {
        state = state * 1103515245u + 12345u;
        const size_t n = std::min<size_t>(input.size(), 1 + (state >> 16) % 64);
        feed(input.substr(0, n));
        input.remove_prefix(n);
    }
}

std::string Summary(const DashScopeStreamDecoder& decoder, const Deltas& deltas) {
    std::string out = deltas.text;
    out += std::to_string(static_cast<int>(decoder.state()));
    if (decoder.state() == DashScopeStreamDecoder::State::kFailed) {
        out += std::to_string(static_cast<int>(decoder.error().kind)) + decoder.error().code;
    } else {
        out += decoder.result().finish_reason + decoder.result().request_id;
        out += std::to_string(decoder.result().usage.output_tokens);
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const uint8_t seed = data[0];
    const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
    const SseLimits limits{512, 2048};  // small, so the limits are reached too

    // The SSE parser, whole and split.
    SseParser whole(limits);
    Transcript whole_events;
    const SseParser::Status whole_status = whole.Feed(input, whole_events);
    if (whole_status == SseParser::Status::kOk) whole.Finish(whole_events);

    SseParser split(limits);
    Transcript split_events;
    SseParser::Status split_status = SseParser::Status::kOk;
    Split(input, seed, [&](std::string_view piece) {
        if (split_status == SseParser::Status::kOk) split_status = split.Feed(piece, split_events);
    });
    if (split_status == SseParser::Status::kOk) split.Finish(split_events);
    // Limits count the bytes of a line or event, not of a read, so even they must not differ.
    if (whole_status != split_status || whole_events.text != split_events.text) std::abort();

    // The stream decoder, whole and split.
    Deltas whole_deltas;
    DashScopeStreamDecoder whole_decoder(whole_deltas, 200, limits);
    whole_decoder.Feed(input);
    whole_decoder.Finish();
    Deltas split_deltas;
    DashScopeStreamDecoder split_decoder(split_deltas, 200, limits);
    Split(input, seed, [&](std::string_view piece) { split_decoder.Feed(piece); });
    split_decoder.Finish();
    if (Summary(whole_decoder, whole_deltas) != Summary(split_decoder, split_deltas)) std::abort();

    // The one-document readers.
    DashScopeDoc doc;
    (void)ParseDashScopeDoc(input, &doc);
    (void)DecodeDashScopeResult(input);
    (void)DecodeDashScopeErrorBody(400 + seed % 200, input, "hdr");
    return 0;
}
