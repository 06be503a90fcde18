// A whole file's bytes in one read where the kernel allows: catalogs and
// pg_xact segments are read whole, and byte-at-a-time streams cost more
// than the reading.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pgrescue {

// Appends the bytes of `path` to `out`; false (and `out` as it was) when it
// cannot be opened or read.
bool AppendFileBytes(const std::string& path, std::vector<uint8_t>* out);

}  // namespace pgrescue
