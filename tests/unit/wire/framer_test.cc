#include "vnfpool/wire/framer.h"

#include <gtest/gtest.h>

#include "samples.h"
#include "vnfpool/wire/codec.h"

namespace vnfpool::wire {
namespace {

Bytes stream() {
  Bytes all;
  for (const auto& m : test::sampleAsapMessages(Dialect::Ng)) (void)encodeTo(m, Dialect::Ng, all);
  return all;
}

std::vector<Bytes> drain(StreamFramer& framer) {
  std::vector<Bytes> out;
  while (auto next = framer.next()) {
    EXPECT_TRUE(next->ok()) << next->error().detail;
    if (!next->ok()) break;
    out.emplace_back(next->value().begin(), next->value().end());
  }
  return out;
}

TEST(StreamFramer, OneByteAtATimeYieldsEveryMessage) {
  const auto samples = test::sampleAsapMessages(Dialect::Ng);
  const Bytes all = stream();
  StreamFramer framer;
  std::vector<Bytes> got;
  for (std::byte b : all) {
    ASSERT_TRUE(framer.feed(std::span(&b, 1)));
    for (auto& m : drain(framer)) got.push_back(std::move(m));
  }
  ASSERT_EQ(got.size(), samples.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    auto decoded = decodeAsap(got[i], Dialect::Ng);
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(decoded.value(), samples[i]);
  }
  EXPECT_EQ(framer.buffered(), 0u);
}

TEST(StreamFramer, ArbitraryChunksAndPrepareCommit) {
  const Bytes all = stream();
  for (std::size_t chunk : {2u, 3u, 7u, 100u, 4096u}) {
    StreamFramer framer;
    std::size_t count = 0;
    for (std::size_t pos = 0; pos < all.size(); pos += chunk) {
      const std::size_t n = std::min(chunk, all.size() - pos);
      auto space = framer.prepare(n);
      std::copy_n(all.begin() + static_cast<long>(pos), n, space.begin());
      framer.commit(n);
      count += drain(framer).size();
    }
    EXPECT_EQ(count, test::sampleAsapMessages(Dialect::Ng).size()) << "chunk " << chunk;
  }
}

TEST(StreamFramer, ConsumesPaddingOfUnpaddedLength) {
  // "CalcAppPool" handle: header says 19, the stream carries 20 bytes; the next message follows.
  Bytes two = *fromHex("05000013 0009000f 43616c63 41707050 6f6f6c00  05000008 00090004");
  StreamFramer framer;
  ASSERT_TRUE(framer.feed(two));
  auto first = framer.next();
  ASSERT_TRUE(first && first->ok());
  EXPECT_EQ(first->value().size(), 20u);
  auto second = framer.next();
  ASSERT_TRUE(second && second->ok());
  EXPECT_EQ(second->value().size(), 8u);
  EXPECT_FALSE(framer.next().has_value());
}

TEST(StreamFramer, RejectsLengthBelowHeaderAndStaysFailed) {
  StreamFramer framer;
  ASSERT_TRUE(framer.feed(*fromHex("05000002 00000000")));
  auto bad = framer.next();
  ASSERT_TRUE(bad.has_value());
  ASSERT_FALSE(bad->ok());
  EXPECT_EQ(bad->error().cause, Cause::InvalidValues);
  EXPECT_TRUE(framer.failed());
  EXPECT_FALSE(framer.feed(*fromHex("05000008 00090004")));
  auto again = framer.next();
  ASSERT_TRUE(again.has_value());
  EXPECT_FALSE(again->ok());
}

TEST(StreamFramer, RejectsOversizeFrames) {
  StreamFramer framer(1024);
  ASSERT_TRUE(framer.feed(*fromHex("0b000800")));  // a 2048-byte Cookie announced
  auto bad = framer.next();
  ASSERT_TRUE(bad.has_value());
  ASSERT_FALSE(bad->ok());
  EXPECT_EQ(bad->error().cause, Cause::LackOfResources);
}

TEST(StreamFramer, BoundsBufferedBytes) {
  StreamFramer framer(1024, 2048);
  Bytes junk(1500, std::byte{0});
  junk[2] = std::byte{0x03};  // one 1000-byte message announced, never completed in one chunk
  junk[3] = std::byte{0xe8};
  EXPECT_TRUE(framer.feed(std::span(junk).first(900)));
  EXPECT_FALSE(framer.next().has_value());
  EXPECT_FALSE(framer.feed(Bytes(2000, std::byte{0})));
  EXPECT_TRUE(framer.failed());
}

TEST(StreamFramer, PartialHeaderWaits) {
  StreamFramer framer;
  ASSERT_TRUE(framer.feed(*fromHex("0500")));
  EXPECT_FALSE(framer.next().has_value());
  ASSERT_TRUE(framer.feed(*fromHex("0008 00090004")));
  auto m = framer.next();
  ASSERT_TRUE(m && m->ok());
  EXPECT_EQ(m->value().size(), 8u);
}

// Reads of bulk size (64 KiB, as the transport reads a connection that streams table pages) into a framer
// that leaves the incomplete message of each read in place for several reads: every message comes out
// whole and in order, whatever the reads return and wherever the messages are cut.
TEST(StreamFramer, BulkReadsOfLargeMessagesKeepEveryByte) {
  std::uint64_t seed = 0x5EED;
  const auto random = [&seed](std::size_t bound) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<std::size_t>((seed >> 33) % bound);
  };
  std::vector<Bytes> sent;
  Bytes all;
  for (std::size_t i = 0; i < 200; ++i) {
    // Mostly large messages (table pages), some small ones between them (Presences, requests).
    const std::size_t length = i % 5 == 4 ? 20 : 4 * (1 + random(65532 / 4));
    Bytes m(length);
    m[0] = std::byte{0x03};
    m[2] = static_cast<std::byte>(length >> 8);
    m[3] = static_cast<std::byte>(length & 0xFF);
    for (std::size_t k = 4; k < length; ++k) m[k] = static_cast<std::byte>((i * 131 + k * 7) & 0xFF);
    all.insert(all.end(), m.begin(), m.end());
    sent.push_back(std::move(m));
  }
  StreamFramer framer;
  std::vector<Bytes> got;
  for (std::size_t pos = 0; pos < all.size();) {
    // A read of up to 64 KiB that returns what the socket has: the whole chunk or a part of it.
    const std::size_t asked = 64 * 1024;
    const std::size_t n = std::min({asked, all.size() - pos, random(3) == 0 ? 1 + random(asked) : asked});
    auto space = framer.prepare(asked);
    ASSERT_EQ(space.size(), asked);
    std::copy_n(all.begin() + static_cast<long>(pos), n, space.begin());
    framer.commit(n);
    pos += n;
    for (auto& m : drain(framer)) got.push_back(std::move(m));
  }
  EXPECT_EQ(framer.buffered(), 0u);
  ASSERT_EQ(got.size(), sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) EXPECT_EQ(got[i], sent[i]) << "message " << i;
}

}  // namespace
}  // namespace vnfpool::wire
