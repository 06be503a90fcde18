#include "libcontrol/cluster/wal_geometry.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "libcontrol/base/wal_names.h"
#include "libcontrol/cluster/control_trust.h"
#include "libcontrol/wal/wal_report.h"

namespace pgrescue {
namespace {

// The size most WAL segment files have: a guess, since a file cut short or
// preallocated differently says little.
std::optional<uint64_t> MostCommonSegmentFileSize(const DataDir& dir) {
  std::map<uint64_t, int> by_file_size;
  for (const auto* l : WalListings(dir)) {
    for (const auto& e : l->entries) {
      if (e.is_dir || e.name.size() != 24) continue;
      const uint64_t size = FileSize(*l, e.name);
      if (IsValidWalSegmentSize(size)) ++by_file_size[size];
    }
  }
  if (by_file_size.empty()) return std::nullopt;
  return std::max_element(by_file_size.begin(), by_file_size.end(),
                          [](auto& a, auto& b) { return a.second < b.second; })->first;
}

}  // namespace

Result<ClusterGeometry> WorkOutGeometry(const DataDir& dir, const ControlLayout& layout, const ControlFile* trusted,
                                        GeometryFallback fallback) {
  ClusterGeometry g;
  if (trusted != nullptr) {
    g.block_size = static_cast<uint32_t>(trusted->value(Field::kBlockSize));
    g.block_size_source = "pg_control";
    g.segment_size = trusted->value(Field::kWalSegmentSize);
    g.segment_size_source = "pg_control";
    g.page_size = static_cast<uint32_t>(trusted->value(Field::kWalBlockSize));
    g.why.push_back(fmt::format("{} segments, {}-byte pages: pg_control", FormatMegabytes(g.segment_size), g.page_size));
    return g;
  }
  if (const auto size = BlockSizeFromRelation(dir)) {
    g.block_size = *size;
    g.block_size_source = "the page header of a relation file";
  } else {
    g.block_size_source = "assumed (no readable pg_control or data page)";
    g.block_size_assumed = true;
  }
  if (auto header = NewestWalLongPageHeader(WalListings(dir), layout)) {
    g.segment_size = header->header.segment_size;
    g.page_size = header->header.block_size;
    g.segment_size_source =
        "the long page header of " + std::filesystem::path(header->file).filename().string();
    g.why.push_back(fmt::format("{} segments, {}-byte pages: the long page header of {}", FormatMegabytes(g.segment_size),
                                g.page_size, header->file));
    g.header = std::move(header);
    return g;
  }
  if (fallback == GeometryFallback::kLongPageHeader) {
    return MakeError(ErrorCode::kNotFound,
                     fmt::format("no WAL segment starts with a PostgreSQL {} long page header, so the segment "
                                 "size is unknown",
                                 layout.major()),
                     dir.wal.path);
  }
  if (const auto size = MostCommonSegmentFileSize(dir)) {
    g.segment_size = *size;
    g.segment_size_source = "the size of the WAL segment files";
  } else {
    g.segment_size_source = "assumed: the default (no readable pg_control or WAL)";
    g.segment_size_assumed = true;
  }
  g.why.push_back(fmt::format("{} segments: {}; {}-byte pages: assumed", FormatMegabytes(g.segment_size),
                              g.segment_size_source, g.page_size));
  return g;
}

Result<WalGeometry> WalScanOptionsFor(const DataDir& dir, WalScanMode mode) {
  WalGeometry g;
  g.options.mode = mode;
  if (!dir.wal.exists) return MakeError(ErrorCode::kNotFound, "the data directory has no pg_wal or pg_xlog", dir.root);
  g.options.listings = WalListings(dir);
  const ControlTrust trust = JudgeControl(dir, nullptr);
  const ControlFileRead* control = trust.read;
  g.options.layout = trust.ok()          ? &control->control.layout()
                     : control != nullptr ? &control->control.layout()
                     : dir.pg_version    ? FindLayoutByMajor(*dir.pg_version)
                                         : nullptr;
  if (g.options.layout == nullptr) {
    return MakeError(ErrorCode::kNotFound,
                     "neither pg_control nor PG_VERSION names a supported version (9.4 to 19); write the "
                     "major version, such as 15, into PG_VERSION",
                     dir.root);
  }
  auto sizes = WorkOutGeometry(dir, *g.options.layout, trust.trusted, GeometryFallback::kLongPageHeader);
  if (!sizes) return sizes.error();
  g.options.segment_size = sizes->segment_size;
  g.options.page_size = sizes->page_size;
  if (trust.ok()) {
    g.why.push_back(fmt::format("PostgreSQL {}, {}", g.options.layout->major(), sizes->why.front()));
    return g;
  }
  g.why.push_back(fmt::format("PostgreSQL {}: {}", g.options.layout->major(),
                              control != nullptr ? "pg_control (its CRC does not match)" : "PG_VERSION"));
  g.why.push_back(sizes->why.front());
  return g;
}

}  // namespace pgrescue
