#include "libcontrol/base/shell_words.h"

namespace pgrescue {

std::string ShellQuote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string ShellWord(const std::string& text) {
  constexpr const char* kPlain = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+@%";
  return !text.empty() && text.find_first_not_of(kPlain) == std::string::npos ? text : ShellQuote(text);
}

std::string ShellCommand(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + ShellWord(a);
  return out;
}

}  // namespace pgrescue
