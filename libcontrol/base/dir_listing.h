// A directory's entries as read once: the value every layer that looks at
// files (WAL, SLRU, the data directory) passes around instead of re-reading.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pgrescue {

// An entry's name views the listing's own storage: it lives as long as any
// copy of the listing it came from. Copy it into a std::string to keep it
// longer.
struct DirEntry {
  std::string_view name;
  bool is_dir = false;
};

struct DirListing {
  std::string path;        // as found (symlinks not resolved in the text)
  bool exists = false;
  std::vector<DirEntry> entries;  // sorted by name

  // Adds an entry whose name the listing keeps; callers that add keep the
  // entries sorted themselves. Earlier entries stay valid.
  void Add(std::string_view name, bool is_dir = false);
  // Hands the listing a block of names its entries view (a directory read
  // keeps all its names in one string: one allocation, not one per name).
  const std::string& Keep(std::string names);

 private:
  // Shared by copies; elements never move once added.
  std::shared_ptr<std::deque<std::string>> names_;
};

// Size of a file in a listing, read now (listings carry no sizes: a stat
// per entry is most of the cost of reading a 100,000-file pg_wal).
uint64_t FileSize(const DirListing& listing, std::string_view name);

// Whether a listing holds a file of that name.
bool Contains(const DirListing& listing, std::string_view name);

}  // namespace pgrescue
