// A transaction's commit status as pg_xact records it (clog.c), and its commit
// time as pg_commit_ts does (commit_ts.c), read without a server: pg_xact
// holds two bits per XID, four XIDs a byte; pg_commit_ts a 10-byte entry
// (TimestampTz, origin) per XID, a page holding block size / 10 of them.
// Segments are read whole on first use and kept; an XID whose whole page is
// not in its segment file answers nullopt, never a guess.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "libcontrol/slru/slru.h"

namespace pgrescue {

enum class XactStatus : uint8_t { kInProgress = 0, kCommitted = 1, kAborted = 2, kSubCommitted = 3 };

class XactStatusReader {
 public:
  // `data_dir`'s pg_xact (pg_clog before 10) in `layout`'s version.
  XactStatusReader(const std::string& data_dir, const ControlLayout& layout, uint32_t block_size);

  std::optional<XactStatus> Status(uint32_t xid);

 private:
  std::string dir_;
  SlruLayout slru_;
  uint32_t block_size_;
  std::map<uint64_t, std::vector<uint8_t>> segments_;  // empty: absent or unreadable
};

// Whether a page of pg_xact holding an XID in [oldest, next) is missing from
// its segment file, judged by file sizes alone (no segment is read).
bool XactPagesLacking(const std::string& data_dir, const ControlLayout& layout, uint32_t block_size, uint32_t oldest,
                      uint32_t next);

class CommitTsReader {
 public:
  CommitTsReader(const std::string& data_dir, const ControlLayout& layout, uint32_t block_size);

  // The commit timestamp recorded for `xid`; 0 means none was recorded (it
  // did not commit, or tracking was off then).
  std::optional<int64_t> Timestamp(uint32_t xid);

 private:
  std::string dir_;
  SlruLayout slru_;
  uint32_t block_size_;
  std::map<uint64_t, std::vector<uint8_t>> segments_;
};

}  // namespace pgrescue
