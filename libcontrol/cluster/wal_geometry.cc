#include "libcontrol/cluster/wal_geometry.h"

#include <fmt/format.h>

#include "libcontrol/cluster/control_trust.h"
#include "libcontrol/wal/wal_record.h"

namespace pgrescue {
namespace {

std::string Megabytes(uint64_t bytes) {
  if (bytes < (1 << 20)) return fmt::format("{} kB", (bytes + 1023) / 1024);
  return fmt::format("{:.1f} MB", static_cast<double>(bytes) / (1 << 20));
}

}  // namespace

Result<WalGeometry> WalScanOptionsFor(const DataDir& dir, WalScanMode mode) {
  WalGeometry g;
  g.options.mode = mode;
  if (!dir.wal.exists) return MakeError(ErrorCode::kNotFound, "the data directory has no pg_wal or pg_xlog", dir.root);
  g.options.listings = WalListings(dir);
  const ControlTrust trust = JudgeControl(dir, nullptr);
  const ControlFileRead* control = trust.read;
  if (trust.ok()) {
    g.options.layout = &control->control.layout();
    g.options.segment_size = control->control.value(Field::kWalSegmentSize);
    g.options.page_size = static_cast<uint32_t>(control->control.value(Field::kWalBlockSize));
    g.why.push_back(fmt::format("PostgreSQL {}, {} segments, {}-byte pages: pg_control", g.options.layout->major(),
                                Megabytes(g.options.segment_size), g.options.page_size));
    return g;
  }
  g.options.layout = control != nullptr ? &control->control.layout()
                     : dir.pg_version ? FindLayoutByMajor(*dir.pg_version)
                                      : nullptr;
  if (g.options.layout == nullptr) {
    return MakeError(ErrorCode::kNotFound,
                     "neither pg_control nor PG_VERSION names a supported version (9.4 to 19); write the "
                     "major version, such as 15, into PG_VERSION",
                     dir.root);
  }
  const auto header = NewestWalLongPageHeader(WalListings(dir), *g.options.layout);
  if (!header) {
    return MakeError(ErrorCode::kNotFound,
                     fmt::format("no WAL segment starts with a PostgreSQL {} long page header, so the segment "
                                 "size is unknown",
                                 g.options.layout->major()),
                     dir.wal.path);
  }
  g.options.segment_size = header->header.segment_size;
  g.options.page_size = header->header.block_size;
  g.why.push_back(fmt::format("PostgreSQL {}: {}", g.options.layout->major(),
                              control != nullptr ? "pg_control (its CRC does not match)" : "PG_VERSION"));
  g.why.push_back(fmt::format("{} segments, {}-byte pages: the long page header of {}",
                              Megabytes(g.options.segment_size), g.options.page_size, header->file));
  return g;
}

}  // namespace pgrescue
