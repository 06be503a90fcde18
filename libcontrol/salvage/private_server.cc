#include "libcontrol/salvage/private_server.h"

#include <unistd.h>

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

}  // namespace

Result<PrivateServer> PrivateServer::Start(const PrivateServerOptions& o) {
  PrivateServer s;
  s.options_ = o;
  char pattern[] = "/tmp/pgrescue-salvage-XXXXXX";  // short: a socket path has at most 107 bytes
  if (mkdtemp(pattern) == nullptr) return MakeError(ErrorCode::kIo, "cannot create a socket directory in /tmp");
  s.socket_dir_ = pattern;
  const std::string hba = o.work_dir + "/" + o.log_name + ".pg_hba.conf";
  std::ofstream(hba) << "# pgrescue-salvage: only its own processes, over its private socket\n"
                        "local all all trust\n";
  std::vector<std::string> settings = {
      "listen_addresses=", "unix_socket_directories=" + s.socket_dir_, "unix_socket_permissions=0700",
      "hba_file=" + hba,   "autovacuum=off",   "archive_mode=off",  "synchronous_standby_names=",
      "lc_messages=C",     "logging_collector=off", "ssl=off"};
  if (MajorNumber(o.server.major) >= 1200) settings.push_back("primary_conninfo=");
  if (o.ignore_system_indexes) settings.push_back("ignore_system_indexes=on");
  std::string opts = fmt::format("-p {}", kPort);
  for (const auto& setting : settings) opts += " -c " + ShellWord(setting);
  auto run = RunProgram({o.server.bindir + "/pg_ctl", "-D", o.data_dir, "-w", "-t", "3600", "-l", s.log_path(), "-o",
                         opts, "start"},
                        o.work_dir + "/" + o.log_name + ".pg_ctl.log");
  if (!run) return run.error();
  if (!run->ok()) {
    rmdir(s.socket_dir_.c_str());
    return MakeError(ErrorCode::kIo,
                     fmt::format("the private server did not start; its log {} ends:{}", s.log_path(),
                                 LogTail(s.log_path(), 8)),
                     o.data_dir);
  }
  s.running_ = true;
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
