// Error and Result: how pkg/kube reports failures without exceptions crossing its interface.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <variant>

namespace vnfpool::kube {

/// What kind of failure an Error is. `Api` errors carry the HTTP status and the Status object's reason.
enum class ErrorKind {
  Config,       // bad or unsupported kubeconfig / in-cluster configuration
  Transport,    // connection refused, TLS failure, timeout, stream cut
  Api,          // the API server answered with an error status (see `status`, `reason`)
  BadResponse,  // the server's answer could not be understood (malformed JSON, missing fields)
  BadInput,     // the caller passed something unusable (an object without metadata.name, ...)
  Cancelled,    // the operation was stopped through its cancellation flag
};

/// A failure. `message` is for humans and never contains credentials.
struct Error {
  ErrorKind kind = ErrorKind::Transport;
  int status = 0;                      // HTTP status for Api errors, 0 otherwise
  std::string reason{};                // Status.reason: "NotFound", "Conflict", "Expired", ...
  std::string message{};
  std::chrono::seconds retry_after{0}; // from a Retry-After header (429/503), 0 when absent

  bool notFound() const { return kind == ErrorKind::Api && status == 404; }
  bool conflict() const { return kind == ErrorKind::Api && status == 409; }
  bool alreadyExists() const { return conflict() && reason == "AlreadyExists"; }
  /// 410: a watch or continue token is older than the server's history; the caller must relist.
  bool expired() const { return kind == ErrorKind::Api && status == 410; }
  bool unauthorized() const { return kind == ErrorKind::Api && status == 401; }
  bool tooManyRequests() const { return kind == ErrorKind::Api && status == 429; }
  /// Worth retrying later with backoff (transport trouble, 429, 5xx).
  bool transient() const {
    return kind == ErrorKind::Transport || (kind == ErrorKind::Api && (status == 429 || status >= 500));
  }
  std::string describe() const;   // "409 Conflict: ..." or "transport: ..."
};

/// A value or an Error. C++20 has no std::expected, so this is the small stand-in the codebase uses.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}       // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}   // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const T& value() const& { return std::get<0>(v_); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const Error& error() const { return std::get<1>(v_); }
  bool notFound() const { return !ok() && error().notFound(); }
  bool conflict() const { return !ok() && error().conflict(); }

 private:
  std::variant<T, Error> v_;
};

/// The value of operations that return nothing but success.
struct Done {
  friend bool operator==(const Done&, const Done&) = default;
};
using Status = Result<Done>;

}  // namespace vnfpool::kube
