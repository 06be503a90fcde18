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

ControlLayoutDecl Decl13To16(std::string_view major, uint32_t first, uint32_t last,
                             uint16_t magic) {
  return {major, 1300, first, last, {magic}, CrcKind::kCrc32c, "pg_wal", "pg_xact",
          "pg_resetwal", Style11(), Head(false), CheckpointFullXid(false),
          Tail({.max_wal_senders = true, .track_commit_timestamp = true, .nonce = true})};
}

std::vector<ControlLayout> BuildLayouts() {
  std::vector<ControlLayoutDecl> decls;
  decls.push_back({"9.4", 942, 201306122, 201409291, {0xD07E}, CrcKind::kLegacyCrc32, "pg_xlog",
                   "pg_clog", "pg_resetxlog", Style94(), Head(true), CheckpointSplitXid(false),
                   Tail({.enable_int_times = true, .float4_by_val = true})});
  decls.push_back({"9.5", 942, 201409292, 201510051, {0xD087}, CrcKind::kCrc32c, "pg_xlog",
                   "pg_clog", "pg_resetxlog", Style95(), Head(true), CheckpointSplitXid(true),
                   Tail({.track_commit_timestamp = true, .enable_int_times = true,
                         .float4_by_val = true})});
  decls.push_back({"9.6", 960, 201510052, 201608131, {0xD093}, CrcKind::kCrc32c, "pg_xlog",
                   "pg_clog", "pg_resetxlog", Style96(), Head(true), CheckpointSplitXid(true),
                   Tail({.track_commit_timestamp = true, .enable_int_times = true,
                         .float4_by_val = true})});
  decls.push_back({"10", 1002, 201608132, 201707211, {0xD097}, CrcKind::kCrc32c, "pg_wal",
                   "pg_xact", "pg_resetwal", Style96(), Head(true), CheckpointSplitXid(true),
                   Tail({.track_commit_timestamp = true, .float4_by_val = true, .nonce = true})});
  decls.push_back({"11", 1100, 201707212, 201809051, {0xD098}, CrcKind::kCrc32c, "pg_wal",
                   "pg_xact", "pg_resetwal", Style11(), Head(false), CheckpointSplitXid(true),
                   Tail({.track_commit_timestamp = true, .float4_by_val = true, .nonce = true})});
  decls.push_back({"12", 1201, 201809052, 201909212, {0xD101}, CrcKind::kCrc32c, "pg_wal",
                   "pg_xact", "pg_resetwal", Style11(), Head(false), CheckpointFullXid(false),
                   Tail({.max_wal_senders = true, .track_commit_timestamp = true,
                         .float4_by_val = true, .nonce = true})});
  decls.push_back(Decl13To16("13", 201909213, 202007201, 0xD106));
  decls.push_back(Decl13To16("14", 202007202, 202107181, 0xD10D));
  decls.push_back(Decl13To16("15", 202107182, 202209061, 0xD110));
  decls.push_back(Decl13To16("16", 202209062, 202307071, 0xD113));
  decls.push_back({"17", 1700, 202307072, 202406281, {0xD116}, CrcKind::kCrc32c, "pg_wal",
                   "pg_xact", "pg_resetwal", Style17(), Head(false), CheckpointFullXid(true),
                   Tail({.max_wal_senders = true, .track_commit_timestamp = true, .nonce = true})});
  decls.push_back({"18", 1800, 202406282, 202506291, {0xD118}, CrcKind::kCrc32c, "pg_wal",
                   "pg_xact", "pg_resetwal", Style17(), Head(false), CheckpointFullXid(true),
                   Tail({.max_wal_senders = true, .track_commit_timestamp = true,
                         .default_char_signedness = true, .nonce = true})});
  // 19 is known from a development snapshot; the release may carry a later
  // catalog version and WAL magic, so it is recognised by range.
  decls.push_back({"19", 1902, 202506292, 0xFFFFFFFF, {0xD121, 0xD120, 0xD11F}, CrcKind::kCrc32c,
                   "pg_wal", "pg_xact", "pg_resetwal", Style19(), Head(false), Checkpoint19(),
                   Tail({.max_wal_senders = true, .track_commit_timestamp = true,
                         .slru_pages_per_segment = true, .default_char_signedness = true,
                         .nonce = true})});

  std::vector<ControlLayout> layouts;
  layouts.reserve(decls.size());
  for (auto& d : decls) layouts.emplace_back(std::move(d));
  return layouts;
}

}  // namespace

ControlLayout::ControlLayout(ControlLayoutDecl decl) : decl_(std::move(decl)) {
  const auto dot = decl_.major.find('.');
  version_num_ = dot == std::string_view::npos
                     ? std::stoi(std::string(decl_.major)) * 100
                     : std::stoi(std::string(decl_.major.substr(0, dot))) * 100 +
                           std::stoi(std::string(decl_.major.substr(dot + 1)));
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
