#include "libcontrol/reset/finish_backup.h"

#include "libcontrol/plan/evidence.h"

namespace pgrescue {

BackupFinish PlanBackupFinish(const DataDir& dir, const ControlFile& current, const PageScanReport& pages) {
  PlanOptions options;
  options.pages = &pages;
  const PlanEvidence e = GatherEvidence(dir, current.layout(), options);
  BackupFinish finish{ProveBackupEnd(e), std::nullopt};
  if (!finish.proof.proven) return finish;
  finish.control = current;
  finish.control->set(Field::kBackupEndPoint, finish.proof.end_point.value);
  return finish;
}

Refusal BackupEndRefusal(const BackupEndProof& proof) {
  return Refusal{"the copy cannot be proved consistent at the primary's shutdown: " + proof.missing,
                 "nothing was written; run pgrescue-plan for the other remedies, and give every WAL archive with "
                 "--wal-archive",
                 proof.evidence};
}

}  // namespace pgrescue
