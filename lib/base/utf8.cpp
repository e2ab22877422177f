#include "lib/base/utf8.h"

#include <cstdint>
#include <cstring>

namespace inkstone::lib::base {
namespace {

constexpr uint64_t kHighBits = 0x8080808080808080ULL;

uint64_t Load8(const unsigned char* p) {
    uint64_t word;
    std::memcpy(&word, p, sizeof word);  // memcpy: unaligned loads without UB
    return word;
}

bool IsContinuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

}  // namespace

bool IsValidUtf8(std::string_view text) {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const auto* const end = p + text.size();
    while (p < end) {
        // Request bodies are mostly ASCII: skip eight bytes at a time while no high bit is set.
        while (end - p >= 8 && (Load8(p) & kHighBits) == 0) p += 8;
        if (p == end) break;
        const unsigned char lead = *p;
        if (lead < 0x80) {
            ++p;
            continue;
        }
        // Ranges of the second byte per RFC 3629 / Unicode Table 3-7; they exclude overlongs
        // (C0, C1, E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and > U+10FFFF (F4 90.., F5..).
        size_t length;
        unsigned char second_min = 0x80;
        unsigned char second_max = 0xBF;
        if (lead >= 0xC2 && lead <= 0xDF) {
            length = 2;
        } else if (lead >= 0xE0 && lead <= 0xEF) {
            length = 3;
            if (lead == 0xE0) second_min = 0xA0;
            if (lead == 0xED) second_max = 0x9F;
        } else if (lead >= 0xF0 && lead <= 0xF4) {
            length = 4;
            if (lead == 0xF0) second_min = 0x90;
            if (lead == 0xF4) second_max = 0x8F;
        } else {
            return false;
        }
        if (static_cast<size_t>(end - p) < length) return false;
        if (p[1] < second_min || p[1] > second_max) return false;
        for (size_t i = 2; i < length; ++i) {
            if (!IsContinuation(p[i])) return false;
        }
        p += length;
    }
    return true;
}

size_t Utf8Length(std::string_view text) {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const auto* const end = p + text.size();
    size_t continuation_bytes = 0;
    while (end - p >= 8) {
        // A continuation byte is 10xxxxxx: bit 7 set and bit 6 clear. Shifting left by one
        // moves each byte's bit 6 onto its bit 7, so this marks exactly the continuation bytes.
        const uint64_t word = Load8(p);
        continuation_bytes += __builtin_popcountll(word & ~(word << 1) & kHighBits);
        p += 8;
    }
    for (; p < end; ++p) {
        if (IsContinuation(*p)) ++continuation_bytes;
    }
    return text.size() - continuation_bytes;
}

std::string Utf8Prefix(std::string_view text, size_t max_chars) {
    size_t at = 0;
    for (size_t chars = 0; at < text.size() && chars < max_chars; ++chars) {
        ++at;
        while (at < text.size() && IsContinuation(static_cast<unsigned char>(text[at]))) ++at;
    }
    return std::string(text.substr(0, at));
}

}  // namespace inkstone::lib::base
