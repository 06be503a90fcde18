// Any bytes as postmaster.pid: never crashes, and what it returns keeps the
// contract callers rely on (a PID is positive and fits pid_t, line 7 gives
// both numbers or neither, the first line is a prefix of the input,
// line 8 exists only after seven newlines).
#include <algorithm>
#include <climits>
#include <cstdlib>
#include <string_view>

#include "libcontrol/cluster/liveness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto f = pgrescue::ParsePostmasterPid(text);
  if (f.pid && (*f.pid <= 0 || *f.pid > INT_MAX)) std::abort();
  if (f.single_user && !f.pid) std::abort();
  if (f.shm_key.has_value() != f.shm_id.has_value()) std::abort();
  if (f.shm_id && *f.shm_id < 0) std::abort();
  if (!text.starts_with(f.text_first_line)) std::abort();
  if (f.status && std::count(text.begin(), text.end(), '\n') < 7) std::abort();  // line 8 follows seven newlines
  return 0;
}
