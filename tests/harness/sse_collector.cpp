#include "tests/harness/sse_collector.h"

#include <json/reader.h>

#include <memory>

namespace inkstone::testing {

void SseCollector::Feed(const std::string& chunk, std::chrono::steady_clock::time_point at) {
    buffer += chunk;
    size_t end;
    while ((end = buffer.find("\n\n")) != std::string::npos) {
        const std::string block = buffer.substr(0, end);
        buffer.erase(0, end + 2);
        SseEvent e;
        e.at = at;
        std::string data;
        size_t pos = 0;
        while (pos <= block.size()) {
            const size_t nl = block.find('\n', pos);
            const std::string line = block.substr(pos, nl == std::string::npos ? nl : nl - pos);
            if (line.rfind("event: ", 0) == 0) e.event = line.substr(7);
            if (line.rfind("data: ", 0) == 0) data += line.substr(6);
            if (line.rfind("id: ", 0) == 0) e.id = std::stoll(line.substr(4));
            if (nl == std::string::npos) break;
            pos = nl + 1;
        }
        if (e.event.empty()) continue;  // a heartbeat comment
        Json::CharReaderBuilder builder;
        std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
        std::string errors;
        reader->parse(data.data(), data.data() + data.size(), &e.data, &errors);
        events.push_back(e);
    }
}

std::string SseCollector::Text() const {
    std::string out;
    for (const SseEvent& e : events) {
        if (e.event == "delta") out += e.data["content"].asString();
    }
    return out;
}

int SseCollector::Count(const std::string& name) const {
    int n = 0;
    for (const SseEvent& e : events) n += e.event == name;
    return n;
}

const SseEvent* SseCollector::Find(const std::string& name) const {
    for (const SseEvent& e : events) {
        if (e.event == name) return &e;
    }
    return nullptr;
}

long long SseCollector::LastDeltaId() const {
    long long last = 0;
    for (const SseEvent& e : events) {
        if (e.event == "delta" && e.id) last = *e.id;
    }
    return last;
}

}  // namespace inkstone::testing
