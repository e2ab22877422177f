#pragma once
/// A FastCGI client just big enough for one GET, for tests that must talk to the pool directly
/// (as a FastCGI peer sets REMOTE_ADDR and the HTTP_* headers itself). Thread-safe (no state).
#include <map>
#include <string>

namespace inkstone::testing {

/// The records of a GET of `path` (BEGIN_REQUEST, PARAMS with REQUEST_METHOD, REQUEST_URI,
/// SCRIPT_NAME, QUERY_STRING, SERVER_PROTOCOL and `extra_params` such as REMOTE_ADDR or
/// HTTP_AUTHORIZATION, empty STDIN). Names and values under 128 bytes each.
std::string FastCgiGet(const std::string& path,
                       const std::map<std::string, std::string>& extra_params = {});

struct FastCgiReply {
    bool connected = false;
    std::string reply;  ///< everything the pool sent until it closed (or 5 s passed)
};

/// Connects from `source` (an address of this host) to 127.0.0.1:port, sends `bytes`, reads
/// until the pool closes.
FastCgiReply FastCgiExchange(const std::string& source, int port, const std::string& bytes);

}  // namespace inkstone::testing
