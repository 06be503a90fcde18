// Each derivation on its own, over evidence built by hand from the real
// pg15 fixture: pg_control.shutdown (NextXID 0:3727, oldestXID 716,
// NextMultiXactId 6001, oldestMultiXid 1, NextMultiOffset 12001, NextOID
// 16391, commit timestamps 724..3726, REDO 0/1703EF0 on timeline 1, per
// pg_controldata.shutdown.txt) and the SLRU and WAL files of listing.txt
// (pg_xact/0000 8192, offsets/0000 24576, members/0000 65536,
// pg_commit_ts/0000 40960 bytes, pg_wal/000000010000000000000001).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "libcontrol/control/control_file.h"
#include "libcontrol/plan/derivations.h"
#include "libcontrol/plan/derive_common.h"
#include "libcontrol/plan/evidence.h"
#include "libcontrol/plan/hazards.h"
#include "tests/fixtures.h"

namespace pgrescue {
namespace {

using testing::FixturesDir;

class DerivationsTest : public ::testing::Test {
 protected:
  // Evidence for `version`'s fixture with a trusted pg_control (unless
  // `with_control` is false) and the SLRU files of listing.txt.
  void Use(const std::string& version, bool with_control = true) {
    auto read = ReadControlFile((FixturesDir() / version / "pg_control.shutdown").string());
    ASSERT_TRUE(read.ok());
    control_.emplace(read->control);
    layout_ = &control_->layout();
    dir_.root = scratch_.path().string();
    dir_.wal = Listing("pg_wal", {{"000000010000000000000001", 0}});
    e_.dir = &dir_;
    e_.layout = layout_;
    e_.control = with_control ? &*control_ : nullptr;
    e_.geometry.block_size = 8192;
    e_.geometry.segment_size = 16u << 20;
    e_.geometry.segment_size_source = "pg_control";
    SetXact({{"0000", 8192}});
    e_.offsets = Slru("pg_multixact/offsets", SlruKind::kMultiXactOffsets, {{"0000", 24576}});
    e_.members = Slru("pg_multixact/members", SlruKind::kMultiXactMembers, {{"0000", 65536}});
    if (layout_->Has(Field::kOldestCommitTsXid)) {
      e_.commit_ts = Slru("pg_commit_ts", SlruKind::kCommitTs, {{"0000", 40960}});
    }
  }
  // Makes `rel` hold exactly `files`, each its size in zeros (sparse), and
  // lists it: SLRU sizes are read from the files themselves.
  DirListing Listing(const std::string& rel, const std::vector<std::pair<std::string, uint64_t>>& files) {
    const auto path = scratch_.path() / rel;
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
    DirListing l;
    l.path = path.string();
    l.exists = true;
    for (const auto& [name, size] : files) {
      std::ofstream(path / name).close();
      std::filesystem::resize_file(path / name, size);
      l.Add(name);
    }
    return l;
  }
  SlruEvidence Slru(const std::string& rel, SlruKind kind, const std::vector<std::pair<std::string, uint64_t>>& files) {
    return ListSlru(dir_, Listing(rel, files), kind, *layout_, 8192);
  }
  void SetXact(const std::vector<std::pair<std::string, uint64_t>>& files) {
    e_.xact = Slru("pg_xact", SlruKind::kXact, files);
  }
  static bool Has(const std::vector<Hazard>& hazards, const std::string& code) {
    for (const auto& h : hazards) {
      if (h.code == code) return true;
    }
    return false;
  }

  testing::ScratchDir scratch_{"derivations"};
  std::optional<ControlFile> control_;
  const ControlLayout* layout_ = nullptr;
  DataDir dir_;
  PlanEvidence e_;
  std::vector<Hazard> hazards_;
};

TEST_F(DerivationsTest, NextXidIsTheBoundaryAfterTheNewestXactSegment) {
  Use("pg15");
  const auto r = DeriveNextXid(e_, &hazards_);
  // pg_xact/0000 holds XIDs 0..1048575; pg_control's 3727 lies inside it.
  EXPECT_EQ(r.value.value, "1048576");
  EXPECT_EQ(r.next, 1048576u);
  EXPECT_FALSE(r.wrapped);
  EXPECT_EQ(r.value.confidence, Confidence::kHigh);
  EXPECT_TRUE(hazards_.empty());
}

// Every XID and MultiXactId stamped in a tuple was assigned: -x and -m go
// past the newest, to the next segment boundary.
TEST_F(DerivationsTest, NextXidAndMultiRaisedToWhatThePagesProve) {
  Use("pg15");
  e_.pages.tuples.newest_xid = 1000;
  e_.pages.tuples.newest_xid_where = "base/5/16384 block 2";
  auto r = DeriveNextXid(e_, &hazards_);
  EXPECT_EQ(r.value.value, "1048576");
  EXPECT_EQ(r.value.reasoning.back(),
            "the data pages agree: a tuple on base/5/16384 block 2 carries XID 1000, not past 1048576");
  e_.pages.tuples.newest_xid = 2000000;
  r = DeriveNextXid(e_, &hazards_);
  EXPECT_EQ(r.value.value, "2097152");  // past 2000000, at the start of pg_xact/0002
  EXPECT_EQ(r.value.reasoning.back(),
            "the data pages prove more: a tuple on base/5/16384 block 2 carries XID 2000000; using 2097152");

  e_.pages.tuples.newest_multixact = 70000;
  e_.pages.tuples.newest_multixact_where = "base/5/16390 block 0";
  const auto m = DeriveMultiXacts(e_);
  // offsets/0000 holds MultiXactIds 0..65535: 70000 is in the next segment.
  EXPECT_TRUE(m.value.starts_with("131072,")) << m.value;
}

TEST_F(DerivationsTest, NextXidRaisedToWhatWalProvesRoundedToASegment) {
  Use("pg15");
  e_.proof.next_xid = WalBound{2000000, "XID 1999999 is used by a record"};
  EXPECT_EQ(DeriveNextXid(e_, &hazards_).value.value, "2097152");
}

TEST_F(DerivationsTest, NextXidWithoutXactFilesSkipsTheMissingSegment) {
  Use("pg15");
  SetXact({});
  const auto r = DeriveNextXid(e_, &hazards_);
  // The server would read pg_xact/0000's page for 3727: start at the next segment.
  EXPECT_EQ(r.value.value, "1048576");
  EXPECT_EQ(r.value.confidence, Confidence::kMedium);
}

TEST_F(DerivationsTest, NextXidUnknownWithoutXactOrControl) {
  Use("pg15", false);
  SetXact({});
  const auto r = DeriveNextXid(e_, &hazards_);
  EXPECT_FALSE(r.next);
  EXPECT_FALSE(r.value.in_command);
  EXPECT_EQ(r.value.confidence, Confidence::kLow);
  EXPECT_TRUE(Has(hazards_, "next-xid-unknown"));
}

TEST_F(DerivationsTest, NextXidWrapsToThree) {
  Use("pg15", false);
  SetXact({{"0FFF", 8192}});
  const auto r = DeriveNextXid(e_, &hazards_);
  // Past 0FFF the XIDs wrap to 0, and 0-2 are special: 3, whose page in the
  // missing pg_xact/0000 the server would read, so the next boundary.
  EXPECT_EQ(r.value.value, "1048576");
  EXPECT_NE(r.value.reasoning[2].find("that wraps to 0; XIDs 0–2 are special, so 3"), std::string::npos);
  EXPECT_TRUE(r.wrapped);
}

TEST_F(DerivationsTest, OldestXidKeepsPgControlsInsideTheRun) {
  Use("pg15");
  const auto v = DeriveOldestXid(e_, 1048576, &hazards_);
  EXPECT_EQ(v.value, "716");
  EXPECT_TRUE(v.in_command);
  EXPECT_TRUE(hazards_.empty());
}

TEST_F(DerivationsTest, OldestXidIsNotAnOptionBeforeNineSix) {
  Use("pg94");
  const auto v = DeriveOldestXid(e_, 1048576, &hazards_);
  EXPECT_FALSE(v.in_command);
  EXPECT_NE(v.reasoning.front().find("pg_resetxlog"), std::string::npos);
}

TEST_F(DerivationsTest, OldestXidWarnsNearWraparound) {
  Use("pg15", false);
  DeriveOldestXid(e_, 2100000000u, &hazards_);
  EXPECT_TRUE(Has(hazards_, "xid-wraparound-near"));
}

TEST_F(DerivationsTest, CoverageFindsAnEmptyXactSegment) {
  Use("pg15");
  EXPECT_FALSE(CheckSlruCoverage(e_, &hazards_));
  EXPECT_TRUE(hazards_.empty());
  SetXact({{"0000", 0}});
  const auto missing = CheckSlruCoverage(e_, &hazards_);
  ASSERT_TRUE(missing);
  // oldestXID 716 to NextXID 3727: 3011 XIDs.
  EXPECT_NE(missing->find("3011 of the 3011 XIDs"), std::string::npos);
  EXPECT_TRUE(Has(hazards_, "xact-missing"));

  // Every tuple read and no XID on them unhinted (xid_spans empty): the
  // status is gone but no row needs it.
  hazards_.clear();
  e_.pages.files = 3;
  e_.pages.tuples.tuples = 100;
  EXPECT_FALSE(CheckSlruCoverage(e_, &hazards_));
  ASSERT_EQ(hazards_.size(), 1u);
  EXPECT_EQ(hazards_[0].code, "xact-missing-unneeded");
  EXPECT_FALSE(hazards_[0].needs_decision);
  EXPECT_NE(hazards_[0].message.find("lacks the status of 3011 of the 3011 XIDs"), std::string::npos);
  e_.pages.tuples.AddXid(3000);  // one unhinted: its status is needed
  hazards_.clear();
  EXPECT_TRUE(CheckSlruCoverage(e_, &hazards_));
  EXPECT_TRUE(Has(hazards_, "xact-missing"));
}

// After `pg_resetwal -x 134217728` (pg_xact/0080) and some work, pg_xact is
// 0000 and 0080 with 0001-007F never created. The pages show no tuple XID in
// the gap, so nothing was lost there: a reasoning line, not a hazard.
TEST_F(DerivationsTest, XactHolesNoTupleNeedsAreNotAHazard) {
  Use("pg15");
  SetXact({{"0000", 8192}, {"0080", 8192}});
  e_.pages.files = 3;
  e_.pages.tuples.tuples = 100;
  e_.pages.tuples.newest_xid = 134217800;
  e_.pages.tuples.AddXid(716);  // before the jump, all on pg_xact/0000's first page
  e_.pages.tuples.AddXid(3726);
  e_.pages.tuples.AddXid(134217800);  // after it
  auto hazards = [&] {
    Plan plan;
    EvidenceHazards(e_, &plan);
    for (const auto& h : plan.hazards) {
      if (h.code == "slru-holes") return h.message;
    }
    return std::string();
  };
  EXPECT_EQ(hazards(), "");
  auto r = DeriveNextXid(e_, &hazards_);
  EXPECT_EQ(r.value.reasoning[1],
            "pg_xact segments 0001–007F are missing, but no tuple carries an XID in them whose status is not "
            "hint-marked (newest XID in any tuple: 134217800, every data page read): nothing was lost");
  std::vector<std::string> names;
  // pg_xact/0000 and 0080 hold one page each: the rest, and 0001-007F, have no
  // status, but no tuple needs any of it.
  EXPECT_EQ(MissingIds(e_.xact, 8192, 716, 134217801, &names, &e_), 0u);
  EXPECT_EQ(MissingIds(e_.xact, 8192, 716, 134217801, &names), 128u * 1048576 - 32768);
  e_.pages.tuples.AddXid(40000);  // on 0000's second page, which is gone
  EXPECT_EQ(MissingIds(e_.xact, 8192, 716, 134217801, &names, &e_), 1048576u - 32768);
  e_.pages.tuples.xid_spans.erase(0);
  e_.pages.tuples.AddXid(716);

  // A tuple with an XID in pg_xact/0005 needs it: that one is a hazard.
  e_.pages.tuples.AddXid(5 * 1048576 + 9);
  EXPECT_NE(hazards().find("missing 1 segment(s) inside its run 0000–0080: 0005."), std::string::npos) << hazards();
  r = DeriveNextXid(e_, &hazards_);
  EXPECT_EQ(r.value.reasoning[1].find("pg_xact segments 0001–0004, 0006–007F are missing, but"), 0u);

  // Pages not all read, or a MultiXactId (members unseen): every hole stays.
  e_.pages.tuples.xid_spans.erase(5);
  e_.pages_complete = false;
  EXPECT_NE(hazards().find("missing 127 segment(s) inside its run 0000–0080: 0001–007F."), std::string::npos);
  EXPECT_EQ(DeriveNextXid(e_, &hazards_).value.reasoning[1].find("no tuple carries"), std::string::npos);
  e_.pages_complete = true;
  e_.pages.tuples.newest_multixact = 5;
  EXPECT_NE(hazards().find("missing 127 segment(s)"), std::string::npos);
}

TEST_F(DerivationsTest, MultiXactsFromTheOffsetsRun) {
  Use("pg15");
  const auto v = DeriveMultiXacts(e_);
  // offsets/0000 holds MultiXacts 0..65535; pg_control's oldest 1 is inside.
  EXPECT_EQ(v.value, "65536,1");
  EXPECT_EQ(v.confidence, Confidence::kHigh);
}

TEST_F(DerivationsTest, MultiXactsWithoutAnythingCannotBeDerived) {
  Use("pg15", false);
  e_.offsets = Slru("pg_multixact/offsets", SlruKind::kMultiXactOffsets, {});
  const auto v = DeriveMultiXacts(e_);
  EXPECT_FALSE(v.in_command);
  EXPECT_EQ(v.confidence, Confidence::kLow);
}

TEST_F(DerivationsTest, MultiXactOffsetFromTheMembersRun) {
  Use("pg15");
  // members/0000 holds 52352 members; pg_control's 12001 is inside.
  EXPECT_EQ(DeriveMultiXactOffset(e_).value, "52352");
}

TEST_F(DerivationsTest, CommitTsKeepsPgControlsInsideTheFiles) {
  Use("pg15");
  const auto v = DeriveCommitTs(e_, 1048576);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->value, "724,3726");
}

TEST_F(DerivationsTest, CommitTsWithoutPgControlIsCappedBelowTheNextXid) {
  Use("pg15", false);
  const auto v = DeriveCommitTs(e_, 3727);
  ASSERT_TRUE(v);
  // 15's pg_resetwal takes no commit-timestamp XID below 2; the newest is
  // capped below the next XID.
  EXPECT_EQ(v->value, "2,3726");
  EXPECT_EQ(v->confidence, Confidence::kMedium);
}

TEST_F(DerivationsTest, NoCommitTsBeforeNineFive) {
  Use("pg94");
  EXPECT_FALSE(DeriveCommitTs(e_, 1048576));
}

TEST_F(DerivationsTest, NextOidAddsThePrefetchAndTheOidsOnDisk) {
  Use("pg15");
  EXPECT_EQ(DeriveNextOid(e_).value, "24583");  // 16391 + 8192
  dir_.max_relation_oid = 30000;
  dir_.max_relation_oid_path = dir_.root + "/base/5/30000";
  EXPECT_EQ(DeriveNextOid(e_).value, "30001");
}

TEST_F(DerivationsTest, WalStartIsPastTheNewestSegmentAndEveryPage) {
  Use("pg15");
  EXPECT_EQ(DeriveWalStart(e_, &hazards_).value, "000000010000000000000002");
  EXPECT_TRUE(hazards_.empty());
  e_.pages.max = PageLsnMax{Lsn{0x5000010}, "base/5/16384", 3};
  EXPECT_EQ(DeriveWalStart(e_, &hazards_).value, "000000010000000000000006");
}

TEST_F(DerivationsTest, WalStartWarnsOfAMissingRedoSegment) {
  Use("pg15");
  dir_.wal = Listing("pg_wal", {});
  // REDO 0/1703EF0 is in segment 1: the next is 2 all the same.
  EXPECT_EQ(DeriveWalStart(e_, &hazards_).value, "000000010000000000000002");
  EXPECT_TRUE(Has(hazards_, "redo-segment-missing"));
}

TEST_F(DerivationsTest, EpochFromPgControlMovesOnAfterAWrap) {
  Use("pg15");
  EXPECT_EQ(DeriveEpoch(e_, false).value, "0");
  EXPECT_EQ(DeriveEpoch(e_, true).value, "1");
  Use("pg15", false);
  const auto v = DeriveEpoch(e_, false);
  EXPECT_EQ(v.value, "unknown");
  EXPECT_FALSE(v.in_command);
}

}  // namespace
}  // namespace pgrescue
