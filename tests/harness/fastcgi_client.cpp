#include "tests/harness/fastcgi_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>

namespace inkstone::testing {
namespace {

using namespace std::chrono_literals;

void AppendRecord(std::string& out, uint8_t type, const std::string& content) {
    const uint16_t length = static_cast<uint16_t>(content.size());
    const char header[8] = {1,
                            static_cast<char>(type),
                            0,
                            1,  // request id 1
                            static_cast<char>(length >> 8),
                            static_cast<char>(length & 0xff),
                            0,
                            0};
    out.append(header, sizeof header);
    out += content;
}

void AppendParam(std::string& out, const std::string& name, const std::string& value) {
    out += static_cast<char>(name.size());
    out += static_cast<char>(value.size());
    out += name + value;
}

}  // namespace

std::string FastCgiGet(const std::string& path,
                       const std::map<std::string, std::string>& extra_params) {
    std::string params;
    AppendParam(params, "REQUEST_METHOD", "GET");
    AppendParam(params, "REQUEST_URI", path);
    AppendParam(params, "SCRIPT_NAME", path);
    AppendParam(params, "QUERY_STRING", "");
    AppendParam(params, "SERVER_PROTOCOL", "HTTP/1.1");
    for (const auto& [name, value] : extra_params) AppendParam(params, name, value);
    std::string out;
    AppendRecord(out, 1, std::string("\0\1\0\0\0\0\0\0", 8));  // BEGIN_REQUEST, responder
    AppendRecord(out, 4, params);                              // PARAMS
    AppendRecord(out, 4, "");
    AppendRecord(out, 5, "");  // STDIN, empty
    return out;
}

FastCgiReply FastCgiExchange(const std::string& source, int port, const std::string& bytes) {
    FastCgiReply result;
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return result;
    sockaddr_in local{};
    local.sin_family = AF_INET;
    inet_pton(AF_INET, source.c_str(), &local.sin_addr);
    sockaddr_in remote{};
    remote.sin_family = AF_INET;
    remote.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr);
    if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
        connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0) {
        close(fd);
        return result;
    }
    result.connected = true;
    // The pool may close before everything is written: that is the point of one case.
    const ssize_t sent = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    static_cast<void>(sent);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    char buffer[4096];
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0) continue;
        const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        result.reply.append(buffer, static_cast<size_t>(n));
    }
    close(fd);
    return result;
}

}  // namespace inkstone::testing
