// Version knowledge as data: one ControlLayout per PostgreSQL major version,
// each declared the way that version's pg_control.h declares ControlFileData
// and CheckPoint. Offsets follow from the declarations by the x86-64 C rules
// (natural alignment, structs padded to their widest member), so adding a
// version means adding one declaration.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "libcontrol/control/control_fields.h"
#include "libcontrol/base/crc.h"
#include "libcontrol/base/lsn.h"

namespace pgrescue {

constexpr size_t kControlFileSize = 8192;  // the file is always written this long

struct Member {
  Field field;
  CType type;
};

struct Placement {
  Field field;
  CType type;
  uint16_t offset;
  uint8_t size;
};

// How that version's pg_controldata prints; the SQL view follows the same
// LSN style.
struct ControlTextStyle {
  char next_xid_separator;           // '/' up to 9.5, ':' from 9.6
  bool current_setting_labels;       // "Current wal_level setting:" (9.4)
  LsnStyle lsn_style;
  bool warnings_on_stderr;           // 17 on: pg_log_warning instead of printf
  bool checks_wal_segment_size;      // 11 on
  std::vector<std::string_view> wal_level_names;  // index = stored value
  std::string_view unknown_wal_level;
};

// What else changes between versions, beyond pg_control's shape: each a
// named rule, set from the named thresholds in control_layout.cc. Code asks
// these; it never compares version numbers.
struct VersionRules {
  // pg_resetwal (pg_resetxlog) of this version.
  bool reset_has_oldest_xid_option;   // -u (back-patched to 9.6)
  bool reset_has_wal_segsize_option;  // --wal-segsize
  bool reset_next_xid_moves_oldest;   // -x also sets oldestXid 2 billion back (before 9.6)
  bool reset_next_xid_reports_oldest; // -x also reports OldestXID as changed (before 14)
  uint64_t reset_min_next_xid;        // -x's smallest accepted value
  uint64_t reset_min_commit_ts_xid;   // -c's smallest non-zero value
  bool reset_rejects_zero_next_multi; // -m 0,N refused
  bool reset_rejects_max_multi_offset;  // -O 4294967295 refused
  std::string_view reset_done_message;  // what it prints on success
  // WAL and SLRU formats.
  bool multixact_offsets_64bit;       // MultiXactOffset is 64 bits: never wraps
  uint8_t wal_image_compressed_mask;  // XLogRecordBlockImageHeader bimg_info bits
  uint32_t relmap_max_mappings;       // pg_filenode.map's MAX_MAPPINGS (62, then 64)
  bool relmap_has_pad;                // an int32 after its CRC (512 bytes, then 524 without)
  bool xact_record_xinfo;             // commit/abort records: time, then xinfo-flagged parts (9.5 on)
  uint8_t xact_stats_item_size;       // a dropped-statistics entry in them: 0 (none), 12, then 16
  uint8_t twophase_header_size;       // a PREPARE record's TwoPhaseFileHeader, MAXALIGNed
  uint8_t twophase_gid_length_at;     // its uint16 gidlen; 0: the GID is a char[200] inside it (before 11)
  // System catalogs.
  bool catalog_oid_column;            // oid is the first column; before, it sat in the tuple header
  bool pg_class_has_relallfrozen;     // an int4 after relallvisible
  bool pg_attribute_fixed_stattarget; // an int4 attstattarget before attlen (16 moved it later)
  bool pg_index_has_nkeyatts;         // an int2 indnkeyatts after indnatts (11 on)
  bool pg_index_has_nulls_not_distinct;  // a bool after indisunique (15 on)
  // What initdb leaves, for rebuilding pg_control.
  uint64_t initial_unlogged_lsn;
  std::string_view default_wal_level;
};

// Every string_view in a declaration (and in its ControlTextStyle and
// VersionRules) points at a string literal: declarations own no text, and
// what the accessors below return stays valid for the whole program.
struct ControlLayoutDecl {
  std::string_view major;            // as PG_VERSION says it: "9.4", "15"
  uint32_t pg_control_version;
  uint32_t catversion_first;         // catalog versions this layout covers
  uint32_t catversion_last;
  std::vector<uint16_t> wal_page_magics;  // the released magic first
  CrcKind crc;
  std::string_view wal_dir;          // pg_xlog / pg_wal
  std::string_view xact_dir;         // pg_clog / pg_xact
  std::string_view reset_tool;       // pg_resetxlog / pg_resetwal
  ControlTextStyle text;
  std::vector<Member> head;          // ControlFileData members before checkPointCopy
  std::vector<Member> checkpoint;    // CheckPoint members
  std::vector<Member> tail;          // members after checkPointCopy, ending with the CRC
  VersionRules rules{};             // filled from the thresholds in control_layout.cc
};

class ControlLayout {
 public:
  explicit ControlLayout(ControlLayoutDecl decl);

  std::string_view major() const { return decl_.major; }
  uint32_t pg_control_version() const { return decl_.pg_control_version; }
  uint32_t catversion_first() const { return decl_.catversion_first; }
  uint32_t catversion_last() const { return decl_.catversion_last; }
  bool CoversCatalogVersion(uint32_t v) const {
    return v >= decl_.catversion_first && v <= decl_.catversion_last;
  }
  // Points into this layout: valid as long as the layout is.
  std::span<const uint16_t> wal_page_magics() const { return decl_.wal_page_magics; }
  CrcKind crc_kind() const { return decl_.crc; }
  std::string_view wal_dir() const { return decl_.wal_dir; }
  std::string_view xact_dir() const { return decl_.xact_dir; }
  std::string_view reset_tool() const { return decl_.reset_tool; }
  const ControlTextStyle& text() const { return decl_.text; }
  const VersionRules& rules() const { return decl_.rules; }

  // Both point into this layout's table: valid as long as the layout is.
  std::span<const Placement> placements() const { return placements_; }
  const Placement* Find(Field field) const;
  bool Has(Field field) const { return Find(field) != nullptr; }
  // Whether the field lies in checkPointCopy (and so in a checkpoint record's body).
  bool InCheckpoint(const Placement& p) const {
    return p.offset >= checkpoint_offset_ && p.offset < checkpoint_offset_ + checkpoint_size_;
  }
  uint16_t crc_offset() const { return crc_offset_; }
  uint16_t struct_size() const { return struct_size_; }
  uint16_t checkpoint_offset() const { return checkpoint_offset_; }
  uint16_t checkpoint_size() const { return checkpoint_size_; }

 private:
  ControlLayoutDecl decl_;
  std::vector<Placement> placements_;
  std::array<int16_t, kFieldCount> index_{};
  uint16_t crc_offset_ = 0;
  uint16_t struct_size_ = 0;
  uint16_t checkpoint_offset_ = 0;
  uint16_t checkpoint_size_ = 0;
};

// Oldest first. A static table built on first use and never changed: the
// span, and every pointer the lookups below return, stay valid for the whole
// program (which is why ControlFile may keep one).
std::span<const ControlLayout> AllControlLayouts();

// By major version as PG_VERSION writes it ("9.6", "16"); nullptr if unknown.
// Points into the static table.
const ControlLayout* FindLayoutByMajor(std::string_view major);

// Every layout with this pg_control version (942 and 1300 are shared);
// pointers into the static table.
std::vector<const ControlLayout*> FindLayoutsByControlVersion(uint32_t pg_control_version);

}  // namespace pgrescue
