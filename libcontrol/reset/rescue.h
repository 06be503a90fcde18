// Nothing lost: every file a reset replaces or removes is first moved into a
// rescue folder with a manifest (path, size, mode, owner, SHA-256), and every
// file it creates is announced in the manifest before the first byte of it
// exists, so UndoRescue() can put the data directory back byte for byte after
// a crash at any point of the reset, or of an earlier undo.
//
// The manifest is the journal. Its rule: no name appears in the data
// directory unless the durable manifest already says pgrescue may have made
// it, and no file leaves the data directory unless the durable manifest
// already says where it went. Undo trusts nothing else, so it never removes a
// file that was there before the reset.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "libcontrol/base/result.h"

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
// durably: <path>.pgrescue-tmp is created (it must not exist), given `owner`'s
// owner, group and mode before any byte is written, filled, fsynced, renamed
// over `path`, and the directory fsynced. For files outside a rescue (the
// manifest itself); inside one, RescueFolder::WriteNew also journals.
Status WriteFileAtomically(const std::string& path, std::span<const uint8_t> bytes,
                                 uint64_t zero_tail, const FileOwner& owner);

struct RescuedFile {
  std::string path;  // relative to the data directory
  uint64_t size = 0;
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string sha256;
  // Created files only. The inode written, so undo still knows the file after
  // a server changed its bytes in place; 0 when unknown (older manifests).
  uint64_t inode = 0;
  // With the inode: its birth time, so a new file that got the same inode
  // number after the reset's was removed is not taken for it; 0 when the
  // filesystem keeps none.
  uint64_t birth_ns = 0;
  // Created files only: announced, but the write was not finished, so the
  // file cannot have been renamed into place yet.
  bool pending = false;
};

// manifest.json's contents.
struct Manifest {
  std::string data_dir;  // absolute
  std::string purpose;
  std::string created_at;
  std::vector<RescuedFile> kept;     // moved to files/<path>
  std::vector<RescuedFile> created;  // written by the reset
  std::vector<RescuedFile> copied;   // copied to copies/<path>, left in place
  // Data-directory-relative temporary names pgrescue announced before
  // creating them; each did not exist when announced, so removing one never
  // removes anything of the cluster's.
  std::vector<std::string> temps;
};

Result<Manifest> ReadManifest(const std::string& rescue_dir);
// Replaces rescue_dir/manifest.json atomically and durably.
Status WriteManifest(const std::string& rescue_dir, const Manifest& manifest);

struct CopyStats {
  uint64_t bytes = 0;      // size of the file kept by copy
  bool reflinked = false;  // shares the original's blocks (FICLONE); nothing was copied
};

// A rescue folder being filled by one reset. Every method leaves the manifest
// on disk saying at least as much as the data directory shows, so a crash
// between any two system calls is undone by UndoRescue. Not thread-safe; one
// object per rescue folder, which no other process writes while it lives.
class RescueFolder {
 public:
  // Creates `dir` (which must not exist yet) with an empty manifest, durably,
  // for the data directory `data_dir`.
  static Result<RescueFolder> Create(const std::string& data_dir, const std::string& dir,
                                     const std::string& purpose);

  // Valid while the folder object lives.
  const std::string& dir() const { return dir_; }

  // Moves data_dir/`relative` into the folder (rename on one filesystem;
  // else copy, fsync, verify, remove) after recording it.
  Status Keep(const std::string& relative);
  // Copies data_dir/`relative` into the folder and leaves it in place, for
  // files a server started later may rewrite, rename or remove; Undo puts it
  // back if it changed or went. A reflink where the filesystem can, else a
  // durable copy; the copy gets the original's owner and mode.
  Result<CopyStats> KeepCopy(const std::string& relative);
  // Creates data_dir/`relative`, which must not exist (Keep it first), with
  // `bytes` then `zero_tail` zero bytes: announces it and its temporary name,
  // writes the temporary file (owner and mode set before any byte), fsyncs,
  // records the finished file with its inode and SHA-256, then renames it into
  // place and fsyncs the directory. Refuses, recording nothing, when the
  // temporary name is taken (a leftover of an earlier run to look at).
  Status WriteNew(const std::string& relative, std::span<const uint8_t> bytes, uint64_t zero_tail,
                        const FileOwner& owner);
  // Writes manifest.json durably. The methods above call it themselves.
  Status SaveManifest() const;

  // References into the folder object: valid while it lives and until the
  // next Keep or KeepCopy.
  const std::vector<RescuedFile>& kept() const { return manifest_.kept; }
  const std::vector<RescuedFile>& copied() const { return manifest_.copied; }

 private:
  Result<RescuedFile> Describe(const std::string& relative) const;

  RescueFolder(std::string dir, Manifest manifest) : dir_(std::move(dir)), manifest_(std::move(manifest)) {}

  std::string dir_;
  Manifest manifest_;
};

// The default place: <data_dir>.pgrescue/<UTC timestamp>/.
std::string DefaultRescueDir(const std::string& data_dir);

// The newest rescue folder of a data directory, for --undo without a path.
Result<std::string> NewestRescueDir(const std::string& data_dir);

struct UndoReport {
  std::vector<std::string> done;          // a line per file put back, removed or found already so
  std::vector<std::string> not_restored;  // "path: why", a line per file left as it is
  bool complete() const { return not_restored.empty(); }
};

// Puts the data directory back as it was before the reset of `rescue_dir`:
// removes the temporary and new files the reset announced, and moves every
// kept file back (verifying its SHA-256). Checks every file before changing
// any; a path it cannot restore (kept copy missing or changed, or a file in
// the way that the reset did not create) is left entirely as it is and named
// in not_restored, and everything else is still done. Idempotent: run again
// after a crash or after fixing what it named, it finishes the job. Only a
// complete undo renames manifest.json to manifest.undone.json. It holds the
// data directory's lock meanwhile, taking over the one a stopped reset left;
// a partial undo leaves it for the next --undo.
// An Error means nothing was changed (no manifest, a server running).
Result<UndoReport> UndoRescue(const std::string& rescue_dir);

// Removes the lock a pgrescue run left when it stopped before its rescue
// folder had a manifest (so before it changed anything): a line saying
// whose it was, or "" when there was none. An Error when postmaster.pid is
// a server's or a live writer's.
Result<std::string> ClearStaleWriterLock(const std::string& data_dir);

}  // namespace pgrescue
