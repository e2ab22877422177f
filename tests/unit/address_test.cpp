#include "lib/base/address.h"

#include <gtest/gtest.h>

namespace inkstone::lib {
using namespace inkstone::lib::base;
namespace {

IpAddress Ip(const char* text) {
    const std::optional<IpAddress> address = ParseIpAddress(text);
    EXPECT_TRUE(address.has_value()) << text;
    return address.value_or(IpAddress{});
}

TEST(AddressTest, ParsesBothFamiliesAndFoldsMappedIpv4) {
    EXPECT_EQ(Ip("127.0.0.1").ToString(), "127.0.0.1");
    EXPECT_EQ(Ip("2001:db8::1").ToString(), "2001:db8::1");
    EXPECT_EQ(Ip("::ffff:10.1.2.3"), Ip("10.1.2.3"));
    for (const char* bad :
         {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "[::1]", "::1%lo", "localhost", " 1.2.3.4"}) {
        EXPECT_FALSE(ParseIpAddress(bad).has_value()) << bad;
    }
}

TEST(AddressTest, Loopback) {
    EXPECT_TRUE(IsLoopback(Ip("127.0.0.1")));
    EXPECT_TRUE(IsLoopback(Ip("127.9.8.7")));
    EXPECT_TRUE(IsLoopback(Ip("::1")));
    EXPECT_TRUE(IsLoopback(Ip("::ffff:127.0.0.1")));
    EXPECT_FALSE(IsLoopback(Ip("10.0.0.1")));
    EXPECT_FALSE(IsLoopback(Ip("::2")));
}

TEST(AddressTest, CidrsContainTheirRange) {
    const Cidr net = *ParseCidr("10.1.0.0/16");
    EXPECT_TRUE(net.Contains(Ip("10.1.255.3")));
    EXPECT_FALSE(net.Contains(Ip("10.2.0.1")));
    EXPECT_FALSE(net.Contains(Ip("::ffff:10.2.0.1")));
    EXPECT_TRUE(ParseCidr("127.0.0.1/8")->Contains(Ip("127.200.0.1")));  // host bits cleared
    EXPECT_TRUE(ParseCidr("192.168.1.7")->Contains(Ip("192.168.1.7")));
    EXPECT_FALSE(ParseCidr("192.168.1.7")->Contains(Ip("192.168.1.8")));
    EXPECT_TRUE(ParseCidr("0.0.0.0/0")->Contains(Ip("8.8.8.8")));
    EXPECT_FALSE(ParseCidr("0.0.0.0/0")->Contains(Ip("::8")));  // families never mix
    EXPECT_TRUE(ParseCidr("2001:db8:1::/48")->Contains(Ip("2001:db8:1:ffff::1")));
    EXPECT_FALSE(ParseCidr("2001:db8:1::/48")->Contains(Ip("2001:db8:2::1")));
    EXPECT_TRUE(ParseCidr("10.0.0.0/13")->Contains(Ip("10.7.255.255")));
    EXPECT_FALSE(ParseCidr("10.0.0.0/13")->Contains(Ip("10.8.0.0")));
    for (const char* bad : {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x", "/8", "nope"}) {
        EXPECT_FALSE(ParseCidr(bad).has_value()) << bad;
    }
}

TEST(AddressTest, CidrLists) {
    const auto ranges = ParseCidrList("127.0.0.0/8, ::1 ,10.0.0.5");
    ASSERT_TRUE(ranges.has_value());
    EXPECT_EQ(ranges->size(), 3u);
    EXPECT_TRUE(AnyContains(*ranges, Ip("10.0.0.5")));
    EXPECT_TRUE(AnyContains(*ranges, Ip("::1")));
    EXPECT_FALSE(AnyContains(*ranges, Ip("10.0.0.6")));
    std::string bad;
    EXPECT_FALSE(ParseCidrList("127.0.0.1,,::1", &bad).has_value());
    EXPECT_EQ(bad, "");
    EXPECT_FALSE(ParseCidrList("127.0.0.1,example.com", &bad).has_value());
    EXPECT_EQ(bad, "example.com");
    EXPECT_FALSE(ParseCidrList("").has_value());
}

TEST(AddressTest, LoopbackUrls) {
    for (const char* url :
         {"http://127.0.0.1:8080", "http://localhost", "https://LOCALHOST:8443/x",
          "http://[::1]:8080/", "http://app.localhost", "http://127.1.2.3", "http://u@127.0.0.1"}) {
        EXPECT_TRUE(IsLoopbackUrl(url)) << url;
    }
    for (const char* url :
         {"https://pay.example.com", "http://10.0.0.1:8080", "http://[2001:db8::1]/",
          "http://127.0.0.1.example.com", "http://localhost.example.com",
          "http://127.0.0.1@evil.example.com/", "http://localhostx", ""}) {
        EXPECT_FALSE(IsLoopbackUrl(url)) << url;
    }
}

}  // namespace
}  // namespace inkstone::lib
