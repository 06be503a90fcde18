// Plans a synthetic cluster with 100,000 WAL segments and 4,096 pg_xact
// segments, timed against `ls -f` of the same directories (the floor: reading
// the directories at all). Both run as separate processes, warm cache, best
// of several runs. Prints the ratio; asserts nothing.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "libcontrol/base/wal_names.h"

namespace fs = std::filesystem;

namespace {

double RunSeconds(const std::vector<std::string>& argv) {
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    FILE* devnull = std::fopen("/dev/null", "w");
    dup2(fileno(devnull), 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) > 1) {
    std::fprintf(stderr, "%s failed\n", argv[0].c_str());
    std::exit(2);
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double Best(const std::vector<std::string>& argv, int runs) {
  double best = 1e9;
  for (int i = 0; i < runs; ++i) best = std::min(best, RunSeconds(argv));
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: plan_bench PGRESCUE_PLAN FIXTURES_DIR\n");
    return 2;
  }
  const std::string plan = argv[1];
  const fs::path fixtures = argv[2];
  const fs::path root = fs::temp_directory_path() / fmt::format("pgrescue-bench-{}", getpid());
  fs::create_directories(root / "global");
  fs::create_directories(root / "pg_wal");
  fs::create_directories(root / "pg_xact");
  fs::copy_file(fixtures / "pg15/PG_VERSION", root / "PG_VERSION");
  fs::copy_file(fixtures / "pg15/pg_control.shutdown", root / "global/pg_control");
  const uint64_t seg = 16u << 20;
  for (uint64_t s = 1; s <= 100000; ++s) {
    std::ofstream(root / "pg_wal" / pgrescue::WalSegmentName{1, s}.ToString(seg));
  }
  for (uint64_t s = 0; s < 4096; ++s) std::ofstream(root / "pg_xact" / fmt::format("{:04X}", s));

  const int runs = 7;
  Best({plan, root.string()}, 2);  // warm the cache
  const double ls = Best({"ls", "-f", (root / "pg_wal").string(), (root / "pg_xact").string()}, runs);
  const double planned = Best({plan, root.string()}, runs);
  std::printf("plan of 100000 WAL + 4096 pg_xact segments: pgrescue-plan %.1f ms, ls -f %.1f ms, "
              "ratio %.2f (best of %d)\n",
              planned * 1e3, ls * 1e3, planned / ls, runs);
  fs::remove_all(root);
  return 0;
}
