#pragma once
/// IP addresses and CIDR ranges as text, for the few places that decide by the peer's address:
/// `fcgi.allow` (who may talk FastCGI to the pool), the loopback rules of the startup checks.
///
/// Pure functions and values; thread-safe.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace inkstone::lib::base {

/// An IPv4 or IPv6 address. An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) is its IPv4
/// address, so a dual-stack socket's peers match IPv4 rules.
struct IpAddress {
    bool v6 = false;
    std::array<uint8_t, 16> bytes{};  ///< network order; IPv4 uses the first 4

    /// `127.0.0.1`, `2001:db8::1`.
    std::string ToString() const;
    bool operator==(const IpAddress& other) const { return v6 == other.v6 && bytes == other.bytes; }
};

/// A dotted IPv4 or an IPv6 address (no brackets, no zone); nullopt otherwise.
std::optional<IpAddress> ParseIpAddress(std::string_view text);

/// 127.0.0.0/8 or ::1.
bool IsLoopback(const IpAddress& address);

/// An address range: `10.0.0.0/8`, `::1/128`, or one address (`127.0.0.1` = /32).
struct Cidr {
    IpAddress base;  ///< host bits cleared
    int prefix_bits = 0;

    bool Contains(const IpAddress& address) const;
};

/// nullopt for anything else than an address with an optional `/bits` (0-32 or 0-128).
std::optional<Cidr> ParseCidr(std::string_view text);

/// A comma-separated list of CidrS (spaces around entries allowed; empty entries not). nullopt
/// (and `*bad` set to the offending entry when given) when an entry does not parse, or when the
/// list is empty.
std::optional<std::vector<Cidr>> ParseCidrList(std::string_view text, std::string* bad = nullptr);

/// True when any range contains `address`.
bool AnyContains(const std::vector<Cidr>& ranges, const IpAddress& address);

/// The host of an http(s) URL (`https://user@[::1]:8443/x` → `::1`), lower-cased, brackets
/// removed; "" when there is none.
std::string UrlHost(std::string_view url);

/// True when the URL's host is `localhost` (or a name under `.localhost`) or a loopback
/// address: only this machine can reach it.
bool IsLoopbackUrl(std::string_view url);

}  // namespace inkstone::lib::base
