// PostgreSQL's circular order of 32-bit transaction IDs, MultiXact IDs and
// offsets: of two IDs, the one less than 2^31 ahead of the other follows it.
#pragma once

#include <cstdint>

namespace pgrescue {

inline bool Follows32(uint64_t a, uint64_t b) { return static_cast<int32_t>(static_cast<uint32_t>(a - b)) > 0; }
inline bool Precedes32(uint64_t a, uint64_t b) { return static_cast<int32_t>(static_cast<uint32_t>(a - b)) < 0; }

}  // namespace pgrescue
