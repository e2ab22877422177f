#pragma once
/// A tiny HTTP/1.1 server on 127.0.0.1 (port chosen by the kernel) for fakes of upstream APIs
/// (the payment providers): one request per connection, answered by a callback, served one
/// connection at a time on its own thread. Reads are bounded by a deadline so a confused client
/// can never wedge it.
///
/// Thread-safe: the handler runs on the server's thread; the accessors may be called from any.
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace inkstone::testing {

struct FakeRequest {
    std::string method;
    std::string target;                          ///< path and query, exactly as sent
    std::map<std::string, std::string> headers;  ///< lower-case names
    std::string body;

    /// The header `lower_name`, or "".
    std::string Header(const std::string& lower_name) const;
};

struct FakeResponse {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::chrono::milliseconds delay{0};  ///< wait this long before answering
};

class FakeHttpServer {
  public:
    using Handler = std::function<FakeResponse(const FakeRequest&)>;

    /// Listens at once; throws std::runtime_error when it cannot.
    explicit FakeHttpServer(Handler handler);
    /// Stops the thread (within ~50 ms plus a request being answered) and closes the socket.
    ~FakeHttpServer();
    FakeHttpServer(const FakeHttpServer&) = delete;
    FakeHttpServer& operator=(const FakeHttpServer&) = delete;

    int port() const { return port_; }
    /// `http://127.0.0.1:PORT`
    std::string BaseUrl() const;
    /// Requests read completely and answered so far.
    int requests() const { return requests_; }

  private:
    void Serve();
    void HandleConnection(int client);

    Handler handler_;
    int listener_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> requests_{0};
    std::thread thread_;
};

}  // namespace inkstone::testing
