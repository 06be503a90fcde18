// What individual WAL records say, beyond their headers: the rmgr payload
// ("main data") in either record format, and the facts a recovery tool needs
// from it — transaction IDs used, OIDs handed out, MultiXacts created,
// commit times, checkpoint bodies.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "libcontrol/control/control_file.h"
#include "libcontrol/base/lsn.h"
#include "libcontrol/wal/wal_reader.h"

namespace pgrescue {

// The rmgr payload of `record`: after the 9.5+ block and data headers (it is
// the last bytes of the record), or after the 9.4 header. Empty when the
// headers are malformed or there is none. Points into record.bytes, so it is
// valid only as long as they are.
std::span<const uint8_t> RecordMainData(const ControlLayout& layout, const WalRecord& record);

// Microseconds since 2000-01-01 00:00:00 UTC, PostgreSQL's TimestampTz.
std::string FormatPgTimestamp(int64_t timestamp);

// The highest values WAL proves were in use, each with the record that
// proves it; newest by PostgreSQL's modular comparison where IDs wrap.
struct WalMaxima {
  std::optional<uint32_t> newest_xid;          // largest xl_xid
  Lsn newest_xid_at;
  std::optional<uint32_t> next_oid;            // the latest XLOG NEXTOID record
  Lsn next_oid_at;
  std::optional<uint32_t> newest_multi;        // the latest MultiXact created
  std::optional<uint64_t> next_multi_offset;   // its offset + member count
  Lsn newest_multi_at;
  std::optional<int64_t> last_commit_time;     // TimestampTz of the last commit in WAL order
  uint32_t last_commit_xid = 0;
  Lsn last_commit_at;
  uint64_t commits = 0;

  // Takes what `record` proves.
  void Observe(const ControlLayout& layout, const WalRecord& record);
};

// A checkpoint record: its place, kind and decoded body.
struct WalCheckpoint {
  Lsn lsn;
  Lsn end;
  uint32_t timeline = 0;  // the timeline it was read on
  bool shutdown = false;
  std::vector<uint8_t> body;

  // The CheckPoint fields, as pg_control's checkPointCopy would hold them.
  void ApplyTo(ControlFile* control) const;
  uint64_t redo() const;
};

// The start of the backup an end-of-backup record (XLOG_BACKUP_END, written
// by pg_stop_backup) ends, if `record` is one.
std::optional<Lsn> DecodeBackupEnd(const ControlLayout& layout, const WalRecord& record);

// The checkpoint in `record`, if it is one.
std::optional<WalCheckpoint> DecodeCheckpoint(const ControlLayout& layout, const WalRecord& record, uint32_t timeline);

}  // namespace pgrescue
