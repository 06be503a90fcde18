#include "libcontrol/base/dir_listing.h"

#include <sys/stat.h>

#include <algorithm>

namespace pgrescue {

const std::string& DirListing::Keep(std::string names) {
  if (!names_) names_ = std::make_shared<std::deque<std::string>>();
  return names_->emplace_back(std::move(names));
}

void DirListing::Add(std::string_view name, bool is_dir) {
  entries.push_back({Keep(std::string(name)), is_dir});
}

uint64_t FileSize(const DirListing& listing, std::string_view name) {
  struct stat st {};
  const std::string path = listing.path + "/" + std::string(name);
  return stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

bool Contains(const DirListing& listing, std::string_view name) {
  return std::binary_search(listing.entries.begin(), listing.entries.end(), DirEntry{name, false},
                            [](const DirEntry& x, const DirEntry& y) { return x.name < y.name; });
}

}  // namespace pgrescue
