// Errors as values. Every failure says what is wrong and where, so a tool can
// print it verbatim and a DBA can act on it without reading source.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace pgrescue {

enum class ErrorCode {
  kIo,                // the file could not be read or written
  kEmpty,             // zero bytes where data was expected
  kTruncated,         // fewer bytes than the format needs
  kUnknownVersion,    // a version number no layout knows
  kOtherEndianness,   // the version number reads right only byte-swapped
  kInvalidArgument,   // a value given by the user or caller is malformed
  kMissingField,      // the model lacks a field the target layout needs
  kNotFound,          // what is looked for is not there
};

struct Error {
  ErrorCode code;
  std::string message;  // one sentence: what is wrong
  std::string where;    // the file or value it concerns; may be empty

  std::string ToString() const { return where.empty() ? message : where + ": " + message; }
};

// Holds either a value or an Error; Status below is its form for operations
// that return nothing. Small on purpose: no exceptions cross the
// library boundary, and callers must look before they take the value.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}      // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  // References and pointers into the held value: valid while this Result
  // lives and is not assigned to.
  const T& value() const& { assert(ok()); return std::get<T>(v_); }
  T& value() & { assert(ok()); return std::get<T>(v_); }
  T&& value() && { assert(ok()); return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  const Error& error() const { assert(!ok()); return std::get<Error>(v_); }

 private:
  std::variant<T, Error> v_;
};

// The outcome of an operation that returns nothing: ok, or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;                                  // ok
  Status(Error error) : error_(std::move(error)) {}    // NOLINT: implicit by design
  static Status Ok() { return {}; }

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { assert(!ok()); return *error_; }

 private:
  std::optional<Error> error_;
};

inline Error MakeError(ErrorCode code, std::string message, std::string where = {}) {
  return Error{code, std::move(message), std::move(where)};
}

}  // namespace pgrescue
