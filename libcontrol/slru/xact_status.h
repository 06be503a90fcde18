// A transaction's commit status as pg_xact records it (clog.c), read without
// a server: two bits per XID, four XIDs a byte, segments of 32 pages.
// Segments are read whole on first use and kept; a missing or short segment
// answers nullopt, never a guess.
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
  std::map<uint64_t, std::vector<uint8_t>> segments_;  // empty: absent or unreadable
};

}  // namespace pgrescue
