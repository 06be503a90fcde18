#include "libcontrol/cluster/control_trust.h"

#include <algorithm>

#include <fmt/format.h>

namespace pgrescue {

ControlTrust JudgeControl(const DataDir& dir, const ControlLayout* expected) {
  ControlTrust t;
  if (!dir.control_present || !dir.control) {
    t.why = "global/pg_control is missing";
    return t;
  }
  if (!dir.control->ok()) {
    t.verdict = ControlVerdict::kUnreadable;
    t.why = "global/pg_control cannot be read: " + dir.control->error().message;
    return t;
  }
  t.read = &dir.control->value();
  const ControlLayout& layout = t.read->control.layout();
  t.implausible = std::any_of(t.read->findings.begin(), t.read->findings.end(),
                              [](const Finding& f) { return f.kind == FindingKind::kImplausibleValue; });
  if (expected != nullptr && &layout != expected) {
    t.verdict = ControlVerdict::kOtherVersion;
    t.why = fmt::format("global/pg_control has PostgreSQL {}'s layout, not {}'s", layout.major(), expected->major());
  } else if (!t.read->crc_ok() || t.implausible) {
    t.verdict = ControlVerdict::kGuessed;
    t.why = !t.read->crc_ok() ? "global/pg_control's CRC does not match its contents"
                              : "global/pg_control holds values no server writes";
  } else {
    t.verdict = ControlVerdict::kTrusted;
    t.trusted = &t.read->control;
    t.why = fmt::format("global/pg_control: PostgreSQL {}, CRC ok, every value plausible", layout.major());
  }
  return t;
}

}  // namespace pgrescue
