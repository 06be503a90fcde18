// BuildResetWalPage and ProveFromWal on each version's real WAL: the page a
// reset writes holds the checkpoint record as that version's server writes
// it, and what WAL proves matches the checkpoints the server wrote.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "libcontrol/wal/wal_record.h"
#include "libcontrol/wal/wal_scan.h"
#include "tests/fixtures.h"
#include "tests/wal_fixture.h"

namespace pgrescue {
namespace {

namespace fs = std::filesystem;

uint64_t Le(const std::vector<uint8_t>& b, size_t at, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = v << 8 | b[at + static_cast<size_t>(i)];
  return v;
}

class ResetPageFixture : public ::testing::TestWithParam<std::string> {};

// Built from the shut-down pg_control, the record is the server's own
// shutdown checkpoint record at pg_control's checkpoint location, but for
// xl_prev (and so the CRC), which a reset's first record has as 0.
TEST_P(ResetPageFixture, TheRecordIsTheServersShutdownCheckpointRecord) {
  const WalFixture f = LoadWalFixture(GetParam());
  const ControlFile& c = f.shutdown.control;
  const auto& l = c.layout();
  const uint16_t magic = static_cast<uint16_t>(Le(f.wal, 0, 2));
  EXPECT_NE(std::find(l.wal_page_magics().begin(), l.wal_page_magics().end(), magic), l.wal_page_magics().end());
  auto built = BuildResetWalPage(c, f.segment_size, magic);
  ASSERT_TRUE(built) << built.error().ToString();
  const std::vector<uint8_t>& page = *built;
  ASSERT_EQ(page.size(), c.value(Field::kWalBlockSize));
  // The long page header: as the server's at the segment start, but for the page address.
  EXPECT_EQ(Le(page, 0, 2), magic);
  EXPECT_EQ(Le(page, 2, 2), Le(f.wal, 2, 2) & kXlpLongHeader);
  for (auto [at, n] : {std::pair{4, 4}, {24, 8}, {32, 4}, {36, 4}}) {
    EXPECT_EQ(Le(page, at, n), Le(f.wal, at, n)) << GetParam() << " header byte " << at;
  }
  EXPECT_EQ(Le(page, 24, 8), c.value(Field::kSystemIdentifier));
  EXPECT_EQ(Le(page, 8, 8), c.value(Field::kRedo) - kWalLongPageHeaderSize);

  const size_t rec = kWalLongPageHeaderSize;
  const size_t server = c.value(Field::kCheckPoint) % f.segment_size;
  const bool legacy = l.crc_kind() == CrcKind::kLegacyCrc32;
  const size_t length = Le(page, rec, 4);
  EXPECT_EQ(length, Le(f.wal, server, 4)) << GetParam() << ": xl_tot_len";
  const size_t info_at = legacy ? 12 : 16;  // xl_info, then xl_rmid
  EXPECT_EQ(page[rec + info_at], f.wal[server + info_at]) << "xl_info: XLOG_CHECKPOINT_SHUTDOWN";
  EXPECT_EQ(page[rec + info_at + 1], f.wal[server + info_at + 1]) << "xl_rmid: XLOG";
  const size_t body = legacy ? 32 : 24;
  EXPECT_TRUE(std::equal(page.begin() + static_cast<long>(rec + body), page.begin() + static_cast<long>(rec + length),
                         f.wal.begin() + static_cast<long>(server + body)))
      << GetParam() << ": the record's data";
  const size_t crc_at = legacy ? 24 : 20;
  EXPECT_EQ(Le(page, rec + crc_at, 4), WalRecordCrc(l.crc_kind(), {page.data() + rec, length}));
  for (size_t i = rec + length; i < page.size(); ++i) ASSERT_EQ(page[i], 0) << "zeros after the record, at " << i;
}

TEST_P(ResetPageFixture, AnUnusableWalBlockSizeIsAnError) {
  ControlFile c = LoadWalFixture(GetParam()).shutdown.control;
  c.set(Field::kWalBlockSize, 100);
  auto built = BuildResetWalPage(c, 16u << 20, c.layout().wal_page_magics().front());
  ASSERT_FALSE(built);
  EXPECT_NE(built.error().message.find("WAL block size 100 is not usable"), std::string::npos);
}

// WAL proves at least what the newest checkpoint record holds, and never more
// than a server handed out: the fixture WAL ends with the shutdown checkpoint
// written after the restart for the truth file.
TEST_P(ResetPageFixture, ProveFromWalGivesTheNewestCheckpointsCounters) {
  const WalFixture f = LoadWalFixture(GetParam());
  const std::string dir = (fs::temp_directory_path() / ("pgrescue-prove-" + GetParam())).string();
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    std::ofstream out(dir + "/" + WalSegmentName{1, f.segno}.ToString(f.segment_size), std::ios::binary);
    out.write(reinterpret_cast<const char*>(f.wal.data()), static_cast<std::streamsize>(f.wal.size()));
  }
  const ControlFile& shutdown = f.shutdown.control;
  WalScanOptions o;
  o.layout = &shutdown.layout();
  o.segment_size = f.segment_size;
  o.page_size = static_cast<uint32_t>(shutdown.value(Field::kWalBlockSize));
  o.dirs = {dir};
  o.mode = WalScanMode::kFull;
  auto report = ScanWal(o);
  fs::remove_all(dir);
  ASSERT_TRUE(report) << report.error().ToString();
  const auto* newest = report->NewestUsable();
  ASSERT_NE(newest, nullptr);
  ControlFile body(shutdown.layout());
  newest->record.ApplyTo(&body);
  const WalProof proof = ProveFromWal(*report, shutdown.layout());
  ASSERT_TRUE(proof.next_xid && proof.next_oid && proof.next_multi && proof.next_multi_offset) << GetParam();
  // Nothing ran between the two shutdowns: the newest record's counters are
  // those of pg_control.shutdown, and WAL proves exactly them ...
  for (auto [bound, field] : {std::pair{&proof.next_xid, Field::kNextXid}, {&proof.next_multi, Field::kNextMulti},
                              {&proof.next_multi_offset, Field::kNextMultiOffset}}) {
    EXPECT_EQ((*bound)->next, body.value(field)) << GetParam() << " " << FieldName(field) << ": " << (*bound)->why;
    EXPECT_EQ((*bound)->next, shutdown.value(field)) << GetParam() << " " << FieldName(field) << ": " << (*bound)->why;
  }
  // ... but for OIDs, where the server's NEXTOID record reserved a batch of
  // 8192 (VAR_OID_PREFETCH) past the checkpoint's NextOID: 24576 in every
  // version's WAL, and the proof takes that.
  EXPECT_EQ(body.value(Field::kNextOid), shutdown.value(Field::kNextOid)) << GetParam();
  ASSERT_TRUE(report->maxima.next_oid);
  EXPECT_EQ(*report->maxima.next_oid, 24576u) << GetParam();
  EXPECT_EQ(proof.next_oid->next, 24576u) << GetParam();
  EXPECT_GT(proof.next_oid->next, shutdown.value(Field::kNextOid));
  EXPECT_LE(proof.next_oid->next - shutdown.value(Field::kNextOid), 8192u);
  EXPECT_NE(proof.next_oid->why.find("the NEXTOID record at"), std::string::npos) << proof.next_oid->why;
  EXPECT_NE(proof.next_xid->why.find("the checkpoint record at " + FormatLsn(newest->record.lsn)), std::string::npos)
      << proof.next_xid->why;
}

INSTANTIATE_TEST_SUITE_P(AllVersions, ResetPageFixture, ::testing::ValuesIn(testing::FixtureVersions()),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace pgrescue
