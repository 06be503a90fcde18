// Reading the files of a data directory that may be damaged or hostile.
// Only regular files are read: a FIFO where pg_control belongs would block
// the reader forever, a directory fails part-way, a device never ends. And
// where a file has a known size, only so much of it is read: an 8 GB sparse
// file where a label belongs is not a label. Catalogs and pg_xact segments
// are read whole, in one read where the kernel allows.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "libcontrol/base/result.h"

namespace pgrescue {

// The first `limit` bytes of the regular file `path` (all of it when it is
// shorter), and its whole size. An error names the path and what it is
// instead: missing, a directory, a FIFO, unreadable.
struct FileHead {
  std::vector<uint8_t> bytes;
  uint64_t size = 0;
};
Result<FileHead> ReadFileHead(const std::string& path, uint64_t limit);

// The text of a small regular file (at most `limit` bytes of it), or
// nullopt when it is missing, not a regular file, or unreadable.
std::optional<std::string> ReadSmallText(const std::string& path, uint64_t limit = 64 * 1024);

// Appends the bytes of the regular file `path`, `limit` at most, to `out`;
// false (and `out` as it was) when it is not one, or cannot be opened or read.
bool AppendFileBytes(const std::string& path, std::vector<uint8_t>* out, uint64_t limit = UINT64_MAX);

// Opens the regular file `path` read-only, without blocking on a FIFO:
// the descriptor, or -1 with errno set (EISDIR for a directory, EINVAL for
// anything else that is not a regular file).
int OpenRegularFile(const std::string& path);

}  // namespace pgrescue
