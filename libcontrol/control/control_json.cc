#include "libcontrol/control/control_json.h"

#include <ctime>
#include <vector>

#include <fmt/format.h>

#include "libcontrol/control/control_text.h"

namespace pgrescue {
namespace {

enum class Shape { kNumber, kSignedNumber, kString, kLsn, kTime, kBool, kNextXid, kRedoWalFile };

struct Key {
  std::string_view group;
  std::string_view key;
  Field field;
  Shape shape;
};

const std::vector<Key>& SqlKeys() {
  using F = Field;
  using S = Shape;
  static const std::vector<Key> keys = {
      {"system", "pg_control_version", F::kPgControlVersion, S::kNumber},
      {"system", "catalog_version_no", F::kCatalogVersion, S::kNumber},
      {"system", "system_identifier", F::kSystemIdentifier, S::kNumber},
      {"system", "pg_control_last_modified", F::kTime, S::kTime},
      {"init", "max_data_alignment", F::kMaxAlign, S::kNumber},
      {"init", "database_block_size", F::kBlockSize, S::kNumber},
      {"init", "blocks_per_segment", F::kRelSegSize, S::kNumber},
      {"init", "wal_block_size", F::kWalBlockSize, S::kNumber},
      {"init", "bytes_per_wal_segment", F::kWalSegmentSize, S::kNumber},
      {"init", "max_identifier_length", F::kNameDataLen, S::kNumber},
      {"init", "max_index_columns", F::kIndexMaxKeys, S::kNumber},
      {"init", "max_toast_chunk_size", F::kToastMaxChunkSize, S::kNumber},
      {"init", "large_object_chunk_size", F::kLargeObjectChunkSize, S::kNumber},
      {"init", "bigint_timestamps", F::kEnableIntTimes, S::kBool},
      {"init", "float4_pass_by_value", F::kFloat4ByVal, S::kBool},
      {"init", "float8_pass_by_value", F::kFloat8ByVal, S::kBool},
      {"init", "data_page_checksum_version", F::kDataChecksumVersion, S::kNumber},
      {"init", "default_char_signedness", F::kDefaultCharSignedness, S::kBool},
      {"checkpoint", "checkpoint_lsn", F::kCheckPoint, S::kLsn},
      {"checkpoint", "prior_lsn", F::kPrevCheckPoint, S::kLsn},
      {"checkpoint", "redo_lsn", F::kRedo, S::kLsn},
      {"checkpoint", "redo_wal_file", F::kRedo, S::kRedoWalFile},
      {"checkpoint", "timeline_id", F::kThisTimeLineId, S::kNumber},
      {"checkpoint", "prev_timeline_id", F::kPrevTimeLineId, S::kNumber},
      {"checkpoint", "full_page_writes", F::kFullPageWrites, S::kBool},
      {"checkpoint", "next_xid", F::kNextXid, S::kNextXid},
      {"checkpoint", "next_oid", F::kNextOid, S::kString},
      {"checkpoint", "next_multixact_id", F::kNextMulti, S::kString},
      {"checkpoint", "next_multi_offset", F::kNextMultiOffset, S::kString},
      {"checkpoint", "oldest_xid", F::kOldestXid, S::kString},
      {"checkpoint", "oldest_xid_dbid", F::kOldestXidDb, S::kString},
      {"checkpoint", "oldest_active_xid", F::kOldestActiveXid, S::kString},
      {"checkpoint", "oldest_multi_xid", F::kOldestMulti, S::kString},
      {"checkpoint", "oldest_multi_dbid", F::kOldestMultiDb, S::kString},
      {"checkpoint", "oldest_commit_ts_xid", F::kOldestCommitTsXid, S::kString},
      {"checkpoint", "newest_commit_ts_xid", F::kNewestCommitTsXid, S::kString},
      {"checkpoint", "checkpoint_time", F::kCheckpointTime, S::kTime},
      {"recovery", "min_recovery_end_lsn", F::kMinRecoveryPoint, S::kLsn},
      {"recovery", "min_recovery_end_timeline", F::kMinRecoveryPointTli, S::kNumber},
      {"recovery", "backup_start_lsn", F::kBackupStartPoint, S::kLsn},
      {"recovery", "backup_end_lsn", F::kBackupEndPoint, S::kLsn},
      {"recovery", "end_of_backup_record_required", F::kBackupEndRequired, S::kBool},
  };
  return keys;
}

const std::vector<Key>& ControlKeys() {
  using F = Field;
  using S = Shape;
  static const std::vector<Key> keys = {
      {"control", "state_code", F::kState, S::kNumber},
      {"control", "unlogged_lsn", F::kUnloggedLsn, S::kLsn},
      {"control", "checkpoint_wal_level", F::kCheckpointWalLevel, S::kSignedNumber},
      {"control", "logical_decoding_enabled", F::kLogicalDecodingEnabled, S::kBool},
      {"control", "checkpoint_data_checksum_state", F::kCheckpointDataChecksumState, S::kNumber},
      {"control", "wal_level_code", F::kWalLevel, S::kSignedNumber},
      {"control", "wal_log_hints", F::kWalLogHints, S::kBool},
      {"control", "max_connections", F::kMaxConnections, S::kSignedNumber},
      {"control", "max_worker_processes", F::kMaxWorkerProcesses, S::kSignedNumber},
      {"control", "max_wal_senders", F::kMaxWalSenders, S::kSignedNumber},
      {"control", "max_prepared_xacts", F::kMaxPreparedXacts, S::kSignedNumber},
      {"control", "max_locks_per_xact", F::kMaxLocksPerXact, S::kSignedNumber},
      {"control", "track_commit_timestamp", F::kTrackCommitTimestamp, S::kBool},
      {"control", "slru_pages_per_segment", F::kSlruPagesPerSegment, S::kNumber},
  };
  return keys;
}

nlohmann::ordered_json Value(const ControlFile& c, const Key& k) {
  const uint64_t v = c.value(k.field);
  switch (k.shape) {
    case Shape::kNumber: return v;
    case Shape::kSignedNumber: return c.signed_value(k.field);
    case Shape::kString: return fmt::format("{}", v);
    case Shape::kLsn: return FormatLsn(Lsn{v}, c.layout().text().lsn_style);
    case Shape::kTime: return FormatIsoUtc(static_cast<int64_t>(v));
    case Shape::kBool: return v != 0;
    case Shape::kNextXid: return fmt::format("{}:{}", c.value(Field::kNextXidEpoch), v);
    case Shape::kRedoWalFile: return RedoWalFileName(c);
  }
  return nullptr;
}

void AddKeys(const ControlFile& c, const std::vector<Key>& keys, nlohmann::ordered_json* out) {
  for (const Key& k : keys) {
    if (c.has(k.field)) (*out)[std::string(k.group)][std::string(k.key)] = Value(c, k);
  }
}

}  // namespace

std::string FormatIsoUtc(int64_t seconds) {
  const auto t = static_cast<time_t>(seconds);
  struct tm tm {};
  char buf[64];
  if (gmtime_r(&t, &tm) == nullptr || std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S+00:00", &tm) == 0) {
    return "???";
  }
  return buf;
}

nlohmann::ordered_json ControlSqlView(const ControlFile& control) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const char* group : {"system", "init", "checkpoint", "recovery"}) {
    out[group] = nlohmann::ordered_json::object();
  }
  AddKeys(control, SqlKeys(), &out);
  return out;
}

nlohmann::ordered_json ControlFileToJson(const ControlFileRead& read) {
  const ControlFile& c = read.control;
  nlohmann::ordered_json out = ControlSqlView(c);
  auto& control = out["control"];
  control["layout"] = std::string(c.layout().major());
  control["state"] = std::string(DbStateText(c.value(Field::kState)));
  control["wal_level"] = WalLevelText(c.layout(), c.signed_value(Field::kWalLevel));
  AddKeys(c, ControlKeys(), &out);
  if (c.nonce()) control["mock_authentication_nonce"] = NonceHex(*c.nonce());
  control["crc_stored"] = fmt::format("{:08X}", read.crc_stored);
  control["crc_computed"] = fmt::format("{:08X}", read.crc_computed);
  control["crc_ok"] = read.crc_ok();
  control["findings"] = nlohmann::ordered_json::array();
  for (const auto& f : read.findings) control["findings"].push_back(f.message);
  return out;
}

}  // namespace pgrescue
