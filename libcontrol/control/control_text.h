// pg_controldata's report, byte for byte as the file's own version prints it
// (LANG=C; times in the local time zone, as pg_controldata does).
#pragma once

#include <string>
#include <string_view>

#include "libcontrol/control/control_file.h"

namespace pgrescue {

struct ControlDataReport {
  std::string out;  // what pg_controldata writes to stdout
  std::string err;  // what it writes to stderr (17 on: warnings), with `progname`
};

ControlDataReport FormatControlData(const ControlFileRead& read, std::string_view progname);

// pg_resetwal -n's first block: "Current pg_control values:" (or "Guessed …")
// and the fields a reset keeps, in that version's format.
std::string FormatResetwalValues(const ControlFile& control, bool guessed);

// One "label:   value" line, aligned as pg_controldata and pg_resetwal do.
std::string AlignedLine(std::string_view label, std::string_view value);

// Shared with the JSON view. Static text, so it may be kept.
std::string_view DbStateText(uint64_t state);
// The mock authentication nonce as pg_controldata prints it: 64 lower-case hex digits.
std::string NonceHex(const MockAuthNonce& nonce);
std::string WalLevelText(const ControlLayout& layout, int64_t wal_level);
// "%c" in local time, or "???" when the time cannot be converted.
std::string FormatLocalTime(int64_t seconds);
// The REDO segment name, or "???" for a segment size of 0 or less.
std::string RedoWalFileName(const ControlFile& control);

}  // namespace pgrescue
