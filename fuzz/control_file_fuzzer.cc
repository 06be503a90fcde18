// Any bytes: parsing never crashes; whatever parses prints, converts to JSON
// and writes back to bytes that parse to the same values.
#include <cstdlib>

#include "libcontrol/control/control_file.h"
#include "libcontrol/control/control_json.h"
#include "libcontrol/control/control_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto read = pgrescue::ParseControlFile({data, size});
  if (!read.ok()) return 0;
  (void)pgrescue::FormatControlData(*read, "fuzz");
  (void)pgrescue::ControlFileToJson(*read).dump();
  auto bytes = pgrescue::SerializeControlFile(read->control);
  if (!bytes.ok()) std::abort();
  auto again = pgrescue::ParseControlFile(*bytes);
  if (!again.ok() || !again->crc_ok()) std::abort();
  for (size_t f = 0; f < pgrescue::kFieldCount; ++f) {
    const auto field = static_cast<pgrescue::Field>(f);
    if (again->control.get(field) != read->control.get(field)) std::abort();
  }
  if (again->control.nonce() != read->control.nonce()) std::abort();
  return 0;
}
