// Nothing lost: every file a reset replaces or removes is first moved into a
// rescue folder with a manifest (path, size, mode, owner, SHA-256); every
// file it creates is recorded too, so Undo() can put the data directory back
// byte for byte. Writes are atomic and durable: temp file, fsync, rename,
// fsync the directory.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "libcontrol/result.h"

namespace pgrescue {

std::string Sha256Hex(std::span<const uint8_t> data);
Result<std::string> Sha256OfFile(const std::string& path);

struct FileOwner {
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t mode = 0600;
};

// Owner, group and mode new files should get: those of PG_VERSION, the file
// the server itself created at initdb.
Result<FileOwner> DataFileOwner(const std::string& data_dir);

// Writes `bytes` (then `zero_tail` zero bytes) to `path` atomically and
// durably, with `owner`.
Result<bool> WriteFileAtomically(const std::string& path, std::span<const uint8_t> bytes,
                                 uint64_t zero_tail, const FileOwner& owner);

struct RescuedFile {
  std::string path;  // relative to the data directory
  uint64_t size = 0;
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string sha256;
};

class RescueFolder {
 public:
  // Creates `dir` (which must not exist yet) for the data directory `data_dir`.
  static Result<RescueFolder> Create(const std::string& data_dir, const std::string& dir,
                                     const std::string& purpose);

  const std::string& dir() const { return dir_; }

  // Moves data_dir/`relative` into the folder (rename on one filesystem;
  // else copy, fsync, verify, remove) and records it.
  Result<bool> Keep(const std::string& relative);
  // Copies data_dir/`relative` into the folder and leaves it in place (for
  // files the server may overwrite later); Undo puts it back if it changed.
  Result<bool> KeepCopy(const std::string& relative);
  // Records a file the reset created (after it is written).
  Result<bool> NoteCreated(const std::string& relative);
  // Writes manifest.json durably; call after every change.
  Result<bool> SaveManifest() const;

  const std::vector<RescuedFile>& kept() const { return kept_; }

 private:
  Result<RescuedFile> Describe(const std::string& relative) const;

  RescueFolder(std::string data_dir, std::string dir, std::string purpose)
      : data_dir_(std::move(data_dir)), dir_(std::move(dir)), purpose_(std::move(purpose)) {}

  std::string data_dir_;
  std::string dir_;
  std::string purpose_;
  std::string created_at_;
  std::vector<RescuedFile> kept_;
  std::vector<RescuedFile> created_;
  std::vector<RescuedFile> copied_;
};

// The default place: <data_dir>.pgrescue/<UTC timestamp>/.
std::string DefaultRescueDir(const std::string& data_dir);

// The newest rescue folder of a data directory, for --undo without a path.
Result<std::string> NewestRescueDir(const std::string& data_dir);

// Removes what the reset created (if unchanged) and moves every kept file
// back, verifying its SHA-256. Returns a line per action.
Result<std::vector<std::string>> UndoRescue(const std::string& rescue_dir);

}  // namespace pgrescue
