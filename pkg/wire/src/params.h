// Private building blocks of the codec: a big-endian writer, a bounds-checked reader, a parameter
// iterator that applies the action bits of unknown parameters, and the encoders/decoders of every
// parameter. Message codecs (codec_asap.cc, codec_enrp.cc) are sequences of these.
#pragma once

#include <algorithm>
#include <array>
#include <cstring>
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
///
/// The buffer grows ahead of the writing in steps (at least as much as this writer has written so far),
/// so a value costs a bounds check and a store instead of a vector::resize per field (which zero-filled
/// each field's bytes and was a tenth of a Handle Table page's encoding). While writing, the buffer's
/// size() is past the end of what was written: finish() cuts it back, and must be called once the
/// encoding is done (or the caller cuts to its own start on failure).
class Writer {
 public:
  explicit Writer(Bytes& out) : out_(out), start_(out.size()), len_(out.size()) {}

  void u8(std::uint8_t v) { *room(1) = static_cast<std::byte>(v); }
  void u16(std::uint16_t v) { put<2>(v); }
  void u32(std::uint32_t v) { put<4>(v); }
  void u64(std::uint64_t v) { put<8>(v); }
  void raw(std::span<const std::byte> bytes) {
    if (!bytes.empty()) std::memcpy(room(bytes.size()), bytes.data(), bytes.size());
  }
  void raw(std::string_view text) { raw(std::as_bytes(std::span(text.data(), text.size()))); }
  void pad() {
    const std::size_t n = padded(len_) - len_;
    if (n > 0) std::memset(room(n), 0, n);
  }

  /// Opens a TLV (or an error cause, which has the same header shape); returns where it starts.
  std::size_t begin(std::uint16_t type) {
    const std::size_t at = len_;
    u16(type);
    u16(0);
    return at;
  }
  /// Closes the TLV opened at `at`: patches its length and pads. A length over 65535 marks the writer as
  /// overflowed (the message is then refused as a whole).
  void end(std::size_t at) {
    patchLength(at, len_ - at);
    pad();
  }
  void patchLength(std::size_t at, std::size_t length) {
    if (length > 0xFFFF) overflow_ = true;
    out_[at + 2] = static_cast<std::byte>((length >> 8) & 0xFF);
    out_[at + 3] = static_cast<std::byte>(length & 0xFF);
  }
  /// The buffer's size as written so far.
  std::size_t size() const { return len_; }
  bool overflowed() const { return overflow_; }
  /// Cuts the buffer back to what was written.
  void finish() { out_.resize(len_); }

 private:
  std::byte* room(std::size_t n) {
    if (out_.size() - len_ < n) grow(n);
    std::byte* at = out_.data() + len_;
    len_ += n;
    return at;
  }
  void grow(std::size_t n) {
    const std::size_t written = len_ - start_;
    out_.resize(len_ + std::max({n, written, std::size_t{256}}));
  }
  template <std::size_t N, typename T>
  void put(T v) {
    std::byte* at = room(N);
    for (std::size_t i = 0; i < N; ++i) at[i] = static_cast<std::byte>((v >> (8 * (N - 1 - i))) & 0xFF);
  }

  Bytes& out_;
  std::size_t start_;
  std::size_t len_;
  bool overflow_ = false;
};

/// Big-endian loads from memory the caller has bounds-checked.
inline std::uint16_t load16(const std::byte* p) {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(p[0]) << 8) | std::to_integer<unsigned>(p[1]));
}
inline std::uint32_t load32(const std::byte* p) { return (std::uint32_t{load16(p)} << 16) | load16(p + 2); }
inline std::uint64_t load64(const std::byte* p) { return (std::uint64_t{load32(p)} << 32) | load32(p + 4); }

/// Reads big-endian values from a span; every read checks the bounds and returns nullopt past the end.
class Reader {
 public:
  explicit Reader(std::span<const std::byte> data) : data_(data) {}
  std::optional<std::uint8_t> u8() {
    if (remaining() < 1) return std::nullopt;
    return std::to_integer<std::uint8_t>(data_[pos_++]);
  }
  std::optional<std::uint16_t> u16() { return read<std::uint16_t, 2>(load16); }
  std::optional<std::uint32_t> u32() { return read<std::uint32_t, 4>(load32); }
  std::optional<std::uint64_t> u64() { return read<std::uint64_t, 8>(load64); }
  std::size_t pos() const { return pos_; }
  std::size_t remaining() const { return data_.size() - pos_; }

 private:
  template <typename T, std::size_t N>
  std::optional<T> read(T (*load)(const std::byte*)) {
    if (remaining() < N) return std::nullopt;
    const T v = load(data_.data() + pos_);
    pos_ += N;
    return v;
  }
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
inline bool recognised(std::uint16_t type, Dialect dialect) {
  if (type >= 0x0001 && type <= 0x000f) return true;
  if (type == static_cast<std::uint16_t>(ParamType::HandleResolutionOption) ||
      type == static_cast<std::uint16_t>(ParamType::NgCapabilities)) {
    return true;
  }
  return dialect == Dialect::Ng && type >= static_cast<std::uint16_t>(ParamType::PeIdentifier64) &&
         type <= static_cast<std::uint16_t>(ParamType::MptcpTransport);
}

/// Iterates the parameters of message bytes [begin, end). Unknown parameters are dealt with by their
/// action bits: skipped, recorded for a report, or turned into an Error.
///
/// Two forms of access: the fast one (next, take) returns a pointer, nullptr at the end or after an error
/// (then failed() is true and error() says why); the Result forms (peek, optional, expect) wrap it for
/// code where clarity matters more than a few nanoseconds. A returned Tlv stays valid until the next call.
class ParamReader {
 public:
  ParamReader(std::span<const std::byte> message, std::size_t begin, std::size_t end, Dialect dialect,
              DecodeReport* report)
      : message_(message), pos_(begin), end_(end), dialect_(dialect), report_(report) {}

  /// The next recognised parameter without consuming it.
  const Tlv* next() {
    if (have_) return &next_;
    if (error_ || pos_ >= end_) return nullptr;
    if (end_ - pos_ >= 4) {  // the common case, inline: a well-formed recognised parameter
      const std::byte* header = message_.data() + pos_;
      const std::uint16_t type = load16(header);
      const std::size_t length = load16(header + 2);
      if (length >= 4 && length <= end_ - pos_ && recognised(type, dialect_)) {
        accept(type, length);
        return &next_;
      }
    }
    return slowNext();
  }
  /// Consumes and returns the next parameter if it has type `type`; nullptr (nothing consumed) otherwise.
  const Tlv* take(ParamType type) {
    const Tlv* t = next();
    if (t == nullptr || t->type != static_cast<std::uint16_t>(type)) return nullptr;
    have_ = false;
    return t;
  }
  void consume() { have_ = false; }
  bool failed() const { return error_.has_value(); }
  const Error& error() const { return *error_; }

  /// Result forms.
  Result<const Tlv*> peek();
  Result<std::optional<Tlv>> optional(ParamType type);
  /// Takes the next parameter, which must have type `type`.
  Result<Tlv> expect(ParamType type, std::string_view what);
  /// Succeeds if no recognised parameter is left.
  std::optional<Error> expectEnd();

  std::size_t end() const { return end_; }
  /// Where the next unread parameter starts (after a peek: the peeked one).
  std::size_t position() const { return have_ ? next_.offset : pos_; }

 private:
  void accept(std::uint16_t type, std::size_t length) {
    next_.type = type;
    next_.offset = pos_;
    next_.whole = message_.subspan(pos_, length);
    next_.value = next_.whole.subspan(4);
    // The container may end before the last parameter's padding (RFC 5354 allows either form).
    pos_ = std::min(pos_ + padded(length), end_);
    have_ = true;
  }
  const Tlv* slowNext();  // unknown parameters and malformed headers

  std::span<const std::byte> message_;
  std::size_t pos_;
  std::size_t end_;
  Dialect dialect_;
  DecodeReport* report_;
  Tlv next_{};
  bool have_ = false;
  std::optional<Error> error_;
};

// Parameter decoders: `message` is the whole message (nested TLVs are read through it so offsets and
// offending bytes refer to the message).
// The hot ones (those inside Pool Element) fill an object in place instead of returning a Result, so that
// no PE or transport is moved around while decoding.
std::optional<Error> decodeAddress(const Tlv& tlv, IpAddress& out);
std::optional<Error> decodeTransport(std::span<const std::byte> message, const Tlv& tlv, Dialect dialect,
                                     Transport& out);
std::optional<Error> decodePolicy(const Tlv& tlv, Policy& out);
/// Makes a PoolElement that held an earlier one equal to a fresh one, keeping its storage (a reader that
/// decodes many PEs into one object: decodePoolElement only sets what the parameter has).
void resetForDecoding(PoolElement& pe);
Result<PoolHandle> decodePoolHandle(const Tlv& tlv);
/// The pool handle's bytes, inside the message.
Result<std::string_view> decodePoolHandleView(const Tlv& tlv);
std::optional<Error> decodePoolElement(std::span<const std::byte> message, const Tlv& tlv, Dialect dialect,
                                       PoolElement& out);
/// Number of consecutive parameters of `type` starting at `begin` in message bytes [begin, end) (for
/// reserving list space; stops at the first parameter of another type).
std::size_t countParams(std::span<const std::byte> message, std::size_t begin, std::size_t end, ParamType type);
/// Decodes the Pool Element parameters that follow at the reader's position into `out`.
std::optional<Error> poolElementList(std::span<const std::byte> message, ParamReader& params, Dialect dialect,
                                     std::vector<PoolElement>& out);
Result<ServerInformation> decodeServerInformation(std::span<const std::byte> message, const Tlv& tlv,
                                                  Dialect dialect);
Result<OperationalError> decodeOperationalError(const Tlv& tlv);
Result<Bytes> decodeCookie(const Tlv& tlv);
Result<PeId> decodePeId(const Tlv& tlv);
Result<std::uint32_t> decodeChecksum(const Tlv& tlv);
Result<std::uint32_t> decodeHandleResolutionOption(const Tlv& tlv);
std::optional<Error> decodeNgCapabilities(std::span<const std::byte> message, const Tlv& tlv, NgCapabilities& out);

/// Reads an optional NG Capabilities parameter at the current position into `out` (left empty when there
/// is none). In place: nearly every message has one, so it is not moved through Results.
std::optional<Error> optionalNgCapabilities(std::span<const std::byte> message, ParamReader& params,
                                            std::optional<NgCapabilities>& out);
/// Reads the next parameter as a pool handle / PE identifier (the dialect decides which type).
Result<PoolHandle> expectPoolHandle(ParamReader& params);
Result<PeId> expectPeId(ParamReader& params, Dialect dialect);
std::optional<Error> expectPoolElement(std::span<const std::byte> message, ParamReader& params, Dialect dialect,
                                       PoolElement& out);

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
    w.finish();
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
