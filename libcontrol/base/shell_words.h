// Text as a POSIX shell reads it back: the commands pgrescue prints for a
// DBA to type, and those it runs through sh.
#pragma once

#include <string>
#include <vector>

namespace pgrescue {

// Always in single quotes, a quote as '\''.
std::string ShellQuote(const std::string& text);
// Bare when only characters the shell leaves alone, else ShellQuote.
std::string ShellWord(const std::string& text);
// Each argument as ShellWord, joined by spaces.
std::string ShellCommand(const std::vector<std::string>& argv);

}  // namespace pgrescue
