// The page-LSN scan on data directories built page by page: which pages the
// server would accept, which LSN wins and where, which files are read at all.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "libcontrol/base/bytes.h"
#include "libcontrol/pages/page_checksum.h"
#include "libcontrol/pages/page_scan.h"

namespace pgrescue {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

struct ScanDir {
  fs::path path = [] {
    std::string tmpl = (fs::temp_directory_path() / "pgrescue-pagescan-XXXXXX").string();
    return fs::path(mkdtemp(tmpl.data()));
  }();
  ~ScanDir() { fs::remove_all(path); }
};

// The three places relation files live, empty.
fs::path Cluster(const ScanDir& tmp) {
  for (const char* sub : {"global", "base", "pg_tblspc"}) fs::create_directories(tmp.path / sub);
  return tmp.path;
}

void Put(const fs::path& p, const Bytes& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

Bytes Concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& b : parts) out.insert(out.end(), b.begin(), b.end());
  return out;
}

void SetChecksum(Bytes* page, uint32_t block) { StoreLittleEndian(page->data() + 8, 2, PageChecksum(*page, block)); }

// A heap page as PageInit and one PageAddItem leave it: one 40-byte tuple at
// the end, no special space. With `block`, it carries that block's checksum.
Bytes HeapPage(uint64_t lsn, std::optional<uint32_t> block = std::nullopt, uint32_t bs = 8192) {
  Bytes p(bs, 0);
  StoreLittleEndian(p.data(), 4, lsn >> 32);
  StoreLittleEndian(p.data() + 4, 4, lsn & 0xFFFFFFFF);
  const uint32_t upper = bs - 40, fields[] = {24 + 4, upper, bs, bs | 4};  // lower, upper, special, size|version
  for (int i = 0; i < 4; ++i) StoreLittleEndian(p.data() + 12 + 2 * i, 2, fields[i]);
  StoreLittleEndian(p.data() + 24, 4, upper | 1u << 15 | 40u << 17);  // lp_off, LP_NORMAL, lp_len
  for (uint32_t i = upper; i < bs; ++i) p[i] = static_cast<uint8_t>(i * 7 + lsn);
  if (block) SetChecksum(&p, *block);
  return p;
}

Bytes Zeros(size_t n = 8192) { return Bytes(n, 0); }

TEST(PageScanCheck, LsnIsXlogidThenXrecoffLittleEndian) {
  Bytes p = HeapPage(0);
  const uint8_t lsn[8] = {0x01, 0, 0, 0, 0x10, 0x32, 0, 0};
  std::copy(lsn, lsn + 8, p.begin());
  const PageVerdict v = CheckPage(p, 0, false);
  EXPECT_EQ(v.kind, PageKind::kValid);
  EXPECT_EQ(v.lsn.value, 0x0000000100003210u);
  EXPECT_EQ(FormatLsn(v.lsn), "1/3210");
}

TEST(PageScanCheck, ChecksumMixesInTheBlockNumber) {
  const Bytes p = HeapPage(0x5000, 5);
  ASSERT_NE(PageChecksum(p, 5), PageChecksum(p, 6));
  EXPECT_EQ(CheckPage(p, 5, true).kind, PageKind::kValid);
  const PageVerdict wrong = CheckPage(p, 6, true);
  EXPECT_EQ(wrong.kind, PageKind::kInvalid);
  EXPECT_TRUE(wrong.header_sane);
  EXPECT_EQ(wrong.checksum_stored, PageChecksum(p, 5));
  EXPECT_EQ(wrong.checksum_computed, PageChecksum(p, 6));
  EXPECT_EQ(DescribeInvalidPage(p, wrong), fmt::format("page verification failed, calculated checksum {} but expected {}",
                                                      PageChecksum(p, 6), PageChecksum(p, 5)));
  EXPECT_EQ(ProblemOf(wrong), PageProblem::kChecksum);
  EXPECT_EQ(CheckPage(p, 6, false).kind, PageKind::kValid);  // without checksums only the header counts
}

TEST(PageScanCheck, HeaderRuleAsTheServerReadsIt) {
  struct Case { uint16_t flags, lower, upper, special; bool sane; };
  const Case cases[] = {
      {0x0007, 28, 8152, 8192, true},   // every known flag
      {0x0000, 0, 8192, 8192, true},    // lower below the header size passes the server's rule
      {0x0000, 28, 28, 8176, true},     // full page with a btree-sized special space
      {0x0008, 28, 8152, 8192, false},  // unknown flag bit
      {0x0000, 8160, 8152, 8192, false},
      {0x0000, 28, 8184, 8176, false},
      {0x0000, 28, 8152, 8200, false},  // special past the block
      {0x0000, 28, 8152, 8188, false},  // special not MAXALIGNed
  };
  for (const Case& c : cases) {
    Bytes p = HeapPage(0x9000);
    const uint16_t fields[] = {c.flags, c.lower, c.upper, c.special};
    for (int i = 0; i < 4; ++i) StoreLittleEndian(p.data() + 10 + 2 * i, 2, fields[i]);
    SetChecksum(&p, 3);
    const PageVerdict v = CheckPage(p, 3, true);
    EXPECT_EQ(v.header_sane, c.sane) << c.flags << " " << c.lower << " " << c.upper << " " << c.special;
    EXPECT_EQ(v.kind, c.sane ? PageKind::kValid : PageKind::kInvalid);
    if (!c.sane) {
      EXPECT_EQ(ProblemOf(v), PageProblem::kHeader);
      EXPECT_EQ(ProblemOf(CheckPage(p, 3, false)), PageProblem::kHeader);
      EXPECT_EQ(ProblemOf(CheckPage(p, 4, true)), PageProblem::kHeaderAndChecksum);
      EXPECT_EQ(DescribeInvalidPage(p, v), fmt::format("invalid page header: flags 0x{:04X}, lower {}, upper {}, special {}",
                                                       c.flags, c.lower, c.upper, c.special));
    }
  }
}

// The server's "new page" is pd_upper 0, and then only all zeros passes.
TEST(PageScanCheck, UpperZeroOnlyPassesWhenEverythingIsZero) {
  const PageVerdict zero = CheckPage(Zeros(), 7, true);
  EXPECT_EQ(zero.kind, PageKind::kNew);
  EXPECT_EQ(zero.lsn.value, 0u);
  EXPECT_FALSE(zero.checksum_checked);
  Bytes p = Zeros();
  p[3] = 0x40;  // an LSN, nothing else
  const PageVerdict v = CheckPage(p, 0, false);
  EXPECT_EQ(v.kind, PageKind::kInvalid);
  EXPECT_EQ(v.lsn.value, 0x40000000ull << 32);
  EXPECT_EQ(DescribeInvalidPage(p, v), "pd_upper 0 (never initialized) but not all zeros");
  EXPECT_EQ(ProblemOf(v), PageProblem::kNotZero);
  EXPECT_EQ(ProblemOf(CheckPage(p, 0, false)), PageProblem::kNotZero);
  p = Zeros();
  p[8191] = 1;
  EXPECT_EQ(CheckPage(p, 0, true).kind, PageKind::kInvalid);
  EXPECT_EQ(CheckPage(std::span(p).first(10), 0, true).kind, PageKind::kInvalid);
}

PageScanOptions Options(const fs::path& dir, bool checksums, uint64_t blocks_per_segment = 131072,
                        uint32_t block_size = 8192) {
  PageScanOptions o;
  o.data_dir = dir.string();
  o.block_size = block_size;
  o.checksums = checksums;
  o.blocks_per_segment = blocks_per_segment;
  return o;
}

// global/, base/, an outside tablespace; files the scan must not read; pages
// it must not believe.
TEST(PageScan, WholeClusterCountsEveryPageAndTrustsOnlyValidOnes) {
  ScanDir tmp;
  const fs::path d = tmp.path / "data";
  Put(d / "global/1262", Concat({HeapPage(0x1000, 0), Zeros()}));
  Put(d / "global/pg_control", Bytes(8192, 0xFF));
  Put(d / "global/pg_filenode.map", Bytes(512, 0xEE));
  Put(d / "global/pg_internal.init", HeapPage(0xFFFF000000000000, 0));
  Put(d / "base/1/PG_VERSION", {'1', '5', '\n'});
  Bytes bad_checksum = HeapPage(0xFFFFFFFF00000000, 2);
  const uint16_t good = PageChecksum(bad_checksum, 2);
  StoreLittleEndian(bad_checksum.data() + 8, 2, good ^ 1u);
  Bytes insane = HeapPage(0x7FFFFFFF00000000);
  StoreLittleEndian(insane.data() + 14, 2, 9000);
  SetChecksum(&insane, 3);
  Put(d / "base/1/1259", Concat({HeapPage(0x2000, 0), Zeros(), bad_checksum, insane}));
  Put(d / "base/1/t3_16400", HeapPage(0x7000000000, 0));  // temporary relation
  Put(d / "base/pgsql_tmp/pgsql_tmp1234.0", HeapPage(0x7000000000, 0));
  Put(d / "base/16384/16397",
      Concat({HeapPage(0x3000, 0), HeapPage(0x3001, 1), HeapPage(0x3002, 2), HeapPage(0x3003, 3)}));
  Put(d / "base/16384/16397.1", Concat({HeapPage(0x4000, 4), HeapPage(0x5000, 5)}));
  Put(d / "base/16384/16397_fsm", HeapPage(0x100, 0));
  Put(d / "base/16384/16397_vm", HeapPage(0x200, 0));
  Put(d / "base/16384/16397_init", HeapPage(0x300, 0));
  Put(d / "base/16384/16399", Concat({HeapPage(0x600, 0), Bytes(100, 1)}));
  Put(tmp.path / "elsewhere", HeapPage(0x7100000000, 0));
  fs::create_symlink(tmp.path / "elsewhere", d / "base/16384/16398");
  fs::create_directories(d / "base/16384/16402");
  Put(tmp.path / "ts/PG_15_202209061/16384/16501", Concat({HeapPage(0x100000010, 0), Zeros()}));
  fs::create_directories(d / "pg_tblspc");
  fs::create_symlink(tmp.path / "ts", d / "pg_tblspc/16500");

  std::vector<std::pair<uint64_t, uint64_t>> calls;
  PageScanOptions o = Options(d, true, 4);
  o.progress = [&](uint64_t done, uint64_t total) { calls.emplace_back(done, total); };
  const auto r = ScanPageLsns(o);
  ASSERT_TRUE(r) << r.error().ToString();
  ASSERT_TRUE(r->max);
  EXPECT_EQ(r->max->lsn.value, 0x100000010u);
  EXPECT_EQ(r->max->file, "pg_tblspc/16500/PG_15_202209061/16384/16501");
  EXPECT_EQ(r->max->block, 0u);
  EXPECT_EQ(r->files, 9u);
  EXPECT_EQ(r->pages, 18u);
  EXPECT_EQ(r->zero_pages, 3u);
  EXPECT_EQ(r->bytes, 18u * 8192 + 100);
  EXPECT_EQ(r->invalid_pages, 2u);
  EXPECT_EQ(r->DamagedExamples(10), (std::vector<std::string>{
      fmt::format("base/1/1259 block 2: page verification failed, calculated checksum {} but expected {}", good,
                  good ^ 1u),
      "base/1/1259 block 3: invalid page header: flags 0x0000, lower 28, upper 9000, special 8192"}));
  ASSERT_EQ(r->damaged.size(), 2u);
  EXPECT_EQ(r->damaged[0].problem, PageProblem::kChecksum);
  EXPECT_EQ(r->damaged[0].checksum_stored, good ^ 1u);
  EXPECT_EQ(r->damaged[0].checksum_computed, good);
  EXPECT_EQ(r->damaged[1].problem, PageProblem::kHeader);
  EXPECT_EQ(r->StructuralMessages(), (std::vector<std::string>{
      "base/16384/16398: symbolic link, not read", "base/16384/16402: not a file, not read",
      "base/16384/16399: 8292 bytes is not a multiple of the block size 8192; the last 100 bytes are not a page"}));
  ASSERT_EQ(calls.size(), 9u);
  EXPECT_EQ(calls.back(), std::make_pair(r->bytes, r->bytes));
  for (size_t i = 1; i < calls.size(); ++i) EXPECT_LT(calls[i - 1].first, calls[i].first);

  // Without checksums the torn page's LSN is believed: the option matters.
  const auto off = ScanPageLsns(Options(d, false, 4));
  ASSERT_TRUE(off);
  EXPECT_EQ(off->max->lsn.value, 0xFFFFFFFF00000000u);
  EXPECT_EQ(off->max->file, "base/1/1259");
  EXPECT_EQ(off->max->block, 2u);
  EXPECT_EQ(off->invalid_pages, 1u);
}

TEST(PageScan, BlocksCountAcrossSegmentsForTheChecksumAndTheReport) {
  ScanDir tmp;
  const fs::path d = Cluster(tmp);
  Put(d / "base/5/16384", Concat({HeapPage(0x10, 0), HeapPage(0x11, 1), HeapPage(0x12, 2)}));
  Put(d / "base/5/16384.1", Concat({HeapPage(0x20, 3), HeapPage(0x90, 4), HeapPage(0x21, 5)}));
  Put(d / "base/5/16384.2", Concat({HeapPage(0x30, 6), HeapPage(0x99000, 1)}));  // block 7 signed as 1
  Put(d / "base/5/16384_fsm.1", HeapPage(0x80, 3));
  const auto r = ScanPageLsns(Options(d, true, 3));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->max->lsn.value, 0x90u);
  EXPECT_EQ(r->max->file, "base/5/16384.1");
  EXPECT_EQ(r->max->block, 4u);
  EXPECT_EQ(r->pages, 9u);
  EXPECT_EQ(r->invalid_pages, 1u);
  ASSERT_EQ(r->damaged.size(), 1u);
  EXPECT_EQ(r->scanned[r->damaged[0].file].file.rel, "base/5/16384.2");
  EXPECT_EQ(r->damaged[0].block, 7u);
  EXPECT_EQ(r->damaged[0].checksum_computed, PageChecksum(HeapPage(0x99000, 1), 7));
  // The free space map's first segment is missing: the server would see
  // none of that fork.
  ASSERT_EQ(r->structural.size(), 1u);
  EXPECT_EQ(r->structural[0].file, "base/5/16384_fsm");
  EXPECT_EQ(r->structural[0].problem, FileProblem::kMissingSegment);
}

TEST(PageScan, ReadsBigFilesInChunksAndKeepsTheFirstOfEqualMaxima) {
  ScanDir tmp;
  const fs::path d = Cluster(tmp);
  Bytes file;
  for (uint32_t b = 0; b < 300; ++b) {
    const Bytes page = b == 200 || b == 250 ? HeapPage(0x12345678, b) : b % 3 == 0 ? Zeros() : HeapPage(b, b);
    file.insert(file.end(), page.begin(), page.end());
  }
  Put(d / "base/5/16384", file);
  const auto r = ScanPageLsns(Options(d, true));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->bytes, 300u * 8192);
  EXPECT_EQ(r->pages, 300u);
  EXPECT_EQ(r->zero_pages, 100u);
  EXPECT_EQ(r->invalid_pages, 0u);
  EXPECT_EQ(r->max->lsn.value, 0x12345678u);
  EXPECT_EQ(r->max->block, 200u);
}

// Files spread over threads: the same report, in walk order, whatever the
// number of threads, and progress that only grows.
TEST(PageScan, ThreadsChangeNothingInTheReport) {
  ScanDir tmp;
  const fs::path d = Cluster(tmp);
  for (uint32_t rel = 0; rel < 12; ++rel) {
    Bytes file;
    for (uint32_t b = 0; b < 20; ++b) {
      Bytes page = HeapPage(0x1000 * rel + b, b);
      if ((rel + b) % 7 == 0) page[4000] ^= 1;  // a bit flip: the checksum no longer matches
      file.insert(file.end(), page.begin(), page.end());
    }
    Put(d / fmt::format("base/5/{}", 16384 + rel), file);
  }
  Put(d / "base/5/16400", Concat({HeapPage(0x9, 0), Bytes(10, 1)}));
  const auto one = ScanPageLsns(Options(d, true));
  ASSERT_TRUE(one);
  EXPECT_EQ(one->invalid_pages, 34u);  // (rel + block) % 7 == 0 for 12 relations of 20 blocks
  for (unsigned jobs : {2u, 5u, 64u}) {
    PageScanOptions o = Options(d, true);
    o.jobs = jobs;
    o.part_blocks = jobs == 5 ? 3 : 8192;  // files of 20 blocks read in 7 parts
    uint64_t last = 0;
    bool growing = true;
    o.progress = [&](uint64_t done, uint64_t) {
      growing = growing && done > last;
      last = done;
    };
    const auto many = ScanPageLsns(o);
    ASSERT_TRUE(many);
    EXPECT_TRUE(growing) << jobs;
    EXPECT_EQ(last, one->bytes) << jobs;
    EXPECT_EQ(many->DamagedExamples(1000), one->DamagedExamples(1000)) << jobs;
    EXPECT_EQ(many->StructuralMessages(), one->StructuralMessages()) << jobs;
    EXPECT_EQ(many->max->lsn, one->max->lsn) << jobs;
    EXPECT_EQ(many->max->file, one->max->file) << jobs;
    EXPECT_EQ(many->pages, one->pages) << jobs;
    ASSERT_EQ(many->scanned.size(), one->scanned.size());
    for (size_t i = 0; i < one->scanned.size(); ++i) EXPECT_EQ(many->scanned[i].damaged, one->scanned[i].damaged);
  }
}

TEST(PageScan, InPlaceTablespaceAndOtherBlockSizes) {
  ScanDir tmp;
  const fs::path d = Cluster(tmp);
  Put(d / "pg_tblspc/16400/PG_16_202307071/5/16401", Concat({HeapPage(0x77, 0, 16384), Zeros(16384)}));
  PageScanOptions o = Options(d, true, 65536, 16384);
  const auto r = ScanPageLsns(o);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->max->file, "pg_tblspc/16400/PG_16_202307071/5/16401");
  EXPECT_EQ(r->max->lsn.value, 0x77u);
  EXPECT_EQ(r->zero_pages, 1u);
  // Read as 8 kB blocks the same bytes hold pages whose special is past the block.
  o.block_size = 8192;
  const auto small = ScanPageLsns(o);
  ASSERT_TRUE(small);
  EXPECT_EQ(small->pages, 4u);
  EXPECT_FALSE(small->max);
}

TEST(PageScan, MissingPiecesAreNotedAndBadOptionsRefused) {
  ScanDir tmp;
  const auto empty = ScanPageLsns(Options(tmp.path, false));
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->max);
  EXPECT_EQ(empty->files, 0u);
  ASSERT_EQ(empty->structural.size(), 3u);
  EXPECT_EQ(empty->structural[0].message, "global: cannot list: No such file or directory");

  fs::create_directories(tmp.path / "pg_tblspc");
  fs::create_symlink(tmp.path / "gone", tmp.path / "pg_tblspc/16500");
  const auto dangling = ScanPageLsns(Options(tmp.path, false));
  ASSERT_TRUE(dangling);
  EXPECT_EQ(dangling->structural.back().message, "pg_tblspc/16500: does not lead to a directory");

  EXPECT_EQ(ScanPageLsns(Options(tmp.path / "nope", false)).error().code, ErrorCode::kIo);
  PageScanOptions o = Options(tmp.path, false);
  o.block_size = 8000;
  EXPECT_EQ(ScanPageLsns(o).error().code, ErrorCode::kInvalidArgument);
  o.block_size = 8192;
  o.blocks_per_segment = 0;
  EXPECT_EQ(ScanPageLsns(o).error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace pgrescue
