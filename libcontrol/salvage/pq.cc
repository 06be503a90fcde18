#include "libcontrol/salvage/pq.h"

#include <libpq-fe.h>

#include <chrono>
#include <string_view>
#include <thread>

#include <fmt/format.h>

namespace pgrescue {

struct Connection::Impl {
  PGconn* conn = nullptr;
  std::vector<std::string> notices;
  bool crash_elsewhere = false;       // a 57P02 warning came since the last (re)connect
  int backend_pid = 0;                // the session's server process, kept after it ends
  std::string backend_start;          // and when it started: a PID is reused
  bool gone = false;                  // a Reconnect gave up: the server is not coming back
  std::vector<std::string> settings;  // SETs to run again after a reconnect
  ~Impl() {
    if (conn != nullptr) PQfinish(conn);
  }
};

namespace {

// The primary message as the server words it, without severity or newline.
std::string ServerWords(const PGresult* res, PGconn* conn) {
  const char* primary = res != nullptr ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string text = primary != nullptr ? primary : PQerrorMessage(conn);
  // libpq's own messages run on with hints on further lines.
  if (primary == nullptr && text.find('\n') != std::string::npos) text.erase(text.find('\n'));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

void KeepNotice(void* arg, const PGresult* res) {
  auto* impl = static_cast<Connection::Impl*>(arg);
  const char* primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
  if (primary != nullptr) impl->notices.emplace_back(primary);
  // ERRCODE_CRASH_SHUTDOWN: the postmaster's SIGQUIT after another process
  // crashed, sent as a WARNING by every version; the SQLSTATE, unlike the
  // words, does not depend on lc_messages.
  const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  if (state != nullptr && std::string_view(state) == "57P02") impl->crash_elsewhere = true;
}

}  // namespace

Result<Connection> Connection::Open(const std::string& socket_dir, int port, const std::string& user,
                                    const std::string& database) {
  const std::string port_text = std::to_string(port);
  // Settings a role or database may have changed: enable_tidscan off would
  // turn every range into a scan that meets the damaged block; a search_path
  // could run user functions as the superuser. options beats both (and
  // PGOPTIONS).
  const char* options =
      "-c search_path=pg_catalog -c enable_tidscan=on -c statement_timeout=0 -c lock_timeout=0";
  const char* keys[] = {"host", "port", "user", "dbname", "application_name", "client_encoding", "options", nullptr};
  const char* values[] = {socket_dir.c_str(), port_text.c_str(), user.c_str(), database.c_str(),
                          "pgrescue-salvage", "SQL_ASCII", options, nullptr};
  Connection c;
  c.impl_ = std::make_unique<Impl>();
  c.impl_->conn = PQconnectdbParams(keys, values, 0);
  if (PQstatus(c.impl_->conn) != CONNECTION_OK) {
    return MakeError(ErrorCode::kIo, ServerWords(nullptr, c.impl_->conn), "database " + database);
  }
  PQsetNoticeReceiver(c.impl_->conn, &KeepNotice, c.impl_.get());
  c.Identify();
  return c;
}

Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() = default;

Result<std::vector<SqlRow>> Connection::Query(const std::string& sql) {
  PGresult* res = PQexec(impl_->conn, sql.c_str());
  const auto status = PQresultStatus(res);
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    std::string why = ServerWords(res, impl_->conn);
    PQclear(res);
    return MakeError(ErrorCode::kIo, why);
  }
  std::vector<SqlRow> rows;
  for (int r = 0; r < PQntuples(res); ++r) {
    SqlRow row;
    for (int f = 0; f < PQnfields(res); ++f) {
      if (PQgetisnull(res, r, f)) row.emplace_back(std::nullopt);
      else row.emplace_back(std::string(PQgetvalue(res, r, f), static_cast<size_t>(PQgetlength(res, r, f))));
    }
    rows.push_back(std::move(row));
  }
  PQclear(res);
  return rows;
}

Result<std::string> Connection::Value(const std::string& sql) {
  auto rows = Query(sql);
  if (!rows) return rows.error();
  if (rows->empty() || rows->front().empty() || !rows->front().front()) {
    return MakeError(ErrorCode::kNotFound, "no value", sql);
  }
  return *rows->front().front();
}

Status Connection::Execute(const std::string& sql) {
  auto rows = Query(sql);
  if (!rows) return rows.error();
  if (sql.starts_with("SET ")) impl_->settings.push_back(sql);
  return {};
}

bool Connection::Broken() const { return PQstatus(impl_->conn) == CONNECTION_BAD; }

bool Connection::EndedByCrashElsewhere() const { return Broken() && impl_->crash_elsewhere; }

Status Connection::Reconnect(int seconds) {
  impl_->crash_elsewhere = false;
  if (impl_->gone) return MakeError(ErrorCode::kIo, "the server did not come back after a crash");
  const int ended_pid = impl_->backend_pid;
  const std::string ended_start = impl_->backend_start;
  std::string why;
  for (int waited = 0; waited <= seconds * 4; ++waited) {
    PQreset(impl_->conn);
    // A session opened in the moment after a crash, before the postmaster
    // has noticed it, is ended by the restart that follows, often before
    // it could send 57P02, and its next statement would be blamed. The
    // crashed process stays listed until the restart resets shared memory;
    // one that ended cleanly leaves at once. So the session is kept only
    // when its predecessor is no longer listed.
    if (PQstatus(impl_->conn) != CONNECTION_OK) {
      why = ServerWords(nullptr, impl_->conn);
    } else if (auto listed = Listed(ended_pid, ended_start); !listed) {
      why = listed.error().message;
    } else if (*listed) {
      why = fmt::format("server process {} (whose session ended) is still listed: the server has not restarted yet",
                        ended_pid);
    } else {
      Identify();
      impl_->crash_elsewhere = false;  // a doomed session's 57P02 is not this one's
      for (const auto& setting : impl_->settings) {
        PGresult* res = PQexec(impl_->conn, setting.c_str());
        PQclear(res);
      }
      return {};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  impl_->gone = true;
  return MakeError(ErrorCode::kIo, fmt::format("the server did not come back in {} s: {}", seconds, why));
}

void Connection::Identify() {
  impl_->backend_pid = PQbackendPID(impl_->conn);
  auto start = Value("SELECT backend_start::text FROM pg_catalog.pg_stat_get_activity(pg_catalog.pg_backend_pid())");
  impl_->backend_start = start ? *start : "";
}

Result<bool> Connection::Listed(int pid, const std::string& start) {
  if (pid == 0) return false;
  // The function under pg_stat_activity, without the view's joins to
  // catalogs a damaged cluster may not read.
  auto count = Value(fmt::format("SELECT count(*) FROM pg_catalog.pg_stat_get_activity({}) WHERE pid <> "
                                 "pg_catalog.pg_backend_pid(){}",
                                 pid, start.empty() ? "" : " AND backend_start::text = " + QuoteLiteral(start)));
  if (!count) {
    // A session the restart ends is still to be waited out; any other
    // failure leaves the question open, and waiting would not answer it.
    if (Broken()) return MakeError(ErrorCode::kIo, count.error().message);
    return false;
  }
  return *count != "0";
}

Result<Connection::CopyRows> Connection::CopyOut(const std::string& copy_sql) {
  PGresult* res = PQexec(impl_->conn, copy_sql.c_str());
  if (PQresultStatus(res) != PGRES_COPY_OUT) {
    std::string why = ServerWords(res, impl_->conn);
    PQclear(res);
    return MakeError(ErrorCode::kIo, why);
  }
  PQclear(res);
  CopyRows out;
  char* buffer = nullptr;
  int n = 0;
  while ((n = PQgetCopyData(impl_->conn, &buffer, 0)) > 0) {
    out.text.append(buffer, static_cast<size_t>(n));
    ++out.rows;
    PQfreemem(buffer);
  }
  std::string why;
  if (n == -2) why = ServerWords(nullptr, impl_->conn);
  while ((res = PQgetResult(impl_->conn)) != nullptr) {
    if (PQresultStatus(res) != PGRES_COMMAND_OK && why.empty()) why = ServerWords(res, impl_->conn);
    PQclear(res);
  }
  if (!why.empty()) return MakeError(ErrorCode::kIo, why);
  return out;
}

std::vector<std::string> Connection::TakeNotices() { return std::exchange(impl_->notices, {}); }

std::string Connection::QuoteIdent(const std::string& name) {
  std::string out = "\"";
  for (char c : name) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string Connection::QuoteLiteral(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

}  // namespace pgrescue
