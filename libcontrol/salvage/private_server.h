// A server nobody else can reach, started on the directory salvage works
// on: no TCP (listen_addresses empty), its socket in a fresh 0700
// directory, an hba file that lets only local connections in, autovacuum,
// archiving and streaming from a primary off, messages in English (the
// report quotes them), its log in salvage's folder. Since nobody else
// connects, nothing changes the catalogs or queues a lock during the dump:
// that is what makes a parallel dump on one synchronized snapshot safe.
//
// Stopped (fast) when the object goes, whatever happened before.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "libcontrol/base/result.h"
#include "libcontrol/salvage/binaries.h"
#include "libcontrol/salvage/pq.h"

namespace pgrescue {

struct PrivateServerOptions {
  PostgresPrograms server;
  std::string data_dir;
  std::string work_dir;   // where its log, hba file and pg_ctl's output go
  std::string log_name;   // "server" gives work_dir/server.log
  std::string superuser;  // the role to connect as
  bool ignore_system_indexes = false;
};

// From now on SIGINT, SIGTERM and SIGHUP stop every private server still
// running (immediate: its directory is a copy, or crash-safe) and end the
// process with exit status 2. pg_ctl detaches the server from the terminal,
// so an interrupted salvage would otherwise leave it running. Call before
// any thread starts: it blocks those signals for the threads to come.
void StopPrivateServersOnSignal();

class PrivateServer {
 public:
  static Result<PrivateServer> Start(const PrivateServerOptions& options);
  PrivateServer(PrivateServer&& other) noexcept;
  PrivateServer& operator=(PrivateServer&&) = delete;
  ~PrivateServer();

  Result<Connection> Connect(const std::string& database) const;
  // Waits up to `seconds` until it accepts connections again: after a
  // server process crashes, the server restarts and recovers first.
  Status WaitReady(int seconds) const;
  // Stops it (fast; immediate when a fast shutdown hangs, as one after a
  // crash restart can) and removes its socket directory.
  Status Stop();

  const std::string& socket_dir() const { return socket_dir_; }
  int port() const { return kPort; }
  const std::string& superuser() const { return options_.superuser; }
  // The log the server writes, for messages.
  std::string log_path() const { return options_.work_dir + "/" + options_.log_name + ".log"; }
  // -h -p -U as pg_dump, pg_restore and psql take them.
  std::vector<std::string> ClientArgs() const;

 private:
  PrivateServer() = default;
  // The socket's name holds the port; the directory is ours alone.
  static constexpr int kPort = 5432;
  PrivateServerOptions options_;
  std::string socket_dir_;
  bool running_ = false;
};

}  // namespace pgrescue
