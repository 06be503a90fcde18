#include "libcontrol/pages/heap_check.h"

#include <fmt/format.h>

#include "libcontrol/base/bytes.h"
#include "libcontrol/base/id_order.h"

namespace pgrescue {
using namespace heap;  // NOLINT: the format's constants, kept in heap_format.h

namespace {

constexpr uint32_t kFirstNormalXid = 3;
constexpr size_t kMinTupleLength = (kTupleHeaderSize + kMaxAlign - 1) / kMaxAlign * kMaxAlign;

size_t MaxAligned(size_t n) { return (n + kMaxAlign - 1) / kMaxAlign * kMaxAlign; }

struct LinePointer {
  uint32_t off, flags, len;
};
LinePointer LinePointerAt(std::span<const uint8_t> page, uint16_t offset) {
  const uint32_t item = Le32(page.data() + kPageHeaderSize + (offset - 1) * kLinePointerSize);
  return {item & 0x7FFF, (item >> 15) & 3, item >> 17};
}

// A redirect must lead to another line pointer on the page that holds a
// tuple; pruning never leaves one pointing at nothing.
void CheckRedirect(std::span<const uint8_t> page, const LinePointer& lp, uint16_t max_offset,
                   std::vector<TupleProblem>* problems, uint16_t offset) {
  auto report = [&](std::string m) { problems->push_back({offset, std::move(m)}); };
  if (lp.off < 1) {
    report(fmt::format("line pointer redirection to item at offset {} precedes minimum offset 1", lp.off));
  } else if (lp.off > max_offset) {
    report(fmt::format("line pointer redirection to item at offset {} exceeds maximum offset {}", lp.off, max_offset));
  } else {
    const uint32_t target = LinePointerAt(page, static_cast<uint16_t>(lp.off)).flags;
    if (target == kLpUnused) {
      report(fmt::format("redirected line pointer points to an unused item at offset {}", lp.off));
    } else if (target == kLpDead) {
      report(fmt::format("redirected line pointer points to a dead item at offset {}", lp.off));
    } else if (target == kLpRedirect) {
      report(fmt::format("redirected line pointer points to another redirected line pointer at offset {}", lp.off));
    }
  }
}

// t_hoff is where the null bitmap (and, before 12, the OID) end.
std::optional<std::string> HoffProblem(uint16_t infomask, uint16_t infomask2, uint8_t hoff) {
  const unsigned natts = infomask2 & kNattsMask;
  const bool nulls = (infomask & kHasNull) != 0;
  const size_t expected =
      MaxAligned(kTupleHeaderSize + (nulls ? (natts + 7) / 8 : 0) + ((infomask & kHasOid) != 0 ? 4 : 0));
  if (hoff == expected) return std::nullopt;
  return fmt::format("tuple data should begin at byte {}, but actually begins at byte {} ({} attribute{}, {})",
                     expected, hoff, natts, natts == 1 ? "" : "s", nulls ? "has nulls" : "no nulls");
}

void CheckXids(const HeapTuple& t, const HeapLimits& limits, std::vector<TupleProblem>* problems, uint16_t offset) {
  auto future = [&](uint32_t xid) { return xid >= kFirstNormalXid && !Precedes32(xid, *limits.next_xid); };
  if (limits.next_xid) {
    if (!t.xmin_frozen() && future(t.xmin)) {
      problems->push_back({offset, fmt::format("xmin {} equals or exceeds next valid transaction ID {}:{}", t.xmin,
                                               limits.next_xid_epoch, *limits.next_xid)});
    }
    if (!t.xmax_is_multixact() && (t.infomask & kXmaxInvalid) == 0 && future(t.xmax)) {
      problems->push_back({offset, fmt::format("xmax {} equals or exceeds next valid transaction ID {}:{}", t.xmax,
                                               limits.next_xid_epoch, *limits.next_xid)});
    }
  }
  // MultiXactIds start at 1; 0 is invalid.
  if (limits.next_multixact && t.xmax_is_multixact() && t.xmax != 0 && !Precedes32(t.xmax, *limits.next_multixact)) {
    problems->push_back({offset, fmt::format("multitransaction ID {} equals or exceeds next valid multitransaction ID {}",
                                             t.xmax, *limits.next_multixact)});
  }
}

}  // namespace

std::optional<HeapTuple> CheckLinePointer(std::span<const uint8_t> page, uint16_t offset, uint16_t max_offset,
                                          const HeapLimits& limits, std::vector<TupleProblem>* problems) {
  const LinePointer lp = LinePointerAt(page, offset);
  if (lp.flags == kLpRedirect) CheckRedirect(page, lp, max_offset, problems, offset);
  if (lp.flags != kLpNormal) return std::nullopt;
  auto report = [&](std::string m) { problems->push_back({offset, std::move(m)}); };
  if (lp.off % kMaxAlign != 0) {
    report(fmt::format("line pointer to page offset {} is not maximally aligned", lp.off));
    return std::nullopt;
  }
  if (lp.len < kMinTupleLength) {
    report(fmt::format("line pointer length {} is less than the minimum tuple header size {}", lp.len,
                       kMinTupleLength));
    return std::nullopt;
  }
  if (lp.off + lp.len > page.size()) {
    report(fmt::format("line pointer to page offset {} with length {} ends beyond maximum page offset {}", lp.off,
                       lp.len, page.size()));
    return std::nullopt;
  }
  const uint8_t* t = page.data() + lp.off;
  const uint16_t infomask = Le16(t + kInfomaskAt), infomask2 = Le16(t + kInfomask2At);
  const uint8_t hoff = t[kHoffAt];
  bool sound = true;
  if (hoff > lp.len) {
    report(fmt::format("data begins at offset {} beyond the tuple length {}", hoff, lp.len));
    sound = false;
  }
  if ((infomask & kXmaxCommitted) != 0 && (infomask & kXmaxIsMulti) != 0) {
    report("multixact should not be marked committed");
  }
  if ((infomask & kXmaxIsMulti) == 0 && Le32(t + kXmaxAt) == 0 && (infomask2 & kHotUpdated) != 0) {
    report("tuple has been HOT updated, but xmax is 0");
  }
  if ((infomask2 & kHeapOnly) != 0 && (infomask & kUpdated) == 0) {
    report("tuple is heap only, but not the result of an update");
  }
  if (auto why = HoffProblem(infomask, infomask2, hoff)) {
    report(std::move(*why));
    sound = false;
  }
  if (!sound) return std::nullopt;
  auto tuple = TupleAt(page, kPageHeaderSize + (offset - 1) * kLinePointerSize);
  if (tuple) CheckXids(*tuple, limits, problems, offset);
  return tuple;
}

std::optional<uint32_t> RowsByLinePointers(std::span<const uint8_t> page) {
  const size_t lower = static_cast<size_t>(page[12] | page[13] << 8);
  if (lower < kPageHeaderSize || lower > page.size() || (lower - kPageHeaderSize) % kLinePointerSize != 0) {
    return std::nullopt;
  }
  uint32_t rows = 0;
  for (uint16_t offset = 1, max = MaxOffset(page); offset <= max; ++offset) {
    rows += LinePointerAt(page, offset).flags == kLpNormal ? 1 : 0;
  }
  return rows;
}

std::optional<uint32_t> RowsByLinePointersPastHeader(std::span<const uint8_t> page) {
  if (auto rows = RowsByLinePointers(page)) return rows;
  uint32_t rows = 0;
  size_t lowest_tuple = page.size();
  for (uint16_t offset = 1;; ++offset) {
    const size_t at = kPageHeaderSize + (offset - 1) * kLinePointerSize;
    if (at + kLinePointerSize > lowest_tuple) break;
    const LinePointer lp = LinePointerAt(page, offset);
    if (lp.flags != kLpNormal) continue;
    if (lp.off < at + kLinePointerSize || lp.len < kTupleHeaderSize || lp.off + lp.len > page.size()) break;
    ++rows;
    lowest_tuple = std::min<size_t>(lowest_tuple, lp.off);
  }
  return rows > 0 ? std::optional(rows) : std::nullopt;
}

}  // namespace pgrescue
