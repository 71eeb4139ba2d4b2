// Private building blocks of the codec: a big-endian writer, a bounds-checked reader, a parameter
// iterator that applies the action bits of unknown parameters, and the encoders/decoders of every
// parameter. Message codecs (codec_asap.cc, codec_enrp.cc) are sequences of these.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "vnfpool/wire/codec.h"
#include "vnfpool/wire/types.h"

namespace vnfpool::wire::detail {

constexpr std::size_t padded(std::size_t n) { return (n + 3) & ~std::size_t{3}; }

/// Appends big-endian values to a buffer. TLVs are opened with begin() and closed with end(), which
/// writes the length (header + value, without trailing padding) and then the padding.
class Writer {
 public:
  explicit Writer(Bytes& out) : out_(out) {}

  void u8(std::uint8_t v) { out_.push_back(static_cast<std::byte>(v)); }
  void u16(std::uint16_t v) {
    u8(static_cast<std::uint8_t>(v >> 8));
    u8(static_cast<std::uint8_t>(v));
  }
  void u32(std::uint32_t v) {
    u16(static_cast<std::uint16_t>(v >> 16));
    u16(static_cast<std::uint16_t>(v));
  }
  void u64(std::uint64_t v) {
    u32(static_cast<std::uint32_t>(v >> 32));
    u32(static_cast<std::uint32_t>(v));
  }
  void raw(std::span<const std::byte> bytes) { out_.insert(out_.end(), bytes.begin(), bytes.end()); }
  void raw(std::string_view text) { raw(std::as_bytes(std::span(text.data(), text.size()))); }
  void pad() {
    while (out_.size() % 4 != 0) u8(0);
  }

  /// Opens a TLV (or an error cause, which has the same header shape); returns where it starts.
  std::size_t begin(std::uint16_t type) {
    const std::size_t at = out_.size();
    u16(type);
    u16(0);
    return at;
  }
  /// Closes the TLV opened at `at`: patches its length and pads. A length over 65535 marks the writer as
  /// overflowed (the message is then refused as a whole).
  void end(std::size_t at) {
    patchLength(at, out_.size() - at);
    pad();
  }
  void patchLength(std::size_t at, std::size_t length) {
    if (length > 0xFFFF) overflow_ = true;
    out_[at + 2] = static_cast<std::byte>((length >> 8) & 0xFF);
    out_[at + 3] = static_cast<std::byte>(length & 0xFF);
  }
  std::size_t size() const { return out_.size(); }
  bool overflowed() const { return overflow_; }

 private:
  Bytes& out_;
  bool overflow_ = false;
};

/// Reads big-endian values from a span; every read checks the bounds and returns nullopt past the end.
class Reader {
 public:
  explicit Reader(std::span<const std::byte> data) : data_(data) {}
  std::optional<std::uint8_t> u8() {
    if (pos_ + 1 > data_.size()) return std::nullopt;
    return std::to_integer<std::uint8_t>(data_[pos_++]);
  }
  std::optional<std::uint16_t> u16() {
    if (pos_ + 2 > data_.size()) return std::nullopt;
    const auto v = static_cast<std::uint16_t>((std::to_integer<unsigned>(data_[pos_]) << 8) |
                                              std::to_integer<unsigned>(data_[pos_ + 1]));
    pos_ += 2;
    return v;
  }
  std::optional<std::uint32_t> u32() {
    auto hi = u16();
    if (!hi) return std::nullopt;
    auto lo = u16();
    if (!lo) return std::nullopt;
    return (std::uint32_t{*hi} << 16) | *lo;
  }
  std::optional<std::uint64_t> u64() {
    auto hi = u32();
    if (!hi) return std::nullopt;
    auto lo = u32();
    if (!lo) return std::nullopt;
    return (std::uint64_t{*hi} << 32) | *lo;
  }
  std::size_t pos() const { return pos_; }
  std::size_t remaining() const { return data_.size() - pos_; }

 private:
  std::span<const std::byte> data_;
  std::size_t pos_ = 0;
};

/// One parameter as found in a message. Offsets are relative to the start of the message.
struct Tlv {
  std::uint16_t type = 0;
  std::size_t offset = 0;                 // of the TLV header
  std::span<const std::byte> whole{};     // header + value, without padding
  std::span<const std::byte> value{};
};

Error makeError(Cause cause, std::size_t offset, std::span<const std::byte> offending, std::string detail,
                bool report = true);
Error invalid(const Tlv& tlv, std::string detail);

/// Which parameter types a decoder of `dialect` recognises. Classic knows the RFC types, the Handle
/// Resolution Option and NG Capabilities (so it can discover ng peers); ng knows everything.
bool recognised(std::uint16_t type, Dialect dialect);

/// Iterates the parameters of message bytes [begin, end). Unknown parameters are dealt with by their
/// action bits: skipped, recorded for a report, or turned into an Error. peek() shows the next recognised
/// parameter without consuming it.
class ParamReader {
 public:
  ParamReader(std::span<const std::byte> message, std::size_t begin, std::size_t end, Dialect dialect,
              DecodeReport* report)
      : message_(message), pos_(begin), end_(end), dialect_(dialect), report_(report) {}

  /// The next recognised parameter, nullptr at the end, or an Error.
  Result<const Tlv*> peek();
  void consume() { have_ = false; }
  /// Takes the next parameter if it has type `type`; nullopt (and nothing consumed) otherwise.
  Result<std::optional<Tlv>> optional(ParamType type);
  /// Takes the next parameter, which must have type `type`.
  Result<Tlv> expect(ParamType type, std::string_view what);
  /// Succeeds if no recognised parameter is left.
  std::optional<Error> expectEnd();
  std::size_t end() const { return end_; }

 private:
  std::span<const std::byte> message_;
  std::size_t pos_;
  std::size_t end_;
  Dialect dialect_;
  DecodeReport* report_;
  Tlv next_{};
  bool have_ = false;
};

// Parameter decoders: `message` is the whole message (nested TLVs are read through it so offsets and
// offending bytes refer to the message).
Result<IpAddress> decodeAddress(const Tlv& tlv);
Result<Transport> decodeTransport(std::span<const std::byte> message, const Tlv& tlv, Dialect dialect);
Result<Policy> decodePolicy(const Tlv& tlv);
Result<PoolHandle> decodePoolHandle(const Tlv& tlv);
Result<PoolElement> decodePoolElement(std::span<const std::byte> message, const Tlv& tlv, Dialect dialect);
Result<ServerInformation> decodeServerInformation(std::span<const std::byte> message, const Tlv& tlv,
                                                  Dialect dialect);
Result<OperationalError> decodeOperationalError(const Tlv& tlv);
Result<Bytes> decodeCookie(const Tlv& tlv);
Result<PeId> decodePeId(const Tlv& tlv);
Result<std::uint32_t> decodeChecksum(const Tlv& tlv);
Result<std::uint32_t> decodeHandleResolutionOption(const Tlv& tlv);
Result<NgCapabilities> decodeNgCapabilities(std::span<const std::byte> message, const Tlv& tlv, Dialect dialect);

/// Convenience: reads an optional NG Capabilities parameter at the current position.
Result<std::optional<NgCapabilities>> optionalNgCapabilities(std::span<const std::byte> message, ParamReader& params,
                                                             Dialect dialect);
/// Reads the next parameter as a pool handle / PE identifier (the dialect decides which type).
Result<PoolHandle> expectPoolHandle(ParamReader& params);
Result<PeId> expectPeId(ParamReader& params, Dialect dialect);
Result<PoolElement> expectPoolElement(std::span<const std::byte> message, ParamReader& params, Dialect dialect);

ParamType peIdType(Dialect dialect);
ParamType poolElementType(Dialect dialect);
ParamType serverInformationType(Dialect dialect);
ParamType checksumType(Dialect dialect);

// Parameter encoders. They return an Error when a value cannot be represented in `dialect`.
std::optional<Error> encodeTransport(Writer& w, const Transport& transport, Dialect dialect);
void encodePolicy(Writer& w, const Policy& policy);
void encodePoolHandle(Writer& w, std::string_view handle);
std::optional<Error> encodePoolElement(Writer& w, const PoolElement& pe, Dialect dialect);
std::optional<Error> encodeServerInformation(Writer& w, const ServerInformation& info, Dialect dialect);
void encodeOperationalError(Writer& w, const OperationalError& error);
void encodeCookie(Writer& w, const Bytes& cookie);
std::optional<Error> encodePeId(Writer& w, PeId id, Dialect dialect);
std::optional<Error> encodeChecksum(Writer& w, std::uint32_t checksum, Dialect dialect);
void encodeHandleResolutionOption(Writer& w, std::uint32_t items);
std::optional<Error> encodeNgCapabilities(Writer& w, const NgCapabilities& caps, Dialect dialect);
/// Writes a PR or PE ID as a fixed field: 32 bits in classic (Error if it does not fit), 64 in ng.
std::optional<Error> encodeId(Writer& w, std::uint64_t id, Dialect dialect, std::string_view what);

/// Frames a message: writes the header, lets `body` write fixed fields and parameters, patches the length
/// (including all padding) and checks the 65535-byte limit. On any error `out` is restored.
template <typename Body>
Result<std::size_t> encodeMessage(Bytes& out, std::uint8_t type, std::uint8_t flags, Body&& body) {
  const std::size_t start = out.size();
  Writer w(out);
  w.u8(type);
  w.u8(flags);
  w.u16(0);
  std::optional<Error> error = body(w);
  if (!error) {
    w.pad();
    const std::size_t length = out.size() - start;
    if (length > kMaxMessageSize || w.overflowed()) {
      error = makeError(Cause::LackOfResources, 0, {}, "message longer than 65535 bytes");
    } else {
      w.patchLength(start, length);
    }
  }
  if (error) {
    out.resize(start);
    return *error;
  }
  return out.size() - start;
}

/// Checks the header of one message given as `bytes`: at least 4 bytes, a length >= `min_length` that
/// fits, and no bytes beyond the length's padding. Returns the header length.
Result<std::size_t> checkFrame(std::span<const std::byte> bytes, std::size_t min_length);

}  // namespace vnfpool::wire::detail
