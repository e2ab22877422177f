#include "lib/base/address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

namespace inkstone::lib::base {
namespace {

std::string_view Trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

}  // namespace

std::string IpAddress::ToString() const {
    char text[INET6_ADDRSTRLEN] = {};
    if (inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), text, sizeof text) == nullptr) return {};
    return text;
}

std::optional<IpAddress> ParseIpAddress(std::string_view text) {
    if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
    char buffer[INET6_ADDRSTRLEN];
    std::memcpy(buffer, text.data(), text.size());
    buffer[text.size()] = '\0';
    IpAddress address;
    if (inet_pton(AF_INET, buffer, address.bytes.data()) == 1) return address;
    if (inet_pton(AF_INET6, buffer, address.bytes.data()) != 1) return std::nullopt;
    address.v6 = true;
    if (std::equal(std::begin(kMappedPrefix), std::end(kMappedPrefix), address.bytes.begin())) {
        IpAddress v4;
        std::copy(address.bytes.begin() + 12, address.bytes.end(), v4.bytes.begin());
        return v4;
    }
    return address;
}

bool IsLoopback(const IpAddress& address) {
    if (!address.v6) return address.bytes[0] == 127;
    static const std::array<uint8_t, 16> kLoopback = {0, 0, 0, 0, 0, 0, 0, 0,
                                                      0, 0, 0, 0, 0, 0, 0, 1};
    return address.bytes == kLoopback;
}

bool Cidr::Contains(const IpAddress& address) const {
    if (address.v6 != base.v6) return false;
    int bits = prefix_bits;
    for (size_t i = 0; bits > 0; ++i, bits -= 8) {
        const uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
        if ((address.bytes[i] & mask) != base.bytes[i]) return false;
    }
    return true;
}

std::optional<Cidr> ParseCidr(std::string_view text) {
    text = Trim(text);
    const size_t slash = text.find('/');
    const std::optional<IpAddress> address = ParseIpAddress(text.substr(0, slash));
    if (!address) return std::nullopt;
    const int max_bits = address->v6 ? 128 : 32;
    int bits = max_bits;
    if (slash != std::string_view::npos) {
        const std::string_view digits = text.substr(slash + 1);
        const char* end = digits.data() + digits.size();
        const auto [ptr, ec] = std::from_chars(digits.data(), end, bits);
        if (digits.empty() || ec != std::errc() || ptr != end || bits < 0 || bits > max_bits) {
            return std::nullopt;
        }
    }
    Cidr cidr;
    cidr.base = *address;
    cidr.prefix_bits = bits;
    // Clear the host bits, so `127.0.0.1/8` means 127.0.0.0/8.
    for (int i = 0; i < 16; ++i) {
        const int keep = std::clamp(bits - 8 * i, 0, 8);
        cidr.base.bytes[static_cast<size_t>(i)] &= static_cast<uint8_t>(0xff00 >> keep);
    }
    return cidr;
}

std::optional<std::vector<Cidr>> ParseCidrList(std::string_view text, std::string* bad) {
    std::vector<Cidr> ranges;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t comma = text.find(',', pos);
        if (comma == std::string_view::npos) comma = text.size();
        const std::string_view entry = Trim(text.substr(pos, comma - pos));
        const std::optional<Cidr> cidr = ParseCidr(entry);
        if (!cidr) {
            if (bad != nullptr) *bad = std::string(entry);
            return std::nullopt;
        }
        ranges.push_back(*cidr);
        pos = comma + 1;
    }
    return ranges;
}

bool AnyContains(const std::vector<Cidr>& ranges, const IpAddress& address) {
    return std::any_of(ranges.begin(), ranges.end(),
                       [&](const Cidr& range) { return range.Contains(address); });
}

std::string UrlHost(std::string_view url) {
    const size_t scheme = url.find("://");
    if (scheme == std::string_view::npos) return {};
    std::string_view authority = url.substr(scheme + 3);
    authority = authority.substr(0, authority.find_first_of("/?#"));
    const size_t at = authority.rfind('@');
    if (at != std::string_view::npos) authority.remove_prefix(at + 1);
    std::string_view host;
    if (!authority.empty() && authority.front() == '[') {
        const size_t close = authority.find(']');
        if (close == std::string_view::npos) return {};
        host = authority.substr(1, close - 1);
    } else {
        host = authority.substr(0, authority.find(':'));
    }
    std::string out(host);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool IsLoopbackUrl(std::string_view url) {
    std::string host = UrlHost(url);
    if (!host.empty() && host.back() == '.') host.pop_back();
    constexpr std::string_view kLocal = ".localhost";
    if (host == "localhost" ||
        (host.size() > kLocal.size() &&
         host.compare(host.size() - kLocal.size(), kLocal.size(), kLocal) == 0)) {
        return true;
    }
    const std::optional<IpAddress> address = ParseIpAddress(host);
    return address && IsLoopback(*address);
}

}  // namespace inkstone::lib::base
