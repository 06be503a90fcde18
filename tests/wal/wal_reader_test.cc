// The WAL reader on the servers' own WAL (fixture heads, zero-padded to the
// segment size) and on damaged copies of it.
#include <gtest/gtest.h>

#include <map>

#include <fmt/format.h>

#include "libcontrol/control/control_file.h"
#include "libcontrol/base/wal_names.h"
#include "libcontrol/base/bytes.h"
#include "libcontrol/wal/wal_reader.h"
#include "libcontrol/wal/wal_record.h"
#include "tests/fixtures.h"
#include "tests/wal_fixture.h"

namespace pgrescue {
namespace {

using testing::FixturesDir;

class MemorySource : public WalSegmentSource {
 public:
  MemorySource(uint64_t segno, std::vector<uint8_t> bytes) : segno_(segno), bytes_(std::move(bytes)) {}
  std::optional<std::span<const uint8_t>> Segment(uint32_t, uint64_t segno) override {
    if (segno != segno_) return std::nullopt;
    return std::span(bytes_);
  }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  uint64_t segno_;
  std::vector<uint8_t> bytes_;
};

class WalReaderFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(WalReaderFixture, FindsTheShutdownCheckpointWithPgControlsBody) {
  WalFixture f = LoadWalFixture(GetParam());
  const auto& layout = f.shutdown.control.layout();
  MemorySource source(f.segno, f.wal);
  WalReader reader(layout, f.segment_size, static_cast<uint32_t>(f.shutdown.control.value(Field::kWalBlockSize)),
                   source);
  int records = 0, checkpoints = 0;
  std::optional<WalRecord> shutdown_checkpoint;
  std::vector<uint8_t> body;
  const Lsn target{f.shutdown.control.value(Field::kCheckPoint)};
  const auto end = reader.Scan(Lsn{f.running.control.value(Field::kRedo)}, 1, std::nullopt, [&](const WalRecord& r) {
    ++records;
    const auto b = CheckpointBody(layout, r);
    if (!b.empty()) ++checkpoints;
    if (r.lsn == target) {
      shutdown_checkpoint = r;
      body.assign(b.begin(), b.end());
    }
    return true;
  });
  EXPECT_EQ(end.why, WalStop::kEndOfWal) << end.detail << " at " << FormatLsn(end.at);
  EXPECT_GT(end.at, target);
  ASSERT_TRUE(shutdown_checkpoint) << "no record at " << FormatLsn(target) << " after " << records << " records";
  EXPECT_EQ(shutdown_checkpoint->info & 0xF0, 0x00);  // XLOG_CHECKPOINT_SHUTDOWN
  ASSERT_EQ(body.size(), layout.checkpoint_size());
  // The record's body is what pg_control copied: compare field by field.
  for (const Placement& p : layout.placements()) {
    if (!layout.InCheckpoint(p)) continue;
    uint64_t v = 0;
    for (size_t i = 0; i < p.size; ++i) v |= uint64_t{body[p.offset - layout.checkpoint_offset() + i]} << (8 * i);
    EXPECT_EQ(v, f.shutdown.control.value(p.field)) << GetParam() << " " << FieldName(p.field);
  }
  EXPECT_GE(checkpoints, 2) << "the running checkpoint and the shutdown checkpoint";
  std::cout << "[ wal     ] " << GetParam() << ": " << records << " records, " << checkpoints
            << " checkpoints, end of WAL at " << FormatLsn(end.at) << "\n";
}

// The server refuses a segment whose long page header names another
// cluster: so does the reader once it knows pg_control's identifier.
TEST_P(WalReaderFixture, AnotherClustersSegmentEndsValidWal) {
  WalFixture f = LoadWalFixture(GetParam());
  const auto& layout = f.shutdown.control.layout();
  const uint32_t page = static_cast<uint32_t>(f.shutdown.control.value(Field::kWalBlockSize));
  const uint64_t own = f.shutdown.control.value(Field::kSystemIdentifier);
  ASSERT_EQ(Le64(f.wal.data() + 24), own) << "the fixture's long page header names its own cluster";
  const Lsn first{f.segno * f.segment_size + kWalLongPageHeaderSize};
  auto scan = [&](std::optional<uint64_t> expected) {
    MemorySource source(f.segno, f.wal);
    WalReader reader(layout, f.segment_size, page, source);
    reader.ExpectSystemIdentifier(expected);
    int records = 0;
    const auto end = reader.Scan(first, 1, std::nullopt, [&](const WalRecord&) { return ++records, true; });
    return std::pair{end, records};
  };
  const auto [mine, read] = scan(own);
  EXPECT_EQ(mine.why, WalStop::kEndOfWal) << mine.detail;
  EXPECT_GT(read, 10);
  const auto [other, none] = scan(own + 1);
  EXPECT_EQ(none, 0);
  EXPECT_EQ(other.why, WalStop::kBadPageHeader);
  EXPECT_EQ(other.at.value, f.segno * f.segment_size);
  EXPECT_EQ(other.detail, fmt::format("WAL file is from different database system: WAL file database system "
                                      "identifier is {}, pg_control database system identifier is {}",
                                      own, own + 1));
}

TEST_P(WalReaderFixture, StopsAtDamageAndSaysWhy) {
  WalFixture f = LoadWalFixture(GetParam());
  const auto& layout = f.shutdown.control.layout();
  const uint32_t page = static_cast<uint32_t>(f.shutdown.control.value(Field::kWalBlockSize));
  const Lsn start{f.running.control.value(Field::kRedo)};
  const uint64_t target = f.shutdown.control.value(Field::kCheckPoint);
  auto scan = [&](std::vector<uint8_t> wal) {
    MemorySource source(f.segno, std::move(wal));
    WalReader reader(layout, f.segment_size, page, source);
    return reader.Scan(start, 1, std::nullopt, [](const WalRecord&) { return true; });
  };
  // A flipped byte inside the shutdown checkpoint's body (past the 24- or
  // 32-byte header; 9.4's header padding is not covered by the CRC).
  auto bad_crc = f.wal;
  bad_crc[target % f.segment_size + 40] ^= 0x40;
  auto end = scan(bad_crc);
  EXPECT_EQ(end.why, WalStop::kBadCrc) << end.detail;
  EXPECT_EQ(end.at.value, target);
  // Wrong magic on the checkpoint's page.
  auto bad_magic = f.wal;
  const uint64_t page_at = target % f.segment_size - target % page;
  bad_magic[page_at] ^= 0xFF;
  end = scan(bad_magic);
  if (page_at != start.value % f.segment_size - start.value % page) {
    EXPECT_EQ(end.why, WalStop::kBadPageHeader) << end.detail;
  }
  // A torn page: everything from the checkpoint's page on is zero.
  auto torn = f.wal;
  std::fill(torn.begin() + static_cast<std::ptrdiff_t>(page_at), torn.end(), 0);
  end = scan(torn);
  EXPECT_TRUE(end.why == WalStop::kEndOfWal || end.why == WalStop::kBadPageHeader) << end.detail;
  EXPECT_LE(end.at.value, target);
}

class SegmentsSource : public WalSegmentSource {
 public:
  std::optional<std::span<const uint8_t>> Segment(uint32_t, uint64_t segno) override {
    auto it = segments.find(segno);
    if (it == segments.end()) return std::nullopt;
    return std::span(it->second);
  }
  std::map<uint64_t, std::vector<uint8_t>> segments;
};


TEST_P(WalReaderFixture, RecordSplitAcrossSegmentsNeedsTheNextSegment) {
  // The server's own shutdown checkpoint record (CRC intact), moved so that
  // it starts 64 bytes before the end of a segment and continues on the next
  // segment's first page, after its long header.
  const WalFixture f = LoadWalFixture(GetParam());
  const auto& layout = f.shutdown.control.layout();
  const uint32_t page = static_cast<uint32_t>(f.shutdown.control.value(Field::kWalBlockSize));
  const uint64_t at = f.shutdown.control.value(Field::kCheckPoint) % f.segment_size;
  const uint32_t total = static_cast<uint32_t>(f.wal[at] | f.wal[at + 1] << 8);
  ASSERT_LT(at % page + total, page) << "the fixture's checkpoint record lies in one page";
  const std::vector<uint8_t> record(f.wal.begin() + static_cast<std::ptrdiff_t>(at),
                                    f.wal.begin() + static_cast<std::ptrdiff_t>(at + total));
  const uint16_t magic = static_cast<uint16_t>(f.wal[0] | f.wal[1] << 8);
  const uint64_t segno = 7, seg = f.segment_size;

  std::vector<uint8_t> first(seg, 0), second(seg, 0);
  const uint64_t last_page = seg - page;
  StoreLittleEndian(first.data() + last_page, 2, magic);
  StoreLittleEndian(first.data() + last_page + 4, 4, 1);
  StoreLittleEndian(first.data() + last_page + 8, 8, segno * seg + last_page);
  std::copy(record.begin(), record.begin() + 64, first.end() - 64);
  StoreLittleEndian(second.data(), 2, magic);
  StoreLittleEndian(second.data() + 2, 2, kXlpLongHeader | kXlpFirstIsContRecord);
  StoreLittleEndian(second.data() + 4, 4, 1);
  StoreLittleEndian(second.data() + 8, 8, (segno + 1) * seg);
  StoreLittleEndian(second.data() + 16, 4, total - 64);
  std::copy(f.wal.begin() + 24, f.wal.begin() + 40, second.begin() + 24);  // system id, sizes
  std::copy(record.begin() + 64, record.end(), second.begin() + 40);

  SegmentsSource source;
  source.segments[segno] = first;
  WalReader reader(layout, seg, page, source);
  const Lsn start{(segno + 1) * seg - 64};
  int seen = 0;
  auto end = reader.Scan(start, 1, std::nullopt, [&](const WalRecord&) { return ++seen, true; });
  EXPECT_EQ(end.why, WalStop::kMissingSegment) << end.detail;
  EXPECT_EQ(end.at, start) << "the stop is reported at the record that cannot be completed";
  EXPECT_EQ(seen, 0);

  source.segments[segno + 1] = second;
  std::vector<uint8_t> body;
  end = reader.Scan(start, 1, std::nullopt, [&](const WalRecord& r) {
    const auto b = CheckpointBody(layout, r);
    body.assign(b.begin(), b.end());
    return ++seen, true;
  });
  EXPECT_EQ(seen, 1);
  EXPECT_EQ(end.why, WalStop::kEndOfWal) << end.detail;
  EXPECT_EQ(end.at.value, (segno + 1) * seg + ((40 + total - 64 + 7) & ~7u));
  ASSERT_EQ(body.size(), layout.checkpoint_size());
  EXPECT_TRUE(std::equal(body.begin(), body.end(), record.end() - static_cast<std::ptrdiff_t>(body.size())));
}

INSTANTIATE_TEST_SUITE_P(AllVersions, WalReaderFixture, ::testing::ValuesIn(testing::FixtureVersions()),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace pgrescue
