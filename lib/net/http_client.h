#pragma once
/// The one outbound HTTP client, on libcurl, for DashScope and the payment APIs alike: no
/// redirects, http and https only, TLS peers verified, loopback never proxied, one user agent,
/// TCP keep-alive, bounded time. libcurl is private to this layer (lib/poison.cmake).
///
/// Two ways in: Perform() drives one exchange and hands the body over as it arrives, letting the
/// caller stop between reads (DashScope streams, with cancellation and an idle timer);
/// SendOutbound() is one blocking exchange with the whole answer buffered (payment APIs).
/// Thread-safe: each thread has its own handles; a thread's connections are reused across its
/// calls.
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/base/result.h"

namespace inkstone::lib::net {

/// libcurl's global initialisation, once per process. Not thread-safe in every libcurl, so the
/// objects that will make calls run it in their constructors, before threads start; Perform()
/// runs it too. Throws std::runtime_error when libcurl cannot initialise.
void Init();

/// One exchange for Perform().
struct Call {
    std::string method = "GET";  ///< GET or POST
    std::string url;
    std::vector<std::string> headers;  ///< "Name: value" lines
    std::string body;                  ///< sent for POST
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds total_timeout{15000};  ///< connect to last byte
    bool accept_compressed = false;  ///< offer gzip/deflate/br (buffered answers only)
};

/// What Perform() reports to its caller while the exchange runs. Called on the calling thread.
class CallHandler {
  public:
    virtual ~CallHandler() = default;
    /// A new response starts (its status line); drop the headers seen so far (100 Continue).
    virtual void OnNewResponse() {}
    /// One header: the name lower-cased, the value trimmed.
    virtual void OnHeader(std::string_view lower_name, std::string_view value) {}
    /// Body bytes as they arrive, with the response's status. false aborts (CallEnd::kAborted).
    virtual bool OnBody(long status, std::string_view bytes) = 0;
    /// Asked whenever the exchange waits: the longest wait before asking again, or nullopt to
    /// end the exchange now (CallEnd::kStopped; an unfinished transfer closes its connection,
    /// which is how upstream learns that a cancelled call is over).
    virtual std::optional<std::chrono::milliseconds> NextWait() = 0;
    /// A descriptor whose readability ends a wait early (the client's connection), or -1.
    virtual int WakeFd() const { return -1; }
};

enum class CallEnd {
    kComplete,   ///< the whole response arrived
    kAborted,    ///< OnBody returned false
    kStopped,    ///< NextWait returned nullopt
    kTimeout,    ///< connect or total timeout
    kTransport,  ///< DNS, connect, TLS, reset, setup failure: `error` says which
};

struct CallResult {
    CallEnd end = CallEnd::kTransport;
    long status = 0;    ///< 0 when no status line arrived
    std::string error;  ///< curl's message for kTimeout / kTransport
};

/// Runs one exchange on this thread's handles. Never throws for network failures.
/// Throws std::invalid_argument for a method other than GET/POST.
CallResult Perform(const Call& call, CallHandler& handler);

struct OutboundRequest {
    std::string method = "GET";  ///< GET or POST
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;                          ///< sent for POST
    std::chrono::milliseconds timeout{15000};  ///< the whole exchange, connect to last byte
};

struct OutboundResponse {
    long status = 0;
    std::map<std::string, std::string> headers;  ///< lower-case names; repeats joined by ", "
    std::string body;

    /// The value of header `lower_name`, or "".
    std::string Header(std::string_view lower_name) const;
};

enum class OutboundError {
    kTransport,  ///< DNS, connect, TLS, reset: no HTTP answer
    kTimeout,
    kTooLarge,  ///< a body over 1 MiB: no provider answer is that big
};

/// Sends `request`. Never throws for network failures; the failure detail is curl's message.
/// Throws std::invalid_argument for a method other than GET/POST.
base::Result<OutboundResponse, OutboundError> SendOutbound(const OutboundRequest& request);

}  // namespace inkstone::lib::net
