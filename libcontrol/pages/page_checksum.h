// PostgreSQL's data page checksum (storage/checksum_impl.h): 32 parallel
// FNV-1a-like sums over the page with pd_checksum zeroed, xor-folded, mixed
// with the block number, reduced to 1..65535.
#pragma once

#include <cstdint>
#include <span>

namespace pgrescue {

// `page` is one whole block (its size is the block size).
uint16_t PageChecksum(std::span<const uint8_t> page, uint32_t block_number);

// The checksum stored in a page header (pd_checksum, offset 8).
uint16_t StoredPageChecksum(std::span<const uint8_t> page);

}  // namespace pgrescue
