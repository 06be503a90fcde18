// Process set-up for a tool that lists a whole pg_wal. 100,000 segments take
// some 12 MB of names, sort keys and index, and touching that memory page by
// page, not reading the directory, is then the larger cost: on some virtual
// machines a page fault costs 10 µs. So the heap is grown once by what the
// listing will need and populated in one call, and freed memory is kept for
// reuse instead of handed back. Process-wide, so it lives with the tool.
#pragma once

#include <malloc.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <string>

namespace pgrescue::cli {

inline void PrepareHeapForListing(const std::string& data_dir) {
  // An ext4 directory takes some 46 bytes per entry; the listing needs about
  // three times that.
  uint64_t dir_bytes = 0;
  for (const char* wal : {"/pg_wal", "/pg_xlog"}) {
    struct stat st {};
    if (stat((data_dir + wal).c_str(), &st) == 0) dir_bytes = std::max<uint64_t>(dir_bytes, st.st_size);
  }
  const size_t need = static_cast<size_t>(std::min<uint64_t>(dir_bytes * 3, uint64_t{256} << 20));
  if (need < (size_t{4} << 20)) return;  // a few thousand files: nothing worth tuning
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // large blocks from the heap, where freed ones are reused
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  mallopt(M_TOP_PAD, static_cast<int>(need));
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto before = reinterpret_cast<uintptr_t>(sbrk(0));
  // More than the heap's first free block, so that the heap grows by the
  // pad now (volatile: not elided).
  void* volatile grow = malloc(size_t{1} << 20);
  free(grow);
  const auto after = reinterpret_cast<uintptr_t>(sbrk(0));
  const uintptr_t start = (before + page - 1) & ~(page - 1);
  if (after <= start) return;
  // Huge pages where the kernel offers them, then every page at once; both
  // are advice, and an older kernel refusing them costs only the faults.
  madvise(reinterpret_cast<void*>(start), after - start, MADV_HUGEPAGE);
#ifdef MADV_POPULATE_WRITE
  madvise(reinterpret_cast<void*>(start), after - start, MADV_POPULATE_WRITE);
#endif
}

}  // namespace pgrescue::cli
