// Heap page and tuple constants (bufpage.h, itemid.h, htup_details.h), shared
// by the tuple reader and its tests. The same in every version 9.4-19.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pgrescue::heap {

constexpr size_t kPageHeaderSize = 24;      // SizeOfPageHeaderData: line pointers start here
constexpr size_t kLinePointerSize = 4;      // ItemIdData: lp_off 15 bits, lp_flags 2, lp_len 15
constexpr uint32_t kLpUnused = 0, kLpNormal = 1, kLpRedirect = 2, kLpDead = 3;
constexpr size_t kMaxAlign = 8;             // x86-64 MAXALIGN
constexpr size_t kTupleHeaderSize = 23;     // SizeofHeapTupleHeader, before t_hoff's alignment

// Tuple header byte offsets.
constexpr size_t kXminAt = 0, kXmaxAt = 4, kCtidAt = 12, kInfomask2At = 18, kInfomaskAt = 20, kHoffAt = 22;

// t_infomask bits.
constexpr uint16_t kHasNull = 0x0001;
constexpr uint16_t kHasOid = 0x0008;         // HEAP_HASOID_OLD: the OID before t_hoff (before 12)
constexpr uint16_t kXmaxKeyShareLock = 0x0010;
constexpr uint16_t kXmaxExclusiveLock = 0x0040;
constexpr uint16_t kXmaxLockOnly = 0x0080;
constexpr uint16_t kXminCommitted = 0x0100;
constexpr uint16_t kXminInvalid = 0x0200;    // with kXminCommitted: frozen
constexpr uint16_t kXmaxCommitted = 0x0400;
constexpr uint16_t kXmaxInvalid = 0x0800;
constexpr uint16_t kXmaxIsMulti = 0x1000;
constexpr uint16_t kUpdated = 0x2000;        // HEAP_UPDATED: the new version of a row

// pd_flags bits.
constexpr size_t kPdFlagsAt = 10;
constexpr uint16_t kPdAllVisible = 0x0004;   // every tuple visible to every transaction

// t_infomask2 bits.
constexpr uint16_t kNattsMask = 0x07FF;
constexpr uint16_t kHotUpdated = 0x4000;
constexpr uint16_t kHeapOnly = 0x8000;

}  // namespace pgrescue::heap
