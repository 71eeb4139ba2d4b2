#include "vnfpool/wire/framer.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace vnfpool::wire {

StreamFramer::StreamFramer(std::size_t max_message, std::size_t max_buffered)
    : max_message_(std::min<std::size_t>(max_message, kMaxMessageSize)),
      max_buffered_(std::max(max_buffered, max_message_ + 3)) {}

void StreamFramer::compact() {
  if (begin_ == 0) return;
  if (begin_ == end_) {
    begin_ = end_ = 0;
    return;
  }
  std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
  end_ -= begin_;
  begin_ = 0;
}

std::span<std::byte> StreamFramer::prepare(std::size_t n) {
  if (begin_ == end_) begin_ = end_ = 0;  // all delivered: start over at the front, nothing to move
  if (buffer_.size() - end_ < n) {
    compact();
    if (buffer_.size() - end_ < n) {
      // Reads of bulk size (a peer sending a stream of large messages, such as table pages) get room
      // for several, so the incomplete message a read leaves behind is moved to the front once every
      // few reads instead of after each one. Smaller reads keep the buffer tight: a registrar holds
      // thousands of mostly idle connections.
      std::size_t size = end_ + n;
      if (n >= kBulkRead) size = std::max(size, kBulkReads * n);
      buffer_.resize(size);
    }
  }
  return std::span(buffer_).subspan(end_, n);
}

void StreamFramer::commit(std::size_t n) {
  end_ = std::min(end_ + n, buffer_.size());
  if (buffered() > max_buffered_ && !failed_) {
    failed_ = Error{Cause::LackOfResources, 0, {}, true, "more than " + std::to_string(max_buffered_) + " bytes buffered"};
  }
}

bool StreamFramer::feed(std::span<const std::byte> chunk) {
  if (failed_) return false;
  if (buffered() + chunk.size() > max_buffered_) {
    failed_ = Error{Cause::LackOfResources, 0, {}, true, "more than " + std::to_string(max_buffered_) + " bytes buffered"};
    return false;
  }
  auto space = prepare(chunk.size());
  std::copy(chunk.begin(), chunk.end(), space.begin());
  commit(chunk.size());
  return true;
}

std::optional<Result<std::span<const std::byte>>> StreamFramer::next() {
  if (failed_) return Result<std::span<const std::byte>>(*failed_);
  if (buffered() < kHeaderSize) return std::nullopt;
  const auto* h = buffer_.data() + begin_;
  const std::size_t length = (std::to_integer<std::size_t>(h[2]) << 8) | std::to_integer<std::size_t>(h[3]);
  if (length < kHeaderSize || length > max_message_) {
    std::vector<std::byte> header(h, h + kHeaderSize);
    failed_ = Error{length < kHeaderSize ? Cause::InvalidValues : Cause::LackOfResources, 0, std::move(header), true,
                    "frame length " + std::to_string(length) + " outside 4.." + std::to_string(max_message_)};
    return Result<std::span<const std::byte>>(*failed_);
  }
  const std::size_t frame = (length + 3) & ~std::size_t{3};
  if (buffered() < frame) return std::nullopt;
  std::span<const std::byte> message(buffer_.data() + begin_, frame);
  begin_ += frame;
  return Result<std::span<const std::byte>>(message);
}

}  // namespace vnfpool::wire
