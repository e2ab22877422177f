#pragma once
/// Splits an SSE body, fed chunk by chunk as it arrives, into events (comments are dropped),
/// parsing each event's data as JSON and keeping its `id:`. For the streaming tests.
#include <json/value.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace inkstone::testing {

struct SseEvent {
    std::string event;
    std::optional<long long> id;  ///< the `id:` line, when the event had one
    Json::Value data;
    std::chrono::steady_clock::time_point at;  ///< when its chunk arrived
};

struct SseCollector {
    std::string buffer;
    std::vector<SseEvent> events;

    void Feed(const std::string& chunk,
              std::chrono::steady_clock::time_point at = std::chrono::steady_clock::now());
    /// The `delta` events' content, joined.
    std::string Text() const;
    int Count(const std::string& name) const;
    /// The first event called `name`, or nullptr.
    const SseEvent* Find(const std::string& name) const;
    /// The id of the last delta, 0 when none arrived.
    long long LastDeltaId() const;
};

}  // namespace inkstone::testing
