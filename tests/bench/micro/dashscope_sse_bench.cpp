// Throughput of the DashScope stream parser (target >= 300 MB/s, README "Performance"): the SSE
// framing alone, one JSON document, and the whole decoder (framing + JSON + deltas) as the provider
// runs it, over a stream shaped like real qwen output: one to three tokens per frame, English
// and Chinese, cumulative usage, `:HTTP_STATUS/200` on every frame.
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

#include "lib/ai/dashscope_sse.h"

namespace {

using namespace inkstone;

std::string TypicalStream(int frames) {
    static const char* const kTokens[] = {"The", " ink",  "stone", " is",   " 墨", "砚", "，",
                                          " a",  " tool", " for",  " 书法", "。",  "\\n"};
    std::string out;
    for (int i = 1; i <= frames; ++i) {
        const bool last = i == frames;
        const std::string content = last ? "" : kTokens[i % 13];
        out += "id:" + std::to_string(i) + "\nevent:result\n:HTTP_STATUS/200\n";
        out += R"(data:{"output":{"choices":[{"message":{"content":")" + content +
               R"(","role":"assistant"},"finish_reason":")" + (last ? "stop" : "null") +
               R"("}]},"usage":{"total_tokens":)" + std::to_string(26 + i) +
               R"(,"output_tokens":)" + std::to_string(i) +
               R"(,"input_tokens":26,"prompt_tokens_details":{"cached_tokens":0}},)"
               R"("request_id":"d30a9914-ac97-9102-b746-ce0cb35e3fa2"})"
               "\n\n";
    }
    return out;
}

const std::string& Stream() {
    static const std::string stream = TypicalStream(1000);
    return stream;
}

class CountEvents final : public lib::ai::SseEventHandler {
  public:
    bool OnEvent(const lib::ai::SseEvent& event) override {
        bytes += event.data.size();
        return true;
    }
    size_t bytes = 0;
};

class CountDeltas final : public lib::ai::StreamSink {
  public:
    bool OnDelta(std::string_view text) override {
        bytes += text.size();
        return true;
    }
    size_t bytes = 0;
};

/// Feeds `stream` in `chunk`-byte reads, like curl's write callback does.
template <typename Feed>
void InChunks(const std::string& stream, size_t chunk, Feed&& feed) {
    for (size_t at = 0; at < stream.size(); at += chunk) {
        feed(std::string_view(stream).substr(at, chunk));
    }
}

void BM_SseFraming(benchmark::State& state) {
    const std::string& stream = Stream();
    const size_t chunk = static_cast<size_t>(state.range(0));
    for (auto _ : state) {
        lib::ai::SseParser parser;
        CountEvents count;
        InChunks(stream, chunk, [&](std::string_view bytes) { parser.Feed(bytes, count); });
        parser.Finish(count);
        benchmark::DoNotOptimize(count.bytes);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
}
BENCHMARK(BM_SseFraming)->Arg(64)->Arg(16384);

void BM_DashScopeDoc(benchmark::State& state) {
    const std::string json =
        R"({"output":{"choices":[{"message":{"content":" 书法","role":"assistant"},"finish_reason":"null"}]},"usage":{"total_tokens":30,"output_tokens":4,"input_tokens":26,"prompt_tokens_details":{"cached_tokens":0}},"request_id":"d30a9914-ac97-9102-b746-ce0cb35e3fa2"})";
    lib::ai::DashScopeDoc doc;
    for (auto _ : state) {
        benchmark::DoNotOptimize(lib::ai::ParseDashScopeDoc(json, &doc));
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * json.size()));
}
BENCHMARK(BM_DashScopeDoc);

void BM_DashScopeStreamDecode(benchmark::State& state) {
    const std::string& stream = Stream();
    const size_t chunk = static_cast<size_t>(state.range(0));
    for (auto _ : state) {
        CountDeltas sink;
        lib::ai::DashScopeStreamDecoder decoder(sink);
        InChunks(stream, chunk, [&](std::string_view bytes) { decoder.Feed(bytes); });
        if (decoder.Finish() != lib::ai::DashScopeStreamDecoder::State::kFinished) {
            state.SkipWithError("stream did not finish");
        }
        benchmark::DoNotOptimize(sink.bytes);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
}
BENCHMARK(BM_DashScopeStreamDecode)->Arg(64)->Arg(1024)->Arg(16384);

}  // namespace
