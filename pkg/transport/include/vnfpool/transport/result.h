// IoError and Result: how the transport reports failures of the operating system or of Asio without
// exceptions. Peer input problems (bad frames) are wire::Error values; this is for sockets and names.
#pragma once

#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace vnfpool::transport {

/// A failed system call or Asio operation: the error code plus what we were doing ("bind [::1]:3863").
struct IoError {
  std::error_code code{};
  std::string detail{};

  /// "bind [::1]:3863: Address already in use"
  std::string message() const { return detail.empty() ? code.message() : detail + ": " + code.message(); }
};

/// A value or an IoError (C++20 has no std::expected; same shape as wire::Result).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(IoError error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const T& value() const& { return std::get<0>(v_); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const IoError& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, IoError> v_;
};

}  // namespace vnfpool::transport
