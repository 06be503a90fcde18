#include "libcontrol/cluster/data_dir.h"

#include <dirent.h>
#include <unistd.h>
#include <sys/stat.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "libcontrol/base/file_bytes.h"

namespace pgrescue {
namespace fs = std::filesystem;
namespace {

// One directory entry as read. Its first 24 name bytes (all of a WAL file
// name) are held as three big-endian integers, so that sorting compares
// integers and copying names out in sorted order reads the keys in order;
// `offset` finds a longer name in the read's arena.
struct NameKey {
  uint64_t part[3];
  uint32_t offset;
  uint16_t length;
  bool is_dir;
};

NameKey MakeKey(std::string_view name, uint32_t offset, bool is_dir) {
  NameKey k{{}, offset, static_cast<uint16_t>(name.size()), is_dir};
  unsigned char padded[24] = {};
  std::memcpy(padded, name.data(), std::min(name.size(), sizeof padded));
  for (int p = 0; p < 3; ++p) {
    uint64_t v;
    std::memcpy(&v, padded + p * 8, 8);
    k.part[p] = std::endian::native == std::endian::little ? __builtin_bswap64(v) : v;
  }
  return k;
}

// Sorts the entries by name as std::string's operator< does and copies the
// names into `listing` in that order: readdir returns hash order, and every
// later pass over a 100,000-file pg_wal walks the names sorted, so sorted
// storage reads memory in order instead of at random.
void KeepSorted(std::string_view arena, std::vector<NameKey>& keys, DirListing* listing) {
  auto name = [&](const NameKey& k) { return arena.substr(k.offset, k.length); };
  // Names hold no NUL byte, so zero padding orders a prefix first, as
  // std::string does; equal first 24 bytes fall back to the whole name.
  std::sort(keys.begin(), keys.end(), [&](const NameKey& a, const NameKey& b) {
    for (int p = 0; p < 3; ++p) {
      if (a.part[p] != b.part[p]) return a.part[p] < b.part[p];
    }
    return a.length > 24 && b.length > 24 ? name(a) < name(b) : a.length < b.length;
  });
  size_t total = 0;
  for (const NameKey& k : keys) total += k.length;
  std::string sorted;
  sorted.reserve(total);
  for (const NameKey& k : keys) {
    if (k.length > 24) {
      sorted.append(name(k));
      continue;
    }
    char bytes[24];
    for (int p = 0; p < 3; ++p) {
      const uint64_t v = std::endian::native == std::endian::little ? __builtin_bswap64(k.part[p]) : k.part[p];
      std::memcpy(bytes + p * 8, &v, 8);
    }
    sorted.append(bytes, k.length);
  }
  const std::string_view kept = listing->Keep(std::move(sorted));
  listing->entries.reserve(keys.size());
  size_t at = 0;
  for (const NameKey& k : keys) {
    listing->entries.push_back({kept.substr(at, k.length), k.is_dir});
    at += k.length;
  }
}

// One name as read; names longer than a key's 24 bytes go to the arena.
void AddName(std::string_view name, bool is_dir, std::string* arena, std::vector<NameKey>* keys) {
  keys->push_back(MakeKey(name, static_cast<uint32_t>(arena->size()), is_dir));
  if (name.size() > 24) arena->append(name);
}

// readdir rather than std::filesystem: pg_wal can hold 100,000 files, and
// building a path object and a stat per entry dominates the scan. Only
// entries whose type readdir does not give are stat'ed.
DirListing List(const fs::path& dir) {
  DirListing out;
  out.path = dir.string();
  DIR* d = opendir(out.path.c_str());
  if (d == nullptr) return out;
  out.exists = true;
  const int fd = dirfd(d);
  std::string arena;
  std::vector<NameKey> keys;
  // A directory's size bounds its entry count: reserving that much spares
  // the copies of growing.
  struct stat dir_st {};
  if (fstat(fd, &dir_st) == 0 && dir_st.st_size > 0) {
    keys.reserve(std::min<size_t>(static_cast<size_t>(dir_st.st_size), size_t{1} << 28) / 32);
  }
  while (const dirent* ent = readdir(d)) {
    const std::string_view name(ent->d_name);
    if (name == "." || name == "..") continue;
    bool is_dir = ent->d_type == DT_DIR;
    if (ent->d_type == DT_UNKNOWN || ent->d_type == DT_LNK) {
      struct stat st {};
      if (fstatat(fd, ent->d_name, &st, 0) == 0) is_dir = S_ISDIR(st.st_mode);
    }
    AddName(name, is_dir, &arena, &keys);
  }
  closedir(d);
  KeepSorted(arena, keys, &out);
  return out;
}

std::optional<std::string> FirstLine(const fs::path& p) {
  const auto text = ReadSmallText(p.string(), 4096);
  if (!text || text->empty()) return std::nullopt;
  std::string line = text->substr(0, text->find('\n'));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

// The OID a relation file name carries: "16384", "16384_fsm", "16384.2",
// "t3_16384" (temporary). nullopt for anything else.
std::optional<uint64_t> RelationOid(const std::string& name) {
  size_t i = 0;
  if (!name.empty() && name[0] == 't') {
    const auto us = name.find('_');
    if (us == std::string::npos) return std::nullopt;
    i = us + 1;
  }
  size_t j = i;
  while (j < name.size() && name[j] >= '0' && name[j] <= '9') ++j;
  if (j == i || j - i > 10) return std::nullopt;
  if (j < name.size() && name[j] != '_' && name[j] != '.') return std::nullopt;
  return std::stoull(name.substr(i, j - i));
}

// A small text file whole (64 KiB at most: a label is a few lines).
std::optional<std::string> SmallFile(const fs::path& p) { return ReadSmallText(p.string(), 64 * 1024); }

std::optional<uint16_t> PageSizeVersion(const fs::path& file) {
  const auto head = ReadFileHead(file.string(), 24);
  if (!head || head->bytes.size() < 24) return std::nullopt;
  return static_cast<uint16_t>(head->bytes[18] | (head->bytes[19] << 8));
}

void NoteRelations(const fs::path& dir, DataDir* out) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const auto oid = RelationOid(name);
    if (!oid) continue;
    ++out->relation_files;
    if (!out->max_relation_oid || *oid > *out->max_relation_oid) {
      out->max_relation_oid = *oid;
      out->max_relation_oid_path = it->path().string();
    }
    std::error_code ec2;
    if (!out->page_size_from_relation && name.find_first_not_of("0123456789") == std::string::npos &&
        it->file_size(ec2) >= 8192 && !ec2) {
      out->page_size_from_relation = PageSizeVersion(it->path());
    }
  }
}

void NoteOid(const std::string& name, const fs::path& where, DataDir* out) {
  if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos || name.size() > 10) return;
  const uint64_t oid = std::stoull(name);
  if (!out->max_relation_oid || oid > *out->max_relation_oid) {
    out->max_relation_oid = oid;
    out->max_relation_oid_path = where.string();
  }
}

void ScanRelations(const fs::path& root, DataDir* out) {
  std::error_code ec;
  NoteRelations(root / "global", out);
  for (fs::directory_iterator db(root / "base", ec), end; !ec && db != end; db.increment(ec)) {
    NoteOid(db->path().filename().string(), db->path(), out);
    NoteRelations(db->path(), out);
  }
  // pg_tblspc/<oid>/PG_<major>_<catversion>/<database oid>/<files>
  for (fs::directory_iterator ts(root / "pg_tblspc", ec), end; !ec && ts != end; ts.increment(ec)) {
    NoteOid(ts->path().filename().string(), ts->path(), out);
    std::error_code ec2;
    for (fs::directory_iterator ver(ts->path(), ec2); !ec2 && ver != end; ver.increment(ec2)) {
      std::error_code ec3;
      for (fs::directory_iterator db(ver->path(), ec3); !ec3 && db != end; db.increment(ec3)) {
        NoteOid(db->path().filename().string(), db->path(), out);
        NoteRelations(db->path(), out);
      }
    }
  }
}

}  // namespace

DirListing ListingOfNames(const std::string& path, const std::vector<DirEntry>& entries) {
  DirListing out;
  out.path = path;
  out.exists = true;
  std::string arena;
  std::vector<NameKey> keys;
  keys.reserve(entries.size());
  for (const DirEntry& e : entries) AddName(e.name, e.is_dir, &arena, &keys);
  KeepSorted(arena, keys, &out);
  return out;
}

bool SettingIsOn(const DataDir& dir, const std::string& name) {
  const auto it = dir.settings.find(name);
  if (it == dir.settings.end() || it->second.empty()) return false;
  std::string v = it->second;
  std::transform(v.begin(), v.end(), v.begin(), ::tolower);
  if (v == "1") return true;
  // parse_bool: "on" needs two letters ("o" alone is ambiguous); others any prefix.
  for (const std::string_view word : {"true", "yes"}) {
    if (word.starts_with(v)) return true;
  }
  return v.size() >= 2 && std::string_view("on").starts_with(v);
}

namespace {

void ReadSettings(const fs::path& file, std::map<std::string, std::string>* settings) {
  // A configuration file is a few hundred lines; 16 MiB is not one.
  ParseSettings(ReadSmallText(file.string(), 16 << 20).value_or(""), settings);
}

}  // namespace

void ParseSettings(std::string_view text, std::map<std::string, std::string>* settings) {
  // Where the server logs, for the symptoms (server_log.h), and
  // recovery.conf's standby_mode (up to 11).
  static const std::vector<std::string> wanted = [] {
    auto names = ControlRelevantSettings();
    names.insert(names.end(), {"log_directory", "log_filename", "standby_mode"});
    return names;
  }();
  // Views, not copies: a 30 kB file is 800 lines, and copying each line and
  // its pieces was most of the time.
  auto trim = [](std::string_view s) {
    const auto b = s.find_first_not_of(" \t");
    const auto e = s.find_last_not_of(" \t\r");
    s = b == std::string_view::npos ? std::string_view() : s.substr(b, e - b + 1);
    if (s.size() >= 2 && s.front() == '\'' && s.back() == '\'') s = s.substr(1, s.size() - 2);
    return s;
  };
  for (size_t at = 0; at < text.size();) {
    const size_t end = std::min(text.find('\n', at), text.size());
    std::string_view line = text.substr(at, end - at);
    at = end + 1;
    line = line.substr(0, line.find('#'));
    const auto eq = line.find('=');
    const bool has_eq = eq != std::string_view::npos;
    const std::string_view raw_name = line.substr(0, has_eq ? eq : line.find_first_of(" \t"));
    const std::string_view value = trim(has_eq ? line.substr(eq + 1) : line.substr(raw_name.size()));
    std::string name(trim(raw_name));
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    if (std::find(wanted.begin(), wanted.end(), name) != wanted.end() && !value.empty()) {
      (*settings)[name] = std::string(value);
    }
  }
}

namespace {

// The directory name the version table gives for this purpose (pg_wal or
// pg_xlog, ...) that exists in `root`; the newest version's when none does.
std::string NameInUse(const fs::path& root, std::string_view (ControlLayout::*name)() const) {
  const auto layouts = AllControlLayouts();
  std::error_code ec;
  for (auto l = layouts.rbegin(); l != layouts.rend(); ++l) {
    if (fs::exists(root / std::string(((*l).*name)()), ec)) return std::string(((*l).*name)());
  }
  return std::string((layouts.back().*name)());
}

}  // namespace

std::optional<uint32_t> BlockSizeFromRelation(const DataDir& dir) {
  const uint32_t size = dir.page_size_from_relation.value_or(0) & 0xFF00;
  if (size >= 1024 && std::has_single_bit(size)) return size;
  return std::nullopt;
}

std::vector<const DirListing*> WalListings(const DataDir& dir) {
  std::vector<const DirListing*> out = {&dir.wal};
  for (const auto& a : dir.wal_archives) out.push_back(&a);
  return out;
}

const std::vector<std::string>& ControlRelevantSettings() {
  static const std::vector<std::string> names = {
      "max_connections",  "max_worker_processes", "max_wal_senders",        "max_prepared_transactions",
      "max_locks_per_transaction", "wal_level", "wal_log_hints", "track_commit_timestamp"};
  return names;
}

Result<DataDir> ScanDataDir(const std::string& root_text, const std::vector<std::string>& wal_archives) {
  const fs::path root(root_text);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    return MakeError(ErrorCode::kIo, "does not exist or is not a directory", root_text);
  }
  DataDir d;
  d.root = root_text;
  d.pg_version = FirstLine(root / "PG_VERSION");
  d.control_present = fs::exists(root / "global" / "pg_control", ec);
  if (d.control_present) d.control = ReadControlFile((root / "global" / "pg_control").string());

  const fs::path wal = root / NameInUse(root, &ControlLayout::wal_dir);
  d.wal = List(wal);
  d.wal_archive_status = List(wal / "archive_status");
  d.wal_summaries = List(wal / "summaries");
  for (const auto& a : wal_archives) d.wal_archives.push_back(List(a));
  d.xact = List(root / NameInUse(root, &ControlLayout::xact_dir));
  d.multixact_offsets = List(root / "pg_multixact" / "offsets");
  d.multixact_members = List(root / "pg_multixact" / "members");
  d.commit_ts = List(root / "pg_commit_ts");
  ScanRelations(root, &d);

  d.backup_label = fs::exists(root / "backup_label", ec);
  d.backup_label_old = fs::exists(root / "backup_label.old", ec);
  if (d.backup_label) d.backup_label_text = SmallFile(root / "backup_label");
  d.tablespace_map = fs::exists(root / "tablespace_map", ec);
  d.recovery_signal = fs::exists(root / "recovery.signal", ec);
  d.standby_signal = fs::exists(root / "standby.signal", ec);
  d.recovery_conf = fs::exists(root / "recovery.conf", ec);
  d.live = CheckDirectoryUse(root_text);
  d.postmaster_pid = d.live.pid_file || fs::exists(root / "postmaster.pid", ec);
  ReadSettings(root / "postgresql.conf", &d.settings);
  ReadSettings(root / "postgresql.auto.conf", &d.settings);
  if (d.recovery_conf) ReadSettings(root / "recovery.conf", &d.settings);
  d.standby = d.standby_signal || (d.recovery_conf && SettingIsOn(d, "standby_mode"));
  return d;
}

}  // namespace pgrescue
