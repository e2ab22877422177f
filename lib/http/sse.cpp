#include "lib/http/sse.h"

namespace inkstone::lib::http {

std::string EncodeSseEvent(std::string_view event, std::string_view data) {
    std::string out;
    out.reserve(event.size() + data.size() + 16);
    if (!event.empty()) {
        out += "event: ";
        for (char c : event) {
            if (c != '\r' && c != '\n') out.push_back(c);
        }
        out += '\n';
    }
    // Split on \r\n, \n and \r alike: each is a line end to an SSE parser.
    size_t start = 0;
    while (true) {
        size_t end = data.find_first_of("\r\n", start);
        out += "data: ";
        out.append(data.substr(start, end == std::string_view::npos ? end : end - start));
        out += '\n';
        if (end == std::string_view::npos) break;
        start = end + 1;
        if (data[end] == '\r' && start < data.size() && data[start] == '\n') ++start;
        if (start == data.size()) break;
    }
    out += '\n';
    return out;
}

std::string EncodeSseJson(std::string_view event, const Json::Value& data) {
    return EncodeSseEvent(event, base::ToJson(data));
}

std::string EncodeSseJson(std::string_view event, const Json::Value& data, int64_t id) {
    return "id: " + std::to_string(id) + "\n" + EncodeSseEvent(event, base::ToJson(data));
}

std::string EncodeSseComment(std::string_view text) {
    std::string out = ": ";
    for (char c : text) {
        if (c != '\r' && c != '\n') out.push_back(c);
    }
    out += "\n\n";
    return out;
}

bool SseStream::Start() {
    return writer_.Begin(200, {{"Content-Type", "text/event-stream; charset=utf-8"}});
}

bool SseStream::Send(std::string_view event, const Json::Value& data) {
    return writer_.Write(EncodeSseJson(event, data)) && writer_.Flush();
}

bool SseStream::Send(std::string_view event, const Json::Value& data, int64_t id) {
    return writer_.Write(EncodeSseJson(event, data, id)) && writer_.Flush();
}

bool SseStream::Heartbeat() { return writer_.Write(EncodeSseComment("ping")) && writer_.Flush(); }

}  // namespace inkstone::lib::http
