// A connection to the private server salvage starts, over libpq: queries
// whose rows come back as text, and COPY ... TO STDOUT whose rows are kept
// until the statement succeeds. A COPY that fails half-way has already sent
// rows; keeping them would save part of a range twice once it is split.
//
// One Connection is used by one thread. Every call returns the server's own
// words on failure (the primary message, without "ERROR:").
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "libcontrol/base/result.h"

struct pg_conn;

namespace pgrescue {

using SqlRow = std::vector<std::optional<std::string>>;

class Connection {
 public:
  // socket_dir and port name the private server's socket.
  static Result<Connection> Open(const std::string& socket_dir, int port, const std::string& user,
                                 const std::string& database);
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();

  Result<std::vector<SqlRow>> Query(const std::string& sql);
  // The first column of the first row, or an error when there is none.
  Result<std::string> Value(const std::string& sql);
  Status Execute(const std::string& sql);

  // Runs `COPY (...) TO STDOUT` and returns every row (each ends in '\n')
  // and their number, or the server's error; nothing is returned on error.
  struct CopyRows {
    std::string text;
    uint64_t rows = 0;
  };
  Result<CopyRows> CopyOut(const std::string& copy_sql);

  // The server ended the session: its process crashed (a damaged tuple can
  // make it), or the server restarted after another one did.
  bool Broken() const;
  // Broken, and the server said why before it closed the session: another
  // of its processes crashed (SQLSTATE 57P02), so what was running here is
  // not to blame and may be run again once the server is back.
  bool EndedByCrashElsewhere() const;
  // Connects again, waiting up to `seconds` while the server recovers from
  // a crash, and runs again every SET given to Execute. Once it has given
  // up, later calls fail at once.
  Status Reconnect(int seconds);

  // WARNINGs and NOTICEs the server sent since the last call (zero_damaged_pages
  // reports what it zeroed this way).
  std::vector<std::string> TakeNotices();

  static std::string QuoteIdent(const std::string& name);
  static std::string QuoteLiteral(const std::string& text);

  struct Impl;  // libpq's connection and the notices it received

 private:
  Connection() = default;
  // Notes the session's server process and its start.
  void Identify();
  // Whether server process `pid`, started at `start` (when known), is still
  // listed; an error when the session ended while asking.
  Result<bool> Listed(int pid, const std::string& start);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgrescue
