#include "libcontrol/salvage/process.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

extern char** environ;

namespace pgrescue {

Result<ProgramRun> RunProgram(const std::vector<std::string>& argv, const std::string& log_path) {
  const int log = open(log_path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log < 0) return MakeError(ErrorCode::kIo, std::strerror(errno), log_path);
  const auto start = lseek(log, 0, SEEK_END);
  const std::string banner = "$ " + ShellCommand(argv) + "\n";
  (void)!write(log, banner.data(), banner.size());
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, log, 1);
  posix_spawn_file_actions_adddup2(&actions, log, 2);
  std::vector<std::string> env_text;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "LC_ALL=", 7) != 0 && std::strncmp(*e, "PGOPTIONS=", 10) != 0) env_text.emplace_back(*e);
  }
  env_text.emplace_back("LC_ALL=C");
  std::vector<char*> envp, args;
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> copy = argv;
  for (auto& a : copy) args.push_back(a.data());
  args.push_back(nullptr);
  // The programs get the signals this process may have blocked for its
  // own handling (StopPrivateServersOnSignal), with their default actions.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, args[0], &actions, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    close(log);
    return MakeError(ErrorCode::kIo, std::string("cannot run: ") + std::strerror(rc), argv[0]);
  }
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  ProgramRun run;
  run.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  const auto end = lseek(log, 0, SEEK_END);
  const auto from = std::max<off_t>(start + static_cast<off_t>(banner.size()), end - (64 << 10));
  run.output.resize(static_cast<size_t>(std::max<off_t>(0, end - from)));
  if (pread(log, run.output.data(), run.output.size(), from) < 0) run.output.clear();
  close(log);
  return run;
}

Status BecomeDataDirOwner(const std::string& data_dir, const std::vector<std::string>& own_dirs) {
  struct stat st {};
  if (stat(data_dir.c_str(), &st) != 0) return MakeError(ErrorCode::kIo, std::strerror(errno), data_dir);
  for (const auto& d : own_dirs) {
    if (mkdir(d.c_str(), 0700) != 0 && errno != EEXIST) {
      return MakeError(ErrorCode::kIo, std::string("cannot create directory: ") + std::strerror(errno), d);
    }
    if (geteuid() == 0 && chown(d.c_str(), st.st_uid, st.st_gid) != 0) {
      return MakeError(ErrorCode::kIo, std::string("cannot give it to the data directory's owner: ") +
                                           std::strerror(errno), d);
    }
  }
  if (geteuid() != 0) return {};
  const passwd* pw = getpwuid(st.st_uid);
  if (st.st_uid == 0 || pw == nullptr) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the data directory is owned by root or by a user with no name; the server cannot run as "
                     "its owner",
                     data_dir);
  }
  if (initgroups(pw->pw_name, st.st_gid) != 0 || setgid(st.st_gid) != 0 || setuid(st.st_uid) != 0) {
    return MakeError(ErrorCode::kIo, std::string("cannot become the data directory's owner ") + pw->pw_name + ": " +
                                         std::strerror(errno), data_dir);
  }
  setenv("HOME", pw->pw_dir, 1);
  setenv("USER", pw->pw_name, 1);
  return {};
}

}  // namespace pgrescue
