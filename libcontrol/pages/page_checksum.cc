#include "libcontrol/pages/page_checksum.h"

#include <array>
#include <cstring>

namespace pgrescue {
namespace {

constexpr uint32_t kFnvPrime = 16777619;
constexpr std::array<uint32_t, 32> kBaseOffsets = {
    0x5B1F36E9, 0xB8525960, 0x02AB50AA, 0x1DE66D2A, 0x79FF467A, 0x9BB9F8A3, 0x217E7CD2, 0x83E13D2C,
    0xF8D4474F, 0xE39EB970, 0x42C6AE16, 0x993216FA, 0x7B093B5D, 0x98DAFF3C, 0xF718902A, 0x0B1C9CDB,
    0xE58F764B, 0x187636BC, 0x5D7B3BB1, 0xE73DE7DE, 0x92BEC979, 0xCCA6C0B2, 0x304A0979, 0x85AA43D4,
    0x783125BB, 0x6CA8EAA2, 0xE407EAC6, 0x4B5CFC3E, 0x9FBF8C76, 0x15CA20BE, 0xF2CA9FD3, 0x959BD756};

inline void Mix(uint32_t* sum, uint32_t value) {
  const uint32_t t = *sum ^ value;
  *sum = t * kFnvPrime ^ (t >> 17);
}

}  // namespace

uint16_t StoredPageChecksum(std::span<const uint8_t> page) {
  return static_cast<uint16_t>(page[8] | page[9] << 8);
}

namespace {

// One row of 32 words into the 32 sums. Written so the compiler keeps the
// sums in vector registers: the row loop is the whole cost of a page check.
inline void MixRow(std::array<uint32_t, 32>* sums, const uint8_t* row) {
  uint32_t words[32];
  std::memcpy(words, row, sizeof words);
  for (size_t j = 0; j < 32; ++j) Mix(&(*sums)[j], words[j]);
}

// Built for AVX2 as well where the CPU has it (32-bit multiplies in vector
// registers); the default build is for any x86-64.
__attribute__((target_clones("avx2", "default"))) std::array<uint32_t, 32> MixRows(const uint8_t* data,
                                                                                  size_t rows) {
  std::array<uint32_t, 32> sums = kBaseOffsets;
  // The first row with pd_checksum (bytes 8-9) counted as zero.
  uint8_t first[128];
  std::memcpy(first, data, sizeof first);
  first[8] = first[9] = 0;
  MixRow(&sums, first);
  for (size_t i = 1; i < rows; ++i) MixRow(&sums, data + i * 128);
  return sums;
}

}  // namespace

uint16_t PageChecksum(std::span<const uint8_t> page, uint32_t block_number) {
  const size_t rows = page.size() / 128;
  std::array<uint32_t, 32> sums = rows > 0 ? MixRows(page.data(), rows) : kBaseOffsets;
  for (int round = 0; round < 2; ++round) {
    for (auto& s : sums) Mix(&s, 0);
  }
  uint32_t result = 0;
  for (uint32_t s : sums) result ^= s;
  result ^= block_number;
  return static_cast<uint16_t>(result % 65535 + 1);
}

}  // namespace pgrescue
