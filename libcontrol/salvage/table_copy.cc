#include "libcontrol/salvage/table_copy.h"
#include "libcontrol/salvage/tool_output.h"


#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "libcontrol/pages/heap_format.h"

namespace pgrescue {
namespace {

// A TID range of this many blocks is one COPY: a few MB held until it
// succeeds. Before 14 the range is a list of every possible item, so shorter.
constexpr uint64_t kRangeBlocks = 2048;
constexpr uint64_t kListBlocks = 256;
// Reads ended by other processes' crashes that are tried again before the
// read counts as failed; a bound, so a server that keeps crashing ends it.
constexpr int kCrashesElsewhere = 8;

// MaxHeapTuplesPerPage: a line pointer and a bare tuple header each.
uint32_t MaxItems(uint32_t block_size) {
  return static_cast<uint32_t>((block_size - heap::kPageHeaderSize) /
                               ((heap::kTupleHeaderSize + heap::kMaxAlign - 1) / heap::kMaxAlign * heap::kMaxAlign +
                                heap::kLinePointerSize));
}

// Whether the server's message names `file` itself ("base/5/1639" is not
// named by "base/5/16397", its TOAST table's).
bool NamesFile(const std::string& message, const std::string& file) {
  for (size_t at = message.find(file); at != std::string::npos; at = message.find(file, at + 1)) {
    const size_t end = at + file.size();
    if (end == message.size() || !std::isdigit(static_cast<unsigned char>(message[end]))) return true;
  }
  return false;
}

std::string Qualified(const TableToCopy& t) {
  return Connection::QuoteIdent(t.schema) + "." + Connection::QuoteIdent(t.table);
}

class BlockCopier {
 public:
  BlockCopier(Connection& c, const TableToCopy& t, const TableCopyOptions& o, std::ostream& sink, TableOutcome* out)
      : c_(c), t_(t), o_(o), sink_(sink), out_(out) {}

  void Range(uint64_t lo, uint64_t hi) {
    if (server_gone_) {
      for (uint64_t b = lo; b < hi; ++b) out_->skipped.push_back({b, "not read: the server did not come back after a crash", std::nullopt});
      Done(hi - lo);
      return;
    }
    auto rows = Copy(CopyRangeSql(t_, o_, lo, hi));
    Zeroed();
    if (rows) {
      Keep(*rows);
      Done(hi - lo);
      return;
    }
    if (hi - lo > 1) {
      const uint64_t mid = lo + (hi - lo) / 2;
      Range(lo, mid);
      Range(mid, hi);
      return;
    }
    // One block. The server names the table's own file when the page itself
    // is unreadable; anything else comes from elsewhere (its TOAST table).
    const std::string& why = rows.error().message;
    if (NamesFile(why, t_.file)) {
      out_->skipped.push_back({lo, why, o_.rows_on_block ? o_.rows_on_block(t_, lo) : std::nullopt});
    } else {
      Rows(lo);
    }
    Done(1);
  }

 private:
  // A COPY; when it crashed the server process, the session is opened again
  // once the server has recovered, and the error says so. A session ended
  // by another process's crash (a pg_dump's, or a session of ours that was
  // not told) is no evidence against these rows: the COPY is run again, a
  // few times.
  Result<Connection::CopyRows> Copy(const std::string& sql) {
    for (int crashes_elsewhere = 0;; ++crashes_elsewhere) {
      auto rows = c_.CopyOut(sql);
      if (rows || !c_.Broken()) return rows;
      const bool elsewhere = c_.EndedByCrashElsewhere();
      const bool again = elsewhere && crashes_elsewhere < kCrashesElsewhere;
      const std::string why = (elsewhere ? "the server restarted after another process crashed (see server.log): "
                                         : "the server process crashed reading it (see server.log): ") +
                              rows.error().message;
      if (auto s = c_.Reconnect(300); !s) {
        server_gone_ = true;
        return MakeError(ErrorCode::kIo, why + "; " + s.error().message);
      }
      if (!again) return MakeError(ErrorCode::kIo, why);
    }
  }

  void Rows(uint64_t block) {
    for (uint32_t item = 1; item <= MaxItems(o_.block_size); ++item) {
      const std::string ctid = fmt::format("({},{})", block, item);
      auto row = Copy(fmt::format("COPY (SELECT {} FROM ONLY {} WHERE ctid = '{}'::tid) TO STDOUT", t_.columns,
                                        Qualified(t_), ctid));
      if (row) {
        Keep(*row);
      } else if (server_gone_) {
        out_->skipped.push_back({block, "not read whole: the server did not come back after a crash", std::nullopt});
        return;
      } else {
        out_->failed_rows.push_back({ctid, row.error().message});
      }
    }
  }

  void Keep(const Connection::CopyRows& rows) {
    sink_ << rows.text;
    out_->rows_saved += rows.rows;
  }

  // zero_damaged_pages turns an unreadable page into a warning and an empty page.
  void Zeroed() {
    for (const auto& notice : c_.TakeNotices()) {
      const auto zeroed = ZeroedBlock(notice);
      if (!zeroed) continue;
      const uint64_t block = zeroed->first;
      const bool known = std::any_of(out_->skipped.begin(), out_->skipped.end(), [&](const SkippedBlock& b) { return b.block == block; });
      if (zeroed->second == t_.file && !known) {
        out_->skipped.push_back({block, notice, o_.rows_on_block ? o_.rows_on_block(t_, block) : std::nullopt});
      }
      if (o_.zeroed != nullptr) o_.zeroed->push_back(notice);
    }
  }

  void Done(uint64_t blocks) {
    done_ += blocks;
    if (o_.progress) o_.progress(done_, t_.blocks);
  }

  Connection& c_;
  const TableToCopy& t_;
  const TableCopyOptions& o_;
  std::ostream& sink_;
  TableOutcome* out_;
  uint64_t done_ = 0;
  bool server_gone_ = false;  // every block left is recorded unread, not tried
};

}  // namespace

std::string CopyRangeSql(const TableToCopy& t, const TableCopyOptions& o, uint64_t lo, uint64_t hi) {
  if (o.server_major >= 1400) {
    return fmt::format("COPY (SELECT {} FROM ONLY {} WHERE ctid >= '({},0)'::tid AND ctid < '({},0)'::tid) TO STDOUT",
                       t.columns, Qualified(t), lo, hi);
  }
  return fmt::format(
      "COPY (SELECT {} FROM ONLY {} WHERE ctid = ANY (ARRAY(SELECT format('(%s,%s)', b, i)::tid "
      "FROM generate_series({}::bigint, {}::bigint) b, generate_series(1, {}) i))) TO STDOUT",
      t.columns, Qualified(t), lo, hi - 1, MaxItems(o.block_size));
}

void CopyTableByBlocks(Connection& c, const TableToCopy& t, const TableCopyOptions& o, std::ostream& sink,
                       TableOutcome* out) {
  sink << fmt::format("COPY {} ({}) FROM stdin;\n", Qualified(t), t.columns);
  BlockCopier copier(c, t, o, sink, out);
  const uint64_t step = o.server_major >= 1400 ? kRangeBlocks : kListBlocks;
  // Known damaged blocks are read alone, for the server's words, so that
  // their ranges need not be split to find them.
  for (uint64_t lo = 0; lo < t.blocks;) {
    if (t.known_damaged.contains(lo)) {
      copier.Range(lo, lo + 1);
      ++lo;
      continue;
    }
    uint64_t hi = std::min(t.blocks, lo + step);
    if (auto next = t.known_damaged.lower_bound(lo); next != t.known_damaged.end() && *next < hi) hi = *next;
    copier.Range(lo, hi);
    lo = hi;
  }
  sink << "\\.\n\n";
}

}  // namespace pgrescue
