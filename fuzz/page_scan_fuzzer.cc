// Any bytes as one data page (after a 4-byte block number): the verdict never
// reads outside the page and agrees with the rule it stands for. All zeros
// and only all zeros is new; a page given its own checksum is judged by its
// header alone; a refused page always has a reason to print.
#include <algorithm>
#include <cstdlib>
#include <vector>

#include "libcontrol/base/bytes.h"
#include "libcontrol/pages/page_checksum.h"
#include "libcontrol/pages/page_check.h"

using pgrescue::CheckPage;
using pgrescue::PageKind;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const uint32_t block = pgrescue::Le32(data);
  std::vector<uint8_t> page(data + 4, data + size);  // exactly sized, so ASan sees overreads
  const auto plain = CheckPage(page, block, false);
  const auto checked = CheckPage(page, block, true);
  const bool zeros = std::all_of(page.begin(), page.end(), [](uint8_t b) { return b == 0; });
  if (page.size() >= 24 && (plain.kind == PageKind::kNew) != zeros) std::abort();
  if (plain.lsn != checked.lsn || plain.header_sane != checked.header_sane) std::abort();
  const bool mismatch = checked.checksum_stored != checked.checksum_computed;
  if (checked.kind == PageKind::kValid && (!plain.header_sane || mismatch)) std::abort();
  if ((checked.kind == PageKind::kInvalid) != (pgrescue::ProblemOf(checked) != pgrescue::PageProblem::kNone)) {
    std::abort();
  }
  if (checked.kind != PageKind::kValid && checked.kind != PageKind::kNew &&
      pgrescue::DescribeInvalidPage(page, checked).empty()) {
    std::abort();
  }
  if (page.size() >= 24 && pgrescue::Le16(page.data() + 14) != 0) {
    pgrescue::StoreLittleEndian(page.data() + 8, 2, pgrescue::PageChecksum(page, block));
    if (CheckPage(page, block, true).kind != plain.kind) std::abort();
  }
  return 0;
}
