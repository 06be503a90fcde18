#include "libcontrol/control/control_fields.h"

#include <array>

namespace pgrescue {

std::string_view FieldName(Field field) {
  static constexpr std::array<std::string_view, kFieldCount> kNames = {
      "system_identifier", "pg_control_version", "catalog_version_no", "state", "time",
      "checkPoint", "prevCheckPoint",
      "checkPointCopy.redo", "checkPointCopy.ThisTimeLineID", "checkPointCopy.PrevTimeLineID",
      "checkPointCopy.fullPageWrites", "checkPointCopy.wal_level",
      "checkPointCopy.logicalDecodingEnabled", "checkPointCopy.nextXid (epoch)",
      "checkPointCopy.nextXid", "checkPointCopy.nextOid", "checkPointCopy.nextMulti",
      "checkPointCopy.nextMultiOffset", "checkPointCopy.oldestXid", "checkPointCopy.oldestXidDB",
      "checkPointCopy.oldestMulti", "checkPointCopy.oldestMultiDB", "checkPointCopy.time",
      "checkPointCopy.oldestCommitTsXid", "checkPointCopy.newestCommitTsXid",
      "checkPointCopy.oldestActiveXid", "checkPointCopy.dataChecksumState",
      "unloggedLSN", "minRecoveryPoint", "minRecoveryPointTLI", "backupStartPoint",
      "backupEndPoint", "backupEndRequired", "wal_level", "wal_log_hints", "MaxConnections",
      "max_worker_processes", "max_wal_senders", "max_prepared_xacts", "max_locks_per_xact",
      "track_commit_timestamp", "maxAlign", "floatFormat", "blcksz", "relseg_size",
      "slru_pages_per_segment", "xlog_blcksz", "xlog_seg_size", "nameDataLen", "indexMaxKeys",
      "toast_max_chunk_size", "loblksize", "enableIntTimes", "float4ByVal", "float8ByVal",
      "data_checksum_version", "default_char_signedness", "mock_authentication_nonce",
  };
  const auto i = static_cast<size_t>(field);
  return i < kNames.size() ? kNames[i] : "unknown";
}

}  // namespace pgrescue
