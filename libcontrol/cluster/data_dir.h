// What a data directory holds, read without changing anything: the files the
// planner reasons from. Missing pieces are recorded, not errors: a damaged
// cluster is the normal input.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libcontrol/base/dir_listing.h"
#include "libcontrol/control/control_file.h"
#include "libcontrol/cluster/liveness.h"
#include "libcontrol/base/result.h"

namespace pgrescue {

struct DataDir {
  std::string root;
  std::optional<std::string> pg_version;          // PG_VERSION's first line
  bool control_present = false;
  std::optional<Result<ControlFileRead>> control;  // set when present
  DirListing wal;                                  // pg_wal or pg_xlog
  DirListing wal_archive_status;
  DirListing wal_summaries;                        // 17+
  std::vector<DirListing> wal_archives;            // --wal-archive dirs
  DirListing xact;                                 // pg_xact or pg_clog
  DirListing multixact_offsets;
  DirListing multixact_members;
  DirListing commit_ts;
  // Largest relfilenode, database or tablespace OID seen, and where.
  std::optional<uint64_t> max_relation_oid;
  std::string max_relation_oid_path;
  uint64_t relation_files = 0;
  std::optional<uint16_t> page_size_from_relation;  // pd_pagesize_version of a data page
  bool backup_label = false;
  bool backup_label_old = false;
  std::optional<std::string> backup_label_text;  // its contents (first 64 KiB), when readable
  bool tablespace_map = false;
  bool postmaster_pid = false;  // postmaster.pid exists; live.pid_file holds what it says
  LiveCheck live;  // everything that still uses the directory, postmaster.pid's PID included
  bool recovery_signal = false;
  bool standby_signal = false;
  bool recovery_conf = false;
  // standby.signal, or recovery.conf with standby_mode on: the server
  // follows a primary, and removing the file would promote it.
  bool standby = false;
  // Settings from postgresql.conf then postgresql.auto.conf (later wins): those
  // pg_control records, log_directory and log_filename, and recovery.conf's
  // standby_mode.
  std::map<std::string, std::string> settings;
};

// The block size a data page's pd_pagesize_version records, when it is one
// PostgreSQL can be built with.
std::optional<uint32_t> BlockSizeFromRelation(const DataDir& dir);

// pg_wal (pg_xlog) first, then the archives given: where WAL is looked for.
std::vector<const DirListing*> WalListings(const DataDir& dir);

// Reads `root` and the given archive directories. Fails only when `root`
// is not a readable directory.
Result<DataDir> ScanDataDir(const std::string& root, const std::vector<std::string>& wal_archives);

// The listing a directory of these entries reads as (in any order; no two
// alike, none "." or ".."): what ScanDataDir's reads give, without the disk.
DirListing ListingOfNames(const std::string& path, const std::vector<DirEntry>& entries);

// Adds a configuration file's settings to `settings` (later lines win): the
// names ScanDataDir keeps, lower-cased, with their values unquoted.
void ParseSettings(std::string_view text, std::map<std::string, std::string>* settings);

// A boolean setting as the server reads it (on, true, yes, 1 and their
// unique prefixes, any case); false when absent.
bool SettingIsOn(const DataDir& dir, const std::string& name);

// The settings pg_control records, as postgresql.conf spells them.
const std::vector<std::string>& ControlRelevantSettings();

}  // namespace pgrescue
