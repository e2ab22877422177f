#include "tests/sim/png.h"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace inkstone::sim {
namespace {

uint32_t Crc32(const std::string& data, size_t from) {
    static const std::array<uint32_t, 256> table = [] {
        std::array<uint32_t, 256> t{};
        for (uint32_t n = 0; n < 256; ++n) {
            uint32_t c = n;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320U ^ (c >> 1) : c >> 1;
            t[n] = c;
        }
        return t;
    }();
    uint32_t c = 0xffffffffU;
    for (size_t i = from; i < data.size(); ++i) {
        c = table[(c ^ static_cast<uint8_t>(data[i])) & 0xff] ^ (c >> 8);
    }
    return c ^ 0xffffffffU;
}

void PutU32(std::string* out, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
        out->push_back(static_cast<char>((v >> shift) & 0xff));
}

void AppendChunk(std::string* out, const char* type, const std::string& data) {
    PutU32(out, static_cast<uint32_t>(data.size()));
    const size_t typed_from = out->size();
    out->append(type, 4);
    out->append(data);
    PutU32(out, Crc32(*out, typed_from));
}

}  // namespace

std::string SolidPng(int width, int height, uint8_t red, uint8_t green, uint8_t blue) {
    if (width < 1 || width > 256 || height < 1 || height > 256) {
        throw std::invalid_argument("SolidPng: size out of range");
    }
    std::string header;
    PutU32(&header, static_cast<uint32_t>(width));
    PutU32(&header, static_cast<uint32_t>(height));
    header +=
        std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit, RGB, deflate, no filter, no interlace

    std::string raw;
    for (int y = 0; y < height; ++y) {
        raw.push_back('\0');  // filter type None
        for (int x = 0; x < width; ++x) {
            raw.push_back(static_cast<char>(red));
            raw.push_back(static_cast<char>(green));
            raw.push_back(static_cast<char>(blue));
        }
    }

    // zlib stream of stored (uncompressed) deflate blocks, at most 65535 bytes each.
    std::string zlib = std::string("\x78\x01", 2);
    for (size_t at = 0; at < raw.size();) {
        const size_t len = std::min<size_t>(65535, raw.size() - at);
        const bool last = at + len == raw.size();
        zlib.push_back(last ? '\x01' : '\x00');
        zlib.push_back(static_cast<char>(len & 0xff));
        zlib.push_back(static_cast<char>(len >> 8));
        zlib.push_back(static_cast<char>(~len & 0xff));
        zlib.push_back(static_cast<char>((~len >> 8) & 0xff));
        zlib.append(raw, at, len);
        at += len;
        if (last) break;
    }
    uint32_t a = 1;
    uint32_t b = 0;
    for (unsigned char c : raw) {
        a = (a + c) % 65521;
        b = (b + a) % 65521;
    }
    PutU32(&zlib, (b << 16) | a);

    std::string png("\x89PNG\r\n\x1a\n", 8);
    AppendChunk(&png, "IHDR", header);
    AppendChunk(&png, "IDAT", zlib);
    AppendChunk(&png, "IEND", "");
    return png;
}

}  // namespace inkstone::sim
