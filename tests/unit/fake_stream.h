#pragma once
#include <string>

#include "lib/http/message.h"

namespace inkstone::testing {

/// Records what a handler streams; can pretend the client left.
class FakeStream final : public lib::http::StreamWriter {
  public:
    bool Begin(int s, const std::vector<std::pair<std::string, std::string>>& h) override {
        status = s;
        headers = h;
        return !gone;
    }
    bool Write(std::string_view chunk) override {
        if (gone) return false;
        pending += chunk;
        return true;
    }
    bool Flush() override {
        if (gone) return false;
        flushed += pending;
        pending.clear();
        ++flushes;
        return true;
    }
    bool ClientGone() override { return gone; }

    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string pending;
    std::string flushed;
    int flushes = 0;
    bool gone = false;
};

}  // namespace inkstone::testing
