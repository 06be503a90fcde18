#include "libcontrol/reset/rebuild.h"

#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <filesystem>
#include <fstream>
#include <random>

#include <fmt/format.h>

#include "libcontrol/cluster/wal_geometry.h"
#include "libcontrol/pages/page_checksum.h"
#include "libcontrol/base/wal_names.h"
#include "libcontrol/wal/wal_record.h"

namespace pgrescue {
namespace fs = std::filesystem;
namespace {

struct ChecksumSample {
  int pages = 0;
  int matching = 0;
};

// Verifies page checksums on main-fork pages of base/ (whole 1 GB segments
// numbered from block 0, so a file's first pages are blocks 0, 1, …).
ChecksumSample SampleChecksums(const std::string& root, uint32_t block_size) {
  ChecksumSample s;
  std::error_code ec;
  std::vector<uint8_t> page(block_size);
  for (fs::recursive_directory_iterator it(fs::path(root) / "base", ec), end; !ec && it != end && s.pages < 256;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!it->is_regular_file() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(it->path(), std::ios::binary);
    for (uint32_t block = 0; block < 8 && in.read(reinterpret_cast<char*>(page.data()), block_size); ++block) {
      const uint16_t upper = static_cast<uint16_t>(page[14] | page[15] << 8);
      if (upper == 0) continue;  // never-initialised page: no checksum
      ++s.pages;
      if (PageChecksum(page, block) == StoredPageChecksum(page)) ++s.matching;
    }
  }
  return s;
}

std::optional<uint32_t> CatalogVersionFromTablespaces(const std::string& root, std::string_view major) {
  std::error_code ec;
  const std::string prefix = fmt::format("PG_{}_", major);
  for (fs::directory_iterator ts(fs::path(root) / "pg_tblspc", ec), end; !ec && ts != end; ts.increment(ec)) {
    std::error_code ec2;
    for (fs::directory_iterator v(ts->path(), ec2); !ec2 && v != end; v.increment(ec2)) {
      const std::string name = v->path().filename().string();
      if (name.starts_with(prefix) && name.size() == prefix.size() + 9) {
        try {
          return static_cast<uint32_t>(std::stoul(name.substr(prefix.size())));
        } catch (...) {
        }
      }
    }
  }
  return std::nullopt;
}

std::optional<uint64_t> SettingNumber(const DataDir& dir, const std::string& name) {
  const auto it = dir.settings.find(name);
  if (it == dir.settings.end()) return std::nullopt;
  try {
    return std::stoull(it->second);
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace

Result<Rebuilt> RebuildControlFile(const DataDir& dir, const ControlLayout& layout, const RebuildOptions& options) {
  Rebuilt r{ControlFile(layout), {}, {}};
  ControlFile& c = r.control;
  auto note = [&](const std::string& what, auto value, const std::string& source) {
    r.evidence.push_back(fmt::format("{} = {}  ({})", what, value, source));
  };
  // Zero everything the layout has, then fill in what evidence gives.
  for (const Placement& p : layout.placements()) {
    if (p.type != CType::kNonce) c.set(p.field, 0);
  }
  c.set(Field::kPgControlVersion, layout.pg_control_version());
  note("pg_control version", layout.pg_control_version(), "PG_VERSION " + std::string(layout.major()));

  uint32_t catversion = 0;
  if (auto from_ts = CatalogVersionFromTablespaces(dir.root, layout.major())) {
    catversion = *from_ts;
    note("catalog version", catversion, "a tablespace directory name PG_" + std::string(layout.major()) + "_…");
  } else if (options.catalog_version) {
    catversion = *options.catalog_version;
    note("catalog version", catversion, "given with --catalog-version");
  } else if (layout.catversion_last() != 0xFFFFFFFFu) {
    catversion = layout.catversion_last();
    note("catalog version", catversion, fmt::format("the catalog version of every {} release", layout.major()));
  } else {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("PostgreSQL {}'s catalog version is not known from a release and no tablespace "
                                 "directory names it; give it with --catalog-version (the server's "
                                 "pg_config --version does not show it, but its log does on a mismatch)",
                                 layout.major()),
                     dir.root);
  }
  c.set(Field::kCatalogVersion, catversion);

  // Identity and WAL geometry.
  uint64_t segment_size = 16u << 20;
  uint32_t wal_block_size = 8192;
  // Only what WAL itself states: a rebuilt pg_control must not carry a guess
  // from file sizes as if it were the server's.
  const auto geometry = WorkOutGeometry(dir, layout, nullptr, GeometryFallback::kLongPageHeader);
  if (const auto* h = geometry.ok() && geometry->header ? &*geometry->header : nullptr) {
    c.set(Field::kSystemIdentifier, h->header.system_identifier);
    segment_size = h->header.segment_size;
    wal_block_size = h->header.block_size;
    note("system identifier", h->header.system_identifier, "the long page header of " + h->file);
    note("WAL segment size", segment_size, "the same header");
    note("WAL block size", wal_block_size, "the same header");
  } else {
    struct timeval tv {};
    gettimeofday(&tv, nullptr);
    const uint64_t sysid = static_cast<uint64_t>(tv.tv_sec) << 32 | static_cast<uint64_t>(tv.tv_usec) << 12 |
                           (static_cast<uint64_t>(getpid()) & 0xFFF);
    c.set(Field::kSystemIdentifier, sysid);
    note("system identifier", sysid, "NEW: no WAL with a long page header survives");
    r.warnings.push_back("no WAL survives: the system identifier is new, so WAL archives, backups and standbys of "
                         "this cluster no longer match it");
    note("WAL segment size", segment_size, "assumed: the default");
    r.warnings.push_back("the WAL segment size is assumed to be 16 MB");
  }
  c.set(Field::kWalSegmentSize, segment_size);
  c.set(Field::kWalBlockSize, wal_block_size);

  // Block size and checksums from data pages.
  uint32_t block_size = 8192;
  if (const auto from_page = BlockSizeFromRelation(dir)) {
    block_size = *from_page;
    note("block size", block_size, "pd_pagesize_version of a relation file");
  } else {
    note("block size", block_size, "assumed: no data page was readable");
    r.warnings.push_back("the block size is assumed to be 8192");
  }
  c.set(Field::kBlockSize, block_size);
  const auto sample = SampleChecksums(dir.root, block_size);
  const bool checksums = sample.pages > 0 && sample.matching * 10 >= sample.pages * 9;
  c.set(Field::kDataChecksumVersion, checksums ? 1 : 0);
  c.set(Field::kCheckpointDataChecksumState, checksums ? 1 : 0);
  note("data checksums", checksums ? "on (version 1)" : "off",
       fmt::format("{} of {} sampled pages in base/ carry a valid checksum", sample.matching, sample.pages));
  if (sample.pages == 0) r.warnings.push_back("no data page could be sampled: checksums are assumed off");

  // Build constants of every x86-64 PostgreSQL build (configure defaults).
  c.set(Field::kMaxAlign, 8);
  c.set(Field::kFloatFormat, std::bit_cast<uint64_t>(1234567.0));
  c.set(Field::kRelSegSize, (1u << 30) / block_size);
  c.set(Field::kSlruPagesPerSegment, 32);
  c.set(Field::kNameDataLen, 64);
  c.set(Field::kIndexMaxKeys, 32);
  // TOAST_MAX_CHUNK_SIZE: a quarter page less page and tuple headers.
  c.set(Field::kToastMaxChunkSize, ((block_size - 40) / 4 & ~7u) - 24 - 12);
  c.set(Field::kLargeObjectChunkSize, block_size / 4);
  c.set(Field::kEnableIntTimes, 1);
  c.set(Field::kFloat4ByVal, 1);
  c.set(Field::kFloat8ByVal, 1);
  c.set(Field::kDefaultCharSignedness, 1);  // char is signed on x86
  c.set(Field::kUnloggedLsn, layout.rules().initial_unlogged_lsn);
  c.set(Field::kFullPageWrites, 1);
  r.evidence.push_back("build constants = those of x86-64 builds (alignment 8, 1 GB relation segments, "
                       "NAMEDATALEN 64, 32 index keys, float8 by value, signed char)");

  // Settings the server checks at start, from the configuration.
  const auto level_names = layout.text().wal_level_names;
  const auto conf_level = dir.settings.count("wal_level") ? dir.settings.at("wal_level")
                                                          : std::string(layout.rules().default_wal_level);
  uint64_t level = 0;
  for (size_t i = 0; i < level_names.size(); ++i) {
    if (level_names[i] == conf_level) level = i;
  }
  c.set(Field::kWalLevel, level);
  c.set(Field::kCheckpointWalLevel, level);
  c.set(Field::kMaxConnections, SettingNumber(dir, "max_connections").value_or(100));
  c.set(Field::kMaxWorkerProcesses, SettingNumber(dir, "max_worker_processes").value_or(8));
  c.set(Field::kMaxWalSenders, SettingNumber(dir, "max_wal_senders").value_or(10));
  c.set(Field::kMaxPreparedXacts, SettingNumber(dir, "max_prepared_transactions").value_or(0));
  c.set(Field::kMaxLocksPerXact, SettingNumber(dir, "max_locks_per_transaction").value_or(64));
  c.set(Field::kWalLogHints, SettingIsOn(dir, "wal_log_hints") ? 1 : 0);
  c.set(Field::kTrackCommitTimestamp, SettingIsOn(dir, "track_commit_timestamp") ? 1 : 0);
  r.evidence.push_back(fmt::format("settings = wal_level {}, max_connections {}, max_prepared_transactions {} "
                                   "(postgresql.conf / postgresql.auto.conf, else defaults)",
                                   conf_level, c.value(Field::kMaxConnections), c.value(Field::kMaxPreparedXacts)));

  // Counters: safe starting points; the reset then moves them to the values
  // the planner derives from pg_xact, pg_multixact, pg_commit_ts and pg_wal.
  c.set(Field::kThisTimeLineId, 1);
  c.set(Field::kPrevTimeLineId, 1);
  c.set(Field::kNextXid, 3);
  c.set(Field::kOldestXid, 3);
  c.set(Field::kNextOid, 16384);
  c.set(Field::kNextMulti, 1);
  c.set(Field::kOldestMulti, 1);
  c.set(Field::kState, static_cast<uint64_t>(DbState::kShutdowned));
  c.set(Field::kTime, static_cast<uint64_t>(options.now));
  c.set(Field::kCheckpointTime, static_cast<uint64_t>(options.now));
  c.set(Field::kRedo, kMinWalSegmentSize);  // any point: the reset moves it past all WAL
  c.set(Field::kCheckPoint, kMinWalSegmentSize);
  if (layout.Has(Field::kMockAuthNonce)) {
    MockAuthNonce nonce;
    std::random_device rd;
    for (auto& b : nonce) b = static_cast<uint8_t>(rd());
    c.set_nonce(nonce);
    r.evidence.push_back("mock authentication nonce = new random bytes (the old one is lost; it only shapes "
                         "SCRAM replies to unknown users)");
  }
  return r;
}

}  // namespace pgrescue
