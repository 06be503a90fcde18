// The server's own view of pg_control: the groups and keys of
// pg_control_system(), pg_control_init(), pg_control_checkpoint() and
// pg_control_recovery() as row_to_json renders them (oid and xid columns as
// strings, times in ISO 8601 UTC), one schema for all versions (9.6's
// *_location keys are spelled *_lsn), plus a "control" group with the rest.
#pragma once

#include <nlohmann/json.hpp>

#include "libcontrol/control/control_file.h"

namespace pgrescue {

// Only the four SQL-function groups.
nlohmann::ordered_json ControlSqlView(const ControlFile& control);

// The SQL view plus "control": state, settings, nonce, CRC, layout, findings.
nlohmann::ordered_json ControlFileToJson(const ControlFileRead& read);

// "2026-11-21T17:25:46+00:00"
std::string FormatIsoUtc(int64_t seconds);

}  // namespace pgrescue
