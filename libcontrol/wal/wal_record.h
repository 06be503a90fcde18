// The WAL a reset starts with: one page holding a long page header and a
// shutdown checkpoint record whose body is the new pg_control's checkpoint
// copy, as each version's pg_resetwal writes it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <span>
#include <vector>

#include "libcontrol/control/control_file.h"
#include "libcontrol/base/dir_listing.h"
#include "libcontrol/base/result.h"

namespace pgrescue {

constexpr size_t kWalLongPageHeaderSize = 40;
constexpr size_t kWalShortPageHeaderSize = 24;
constexpr uint16_t kXlpFirstIsContRecord = 0x0001;  // xlp_info: the page starts with the rest of a record
constexpr uint16_t kXlpLongHeader = 0x0002;  // xlp_info: the page has a long header
constexpr uint8_t kRmXlogId = 0;                  // the XLOG resource manager
constexpr uint8_t kXlrBlockIdDataShort = 0xFF;    // main data follows, with a 1-byte length

// What the long page header at the start of a WAL segment records.
struct WalLongPageHeader {
  uint16_t magic = 0;
  uint64_t system_identifier = 0;
  uint32_t segment_size = 0;
  uint32_t block_size = 0;
};

// The long page header at the start of the file at `path`, if it carries one
// of `layout`'s page magics, the long-header flag and a valid segment size.
std::optional<WalLongPageHeader> ReadWalLongPageHeader(const std::string& path, const ControlLayout& layout);

struct WalHeaderFound {
  WalLongPageHeader header;
  std::string file;
};

// The newest segment (in pg_wal or an archive) whose long page header carries
// one of `layout`'s magics.
std::optional<WalHeaderFound> NewestWalLongPageHeader(const std::vector<const DirListing*>& listings, const ControlLayout& layout);

// The checkpoint record's CRC as stored at its place in the header: 9.5 on
// CRC-32C over the body then the header up to xl_crc; 9.4 the legacy CRC over
// the rmgr data then the 24 header bytes before xl_crc.
uint32_t WalRecordCrc(CrcKind kind, std::span<const uint8_t> record);

// The first XLOG_BLCKSZ bytes of the segment starting the new WAL; `magic`
// is the page magic the cluster's server expects.
Result<std::vector<uint8_t>> BuildResetWalPage(const ControlFile& control, uint64_t segment_size,
                                               uint16_t magic);

}  // namespace pgrescue
