#include "libcontrol/salvage/private_server.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>

#include <chrono>
#include <filesystem>
#include <thread>
#include <fstream>

#include <fmt/format.h>

#include "libcontrol/salvage/process.h"

namespace pgrescue {
namespace {

// The last lines of a log, for an error message.
std::string LogTail(const std::string& path, size_t lines) {
  std::ifstream in(path);
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(line);
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) out += "\n  " + all[i];
  return out;
}

// Every private server running: data directory -> pg_ctl and socket directory.
std::mutex running_mutex;
std::map<std::string, std::pair<std::string, std::string>>& Running() {
  static std::map<std::string, std::pair<std::string, std::string>> running;
  return running;
}

}  // namespace

void StopPrivateServersOnSignal() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, sig);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set] {
    int sig = 0;
    sigwait(&set, &sig);
    std::lock_guard lock(running_mutex);
    for (const auto& [data_dir, server] : Running()) {
      (void)RunProgram({server.first, "-D", data_dir, "-w", "-t", "60", "-m", "immediate", "stop"}, "/dev/null");
      rmdir(server.second.c_str());
      std::fprintf(stderr, "stopped the private server on %s\n", data_dir.c_str());
    }
    std::fprintf(stderr, "interrupted by signal %d\n", sig);
    std::_Exit(2);
  }).detach();
}

Result<PrivateServer> PrivateServer::Start(const PrivateServerOptions& o) {
  PrivateServer s;
  s.options_ = o;
  char pattern[] = "/tmp/pgrescue-salvage-XXXXXX";  // short: a socket path has at most 107 bytes
  if (mkdtemp(pattern) == nullptr) return MakeError(ErrorCode::kIo, "cannot create a socket directory in /tmp");
  s.socket_dir_ = pattern;
  const std::string hba = o.work_dir + "/" + o.log_name + ".pg_hba.conf";
  std::ofstream(hba) << "# pgrescue-salvage: only its own processes, over its private socket\n"
                        "local all all trust\n";
  // data_directory: a postgresql.conf that names the original (a copied
  // one, or one kept elsewhere) would otherwise send the server there.
  std::vector<std::string> settings = {
      "data_directory=" + o.data_dir, "listen_addresses=", "unix_socket_directories=" + s.socket_dir_,
      "unix_socket_permissions=0700", "hba_file=" + hba, "autovacuum=off", "archive_mode=off",
      "synchronous_standby_names=", "lc_messages=C", "logging_collector=off", "ssl=off",
      // A damaged tuple may crash a backend: the server must come back
      // (a cluster run by a cluster manager often has this off).
      "restart_after_crash=on"};
  // Debian keeps postgresql.conf in /etc/postgresql: an empty one will do.
  if (access((o.data_dir + "/postgresql.conf").c_str(), F_OK) != 0) {
    const std::string conf = o.work_dir + "/" + o.log_name + ".postgresql.conf";
    std::ofstream(conf) << "# pgrescue-salvage: the data directory has no postgresql.conf\n";
    settings.push_back("config_file=" + conf);
  }
  if (MajorNumber(o.server.major) >= 1200) settings.push_back("primary_conninfo=");
  // A crash in a parallel worker reaches its leader as another process's
  // crash (57P02), which a block copy would read again; 9.4 and 9.5 have
  // no parallel query, and refuse the setting.
  if (MajorNumber(o.server.major) >= 906) settings.push_back("max_parallel_workers_per_gather=0");
  if (o.ignore_system_indexes) settings.push_back("ignore_system_indexes=on");
  std::string opts = fmt::format("-p {}", kPort);
  for (const auto& setting : settings) opts += " -c " + ShellWord(setting);
  auto run = RunProgram({o.server.bindir + "/pg_ctl", "-D", o.data_dir, "-w", "-t", "3600", "-l", s.log_path(), "-o",
                         opts, "start"},
                        o.work_dir + "/" + o.log_name + ".pg_ctl.log");
  if (!run) {
    rmdir(s.socket_dir_.c_str());
    return run.error();
  }
  if (!run->ok()) {
    // pg_ctl gives up waiting but leaves a server that did come up.
    if (access((o.data_dir + "/postmaster.pid").c_str(), F_OK) == 0) {
      (void)RunProgram({o.server.bindir + "/pg_ctl", "-D", o.data_dir, "-w", "-t", "60", "-m", "immediate", "stop"},
                       o.work_dir + "/" + o.log_name + ".pg_ctl.log");
    }
    rmdir(s.socket_dir_.c_str());
    return MakeError(ErrorCode::kIo,
                     fmt::format("the private server did not start; its log {} ends:{}", s.log_path(),
                                 LogTail(s.log_path(), 8)),
                     o.data_dir);
  }
  s.running_ = true;
  std::lock_guard lock(running_mutex);
  Running()[o.data_dir] = {o.server.bindir + "/pg_ctl", s.socket_dir_};
  return s;
}

PrivateServer::PrivateServer(PrivateServer&& other) noexcept
    : options_(std::move(other.options_)), socket_dir_(std::move(other.socket_dir_)),
      running_(std::exchange(other.running_, false)) {}

PrivateServer::~PrivateServer() {
  if (running_) (void)Stop();
}

Status PrivateServer::Stop() {
  if (!running_) return {};
  running_ = false;
  std::lock_guard lock(running_mutex);
  Running().erase(options_.data_dir);
  const std::string log = options_.work_dir + "/" + options_.log_name + ".pg_ctl.log";
  auto run = RunProgram({options_.server.bindir + "/pg_ctl", "-D", options_.data_dir, "-w", "-t", "300", "-m", "fast",
                         "stop"},
                        log);
  if (run && !run->ok()) {
    run = RunProgram({options_.server.bindir + "/pg_ctl", "-D", options_.data_dir, "-w", "-t", "60", "-m", "immediate",
                      "stop"},
                     log);
  }
  rmdir(socket_dir_.c_str());
  if (!run) return run.error();
  if (!run->ok()) return MakeError(ErrorCode::kIo, "the private server did not stop: " + run->output, options_.data_dir);
  return {};
}

Status PrivateServer::WaitReady(int seconds) const {
  std::string why;
  for (int tries = 0; tries <= seconds * 4; ++tries) {
    auto c = Connect("template1");
    if (c) return {};
    why = c.error().message;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return MakeError(ErrorCode::kIo, "the private server does not accept connections: " + why, options_.data_dir);
}

Result<Connection> PrivateServer::Connect(const std::string& database) const {
  return Connection::Open(socket_dir_, kPort, options_.superuser, database);
}

std::vector<std::string> PrivateServer::ClientArgs() const {
  return {"-h", socket_dir_, "-p", std::to_string(kPort), "-U", options_.superuser};
}

}  // namespace pgrescue
