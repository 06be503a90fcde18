// CRC-32C at memory speed. The SSE 4.2 crc32 instruction has a latency of
// three cycles but accepts one per cycle, so long buffers are cut into three
// streams run side by side and joined with a "shift over N zero bytes"
// operator; the operator is linear, so it is four table lookups.
#include <array>
#include <cstring>

#include "libcontrol/base/crc.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace pgrescue {
namespace {

constexpr uint32_t kPolyReflected = 0x82F63B78u;

// Eight tables: byte i of an 8-byte word advances the register past 7 - i
// more bytes.
std::array<std::array<uint32_t, 256>, 8> MakeSlicingTables() {
  std::array<std::array<uint32_t, 256>, 8> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1) ? kPolyReflected ^ (c >> 1) : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i) {
    for (size_t k = 1; k < 8; ++k) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF];
  }
  return t;
}

const std::array<std::array<uint32_t, 256>, 8>& SlicingTables() {
  static const auto tables = MakeSlicingTables();
  return tables;
}

// The raw register (not inverted) through `data`.
uint32_t PortableRegister(uint32_t reg, const uint8_t* p, size_t n) {
  const auto& t = SlicingTables();
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    word ^= reg;
    reg = t[7][word & 0xFF] ^ t[6][(word >> 8) & 0xFF] ^ t[5][(word >> 16) & 0xFF] ^ t[4][(word >> 24) & 0xFF] ^
          t[3][(word >> 32) & 0xFF] ^ t[2][(word >> 40) & 0xFF] ^ t[1][(word >> 48) & 0xFF] ^ t[0][word >> 56];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) reg = (reg >> 8) ^ t[0][(reg ^ *p++) & 0xFF];
  return reg;
}

#if defined(__x86_64__)

#define PGRESCUE_SSE42 __attribute__((target("sse4.2")))

PGRESCUE_SSE42 uint32_t HardwareBytes(uint32_t reg, const uint8_t* p, size_t n) {
  uint64_t r = reg;
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    r = _mm_crc32_u64(r, word);
    p += 8;
    n -= 8;
  }
  auto r32 = static_cast<uint32_t>(r);
  while (n-- > 0) r32 = _mm_crc32_u8(r32, *p++);
  return r32;
}

// Advancing a register over `n` zero bytes, as four byte-indexed tables.
struct ZeroShift {
  std::array<std::array<uint32_t, 256>, 4> table;
  uint32_t operator()(uint32_t reg) const {
    return table[0][reg & 0xFF] ^ table[1][(reg >> 8) & 0xFF] ^ table[2][(reg >> 16) & 0xFF] ^ table[3][reg >> 24];
  }
};

PGRESCUE_SSE42 ZeroShift MakeZeroShift(size_t n) {
  static const std::array<uint8_t, 8192> zeros{};
  ZeroShift shift{};
  for (uint32_t k = 0; k < 4; ++k) {
    for (uint32_t b = 0; b < 256; ++b) {
      uint32_t reg = b << (8 * k);
      for (size_t left = n; left > 0;) {
        const size_t step = left < zeros.size() ? left : zeros.size();
        reg = HardwareBytes(reg, zeros.data(), step);
        left -= step;
      }
      shift.table[k][b] = reg;
    }
  }
  return shift;
}

constexpr size_t kLongBlock = 8192;
constexpr size_t kShortBlock = 256;

const ZeroShift& LongShift() {
  static const ZeroShift shift = MakeZeroShift(kLongBlock);
  return shift;
}
const ZeroShift& ShortShift() {
  static const ZeroShift shift = MakeZeroShift(kShortBlock);
  return shift;
}

// Three blocks of `block` bytes at once; returns the register after them.
template <size_t block>
PGRESCUE_SSE42 inline uint32_t ThreeStreams(uint32_t reg, const uint8_t* p, const ZeroShift& shift) {
  uint64_t a = reg, b = 0, c = 0;
  for (size_t i = 0; i < block; i += 8) {
    uint64_t wa, wb, wc;
    std::memcpy(&wa, p + i, 8);
    std::memcpy(&wb, p + block + i, 8);
    std::memcpy(&wc, p + 2 * block + i, 8);
    a = _mm_crc32_u64(a, wa);
    b = _mm_crc32_u64(b, wb);
    c = _mm_crc32_u64(c, wc);
  }
  return shift(shift(static_cast<uint32_t>(a)) ^ static_cast<uint32_t>(b)) ^ static_cast<uint32_t>(c);
}

PGRESCUE_SSE42 uint32_t HardwareRegister(uint32_t reg, const uint8_t* p, size_t n) {
  if (n >= 3 * kLongBlock) {
    const ZeroShift& shift = LongShift();
    for (; n >= 3 * kLongBlock; p += 3 * kLongBlock, n -= 3 * kLongBlock) reg = ThreeStreams<kLongBlock>(reg, p, shift);
  }
  if (n >= 3 * kShortBlock) {
    const ZeroShift& shift = ShortShift();
    for (; n >= 3 * kShortBlock; p += 3 * kShortBlock, n -= 3 * kShortBlock) {
      reg = ThreeStreams<kShortBlock>(reg, p, shift);
    }
  }
  return HardwareBytes(reg, p, n);
}

bool DetectHardware() { return __builtin_cpu_supports("sse4.2"); }

#else

bool DetectHardware() { return false; }
uint32_t HardwareRegister(uint32_t reg, const uint8_t* p, size_t n) { return PortableRegister(reg, p, n); }

#endif

}  // namespace

bool Crc32cHardwareAvailable() {
  static const bool available = DetectHardware();
  return available;
}

uint32_t Crc32cPortableExtend(uint32_t crc, std::span<const uint8_t> data) {
  return ~PortableRegister(~crc, data.data(), data.size());
}

uint32_t Crc32cHardwareExtend(uint32_t crc, std::span<const uint8_t> data) {
  return ~HardwareRegister(~crc, data.data(), data.size());
}

uint32_t Crc32cExtend(uint32_t crc, std::span<const uint8_t> data) {
  return Crc32cHardwareAvailable() ? Crc32cHardwareExtend(crc, data) : Crc32cPortableExtend(crc, data);
}

uint32_t Crc32c(std::span<const uint8_t> data) { return Crc32cExtend(0, data); }

}  // namespace pgrescue
