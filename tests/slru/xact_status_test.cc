// pg_xact's two status bits per XID (clog.c: CLOG_BITS_PER_XACT 2,
// CLOG_XACTS_PER_BYTE 4, 32 pages a segment), and pg_clog before 10.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "libcontrol/control/control_layout.h"
#include "libcontrol/slru/xact_status.h"
#include "tests/fixtures.h"

namespace pgrescue {
namespace {

void Write(const std::filesystem::path& p, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

TEST(XactStatus, TwoBitsPerXidAcrossSegments) {
  testing::ScratchDir d("xact-status");
  // Segment 0000: XIDs 0-3 in byte 0, low bits first: 3 committed, 4 aborted.
  std::vector<uint8_t> seg0(8192, 0);
  seg0[0] = 0x01 << 6;  // XID 3 committed
  seg0[1] = 0x02;       // XID 4 aborted
  seg0[2] = 0x03 << 2;  // XID 9 subcommitted
  Write(d.path() / "pg_xact/0000", seg0);
  // Segment 0001 starts at XID 32 pages * 32768 = 1048576.
  std::vector<uint8_t> seg1(8192, 0);
  seg1[0] = 0x01;
  Write(d.path() / "pg_xact/0001", seg1);
  // A segment cut inside its first page answers nothing: half a page is no page.
  Write(d.path() / "pg_xact/0002", {0x01});
  XactStatusReader xact(d.path().string(), *FindLayoutByMajor("15"), 8192);
  EXPECT_EQ(xact.Status(3), XactStatus::kCommitted);
  EXPECT_EQ(xact.Status(4), XactStatus::kAborted);
  EXPECT_EQ(xact.Status(5), XactStatus::kInProgress);
  EXPECT_EQ(xact.Status(9), XactStatus::kSubCommitted);
  EXPECT_EQ(xact.Status(1048576), XactStatus::kCommitted);
  EXPECT_EQ(xact.Status(8192 * 4), std::nullopt);     // past the short first page
  EXPECT_EQ(xact.Status(1048576 + 8192 * 4), std::nullopt);  // past the one-page segment
  EXPECT_EQ(xact.Status(2 * 1048576), std::nullopt);         // in the 1-byte segment
  EXPECT_EQ(xact.Status(3 * 1048576), std::nullopt);  // no such segment
  // Before 10 the directory is pg_clog.
  EXPECT_EQ(XactStatusReader(d.path().string(), *FindLayoutByMajor("9.6"), 8192).Status(3), std::nullopt);
  std::filesystem::rename(d.path() / "pg_xact", d.path() / "pg_clog");
  EXPECT_EQ(XactStatusReader(d.path().string(), *FindLayoutByMajor("9.6"), 8192).Status(3), XactStatus::kCommitted);
}

}  // namespace
}  // namespace pgrescue
