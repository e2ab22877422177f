#pragma once
/// The pictures behind the simulator's image-task URLs: small valid PNGs, so a client that
/// downloads or proxies a result gets real image bytes.
#include <cstdint>
#include <string>

namespace inkstone::sim {

/// A `width` x `height` 8-bit RGB PNG of one colour (uncompressed deflate blocks, correct CRCs
/// and Adler-32). 1 <= width, height <= 256.
std::string SolidPng(int width, int height, uint8_t red, uint8_t green, uint8_t blue);

}  // namespace inkstone::sim
