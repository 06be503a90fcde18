// Every field that pg_control has held in any supported version, by one
// version-neutral name. A layout says which of them it has and where.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pgrescue {

enum class Field : uint8_t {
  // ControlFileData, before the checkpoint copy
  kSystemIdentifier,
  kPgControlVersion,
  kCatalogVersion,
  kState,
  kTime,
  kCheckPoint,
  kPrevCheckPoint,  // 9.4 to 10
  // checkPointCopy
  kRedo,
  kThisTimeLineId,
  kPrevTimeLineId,
  kFullPageWrites,
  kCheckpointWalLevel,       // 17 on
  kLogicalDecodingEnabled,   // 19 on
  kNextXidEpoch,             // high half of the 64-bit nextXid from 12 on
  kNextXid,
  kNextOid,
  kNextMulti,
  kNextMultiOffset,          // 64-bit from 19 on
  kOldestXid,
  kOldestXidDb,
  kOldestMulti,
  kOldestMultiDb,
  kCheckpointTime,
  kOldestCommitTsXid,        // 9.5 on
  kNewestCommitTsXid,        // 9.5 on
  kOldestActiveXid,
  kCheckpointDataChecksumState,  // 19 on
  // ControlFileData, after the checkpoint copy
  kUnloggedLsn,
  kMinRecoveryPoint,
  kMinRecoveryPointTli,
  kBackupStartPoint,
  kBackupEndPoint,
  kBackupEndRequired,
  kWalLevel,
  kWalLogHints,
  kMaxConnections,
  kMaxWorkerProcesses,
  kMaxWalSenders,            // 12 on
  kMaxPreparedXacts,
  kMaxLocksPerXact,
  kTrackCommitTimestamp,     // 9.5 on
  kMaxAlign,
  kFloatFormat,              // the double 1234567.0, kept as its bit pattern
  kBlockSize,
  kRelSegSize,
  kSlruPagesPerSegment,      // 19 on
  kWalBlockSize,
  kWalSegmentSize,
  kNameDataLen,
  kIndexMaxKeys,
  kToastMaxChunkSize,
  kLargeObjectChunkSize,
  kEnableIntTimes,           // up to 9.6
  kFloat4ByVal,              // up to 12
  kFloat8ByVal,
  kDataChecksumVersion,
  kDefaultCharSignedness,    // 18 on
  kMockAuthNonce,            // 10 on; 32 bytes
  kCount
};

constexpr size_t kFieldCount = static_cast<size_t>(Field::kCount);
constexpr size_t kMockAuthNonceLength = 32;

// The C type a field has in one version's struct; it decides size, alignment
// and how the bytes read as a number.
enum class CType : uint8_t {
  kBool,      // 1 byte
  kUInt32,
  kInt32,     // int and enums
  kUInt64,
  kInt64,     // pg_time_t
  kDouble,    // kept as raw bits
  kFullXid,   // FullTransactionId: kNextXid then kNextXidEpoch, 8-aligned
  kNonce,     // char[32]
  kCrc,       // pg_crc32 / pg_crc32c; ends the struct
};

// The name PostgreSQL's sources use (ControlFileData / CheckPoint members);
// points into a static table, so it may be kept.
std::string_view FieldName(Field field);

}  // namespace pgrescue
