// The ways a cluster fails, kept as data: for each, the messages the server
// prints when it happens (in every wording from 9.4 to 19), what on disk
// confirms it, and the remedies that address it. The planner matches the
// server's log against this table (symptoms.h); adding a wording or a class
// is one entry here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "libcontrol/cluster/server_log.h"

namespace pgrescue {

// A message as the server's source writes it (errmsg's format string): a
// printf conversion (%s, %u, %X, %lu, %m, ...) matches any text.
struct MessageForm {
  std::string_view format;
  std::string_view versions;  // where this wording is printed: "9.4–14", "15–"
};

struct FailureClass {
  std::string_view code;   // stable: "no-checkpoint"
  std::string_view title;  // what happened, for a DBA
  std::vector<MessageForm> messages;
  std::string_view evidence;  // what on disk confirms or refutes it
  std::vector<std::string_view> remedies;  // remedy codes (remedies.h) that address it, least destructive first
};

enum class SymptomVerdict {
  kConfirmed,    // the disk shows it now
  kRefuted,      // the disk shows otherwise now (fixed since, or the line is the normal end of WAL)
  kUnconfirmed,  // nothing on disk decides it (the evidence could not be read)
};
std::string_view SymptomVerdictName(SymptomVerdict v);

// A class the server's log names, judged against the disk (symptoms.h).
struct Diagnosis {
  const FailureClass* failure = nullptr;  // points into FailureCatalogue()
  std::vector<LogMessage> messages;       // the lines that named it, in log order
  std::vector<std::string> sources;       // the logs they came from
  SymptomVerdict verdict = SymptomVerdict::kUnconfirmed;
  std::vector<std::string> evidence;      // one fact a line, for and against
};

const std::vector<FailureClass>& FailureCatalogue();
const FailureClass* FindFailureClass(std::string_view code);

// Whether a message is one of the class's wordings.
bool NamesClass(const FailureClass& failure, const LogMessage& message);

// Whether `text` is an instance of `format`; the text each conversion stood
// for goes to `values` (in order) when it is. Never fails: a format with a
// conversion it does not know treats the '%' as a literal.
bool MatchMessageForm(std::string_view format, std::string_view text, std::vector<std::string>* values);

}  // namespace pgrescue
