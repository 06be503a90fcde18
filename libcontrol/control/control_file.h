// pg_control as a version-neutral model, and its exact byte form per version.
//
// ParseControlFile() picks the layout from the bytes themselves (pg_control
// version, then catalog version, then which CRC validates), reads every field
// that layout has, and reports what looks wrong without refusing to read:
// a CRC mismatch or an implausible value is a Finding, not an error, because
// the DBA needs to see a damaged file. Errors are reserved for bytes that
// cannot be read as any known pg_control at all.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "libcontrol/control/control_fields.h"
#include "libcontrol/control/control_layout.h"
#include "libcontrol/base/result.h"

namespace pgrescue {

using MockAuthNonce = std::array<uint8_t, kMockAuthNonceLength>;

// DBState values, the same in every supported version.
enum class DbState : uint32_t {
  kStartup = 0,
  kShutdowned = 1,
  kShutdownedInRecovery = 2,
  kShutdowning = 3,
  kInCrashRecovery = 4,
  kInArchiveRecovery = 5,
  kInProduction = 6,
};

class ControlFile {
 public:
  // `layout` must outlive the ControlFile; the layouts of AllControlLayouts()
  // live for the whole program, so any of them will do.
  explicit ControlFile(const ControlLayout& layout) : layout_(&layout) {}

  const ControlLayout& layout() const { return *layout_; }

  // A field the layout lacks is absent: get() returns nullopt, never 0.
  bool has(Field field) const { return values_[Index(field)].has_value(); }
  std::optional<uint64_t> get(Field field) const { return values_[Index(field)]; }
  // The stored value; 0 when absent. For fields the caller knows exist.
  uint64_t value(Field field) const { return values_[Index(field)].value_or(0); }
  // Signed view of an int/enum field.
  int64_t signed_value(Field field) const;
  // Sets a field the layout has; returns false (and changes nothing) otherwise.
  bool set(Field field, uint64_t value);
  void clear(Field field) { values_[Index(field)].reset(); }

  const std::optional<MockAuthNonce>& nonce() const { return nonce_; }
  void set_nonce(const MockAuthNonce& nonce) { nonce_ = nonce; }

  // The 64-bit next XID (epoch << 32 | xid), whatever the layout stores.
  uint64_t next_full_xid() const {
    return (value(Field::kNextXidEpoch) << 32) | value(Field::kNextXid);
  }

 private:
  static size_t Index(Field f) { return static_cast<size_t>(f); }

  const ControlLayout* layout_;  // not owned; see the constructor
  std::array<std::optional<uint64_t>, kFieldCount> values_{};
  std::optional<MockAuthNonce> nonce_;
};

enum class FindingKind {
  kCrcMismatch,
  kUnexpectedFileSize,
  kCatalogVersionOutOfRange,
  kImplausibleValue,
};

struct Finding {
  FindingKind kind;
  std::string message;
};

struct ControlFileRead {
  ControlFile control;
  uint32_t crc_stored = 0;
  uint32_t crc_computed = 0;
  bool crc_ok() const { return crc_stored == crc_computed; }
  std::vector<Finding> findings;  // empty for a healthy file
};

// `source` names the file in messages (may be empty).
Result<ControlFileRead> ParseControlFile(std::span<const uint8_t> bytes,
                                         const std::string& source = {});

// Reads `path` and parses it.
Result<ControlFileRead> ReadControlFile(const std::string& path);

// 8192 bytes in `layout`, every field from `control`, padding zero, CRC
// computed. Fails if `layout` has a field that `control` lacks.
Result<std::vector<uint8_t>> SerializeControlFile(const ControlFile& control,
                                                  const ControlLayout& layout);
inline Result<std::vector<uint8_t>> SerializeControlFile(const ControlFile& control) {
  return SerializeControlFile(control, control.layout());
}

// Implausible values in a parsed model (also run by ParseControlFile).
std::vector<Finding> CheckPlausibility(const ControlFile& control);

}  // namespace pgrescue
