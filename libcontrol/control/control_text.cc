#include "libcontrol/control/control_text.h"

#include <algorithm>
#include <ctime>
#include <vector>

#include <fmt/format.h>

#include "libcontrol/base/wal_names.h"

namespace pgrescue {
namespace {

enum class Shape {
  kUInt, kInt, kLsn, kTime, kState, kWalLevel, kOnOff, kYesNo, kByValue, kSignedness,
  kNextXid, kRedoWalFile, kDateTimeStorage, kNonce,
};

struct Line {
  std::string_view label;  // with its colon
  Field field;             // the line exists when the layout has it; kCount: always
  Shape shape;
  bool setting = false;    // 9.4 prefixes these labels with "Current "
};

// pg_controldata's lines, in its order, for every version at once.
const std::vector<Line>& Lines() {
  using F = Field;
  using S = Shape;
  static const std::vector<Line> lines = {
      {"pg_control version number:", F::kPgControlVersion, S::kUInt},
      {"Catalog version number:", F::kCatalogVersion, S::kUInt},
      {"Database system identifier:", F::kSystemIdentifier, S::kUInt},
      {"Database cluster state:", F::kState, S::kState},
      {"pg_control last modified:", F::kTime, S::kTime},
      {"Latest checkpoint location:", F::kCheckPoint, S::kLsn},
      {"Prior checkpoint location:", F::kPrevCheckPoint, S::kLsn},
      {"Latest checkpoint's REDO location:", F::kRedo, S::kLsn},
      {"Latest checkpoint's REDO WAL file:", F::kRedo, S::kRedoWalFile},
      {"Latest checkpoint's TimeLineID:", F::kThisTimeLineId, S::kUInt},
      {"Latest checkpoint's PrevTimeLineID:", F::kPrevTimeLineId, S::kUInt},
      {"Latest checkpoint's full_page_writes:", F::kFullPageWrites, S::kOnOff},
      {"Latest checkpoint's NextXID:", F::kNextXid, S::kNextXid},
      {"Latest checkpoint's NextOID:", F::kNextOid, S::kUInt},
      {"Latest checkpoint's NextMultiXactId:", F::kNextMulti, S::kUInt},
      {"Latest checkpoint's NextMultiOffset:", F::kNextMultiOffset, S::kUInt},
      {"Latest checkpoint's oldestXID:", F::kOldestXid, S::kUInt},
      {"Latest checkpoint's oldestXID's DB:", F::kOldestXidDb, S::kUInt},
      {"Latest checkpoint's oldestActiveXID:", F::kOldestActiveXid, S::kUInt},
      {"Latest checkpoint's oldestMultiXid:", F::kOldestMulti, S::kUInt},
      {"Latest checkpoint's oldestMulti's DB:", F::kOldestMultiDb, S::kUInt},
      {"Latest checkpoint's oldestCommitTsXid:", F::kOldestCommitTsXid, S::kUInt},
      {"Latest checkpoint's newestCommitTsXid:", F::kNewestCommitTsXid, S::kUInt},
      {"Latest checkpoint's data_checksum_version:", F::kCheckpointDataChecksumState, S::kUInt},
      {"Time of latest checkpoint:", F::kCheckpointTime, S::kTime},
      {"Fake LSN counter for unlogged rels:", F::kUnloggedLsn, S::kLsn},
      {"Minimum recovery ending location:", F::kMinRecoveryPoint, S::kLsn},
      {"Min recovery ending loc's timeline:", F::kMinRecoveryPointTli, S::kUInt},
      {"Backup start location:", F::kBackupStartPoint, S::kLsn},
      {"Backup end location:", F::kBackupEndPoint, S::kLsn},
      {"End-of-backup record required:", F::kBackupEndRequired, S::kYesNo},
      {"wal_level setting:", F::kWalLevel, S::kWalLevel, true},
      {"wal_log_hints setting:", F::kWalLogHints, S::kOnOff, true},
      {"max_connections setting:", F::kMaxConnections, S::kInt, true},
      {"max_worker_processes setting:", F::kMaxWorkerProcesses, S::kInt, true},
      {"max_wal_senders setting:", F::kMaxWalSenders, S::kInt, true},
      {"max_prepared_xacts setting:", F::kMaxPreparedXacts, S::kInt, true},
      {"max_locks_per_xact setting:", F::kMaxLocksPerXact, S::kInt, true},
      {"track_commit_timestamp setting:", F::kTrackCommitTimestamp, S::kOnOff},
      {"Maximum data alignment:", F::kMaxAlign, S::kUInt},
      {"Database block size:", F::kBlockSize, S::kUInt},
      {"Blocks per segment of large relation:", F::kRelSegSize, S::kUInt},
      {"Pages per SLRU segment:", F::kSlruPagesPerSegment, S::kUInt},
      {"WAL block size:", F::kWalBlockSize, S::kUInt},
      {"Bytes per WAL segment:", F::kWalSegmentSize, S::kUInt},
      {"Maximum length of identifiers:", F::kNameDataLen, S::kUInt},
      {"Maximum columns in an index:", F::kIndexMaxKeys, S::kUInt},
      {"Maximum size of a TOAST chunk:", F::kToastMaxChunkSize, S::kUInt},
      {"Size of a large-object chunk:", F::kLargeObjectChunkSize, S::kUInt},
      {"Date/time type storage:", F::kCount, S::kDateTimeStorage},
      {"Float4 argument passing:", F::kFloat4ByVal, S::kByValue},
      {"Float8 argument passing:", F::kFloat8ByVal, S::kByValue},
      {"Data page checksum version:", F::kDataChecksumVersion, S::kUInt},
      {"Default char data signedness:", F::kDefaultCharSignedness, S::kSignedness},
      {"Mock authentication nonce:", F::kMockAuthNonce, S::kNonce},
  };
  return lines;
}

std::string Value(const ControlFile& c, const Line& line) {
  const auto& style = c.layout().text();
  const uint64_t v = line.field == Field::kCount ? 0 : c.value(line.field);
  switch (line.shape) {
    case Shape::kUInt: return fmt::format("{}", v);
    case Shape::kInt: return fmt::format("{}", c.signed_value(line.field));
    case Shape::kLsn: return FormatLsn(Lsn{v}, style.lsn_style);
    case Shape::kTime: return FormatLocalTime(static_cast<int64_t>(v));
    case Shape::kState: return std::string(DbStateText(v));
    case Shape::kWalLevel: return WalLevelText(c.layout(), c.signed_value(line.field));
    case Shape::kOnOff: return v ? "on" : "off";
    case Shape::kYesNo: return v ? "yes" : "no";
    case Shape::kByValue: return v ? "by value" : "by reference";
    case Shape::kSignedness: return v ? "signed" : "unsigned";
    case Shape::kNextXid:
      return fmt::format("{}{}{}", c.value(Field::kNextXidEpoch), style.next_xid_separator, v);
    case Shape::kRedoWalFile: return RedoWalFileName(c);
    case Shape::kDateTimeStorage:
      // A build-time choice recorded up to 9.6; integer timestamps only since 10.
      return !c.has(Field::kEnableIntTimes) || c.value(Field::kEnableIntTimes)
                 ? "64-bit integers"
                 : "floating-point numbers";
    case Shape::kNonce: return NonceHex(c.nonce().value_or(MockAuthNonce{}));
  }
  return {};
}

void AppendWarnings(const ControlFileRead& read, std::string_view progname, ControlDataReport* r) {
  const ControlFile& c = read.control;
  const auto& style = c.layout().text();
  const auto seg_size = static_cast<int32_t>(c.value(Field::kWalSegmentSize));
  const bool bad_seg_size = style.checks_wal_segment_size &&
                            !IsValidWalSegmentSize(static_cast<uint32_t>(seg_size));
  if (style.warnings_on_stderr) {
    if (!read.crc_ok()) {
      r->err += fmt::format(
          "{0}: warning: calculated CRC checksum does not match value stored in control file\n"
          "{0}: detail: Either the control file is corrupt, or it has a different layout than "
          "this program is expecting.  The results below are untrustworthy.\n",
          progname);
    }
    if (bad_seg_size) {
      r->err += fmt::format(
          "{0}: warning: invalid WAL segment size in control file ({1} {2})\n"
          "{0}: detail: The WAL segment size must be a power of two between 1 MB and 1 GB.\n"
          "{0}: detail: The file is corrupt and the results below are untrustworthy.\n",
          progname, seg_size, seg_size == 1 ? "byte" : "bytes");
    }
    return;
  }
  if (!read.crc_ok()) {
    r->out +=
        "WARNING: Calculated CRC checksum does not match value stored in file.\n"
        "Either the file is corrupt, or it has a different layout than this program\n"
        "is expecting.  The results below are untrustworthy.\n\n";
  }
  if (bad_seg_size) {
    r->out += fmt::format(
        "WARNING: invalid WAL segment size\n"
        "The WAL segment size stored in the file, {} {}, is not a power of two\n"
        "between 1 MB and 1 GB.  The file is corrupt and the results below are\n"
        "untrustworthy.\n\n",
        seg_size, seg_size == 1 ? "byte" : "bytes");
  }
}

}  // namespace

std::string NonceHex(const MockAuthNonce& nonce) {
  std::string hex;
  for (uint8_t b : nonce) hex += fmt::format("{:02x}", b);
  return hex;
}

std::string_view DbStateText(uint64_t state) {
  static constexpr std::string_view kNames[] = {
      "starting up",      "shut down",           "shut down in recovery", "shutting down",
      "in crash recovery", "in archive recovery", "in production"};
  return state < std::size(kNames) ? kNames[state] : "unrecognized status code";
}

std::string WalLevelText(const ControlLayout& layout, int64_t wal_level) {
  const auto& names = layout.text().wal_level_names;
  if (wal_level >= 0 && static_cast<uint64_t>(wal_level) < names.size()) {
    return std::string(names[static_cast<size_t>(wal_level)]);
  }
  return std::string(layout.text().unknown_wal_level);
}

std::string FormatLocalTime(int64_t seconds) {
  const auto t = static_cast<time_t>(seconds);
  struct tm tm {};
  char buf[128];
  if (localtime_r(&t, &tm) == nullptr || std::strftime(buf, sizeof buf, "%c", &tm) == 0) return "???";
  return buf;
}

std::string RedoWalFileName(const ControlFile& c) {
  const auto seg_size = static_cast<int32_t>(c.value(Field::kWalSegmentSize));
  if (seg_size <= 0) return "???";
  return SegmentNameFor(static_cast<uint32_t>(c.value(Field::kThisTimeLineId)), Lsn{c.value(Field::kRedo)},
                        static_cast<uint64_t>(seg_size))
      .ToString(static_cast<uint64_t>(seg_size));
}

std::string AlignedLine(std::string_view label, std::string_view value) {
  return fmt::format("{:<38}{}\n", label, value);
}

std::string FormatResetwalValues(const ControlFile& c, bool guessed) {
  // pg_resetwal prints, in pg_controldata's order, only what a reset keeps.
  static const std::vector<std::string_view> kKept = {
      "pg_control version number:", "Catalog version number:", "Database system identifier:",
      "Latest checkpoint's TimeLineID:", "Latest checkpoint's full_page_writes:",
      "Latest checkpoint's NextXID:", "Latest checkpoint's NextOID:",
      "Latest checkpoint's NextMultiXactId:", "Latest checkpoint's NextMultiOffset:",
      "Latest checkpoint's oldestXID:", "Latest checkpoint's oldestXID's DB:",
      "Latest checkpoint's oldestActiveXID:", "Latest checkpoint's oldestMultiXid:",
      "Latest checkpoint's oldestMulti's DB:", "Latest checkpoint's oldestCommitTsXid:",
      "Latest checkpoint's newestCommitTsXid:", "Maximum data alignment:", "Database block size:",
      "Blocks per segment of large relation:", "Pages per SLRU segment:", "WAL block size:",
      "Bytes per WAL segment:", "Maximum length of identifiers:", "Maximum columns in an index:",
      "Maximum size of a TOAST chunk:", "Size of a large-object chunk:", "Date/time type storage:",
      "Float4 argument passing:", "Float8 argument passing:", "Data page checksum version:",
      "Default char data signedness:"};
  std::string out = guessed ? "Guessed pg_control values:\n\n" : "Current pg_control values:\n\n";
  for (const Line& line : Lines()) {
    if (std::find(kKept.begin(), kKept.end(), line.label) == kKept.end()) continue;
    if (line.field != Field::kCount && !c.has(line.field)) continue;
    out += AlignedLine(line.label, Value(c, line));
  }
  return out;
}

ControlDataReport FormatControlData(const ControlFileRead& read, std::string_view progname) {
  ControlDataReport report;
  AppendWarnings(read, progname, &report);
  const ControlFile& c = read.control;
  for (const Line& line : Lines()) {
    if (line.field == Field::kMockAuthNonce ? !c.nonce().has_value()
                                            : line.field != Field::kCount && !c.has(line.field)) {
      continue;
    }
    std::string label(line.label);
    if (line.setting && c.layout().text().current_setting_labels) label = "Current " + label;
    report.out += AlignedLine(label, Value(c, line));
  }
  return report;
}

}  // namespace pgrescue
