// Result and Error: how the codec reports bad input without exceptions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace vnfpool::wire {

/// Operation Error cause codes of RFC 5354 section 3.10 (table in the digest, 6.12). The codec produces
/// only these; a received Operational Error may carry any 16-bit code (RSPLIB sends its own), which is why
/// ErrorCause::code in types.h is a plain integer.
enum class Cause : std::uint16_t {
  UnrecognizedParameter = 0x0001,
  UnrecognizedMessage = 0x0002,
  InvalidValues = 0x0003,
  NonUniquePeIdentifier = 0x0004,
  PolicyInconsistent = 0x0005,
  LackOfResources = 0x0006,
  InconsistentTransportType = 0x0007,
  InconsistentDataControl = 0x0008,
  UnknownPoolHandle = 0x0009,
  SecurityRejection = 0x000a,
};

/// The RFC name of a cause, for logs and metric labels ("invalid_values"); "unknown" for other codes.
std::string causeName(std::uint16_t code);

/// Why a message could not be decoded (or encoded). It carries what the peer's Error reply needs.
struct Error {
  Cause cause = Cause::InvalidValues;
  std::size_t offset = 0;                // byte offset in the message where decoding stopped
  std::vector<std::byte> offending{};    // the offending parameter (or message), copied out of the input
  bool report = true;                    // false: the action bits say "discard silently", send no Error
  std::string detail{};                  // a short human explanation for logs; never sent on the wire

  friend bool operator==(const Error&, const Error&) = default;
};

/// A value or an Error. C++20 has no std::expected, so this is the small stand-in the codebase uses.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}      // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const T& value() const& { return std::get<0>(v_); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace vnfpool::wire
