#include "libcontrol/base/lsn.h"

#include <fmt/format.h>

namespace pgrescue {
namespace {

bool ParseHex32(std::string_view s, uint32_t* out) {
  if (s.empty() || s.size() > 8) return false;
  uint32_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return false;
    v = (v << 4) | static_cast<uint32_t>(d);
  }
  *out = v;
  return true;
}

}  // namespace

std::string FormatLsn(Lsn lsn, LsnStyle style) {
  return style == LsnStyle::kZeroPaddedLow ? fmt::format("{:X}/{:08X}", lsn.high(), lsn.low())
                                           : fmt::format("{:X}/{:X}", lsn.high(), lsn.low());
}

Result<Lsn> ParseLsn(std::string_view text) {
  const auto slash = text.find('/');
  uint32_t hi = 0, lo = 0;
  if (slash == std::string_view::npos || !ParseHex32(text.substr(0, slash), &hi) ||
      !ParseHex32(text.substr(slash + 1), &lo)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "not a WAL location; expected two hexadecimal numbers of up to 8 digits "
                     "separated by a slash, such as 0/1703E78",
                     std::string(text));
  }
  return Lsn{(static_cast<uint64_t>(hi) << 32) | lo};
}

}  // namespace pgrescue
