// What a reset writes and the one sequence that writes it: keep every file it
// replaces or removes in a rescue folder, then write the new ones. Used by the
// WAL reset and by --from-wal alike. Everything here holds values: no
// function keeps a reference to its arguments past the call, and no result
// points into them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "libcontrol/base/result.h"
#include "libcontrol/cluster/data_dir.h"
#include "libcontrol/control/control_file.h"
#include "libcontrol/control/control_layout.h"
#include "libcontrol/plan/planner.h"
#include "libcontrol/reset/reset.h"

namespace pgrescue {

// What a reset moves away (data-directory-relative): pg_control, WAL
// segments (and .partial), their archive_status entries, and (17 on) WAL
// summaries. `segment_size` is the cluster's current one.
std::vector<std::string> FilesToKeep(const DataDir& dir, uint64_t segment_size);

// What --from-wal copies and leaves in place: every WAL segment and its
// archive_status entries, since the started server overwrites, recycles or
// removes them.
std::vector<std::string> WalFilesToCopy(const DataDir& dir, uint64_t segment_size);

// The WAL page magic the cluster's server expects: that of the first long
// page header in its WAL, else the version table's first.
uint16_t ChooseMagic(const ControlLayout& layout, const DataDir& dir);

// --auto: every value the plan derives that `request` does not give yet, and
// the lines that say so (each value with its reasoning, then a blank line).
std::string TakePlannedValues(const Plan& plan, ResetRequest* request);

// Every pg_control field whose value `after` changes, in the SQL view's
// names, then the state; `before_known` false prints "(rebuilt)" as old value.
std::string DescribeControlChanges(const ControlFile& before, const ControlFile& after, bool before_known);

// After a reset: a line for each of recovery.signal, standby.signal and
// recovery.conf still in `data_dir`, saying how the server will start.
std::string DescribeSignalFilesLeft(const std::string& data_dir);

struct NewFile {
  std::string path;  // data-directory-relative
  std::vector<uint8_t> bytes;
  uint64_t zero_tail = 0;  // zero bytes after `bytes`
};

// One reset's writes, in the order they happen: copies (left in place), then
// moves, then the new files.
struct ResetWrites {
  std::string purpose;              // the manifest's
  std::vector<std::string> copy;    // RescueFolder::KeepCopy
  std::vector<std::string> keep;    // RescueFolder::Keep
  std::vector<NewFile> write;       // RescueFolder::WriteNew, with the data files' owner
};

// A WAL reset: every file FilesToKeep names is moved, then the new
// pg_control and the new WAL segment (one checkpoint page, then zeros) are
// written.
Result<ResetWrites> WritesForReset(const DataDir& dir, const ControlFile& current, const ResetOutcome& outcome);

// --from-wal: the WAL is copied, pg_control kept and written anew.
Result<ResetWrites> WritesForFromWal(const DataDir& dir, const ControlFile& control, uint64_t segment_size);

// pg_control alone kept and written anew (--finish-backup).
Result<ResetWrites> WritesForControl(const ControlFile& control, const std::string& purpose);

struct Applied {
  Status status;           // ok, or why it stopped
  std::string rescue_dir;  // the rescue folder, once it exists (empty before)
  bool started = false;    // the folder's manifest may name files: only --undo puts them back
  size_t kept = 0;         // files moved
  size_t wal_copies = 0;   // WAL segments copied (archive_status entries not counted)
  uint64_t copied_bytes = 0, reflinked_bytes = 0;
  std::vector<std::string> warnings;  // done, but something to tell (the lock not removed)
  // Stopped after the first file was kept or written: the data directory is
  // part-way, and `pgrescue-reset --undo rescue_dir` puts it back.
  bool needs_undo() const { return !status.ok() && started; }
};

// Takes the data directory's lock (writer_lock.h), creates the rescue
// folder `rescue_dir` and carries out `writes` there and in `data_dir`. New
// files get the owner of the data directory's files, mode 0600 (0640 where
// the cluster allows group read). Stops at the first error;
// everything done so far is in the folder's manifest, and when that is
// anything the lock stays for --undo to take over.
Applied ApplyWrites(const std::string& data_dir, const std::string& rescue_dir, const ResetWrites& writes);

}  // namespace pgrescue
