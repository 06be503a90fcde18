// -m and -O from pg_multixact/offsets and members, pg_control and WAL.
#include <fmt/format.h>

#include "libcontrol/plan/derive_common.h"

namespace pgrescue {

PlannedValue DeriveMultiXacts(const PlanEvidence& e) {
  PlannedValue v = NewValue("-m", "--multixact-ids", "next and oldest MultiXact ID");
  const SlruEvidence& offsets = e.offsets;
  uint64_t next = 0, oldest = 0;
  if (offsets.run) {
    v.reasoning.push_back(RunText(offsets));
    next = NextBoundary(offsets);
    oldest = offsets.layout->FirstIdOf(offsets.run->first);
    v.reasoning.push_back(fmt::format("next = start of the segment after {} = {}; oldest = start of {} = {}",
                                      offsets.layout->FileName(offsets.run->last), next,
                                      offsets.layout->FileName(offsets.run->first), oldest));
    if (next < kFirstMultiXactId) {
      next = kFirstMultiXactId;
      v.reasoning.push_back("next wraps to 0, which is invalid: 1");
    }
    if (oldest < kFirstMultiXactId) oldest = kFirstMultiXactId;
    if (e.control) {
      next = LaterNext(offsets, next, e.Pc(Field::kNextMulti), "NextMultiXactId", &v);
      oldest = OldestWithin(offsets, oldest, next, e.Pc(Field::kOldestMulti), "oldestMultiXid", &v);
    } else {
      v.confidence = Confidence::kMedium;
    }
  } else if (e.control) {
    next = e.Pc(Field::kNextMulti);
    oldest = e.Pc(Field::kOldestMulti);
    v.reasoning.push_back(fmt::format("no offsets segments; pg_control says {} and {}", next, oldest));
    v.confidence = Confidence::kMedium;
  } else {
    v.reasoning.push_back("no offsets segments and no usable pg_control: cannot be derived");
    v.in_command = false;
    v.confidence = Confidence::kLow;
    return v;
  }
  next = AtLeastWal(e.proof.next_multi, next, &offsets, &v);
  next = AtLeastPages(e.pages.tuples.newest_multixact, e.pages.tuples.newest_multixact_where, "MultiXactId", 1, next,
                      &offsets, &v);
  next = ReadableStart(offsets, next, &v);
  v.value = fmt::format("{},{}", next, oldest);
  return v;
}

PlannedValue DeriveMultiXactOffset(const PlanEvidence& e) {
  PlannedValue v = NewValue("-O", "--multixact-offset", "next MultiXact offset");
  const SlruEvidence& members = e.members;
  uint64_t next = 0;
  if (members.run) {
    v.reasoning.push_back(RunText(members));
    next = NextBoundary(members);
    v.reasoning.push_back(fmt::format("next = start of the segment after {} = {}",
                                      members.layout->FileName(members.run->last), next));
    if (e.control) {
      next = LaterNext(members, next, e.Pc(Field::kNextMultiOffset), "NextMultiOffset", &v);
    } else {
      v.confidence = Confidence::kMedium;
    }
  } else if (e.control) {
    next = e.Pc(Field::kNextMultiOffset);
    v.reasoning.push_back(fmt::format("no members segments; pg_control says {}", next));
    v.confidence = Confidence::kMedium;
  } else {
    v.reasoning.push_back("no members segments and no usable pg_control: cannot be derived");
    v.in_command = false;
    v.confidence = Confidence::kLow;
    return v;
  }
  // 64-bit offsets never wrap, and WAL's bound is 32-bit arithmetic.
  if (!e.layout->rules().multixact_offsets_64bit) next = AtLeastWal(e.proof.next_multi_offset, next, &members, &v);
  next = ReadableStart(members, next, &v);
  v.value = fmt::format("{}", next);
  return v;
}

}  // namespace pgrescue
