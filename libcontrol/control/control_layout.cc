#include "libcontrol/control/control_layout.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

namespace pgrescue {
namespace {

using F = Field;
using T = CType;

struct SizeAlign {
  uint8_t size;
  uint8_t align;
};

SizeAlign SizeAlignOf(CType type) {
  switch (type) {
    case T::kBool: return {1, 1};
    case T::kUInt32:
    case T::kInt32:
    case T::kCrc: return {4, 4};
    case T::kUInt64:
    case T::kInt64:
    case T::kDouble:
    case T::kFullXid: return {8, 8};
    case T::kNonce: return {static_cast<uint8_t>(kMockAuthNonceLength), 1};
  }
  std::abort();
}

uint16_t AlignUp(uint16_t offset, uint16_t align) {
  return static_cast<uint16_t>((offset + align - 1) / align * align);
}

// ---- The declarations, as each version's headers have them. ----

std::vector<Member> Head(bool with_prev_checkpoint) {
  std::vector<Member> m = {{F::kSystemIdentifier, T::kUInt64}, {F::kPgControlVersion, T::kUInt32},
                           {F::kCatalogVersion, T::kUInt32},   {F::kState, T::kInt32},
                           {F::kTime, T::kInt64},              {F::kCheckPoint, T::kUInt64}};
  if (with_prev_checkpoint) m.push_back({F::kPrevCheckPoint, T::kUInt64});
  return m;
}

// 9.4 to 11: epoch and xid as two 32-bit members.
std::vector<Member> CheckpointSplitXid(bool with_commit_ts) {
  std::vector<Member> m = {
      {F::kRedo, T::kUInt64},          {F::kThisTimeLineId, T::kUInt32},
      {F::kPrevTimeLineId, T::kUInt32}, {F::kFullPageWrites, T::kBool},
      {F::kNextXidEpoch, T::kUInt32},  {F::kNextXid, T::kUInt32},
      {F::kNextOid, T::kUInt32},       {F::kNextMulti, T::kUInt32},
      {F::kNextMultiOffset, T::kUInt32}, {F::kOldestXid, T::kUInt32},
      {F::kOldestXidDb, T::kUInt32},   {F::kOldestMulti, T::kUInt32},
      {F::kOldestMultiDb, T::kUInt32}, {F::kCheckpointTime, T::kInt64}};
  if (with_commit_ts) {
    m.push_back({F::kOldestCommitTsXid, T::kUInt32});
    m.push_back({F::kNewestCommitTsXid, T::kUInt32});
  }
  m.push_back({F::kOldestActiveXid, T::kUInt32});
  return m;
}

// 12 to 18: FullTransactionId; 17 adds wal_level into the padding.
std::vector<Member> CheckpointFullXid(bool with_wal_level) {
  std::vector<Member> m = {{F::kRedo, T::kUInt64}, {F::kThisTimeLineId, T::kUInt32},
                           {F::kPrevTimeLineId, T::kUInt32}, {F::kFullPageWrites, T::kBool}};
  if (with_wal_level) m.push_back({F::kCheckpointWalLevel, T::kInt32});
  m.insert(m.end(), {{F::kNextXid, T::kFullXid},       {F::kNextOid, T::kUInt32},
                     {F::kNextMulti, T::kUInt32},      {F::kNextMultiOffset, T::kUInt32},
                     {F::kOldestXid, T::kUInt32},      {F::kOldestXidDb, T::kUInt32},
                     {F::kOldestMulti, T::kUInt32},    {F::kOldestMultiDb, T::kUInt32},
                     {F::kCheckpointTime, T::kInt64},  {F::kOldestCommitTsXid, T::kUInt32},
                     {F::kNewestCommitTsXid, T::kUInt32}, {F::kOldestActiveXid, T::kUInt32}});
  return m;
}

std::vector<Member> Checkpoint19() {
  return {{F::kRedo, T::kUInt64},           {F::kThisTimeLineId, T::kUInt32},
          {F::kPrevTimeLineId, T::kUInt32},  {F::kFullPageWrites, T::kBool},
          {F::kCheckpointWalLevel, T::kInt32}, {F::kLogicalDecodingEnabled, T::kBool},
          {F::kNextXid, T::kFullXid},       {F::kNextOid, T::kUInt32},
          {F::kNextMulti, T::kUInt32},      {F::kNextMultiOffset, T::kUInt64},
          {F::kOldestXid, T::kUInt32},      {F::kOldestXidDb, T::kUInt32},
          {F::kOldestMulti, T::kUInt32},    {F::kOldestMultiDb, T::kUInt32},
          {F::kCheckpointTime, T::kInt64},  {F::kOldestCommitTsXid, T::kUInt32},
          {F::kNewestCommitTsXid, T::kUInt32}, {F::kOldestActiveXid, T::kUInt32},
          {F::kCheckpointDataChecksumState, T::kUInt32}};
}

struct TailOptions {
  bool wal_log_hints_and_workers = true;  // 9.4 on (all supported)
  bool max_wal_senders = false;           // 12 on
  bool track_commit_timestamp = false;    // 9.5 on
  bool slru_pages_per_segment = false;    // 19 on
  bool enable_int_times = false;          // up to 9.6
  bool float4_by_val = false;             // up to 12
  bool default_char_signedness = false;   // 18 on
  bool nonce = false;                     // 10 on
};

std::vector<Member> Tail(const TailOptions& o) {
  std::vector<Member> m = {{F::kUnloggedLsn, T::kUInt64},       {F::kMinRecoveryPoint, T::kUInt64},
                           {F::kMinRecoveryPointTli, T::kUInt32}, {F::kBackupStartPoint, T::kUInt64},
                           {F::kBackupEndPoint, T::kUInt64},    {F::kBackupEndRequired, T::kBool},
                           {F::kWalLevel, T::kInt32},           {F::kWalLogHints, T::kBool},
                           {F::kMaxConnections, T::kInt32},     {F::kMaxWorkerProcesses, T::kInt32}};
  if (o.max_wal_senders) m.push_back({F::kMaxWalSenders, T::kInt32});
  m.push_back({F::kMaxPreparedXacts, T::kInt32});
  m.push_back({F::kMaxLocksPerXact, T::kInt32});
  if (o.track_commit_timestamp) m.push_back({F::kTrackCommitTimestamp, T::kBool});
  m.insert(m.end(), {{F::kMaxAlign, T::kUInt32}, {F::kFloatFormat, T::kDouble},
                     {F::kBlockSize, T::kUInt32}, {F::kRelSegSize, T::kUInt32}});
  if (o.slru_pages_per_segment) m.push_back({F::kSlruPagesPerSegment, T::kUInt32});
  m.insert(m.end(), {{F::kWalBlockSize, T::kUInt32}, {F::kWalSegmentSize, T::kUInt32},
                     {F::kNameDataLen, T::kUInt32}, {F::kIndexMaxKeys, T::kUInt32},
                     {F::kToastMaxChunkSize, T::kUInt32}, {F::kLargeObjectChunkSize, T::kUInt32}});
  if (o.enable_int_times) m.push_back({F::kEnableIntTimes, T::kBool});
  if (o.float4_by_val) m.push_back({F::kFloat4ByVal, T::kBool});
  m.push_back({F::kFloat8ByVal, T::kBool});
  m.push_back({F::kDataChecksumVersion, T::kUInt32});
  if (o.default_char_signedness) m.push_back({F::kDefaultCharSignedness, T::kBool});
  if (o.nonce) m.push_back({F::kMockAuthNonce, T::kNonce});
  m.push_back({F::kCount, T::kCrc});  // the CRC is not a model field
  return m;
}

ControlTextStyle Style94() {
  return {'/', true, LsnStyle::kPlain, false, false,
          {"minimal", "archive", "hot_standby", "logical"}, "unrecognized wal_level"};
}
ControlTextStyle Style95() {
  auto s = Style94();
  s.current_setting_labels = false;
  return s;
}
ControlTextStyle Style96() {
  return {':', false, LsnStyle::kPlain, false, false, {"minimal", "replica", "logical"},
          "unrecognized wal_level"};
}
ControlTextStyle Style11() {
  auto s = Style96();
  s.checks_wal_segment_size = true;
  return s;
}
ControlTextStyle Style17() {
  auto s = Style11();
  s.warnings_on_stderr = true;
  s.unknown_wal_level = "unrecognized \"wal_level\"";
  return s;
}
ControlTextStyle Style19() {
  auto s = Style17();
  s.lsn_style = LsnStyle::kZeroPaddedLow;
  return s;
}

// ---- Named thresholds: the first release with each change. ----
constexpr int kPgVersion95 = 905;    // commit and abort records carry xinfo flags
constexpr int kPgVersion96 = 906;    // pg_resetxlog -u (back-patched), -x keeps oldestXid; wal_level replica
constexpr int kPgVersion10 = 1000;   // pg_xlog -> pg_wal, "Write-ahead log reset"
constexpr int kPgVersion11 = 1100;   // pg_resetwal --wal-segsize; two-phase headers: gidlen, origin; pg_index.indnkeyatts
constexpr int kPgVersion12 = 1200;   // FullTransactionId: -x >= 3; unloggedLSN starts at 1000; catalog oid columns
constexpr int kPgVersion14 = 1400;   // -x no longer reports OldestXID
constexpr int kPgVersion15 = 1500;   // WAL image compression methods; -m 0 and -O -1 accepted; dropped stats in xact records; pg_index.indnullsnotdistinct
constexpr int kPgVersion16 = 1600;   // pg_filenode.map: 64 mappings, no pad, written by rename; pg_attribute.attstattarget after attlen
constexpr int kPgVersion17 = 1700;   // -c minimum 3
constexpr int kPgVersion18 = 1800;   // pg_class.relallfrozen; 64-bit stats object IDs in xact records
constexpr int kPgVersion19 = 1900;   // 64-bit MultiXactOffset; -m 0 refused again

int VersionNum(std::string_view major) {
  const auto dot = major.find('.');
  if (dot == std::string_view::npos) return std::stoi(std::string(major)) * 100;
  return std::stoi(std::string(major.substr(0, dot))) * 100 + std::stoi(std::string(major.substr(dot + 1)));
}

VersionRules RulesFor(int v) {
  return {
      .reset_has_oldest_xid_option = v >= kPgVersion96,
      .reset_has_wal_segsize_option = v >= kPgVersion11,
      .reset_next_xid_moves_oldest = v < kPgVersion96,
      .reset_next_xid_reports_oldest = v < kPgVersion14,
      .reset_min_next_xid = v >= kPgVersion12 ? 3u : 1u,
      .reset_min_commit_ts_xid = v >= kPgVersion17 ? 3u : 2u,
      .reset_rejects_zero_next_multi = v < kPgVersion15 || v >= kPgVersion19,
      .reset_rejects_max_multi_offset = v < kPgVersion15,
      .reset_done_message = v >= kPgVersion10 ? "Write-ahead log reset" : "Transaction log reset",
      .multixact_offsets_64bit = v >= kPgVersion19,
      .wal_image_compressed_mask = static_cast<uint8_t>(v >= kPgVersion15 ? 0x1C : 0x02),
      .relmap_max_mappings = v >= kPgVersion16 ? 64u : 62u,
      .relmap_has_pad = v < kPgVersion16,
      .xact_record_xinfo = v >= kPgVersion95,
      .xact_stats_item_size = static_cast<uint8_t>(v >= kPgVersion18 ? 16 : v >= kPgVersion15 ? 12 : 0),
      .twophase_header_size = static_cast<uint8_t>(v >= kPgVersion15 ? 72 : v >= kPgVersion11 ? 64 : 248),
      .twophase_gid_length_at = static_cast<uint8_t>(v >= kPgVersion15 ? 54 : v >= kPgVersion11 ? 46 : 0),
      .catalog_oid_column = v >= kPgVersion12,
      .pg_class_has_relallfrozen = v >= kPgVersion18,
      .pg_attribute_fixed_stattarget = v < kPgVersion16,
      .pg_index_has_nkeyatts = v >= kPgVersion11,
      .pg_index_has_nulls_not_distinct = v >= kPgVersion15,
      .initial_unlogged_lsn = v >= kPgVersion12 ? 1000u : 1u,
      .default_wal_level = v >= kPgVersion96 ? "replica" : "minimal",
  };
}

// ---- The table: one entry per major version, oldest first. ----

ControlLayoutDecl Pg94() {
  return {.major = "9.4", .pg_control_version = 942, .catversion_first = 201306122, .catversion_last = 201409291,
          .wal_page_magics = {0xD07E}, .crc = CrcKind::kLegacyCrc32,
          .wal_dir = "pg_xlog", .xact_dir = "pg_clog", .reset_tool = "pg_resetxlog", .text = Style94(),
          .head = Head(true), .checkpoint = CheckpointSplitXid(false),
          .tail = Tail({.enable_int_times = true, .float4_by_val = true})};
}

ControlLayoutDecl Pg95() {
  return {.major = "9.5", .pg_control_version = 942, .catversion_first = 201409292, .catversion_last = 201510051,
          .wal_page_magics = {0xD087}, .crc = CrcKind::kCrc32c,
          .wal_dir = "pg_xlog", .xact_dir = "pg_clog", .reset_tool = "pg_resetxlog", .text = Style95(),
          .head = Head(true), .checkpoint = CheckpointSplitXid(true),
          .tail = Tail({.track_commit_timestamp = true, .enable_int_times = true, .float4_by_val = true})};
}

ControlLayoutDecl Pg96() {
  return {.major = "9.6", .pg_control_version = 960, .catversion_first = 201510052, .catversion_last = 201608131,
          .wal_page_magics = {0xD093}, .crc = CrcKind::kCrc32c,
          .wal_dir = "pg_xlog", .xact_dir = "pg_clog", .reset_tool = "pg_resetxlog", .text = Style96(),
          .head = Head(true), .checkpoint = CheckpointSplitXid(true),
          .tail = Tail({.track_commit_timestamp = true, .enable_int_times = true, .float4_by_val = true})};
}

ControlLayoutDecl Pg10() {
  return {.major = "10", .pg_control_version = 1002, .catversion_first = 201608132, .catversion_last = 201707211,
          .wal_page_magics = {0xD097}, .crc = CrcKind::kCrc32c,
          .wal_dir = "pg_wal", .xact_dir = "pg_xact", .reset_tool = "pg_resetwal", .text = Style96(),
          .head = Head(true), .checkpoint = CheckpointSplitXid(true),
          .tail = Tail({.track_commit_timestamp = true, .float4_by_val = true, .nonce = true})};
}

ControlLayoutDecl Pg11() {
  return {.major = "11", .pg_control_version = 1100, .catversion_first = 201707212, .catversion_last = 201809051,
          .wal_page_magics = {0xD098}, .crc = CrcKind::kCrc32c,
          .wal_dir = "pg_wal", .xact_dir = "pg_xact", .reset_tool = "pg_resetwal", .text = Style11(),
          .head = Head(false), .checkpoint = CheckpointSplitXid(true),
          .tail = Tail({.track_commit_timestamp = true, .float4_by_val = true, .nonce = true})};
}

ControlLayoutDecl Pg12() {
  return {.major = "12", .pg_control_version = 1201, .catversion_first = 201809052, .catversion_last = 201909212,
          .wal_page_magics = {0xD101}, .crc = CrcKind::kCrc32c,
          .wal_dir = "pg_wal", .xact_dir = "pg_xact", .reset_tool = "pg_resetwal", .text = Style11(),
          .head = Head(false), .checkpoint = CheckpointFullXid(false),
          .tail = Tail({.max_wal_senders = true, .track_commit_timestamp = true, .float4_by_val = true,
                        .nonce = true})};
}

// 13 to 16 share pg_control version 1300; only the catalog range and WAL magic move.
ControlLayoutDecl Pg13To16(std::string_view major, uint32_t catversion_first, uint32_t catversion_last,
                           uint16_t magic) {
  return {.major = major, .pg_control_version = 1300, .catversion_first = catversion_first,
          .catversion_last = catversion_last, .wal_page_magics = {magic}, .crc = CrcKind::kCrc32c,
          .wal_dir = "pg_wal", .xact_dir = "pg_xact", .reset_tool = "pg_resetwal", .text = Style11(),
          .head = Head(false), .checkpoint = CheckpointFullXid(false),
          .tail = Tail({.max_wal_senders = true, .track_commit_timestamp = true, .nonce = true})};
}

ControlLayoutDecl Pg17() {
  return {.major = "17", .pg_control_version = 1700, .catversion_first = 202307072, .catversion_last = 202406281,
          .wal_page_magics = {0xD116}, .crc = CrcKind::kCrc32c,
          .wal_dir = "pg_wal", .xact_dir = "pg_xact", .reset_tool = "pg_resetwal", .text = Style17(),
          .head = Head(false), .checkpoint = CheckpointFullXid(true),
          .tail = Tail({.max_wal_senders = true, .track_commit_timestamp = true, .nonce = true})};
}

ControlLayoutDecl Pg18() {
  return {.major = "18", .pg_control_version = 1800, .catversion_first = 202406282, .catversion_last = 202506291,
          .wal_page_magics = {0xD118}, .crc = CrcKind::kCrc32c,
          .wal_dir = "pg_wal", .xact_dir = "pg_xact", .reset_tool = "pg_resetwal", .text = Style17(),
          .head = Head(false), .checkpoint = CheckpointFullXid(true),
          .tail = Tail({.max_wal_senders = true, .track_commit_timestamp = true, .default_char_signedness = true,
                        .nonce = true})};
}

// 19 is known from a development snapshot; the release may carry a later
// catalog version and WAL magic, so it is recognised by range.
ControlLayoutDecl Pg19() {
  return {.major = "19", .pg_control_version = 1902, .catversion_first = 202506292, .catversion_last = 0xFFFFFFFF,
          .wal_page_magics = {0xD121, 0xD120, 0xD11F}, .crc = CrcKind::kCrc32c,
          .wal_dir = "pg_wal", .xact_dir = "pg_xact", .reset_tool = "pg_resetwal", .text = Style19(),
          .head = Head(false), .checkpoint = Checkpoint19(),
          .tail = Tail({.max_wal_senders = true, .track_commit_timestamp = true, .slru_pages_per_segment = true,
                        .default_char_signedness = true, .nonce = true})};
}

std::vector<ControlLayout> BuildLayouts() {
  std::vector<ControlLayoutDecl> decls = {
      Pg94(), Pg95(), Pg96(), Pg10(), Pg11(), Pg12(),
      Pg13To16("13", 201909213, 202007201, 0xD106), Pg13To16("14", 202007202, 202107181, 0xD10D),
      Pg13To16("15", 202107182, 202209061, 0xD110), Pg13To16("16", 202209062, 202307071, 0xD113),
      Pg17(), Pg18(), Pg19()};
  std::vector<ControlLayout> layouts;
  layouts.reserve(decls.size());
  for (auto& d : decls) {
    d.rules = RulesFor(VersionNum(d.major));
    layouts.emplace_back(std::move(d));
  }
  return layouts;
}

}  // namespace

ControlLayout::ControlLayout(ControlLayoutDecl decl) : decl_(std::move(decl)) {
  index_.fill(-1);
  uint16_t offset = 0;
  auto place = [&](const Member& m, uint16_t base) {
    const SizeAlign sa = SizeAlignOf(m.type);
    offset = AlignUp(offset, sa.align);
    if (m.type == T::kCrc) {
      crc_offset_ = static_cast<uint16_t>(base + offset);
    } else if (m.type == T::kFullXid) {
      // Little-endian FullTransactionId: the xid is the low word.
      placements_.push_back({F::kNextXid, T::kUInt32, static_cast<uint16_t>(base + offset), 4});
      placements_.push_back(
          {F::kNextXidEpoch, T::kUInt32, static_cast<uint16_t>(base + offset + 4), 4});
    } else {
      placements_.push_back({m.field, m.type, static_cast<uint16_t>(base + offset), sa.size});
    }
    offset = static_cast<uint16_t>(offset + sa.size);
  };
  for (const Member& m : decl_.head) place(m, 0);
  // CheckPoint holds 64-bit members, so it is 8-aligned and padded to 8.
  offset = AlignUp(offset, 8);
  checkpoint_offset_ = offset;
  const uint16_t base = offset;
  offset = 0;
  for (const Member& m : decl_.checkpoint) place(m, base);
  checkpoint_size_ = AlignUp(offset, 8);
  offset = static_cast<uint16_t>(base + checkpoint_size_);
  for (const Member& m : decl_.tail) place(m, 0);
  struct_size_ = AlignUp(offset, 8);
  for (size_t i = 0; i < placements_.size(); ++i) {
    index_[static_cast<size_t>(placements_[i].field)] = static_cast<int16_t>(i);
  }
}

const Placement* ControlLayout::Find(Field field) const {
  const auto i = static_cast<size_t>(field);
  if (i >= kFieldCount || index_[i] < 0) return nullptr;
  return &placements_[static_cast<size_t>(index_[i])];
}

std::span<const ControlLayout> AllControlLayouts() {
  static const std::vector<ControlLayout> layouts = BuildLayouts();
  return layouts;
}

const ControlLayout* FindLayoutByMajor(std::string_view major) {
  for (const auto& l : AllControlLayouts()) {
    if (l.major() == major) return &l;
  }
  return nullptr;
}

std::vector<const ControlLayout*> FindLayoutsByControlVersion(uint32_t pg_control_version) {
  std::vector<const ControlLayout*> out;
  for (const auto& l : AllControlLayouts()) {
    if (l.pg_control_version() == pg_control_version) out.push_back(&l);
  }
  return out;
}

}  // namespace pgrescue
