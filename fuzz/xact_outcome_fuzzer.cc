// Any bytes as a Transaction record of any version (the header's info byte
// and XID from the input, the rest as the record after its 24-byte header):
// decoding a commit, abort or prepare never reads outside the record, and
// every outcome names at least its transaction. The same bytes read as a
// two-phase state file likewise.
#include <cstdlib>
#include <vector>

#include "libcontrol/base/bytes.h"
#include "libcontrol/control/control_layout.h"
#include "libcontrol/wal/xact_outcome.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 6) return 0;
  const auto layouts = pgrescue::AllControlLayouts();
  const auto& layout = layouts[data[0] % layouts.size()];
  std::vector<uint8_t> bytes(24, 0);  // the fixed header: the decoder reads past it
  bytes.insert(bytes.end(), data + 6, data + size);
  pgrescue::WalRecord record;
  record.rmid = 1;
  record.info = data[1];
  record.xid = static_cast<uint32_t>(pgrescue::LoadLittleEndian(data + 2, 4));
  record.total = static_cast<uint32_t>(bytes.size());
  record.bytes = bytes;
  const auto outcome = pgrescue::DecodeXactOutcome(layout, record);
  if (outcome && (outcome->xids.empty() || outcome->xids.front() == 0)) std::abort();
  // The same bytes as a pg_twophase state file of that XID.
  const std::vector<uint8_t> state(data + 6, data + size);  // exactly sized, so ASan sees overreads
  const auto xids = pgrescue::TwoPhaseStateXids(layout, state, record.xid);
  if (xids && xids->front() != record.xid) std::abort();
  return 0;
}
