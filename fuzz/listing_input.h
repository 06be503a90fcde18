// Fuzz input as a directory's entries: one name a line, a trailing '/' for a
// subdirectory, as `ls -p` prints them. Lines no directory can hold (empty,
// "." or "..", a NUL or '/' inside, over 255 bytes, a name seen before) are
// dropped. The listing is the one a read of that directory gives, and must
// come out sorted as std::string sorts, each name with its own kind.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "libcontrol/cluster/data_dir.h"

namespace pgrescue_fuzz {

inline pgrescue::DirListing ListingFromInput(const uint8_t* data, size_t size, const std::string& path) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<pgrescue::DirEntry> entries;
  std::set<std::string_view> seen;
  for (size_t at = 0; at < text.size();) {
    const size_t end = std::min(text.find('\n', at), text.size());
    std::string_view name = text.substr(at, end - at);
    at = end + 1;
    const bool is_dir = name.ends_with('/');
    if (is_dir) name.remove_suffix(1);
    if (name.empty() || name == "." || name == ".." || name.size() > 255 ||
        name.find_first_of(std::string_view("\0/", 2)) != std::string_view::npos || !seen.insert(name).second) {
      continue;
    }
    entries.push_back({name, is_dir});
  }
  auto listing = pgrescue::ListingOfNames(path, entries);
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  if (listing.entries.size() != entries.size()) std::abort();
  for (size_t i = 0; i < entries.size(); ++i) {
    if (listing.entries[i].name != entries[i].name || listing.entries[i].is_dir != entries[i].is_dir) std::abort();
  }
  return listing;
}

}  // namespace pgrescue_fuzz
