// Message framing on byte streams (TCP and MPTCP).
//
// The RSerPool header's 16-bit length already delimits messages, so a stream carries messages back to
// back, each followed by its padding to a multiple of 4 (docs/protocol.md, "Framing on TCP and MPTCP"):
// read the 4-byte header, learn the length L, consume (L + 3) & ~3 bytes. The framer is pure: the
// transport feeds it whatever chunks arrive (one byte at a time works) and takes out whole messages.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "vnfpool/wire/constants.h"
#include "vnfpool/wire/result.h"

namespace vnfpool::wire {

class StreamFramer {
 public:
  /// `max_message` bounds the header length accepted (at most 65535, the header's limit); `max_buffered`
  /// bounds the bytes held while waiting for a whole message, so a peer cannot make us buffer without end.
  explicit StreamFramer(std::size_t max_message = kMaxMessageSize, std::size_t max_buffered = 256 * 1024);

  /// Space for up to `n` more bytes to be written directly (e.g. by a socket read); follow with commit().
  std::span<std::byte> prepare(std::size_t n);
  /// Declares that `n` bytes of the last prepare() were filled.
  void commit(std::size_t n);
  /// Copies a chunk in (prepare + commit). Returns false when the buffer limit would be exceeded; the
  /// framer is then failed and next() reports LackOfResources.
  bool feed(std::span<const std::byte> chunk);

  /// The next whole message, padding included, or nullopt when more bytes are needed. The span stays valid
  /// until the next call of any non-const member. An inconsistent or oversize frame returns an Error and
  /// fails the framer for good: the stream has lost its message boundaries, close the connection.
  std::optional<Result<std::span<const std::byte>>> next();

  /// Bytes received but not yet returned as messages.
  std::size_t buffered() const { return end_ - begin_; }
  bool failed() const { return failed_.has_value(); }

 private:
  void compact();

  /// A prepare() of at least kBulkRead bytes grows the buffer to kBulkReads times that (see prepare()).
  static constexpr std::size_t kBulkRead = 32 * 1024;
  static constexpr std::size_t kBulkReads = 4;

  std::size_t max_message_;
  std::size_t max_buffered_;
  std::vector<std::byte> buffer_;
  std::size_t begin_ = 0;  // first unconsumed byte
  std::size_t end_ = 0;    // one past the last received byte
  std::optional<Error> failed_;
};

}  // namespace vnfpool::wire
