// Any text as PostgreSQL's programs' output (tool_output.h): never crashes;
// every table named comes from the text, a version line gives a major that
// orders, and a zeroed block's relation is in the notice. Seeds: the real
// outputs in fixtures/salvage.
#include <cstdlib>
#include <string>
#include <string_view>

#include "libcontrol/salvage/binaries.h"
#include "libcontrol/salvage/tool_output.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const auto& [schema, table] : pgrescue::TablesPgDumpCouldNotRead(text)) {
    if (table.size() > size || schema.size() > size) std::abort();
  }
  if (const auto v = pgrescue::ParseVersionLine(text)) {
    if (v->major.empty() || pgrescue::MajorNumber(v->major) <= 0 || !v->version.starts_with(v->major)) std::abort();
  }
  for (const auto& [schema, table] : pgrescue::TablesServerCrashedOn(text)) {
    if (table.size() > size || schema.size() > size) std::abort();
  }
  for (const auto& [oid, id] : pgrescue::TableDataIds(text)) {
    // Both numbers come from a line of the listing.
    if (text.find(std::to_string(id) + "; ") == std::string_view::npos ||
        text.find(std::to_string(oid) + " TABLE DATA ") == std::string_view::npos) {
      std::abort();
    }
  }
  if (const auto z = pgrescue::ZeroedBlock(text)) {
    if (text.find(z->second) == std::string_view::npos) std::abort();
  }
  return 0;
}
