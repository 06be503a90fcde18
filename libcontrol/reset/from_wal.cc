#include "libcontrol/reset/from_wal.h"

#include <fmt/format.h>

#include "libcontrol/cluster/control_trust.h"

#include "libcontrol/wal/wal_decode.h"
#include "libcontrol/wal/wal_reader.h"
#include "libcontrol/wal/wal_record.h"

namespace pgrescue {

Result<WalScanReport> ScanForCheckpoints(const DataDir& dir, const ControlFile& current, const BackupState& backup,
                                         bool full) {
  WalScanOptions scan;
  scan.layout = &current.layout();
  scan.segment_size = current.value(Field::kWalSegmentSize);
  scan.page_size = static_cast<uint32_t>(current.value(Field::kWalBlockSize));
  scan.listings = WalListings(dir);
  // Only a trusted pg_control's identity is a yardstick; a damaged one's is taken from WAL instead.
  if (JudgeControl(dir, &current.layout()).ok()) scan.system_identifier = current.value(Field::kSystemIdentifier);
  scan.mode = full ? WalScanMode::kFull : WalScanMode::kLatestCheckpoint;
  return ScanWalJudging(scan, {backup.newest_start});
}

std::string DescribeStart(const WalScanReport& report, const FoundCheckpoint& c) {
  std::string text = fmt::format("Checkpoint to start from: {} ({}, redo {}, timeline {})\n", FormatLsn(c.record.lsn),
                                 c.record.shutdown ? "shutdown" : "online", FormatLsn(Lsn{c.record.redo()}),
                                 report.timeline);
  text += fmt::format("End of valid WAL:         {} ({}: {})\n", FormatLsn(report.end.at), WalStopName(report.end.why),
                      report.end.detail);
  if (report.maxima.last_commit_time) {
    text += fmt::format("Last commit in WAL:       {} (XID {})\n", FormatPgTimestamp(*report.maxima.last_commit_time),
                        report.maxima.last_commit_xid);
  }
  return text + "\n";
}

Result<const FoundCheckpoint*> ChooseCheckpoint(const WalScanReport& report, std::optional<Lsn> wanted,
                                                std::optional<Lsn> newest_allowed) {
  if (!wanted) {
    const FoundCheckpoint* newer = nullptr;
    for (auto it = report.checkpoints.rbegin(); it != report.checkpoints.rend(); ++it) {
      if (!it->usable) continue;
      if (newest_allowed && it->record.lsn > *newest_allowed) {
        if (newer == nullptr) newer = &*it;
        continue;
      }
      return &*it;
    }
    if (newer != nullptr) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("the only usable checkpoints in WAL ({} the newest) are newer than the backup's "
                                   "start {}: starting there would skip the WAL that makes the copied pages "
                                   "consistent. Let recovery replay from the backup's start instead "
                                   "(pgrescue-plan says how)",
                                   FormatLsn(newer->record.lsn), FormatLsn(*newest_allowed)));
    }
    return MakeError(ErrorCode::kNotFound,
                     "WAL holds no checkpoint record whose redo point survives: crash recovery cannot start "
                     "from WAL; a reset (pg_resetwal's way) is what is left");
  }
  if (newest_allowed && *wanted > *newest_allowed) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("the checkpoint at {} is newer than the backup's start {}: starting there would "
                                 "skip the WAL that makes the copied pages consistent",
                                 FormatLsn(*wanted), FormatLsn(*newest_allowed)));
  }
  const auto* c = report.Find(*wanted);
  if (c == nullptr) {
    std::string found;
    for (const auto& x : report.checkpoints) found += (found.empty() ? "" : ", ") + FormatLsn(x.record.lsn);
    return MakeError(ErrorCode::kNotFound,
                     fmt::format("no checkpoint record at {}; the scan found {}", FormatLsn(*wanted),
                                 found.empty() ? "none" : found));
  }
  if (!c->usable) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("the checkpoint at {} cannot be started from: WAL from its redo point {} was "
                                 "not readable",
                                 FormatLsn(*wanted), FormatLsn(Lsn{c->record.redo()})));
  }
  return c;
}

ControlFile PointAtCheckpoint(const ControlFile& current, const WalScanReport& report,
                              const FoundCheckpoint& checkpoint, int64_t now, bool keep_backup_state) {
  ControlFile control = current;
  checkpoint.record.ApplyTo(&control);
  control.set(Field::kCheckPoint, checkpoint.record.lsn.value);
  // Up to 10 the server falls back to the previous checkpoint.
  Lsn previous = checkpoint.record.lsn;
  for (const auto& c : report.checkpoints) {
    if (c.usable && c.record.lsn < checkpoint.record.lsn) previous = c.record.lsn;
  }
  control.set(Field::kPrevCheckPoint, previous.value);
  // Nothing after a shutdown checkpoint: the cluster is simply shut down.
  const bool nothing_after = checkpoint.record.shutdown && report.end.at.value <= ((checkpoint.record.end.value + 7) & ~7ull);
  control.set(Field::kState, static_cast<uint64_t>(nothing_after ? DbState::kShutdowned : DbState::kInProduction));
  control.set(Field::kTime, static_cast<uint64_t>(now));
  if (keep_backup_state) return control;
  for (Field f : {Field::kMinRecoveryPoint, Field::kMinRecoveryPointTli, Field::kBackupStartPoint,
                  Field::kBackupEndPoint, Field::kBackupEndRequired}) {
    control.set(f, 0);
  }
  return control;
}

std::vector<std::string> TakeIdentityFromWal(const DataDir& dir, ControlFile* control) {
  std::vector<std::string> taken;
  const auto found = NewestWalLongPageHeader(WalListings(dir), control->layout());
  if (!found) return taken;
  for (auto [field, what, wal] : {std::tuple{Field::kSystemIdentifier, "system identifier",
                                             found->header.system_identifier},
                                  {Field::kWalSegmentSize, "WAL segment size", uint64_t{found->header.segment_size}},
                                  {Field::kWalBlockSize, "WAL block size", uint64_t{found->header.block_size}}}) {
    if (!control->has(field) || control->value(field) == wal) continue;
    taken.push_back(fmt::format("{} {} from the long page header of {}, not pg_control's {}", what, wal,
                                found->file, control->value(field)));
    control->set(field, wal);
  }
  return taken;
}

}  // namespace pgrescue
