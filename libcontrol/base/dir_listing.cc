#include "libcontrol/base/dir_listing.h"

#include <sys/stat.h>

#include <algorithm>

namespace pgrescue {

uint64_t FileSize(const DirListing& listing, const std::string& name) {
  struct stat st {};
  const std::string path = listing.path + "/" + name;
  return stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

bool Contains(const DirListing& listing, const std::string& name) {
  return std::binary_search(listing.entries.begin(), listing.entries.end(), DirEntry{name, 0, false},
                            [](const DirEntry& x, const DirEntry& y) { return x.name < y.name; });
}

}  // namespace pgrescue
