// Encoding and decoding of whole ASAP and ENRP messages in either dialect.
//
// Decoding never throws, never reads outside the given bytes and never trusts a length field: it returns
// the message or an Error with the RFC cause, the offset and a copy of the offending bytes, so the caller
// can send the right Error reply (or none, when Error::report is false). All functions are pure and may
// be called from any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "vnfpool/wire/asap.h"
#include "vnfpool/wire/enrp.h"

namespace vnfpool::wire {

/// Unknown parameters whose action bits say "skip and report" (RFC 5354 3): decoding goes on, and the
/// caller may send them back in an Error with cause Unrecognized Parameter.
struct DecodeReport {
  std::vector<Bytes> skipped_to_report{};
};

/// Decodes one message. `bytes` holds exactly one message: its header length, optionally followed by the
/// padding up to the next multiple of 4 (as the stream framer delivers it). Parameters are expected in
/// the order of the digest; unknown ones are handled by their action bits.
Result<AsapMessage> decodeAsap(std::span<const std::byte> bytes, Dialect dialect, DecodeReport* report = nullptr);
Result<EnrpMessage> decodeEnrp(std::span<const std::byte> bytes, Dialect dialect, DecodeReport* report = nullptr);

/// Decodes a Handle Resolution in place: the same checks, errors and report as decodeAsap gives for one,
/// without building an AsapMessage (no copy of the pool handle). Any other message type is an error.
Result<asap::HandleResolutionView> decodeHandleResolution(std::span<const std::byte> bytes, Dialect dialect,
                                                          DecodeReport* report = nullptr);

/// Decodes a Handle Table Response's header in place: the same frame checks and errors decodeEnrp gives,
/// the entries left for a TableEntryReader. Any other message type is an error.
Result<enrp::HandleTableResponseView> decodeHandleTableResponse(std::span<const std::byte> bytes, Dialect dialect);

/// One entry of a handle table page: the pool it is listed under (pointing into the message) and the PE.
struct TableEntry {
  std::string_view pool{};
  PoolElement pe{};
};

/// Reads the entries of a Handle Table Response in place, one at a time into one reused TableEntry, so
/// a page of hundreds of PEs is stored without first being built as a list of PoolElements. The same
/// checks, in the same order, as decodeEnrp: for any bytes, the entries read before the end (or before
/// an error) are those decodeEnrp returns (or would, up to its error), and an error is the one decodeEnrp
/// gives for the message. The entries before a malformed one have been read by then: a caller that
/// applies them as they come keeps those.
class TableEntryReader {
 public:
  explicit TableEntryReader(const enrp::HandleTableResponseView& page, DecodeReport* report = nullptr)
      : message_(page.message), pos_(page.entries_begin), end_(page.entries_end), dialect_(page.dialect),
        report_(report) {}
  /// The next entry, decoded into `entry` (its storage reused): true; false after the last; or the error.
  /// After false or an error, every further call returns false.
  Result<bool> next(TableEntry& entry);

 private:
  std::span<const std::byte> message_;
  std::size_t pos_;
  std::size_t end_;
  Dialect dialect_;
  DecodeReport* report_;
  std::string_view pool_{};
  bool done_ = false;
};

/// Appends the encoding of `message` to `out` (lengths include all parameter padding, as RSPLIB writes
/// them). Fails with InvalidValues when a value cannot be represented in `dialect` (a 64-bit ID in
/// classic, an ng-only transport in classic, a pool handle over 65535 bytes) and with LackOfResources when
/// the message would exceed 65535 bytes; `out` is then left as it was.
Result<std::size_t> encodeTo(const AsapMessage& message, Dialect dialect, Bytes& out);
Result<std::size_t> encodeTo(const EnrpMessage& message, Dialect dialect, Bytes& out);

/// A Handle Table Response written piece by piece, for a responder that encodes each entry as it reads it
/// from its handlespace (no list of PoolElements built first). appendPoolHandleParameter and
/// appendPoolElementParameter append one parameter to `body`; encodeHandleTableResponseTo appends the whole
/// message, header and IDs, then `body` as it is (a Pool Handle, its Pool Elements, the next Pool
/// Handle...). The bytes are those encodeTo writes for the same message.
void appendPoolHandleParameter(std::string_view handle, Bytes& body);
/// The error of encodeTo for this PE (e.g. a 64-bit ID in classic); `body` is then unchanged.
Result<std::size_t> appendPoolElementParameter(const PoolElement& pe, Dialect dialect, Bytes& body);
Result<std::size_t> encodeHandleTableResponseTo(bool reject, bool more, const enrp::Ids& ids,
                                                std::span<const std::byte> body, Dialect dialect, Bytes& out);

/// Convenience forms of encodeTo that return a new buffer.
Result<Bytes> encode(const AsapMessage& message, Dialect dialect);
Result<Bytes> encode(const EnrpMessage& message, Dialect dialect);

/// Single parameters, for the cause information of an Operational Error (RFC 5354 3.10: the offending
/// policy or transport parameter goes back to the sender).
Bytes encodePolicyParameter(const Policy& policy);
Result<Bytes> encodeTransportParameter(const Transport& transport, Dialect dialect);
Result<Bytes> encodePoolElementParameter(const PoolElement& pe, Dialect dialect);

/// The header's type, flags and length of a message, if at least 4 bytes are there.
struct Header {
  std::uint8_t type = 0;
  std::uint8_t flags = 0;
  std::uint16_t length = 0;
};
std::optional<Header> peekHeader(std::span<const std::byte> bytes);

/// Bytes <-> hex helpers (lower case, no separators; parsing accepts white space and an optional "0x").
std::string toHex(std::span<const std::byte> bytes);
std::optional<Bytes> fromHex(std::string_view text);

}  // namespace vnfpool::wire
