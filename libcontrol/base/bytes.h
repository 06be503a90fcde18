// PostgreSQL's on-disk integers as the x86-64 servers write them: little
// endian, at any alignment. One reading and writing of them for pg_control,
// WAL pages and records.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pgrescue {

inline uint64_t LoadLittleEndian(const uint8_t* p, size_t size) {
  uint64_t v = 0;
  for (size_t i = 0; i < size; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

inline void StoreLittleEndian(uint8_t* p, size_t size, uint64_t v) {
  for (size_t i = 0; i < size; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// Written out so that compilers see one load (the reader's hot path).
inline uint16_t Le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
inline uint32_t Le32(const uint8_t* p) { return Le16(p) | static_cast<uint32_t>(Le16(p + 2)) << 16; }
inline uint64_t Le64(const uint8_t* p) { return Le32(p) | static_cast<uint64_t>(Le32(p + 4)) << 32; }

}  // namespace pgrescue
