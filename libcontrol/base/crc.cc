#include "libcontrol/base/crc.h"

#include <array>
#include <boost/crc.hpp>

namespace pgrescue {
namespace {

using Crc32cEngine = boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true>;

std::array<uint32_t, 256> MakeReflectedCrc32Table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}

uint32_t ReverseBits32(uint32_t v) {
  uint32_t r = 0;
  for (int i = 0; i < 32; ++i, v >>= 1) r = (r << 1) | (v & 1);
  return r;
}

}  // namespace

uint32_t Crc32cBoostExtend(uint32_t crc, std::span<const uint8_t> data) {
  // Boost keeps the register of a reflected CRC in unreflected bit order and
  // finishes by reflecting and XORing, so undo both to resume.
  Crc32cEngine engine(ReverseBits32(crc ^ 0xFFFFFFFFu));
  engine.process_bytes(data.data(), data.size());
  return engine.checksum();
}

uint32_t LegacyCrc32Extend(uint32_t crc, std::span<const uint8_t> data) {
  static const std::array<uint32_t, 256> table = MakeReflectedCrc32Table();
  crc ^= 0xFFFFFFFFu;
  for (uint8_t byte : data) crc = table[((crc >> 24) ^ byte) & 0xFF] ^ (crc << 8);
  return crc ^ 0xFFFFFFFFu;
}

uint32_t LegacyCrc32(std::span<const uint8_t> data) { return LegacyCrc32Extend(0, data); }

uint32_t ComputeCrc(CrcKind kind, std::span<const uint8_t> data) {
  return kind == CrcKind::kCrc32c ? Crc32c(data) : LegacyCrc32(data);
}

}  // namespace pgrescue
