#include "libcontrol/pages/xid_evidence.h"

namespace pgrescue {
namespace {

constexpr uint32_t kFirstNormalXid = 3;

}  // namespace

void XidTupleEvidence::Add(const HeapTuple& t, bool all_visible, TupleShapes* shapes) {
  using namespace xid_claim;  // NOLINT: the claim bits
  std::pair<uint64_t, uint64_t> shape{kSettledNo, kSettledNo};
  // Below 3 are the bootstrap and frozen XIDs: committed, never in pg_xact.
  if (t.xmin < kFirstNormalXid) {
    shape.first = t.xmin == 0 ? kSettledNo : kSettledYes;
  } else if (t.xmin_committed()) {  // frozen too
    claims[t.xmin] |= kHintCommitted | (all_visible ? kAllVisibleCommitted : 0);
    shape.first = kSettledYes;
  } else if (t.xmin_aborted()) {
    claims[t.xmin] |= kHintAborted | (all_visible ? kAllVisibleCommitted : 0);
  } else {
    claims[t.xmin] |= kNeeded | (all_visible ? kAllVisibleCommitted : 0);
    shape.first = t.xmin;
  }
  if (t.xmax >= kFirstNormalXid && !t.xmax_is_multixact()) {
    const bool locker = t.xmax_lock_only();
    uint8_t& c = claims[t.xmax];
    if (locker) {
      // Neither hint nor page says how a locker ended.
    } else if (t.infomask & heap::kXmaxCommitted) {
      c |= kHintCommitted | (all_visible ? kAllVisibleAborted : 0);
      shape.second = kSettledYes;
    } else if (t.infomask & heap::kXmaxInvalid) {
      c |= kHintAborted | (all_visible ? kAllVisibleAborted : 0);
    } else {
      c |= kNeeded | (all_visible ? kAllVisibleAborted : 0);
      shape.second = t.xmax;
    }
  }
  ++(*shapes)[shape];
}

void XidTupleEvidence::Merge(const XidTupleEvidence& other) {
  for (const auto& [xid, bits] : other.claims) claims[xid] |= bits;
}

}  // namespace pgrescue
