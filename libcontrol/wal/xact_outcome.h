// What a Transaction resource manager record says about transactions'
// outcomes: a commit or an abort for a top-level XID and the
// subtransactions it lists, or a transaction prepared for two-phase commit.
// This is the exact evidence pg_xact is rebuilt from.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "libcontrol/control/control_layout.h"
#include "libcontrol/wal/wal_reader.h"

namespace pgrescue {

enum class XactOutcomeKind : uint8_t { kCommit, kAbort, kPrepare };

struct XactOutcome {
  XactOutcomeKind kind = XactOutcomeKind::kCommit;
  // The transaction first (for COMMIT/ABORT PREPARED the prepared one, not
  // the backend that ran the command), then its subtransactions.
  std::vector<uint32_t> xids;
  // A PREPARE whose two-phase state could not be read (its XID is not the
  // record's, or its subtransactions run past the end): `xids` holds the
  // transaction alone, and the caller must trust no silence about the rest.
  bool subxacts_unknown = false;
};

// The outcome `record` records, or nullopt for any other record and for a
// record too short for what its flags announce. 9.4's record formats are not
// read (nullopt): pg_xact rebuilt for 9.4 rests on the pages alone.
std::optional<XactOutcome> DecodeXactOutcome(const ControlLayout& layout, const WalRecord& record);

// A two-phase state (a PREPARE record's body, or a pg_twophase file):
// TwoPhaseFileHeader, whose XID at byte 8 must be `xid` and whose nsubxacts
// is at byte 28, the GID, then the subtransactions, each part padded to 8
// bytes. `xid` then its subtransactions, or nullopt when it does not read so.
std::optional<std::vector<uint32_t>> TwoPhaseStateXids(const ControlLayout& layout, std::span<const uint8_t> state,
                                                      uint32_t xid);

}  // namespace pgrescue
