#pragma once
/// The only code that touches libfcgi's request API: FCGX_Request → lib::http::Request, and
/// lib::http::Response / streamed chunks → FastCGI stdout.
#include <fcgiapp.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "lib/http/message.h"

namespace inkstone::fcgi {

/// Fills `out` from the request's params and stdin. Reads at most `max_body + 1` bytes of body
/// (then drains the rest, so nginx never sees a reset) and returns true if the body was longer.
bool ReadRequest(FCGX_Request& fcgi, size_t max_body, lib::http::Request& out);

/// Writes a complete response (status line, headers, body) into libfcgi's buffer; it reaches
/// nginx with FCGX_Finish_r (or earlier, when it outgrows the buffer). Returns false if a
/// write already failed (the peer is gone).
bool WriteResponse(FCGX_Request& fcgi, const lib::http::Response& response, bool head_only);

/// Streams over one FastCGI request. Every event is flushed to nginx as soon as Flush() is
/// called (libfcgi would otherwise hold up to 8 KiB). Any failed write, or the peer closing
/// the connection (seen with a zero-timeout poll), marks the client gone.
class FcgiStreamWriter final : public lib::http::StreamWriter {
  public:
    explicit FcgiStreamWriter(FCGX_Request& fcgi) : fcgi_(fcgi) {}
    bool Begin(int status,
               const std::vector<std::pair<std::string, std::string>>& headers) override;
    bool Write(std::string_view chunk) override;
    bool Flush() override;
    bool ClientGone() override;
    /// nginx's connection: nothing more arrives on it after the request unless nginx closes
    /// it or aborts the request, which is what ClientGone() reads readability as.
    int ClientFd() const override { return fcgi_.ipcFd; }
    bool begun() const { return begun_; }
    /// Sent with every streamed head too (X-Inkstone-Worker under testing.hooks).
    void AddHeader(std::string name, std::string value) {
        extra_headers_.emplace_back(std::move(name), std::move(value));
    }

  private:
    FCGX_Request& fcgi_;
    std::vector<std::pair<std::string, std::string>> extra_headers_;
    bool begun_ = false;
    bool gone_ = false;
};

/// "200 OK" style reason phrases for the Status header.
const char* ReasonPhrase(int status);

}  // namespace inkstone::fcgi
