// SLRU segment arithmetic: which IDs a segment file of pg_xact, pg_multixact
// or pg_commit_ts can hold, how the files are named, and where numbering
// wraps. Geometry is data per version and block size.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgrescue {

class ControlLayout;

enum class SlruKind {
  kXact,              // pg_xact (pg_clog before 10): 2 status bits per XID
  kMultiXactOffsets,  // one MultiXactOffset per MultiXact
  kMultiXactMembers,  // groups of 4 members: 4 flag bytes + 4 XIDs
  kCommitTs,          // 8-byte timestamp + 2-byte origin per XID (9.5 on)
};

// Static text, so it may be kept.
std::string_view SlruKindName(SlruKind kind);

class SlruLayout {
 public:
  // The geometry of `kind` in `layout`'s version with `block_size`-byte pages;
  // copies what it needs, so `layout` need not outlive it.
  SlruLayout(SlruKind kind, const ControlLayout& layout, uint32_t block_size);

  SlruKind kind() const { return kind_; }
  uint64_t entries_per_page() const { return entries_per_page_; }
  uint64_t pages_per_segment() const { return pages_per_segment_; }
  uint64_t entries_per_segment() const { return entries_per_page_ * pages_per_segment_; }
  // How many segment numbers exist before names wrap back to 0; nullopt when
  // the ID space is 64-bit and never wraps in practice (19's members).
  std::optional<uint64_t> segment_count() const { return segment_count_; }
  // The ID space the entries are numbered in: 2^32, or nullopt for 64 bits.
  std::optional<uint64_t> id_space() const { return id_space_; }
  bool long_names() const { return long_names_; }

  // First ID a segment holds.
  uint64_t FirstIdOf(uint64_t segment) const { return segment * entries_per_segment(); }
  uint64_t SegmentOf(uint64_t id) const { return id / entries_per_page_ / pages_per_segment_; }
  std::string FileName(uint64_t segment) const;
  // The segment number a file name denotes, or nullopt for a name this SLRU
  // would never write (wrong length, lower case, beyond the last segment).
  std::optional<uint64_t> ParseFileName(std::string_view name) const;

 private:
  SlruKind kind_;
  uint64_t entries_per_page_;
  uint64_t pages_per_segment_ = 32;
  std::optional<uint64_t> id_space_;
  std::optional<uint64_t> segment_count_;
  bool long_names_ = false;
};

}  // namespace pgrescue
