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

inline uint16_t Le16(const uint8_t* p) { return static_cast<uint16_t>(LoadLittleEndian(p, 2)); }
inline uint32_t Le32(const uint8_t* p) { return static_cast<uint32_t>(LoadLittleEndian(p, 4)); }
inline uint64_t Le64(const uint8_t* p) { return LoadLittleEndian(p, 8); }

}  // namespace pgrescue
