// A directory's entries as read once: the value every layer that looks at
// files (WAL, SLRU, the data directory) passes around instead of re-reading.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pgrescue {

struct DirEntry {
  std::string name;
  uint64_t size = 0;   // SLRU directories only; 0 in WAL listings (see FileSize)
  bool is_dir = false;
};

struct DirListing {
  std::string path;        // as found (symlinks not resolved in the text)
  bool exists = false;
  std::vector<DirEntry> entries;  // sorted by name
};

// Size of a file in a listing, read now (WAL listings do not carry sizes).
uint64_t FileSize(const DirListing& listing, const std::string& name);

// Whether a listing holds a file of that name.
bool Contains(const DirListing& listing, const std::string& name);

}  // namespace pgrescue
