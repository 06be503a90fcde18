// What pgrescue-salvage saved and lost, per database and table, as text and
// as JSON (the layout man/pgrescue-salvage.1 documents).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "libcontrol/salvage/binaries.h"
#include "libcontrol/salvage/protective_copy.h"

namespace pgrescue {

struct SkippedBlock {
  uint64_t block = 0;
  std::string error;                 // the server's words
  std::optional<uint32_t> rows_lost;  // its normal line pointers; nullopt when none could be read
};

struct FailedRow {
  std::string ctid;   // "(3,7)"
  std::string error;  // the server's words: "missing chunk number 0 for toast value ..."
};

struct TableOutcome {
  std::string schema, table;
  uint32_t oid = 0;
  std::string file;      // base/16384/16385, in the directory salvage worked on
  std::string how;       // "pg_dump", or "by block" when pg_dump could not read it
  uint64_t rows_saved = 0;
  std::vector<SkippedBlock> skipped;
  std::vector<FailedRow> failed_rows;

  std::string name() const { return schema + "." + table; }
  uint64_t rows_lost() const;
  uint64_t uncounted_blocks() const;
};

struct DatabaseOutcome {
  std::string name;
  uint32_t oid = 0;
  std::optional<std::string> dump;      // pg_dump's directory
  std::optional<std::string> salvaged;  // COPY data of the tables copied by block
  std::vector<TableOutcome> tables;
  std::vector<std::string> problems;    // what could not be done, in words
  std::string create;                   // CREATE DATABASE as the original's
};

struct ReloadOutcome {
  std::string data_dir;
  uint64_t tables_checked = 0;
  std::vector<std::string> mismatches;  // "public.t: 90 rows, the report says 100"
  std::vector<std::string> warnings;    // restore steps that reported errors
  std::string amcheck;                  // what amcheck said, or why it did not run
};

struct SalvageReport {
  std::string data_dir, worked_on;
  bool in_place = false;
  std::optional<CopyOutcome> copy;
  PostgresPrograms server;
  std::optional<PostgresPrograms> pg_dump;
  std::string pg_dump_missing;
  bool ignore_system_indexes = false;
  std::string ignore_system_indexes_why;
  bool zero_damaged_pages = false;
  std::vector<std::string> zeroed;  // the server's words for each page it zeroed
  std::vector<DatabaseOutcome> databases;
  std::string globals;              // pg_dumpall --globals-only's file
  std::vector<std::string> restore;  // the commands, in order
  std::optional<ReloadOutcome> reload;
  std::vector<std::string> warnings;

  uint64_t rows_saved() const;
  uint64_t rows_lost() const;
  uint64_t blocks_skipped() const;
  // Rows or blocks lost, a database not dumped, or a reload that disagrees.
  bool LostSomething() const;
};

nlohmann::ordered_json SalvageReportJson(const SalvageReport& report);
std::string SalvageReportText(const SalvageReport& report);

}  // namespace pgrescue
