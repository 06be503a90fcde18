// The entries of a btree index's leaf pages, read without a server: each
// key's bytes (null bitmap and data, as stored) and the heap TID it points
// at, posting lists (13 on, deduplication) unpacked. Internal pages, the
// metapage, deleted and half-dead pages and high keys are skipped; items
// marked dead are read (their storage stays until the page is cleaned).
#pragma once

#include <cstdint>
#include <functional>
#include <span>

namespace pgrescue {

struct HeapTid {
  uint32_t block = 0;
  uint16_t offset = 0;  // line pointer number, from 1
  auto operator<=>(const HeapTid&) const = default;
};

// Calls `each` for every heap TID of every leaf entry in `index` (the whole
// main fork); `key` points into `index`.
void ForEachBtreeLeafEntry(std::span<const uint8_t> index, uint32_t block_size,
                           const std::function<void(std::span<const uint8_t> key, HeapTid tid)>& each);

}  // namespace pgrescue
