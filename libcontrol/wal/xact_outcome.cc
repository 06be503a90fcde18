#include "libcontrol/wal/xact_outcome.h"

#include <algorithm>

#include "libcontrol/base/bytes.h"
#include "libcontrol/wal/wal_decode.h"

namespace pgrescue {
namespace {

constexpr uint8_t kRmXact = 1;
constexpr uint8_t kOpMask = 0x70, kHasInfo = 0x80;
constexpr uint8_t kCommit = 0x00, kPrepare = 0x10, kAbort = 0x20, kCommitPrepared = 0x30, kAbortPrepared = 0x40;

// xinfo flags: which optional parts follow, in this order.
constexpr uint32_t kHasDbInfo = 1u << 0, kHasSubxacts = 1u << 1, kHasRelFiles = 1u << 2, kHasInvals = 1u << 3,
                   kHasTwoPhase = 1u << 4, kHasDroppedStats = 1u << 8;

// Reads the packed parts of a commit or abort body in turn; any read past the
// end makes the whole record unreadable.
class Cursor {
 public:
  explicit Cursor(std::span<const uint8_t> data) : data_(data) {}
  bool ok() const { return ok_; }
  uint32_t U32() {
    if (!Need(4)) return 0;
    const auto v = static_cast<uint32_t>(LoadLittleEndian(data_.data() + pos_, 4));
    pos_ += 4;
    return v;
  }
  void Skip(uint64_t n) {
    if (Need(n)) pos_ += n;
  }
  // A count-prefixed array of `size`-byte entries.
  void SkipArray(uint64_t size) { Skip(uint64_t{U32()} * size); }

 private:
  bool Need(uint64_t n) {
    ok_ = ok_ && n <= data_.size() - pos_;
    return ok_;
  }
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// A PREPARE record's body is the two-phase state file.
std::optional<XactOutcome> DecodePrepare(const ControlLayout& layout, const WalRecord& record) {
  if (record.xid == 0) return std::nullopt;
  XactOutcome out;
  out.kind = XactOutcomeKind::kPrepare;
  if (auto xids = TwoPhaseStateXids(layout, RecordMainData(layout, record), record.xid)) {
    out.xids = std::move(*xids);
  } else {
    out.xids.push_back(record.xid);
    out.subxacts_unknown = true;
  }
  return out;
}

}  // namespace

std::optional<std::vector<uint32_t>> TwoPhaseStateXids(const ControlLayout& layout, std::span<const uint8_t> state,
                                                      uint32_t xid) {
  constexpr size_t kXidAt = 8, kSubxactCountAt = 28;
  const VersionRules& rules = layout.rules();
  auto align = [](uint64_t n) { return (n + 7) & ~uint64_t{7}; };
  if (state.size() < rules.twophase_header_size || LoadLittleEndian(state.data() + kXidAt, 4) != xid) {
    return std::nullopt;
  }
  const uint64_t count = LoadLittleEndian(state.data() + kSubxactCountAt, 4);
  uint64_t at = rules.twophase_header_size;
  if (rules.twophase_gid_length_at != 0) at += align(LoadLittleEndian(state.data() + rules.twophase_gid_length_at, 2));
  if (at > state.size() || count > (state.size() - at) / 4) return std::nullopt;
  std::vector<uint32_t> xids{xid};
  for (uint64_t i = 0; i < count; ++i) xids.push_back(static_cast<uint32_t>(LoadLittleEndian(state.data() + at + 4 * i, 4)));
  return xids;
}

std::optional<XactOutcome> DecodeXactOutcome(const ControlLayout& layout, const WalRecord& record) {
  if (record.rmid != kRmXact || !layout.rules().xact_record_xinfo) return std::nullopt;
  const uint8_t op = record.info & kOpMask;
  XactOutcome out;
  if (op == kPrepare) return DecodePrepare(layout, record);
  const bool commit = op == kCommit || op == kCommitPrepared;
  if (!commit && op != kAbort && op != kAbortPrepared) return std::nullopt;
  out.kind = commit ? XactOutcomeKind::kCommit : XactOutcomeKind::kAbort;
  Cursor c(RecordMainData(layout, record));
  c.Skip(8);  // xact_time
  const uint32_t xinfo = (record.info & kHasInfo) ? c.U32() : 0;
  if (xinfo & kHasDbInfo) c.Skip(8);
  std::vector<uint32_t> subxacts;
  if (xinfo & kHasSubxacts) {
    const uint32_t n = c.U32();
    for (uint32_t i = 0; i < n && c.ok(); ++i) subxacts.push_back(c.U32());
  }
  if (xinfo & kHasRelFiles) c.SkipArray(12);
  if (xinfo & kHasDroppedStats) c.SkipArray(layout.rules().xact_stats_item_size);
  if (commit && (xinfo & kHasInvals)) c.SkipArray(16);
  const uint32_t prepared = (xinfo & kHasTwoPhase) ? c.U32() : 0;
  if (!c.ok()) return std::nullopt;
  const bool two_phase = op == kCommitPrepared || op == kAbortPrepared;
  const uint32_t top = two_phase ? prepared : record.xid;
  if (top == 0) return std::nullopt;
  out.xids.push_back(top);
  out.xids.insert(out.xids.end(), subxacts.begin(), subxacts.end());
  return out;
}

}  // namespace pgrescue
