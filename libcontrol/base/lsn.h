// WAL positions (XLogRecPtr) and their "X/X" text form.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "libcontrol/base/result.h"

namespace pgrescue {

enum class LsnStyle {
  kPlain,         // "%X/%X", 9.4 to 18
  kZeroPaddedLow, // "%X/%08X", 19 on
};

struct Lsn {
  uint64_t value = 0;

  uint32_t high() const { return static_cast<uint32_t>(value >> 32); }
  uint32_t low() const { return static_cast<uint32_t>(value); }
  auto operator<=>(const Lsn&) const = default;
};

std::string FormatLsn(Lsn lsn, LsnStyle style = LsnStyle::kPlain);

// Accepts "X/X" with one to eight hex digits on each side (as PostgreSQL's
// pg_lsn input does), upper or lower case.
Result<Lsn> ParseLsn(std::string_view text);

}  // namespace pgrescue
