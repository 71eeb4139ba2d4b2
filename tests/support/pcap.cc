#include "pcap.h"

#include <fstream>
#include <iterator>
#include <stdexcept>

namespace vnfpool::test {
namespace {

std::uint32_t le32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[3]} << 24);
}
std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

wire::Bytes copy(const std::uint8_t* p, std::size_t n) {
  wire::Bytes out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::byte>(p[i]);
  return out;
}

void sctp(std::size_t frame, const std::uint8_t* p, std::size_t n, std::vector<CapturedMessage>& out) {
  std::size_t pos = 12;  // common header
  while (pos + 4 <= n) {
    const std::uint8_t type = p[pos];
    const std::uint8_t chunk_flags = p[pos + 1];
    const std::size_t length = be16(p + pos + 2);
    if (length < 4 || pos + length > n) break;
    if (type == 0 && length >= 16 && (chunk_flags & 0x03) == 0x03) {  // unfragmented DATA chunk
      const std::uint32_t ppid = be32(p + pos + 12);
      if (ppid == wire::kPpidAsap || ppid == wire::kPpidEnrp) {
        out.push_back({frame, ppid == wire::kPpidAsap ? wire::Protocol::Asap : wire::Protocol::Enrp, false,
                       copy(p + pos + 16, length - 16)});
      }
    }
    pos += (length + 3) & ~std::size_t{3};
  }
}

void udp(std::size_t frame, const std::uint8_t* p, std::size_t n, std::vector<CapturedMessage>& out) {
  if (n < 8) return;
  const std::uint16_t dst = be16(p + 2);
  const std::size_t length = be16(p + 4);
  if (length < 8 || length > n) return;
  if (dst == wire::kAsapPort || dst == wire::kEnrpPort) {
    out.push_back({frame, dst == wire::kAsapPort ? wire::Protocol::Asap : wire::Protocol::Enrp, true,
                   copy(p + 8, length - 8)});
  }
}

}  // namespace

std::vector<CapturedMessage> readCapture(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<std::uint8_t> file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (file.size() < 24 || le32(file.data()) != 0xa1b2c3d4u) throw std::runtime_error(path + ": not a little-endian pcap");
  if (le32(file.data() + 20) != 1) throw std::runtime_error(path + ": link type is not Ethernet");
  std::vector<CapturedMessage> out;
  std::size_t pos = 24;
  std::size_t frame = 0;
  while (pos + 16 <= file.size()) {
    const std::size_t caplen = le32(file.data() + pos + 8);
    pos += 16;
    if (pos + caplen > file.size()) throw std::runtime_error(path + ": truncated record");
    ++frame;
    const std::uint8_t* p = file.data() + pos;
    pos += caplen;
    if (caplen < 14) continue;
    const std::uint16_t ethertype = be16(p + 12);
    const std::uint8_t* ip = p + 14;
    std::size_t left = caplen - 14;
    std::uint8_t proto = 0;
    std::size_t header = 0;
    std::size_t total = 0;
    if (ethertype == 0x0800 && left >= 20) {
      header = std::size_t{ip[0] & 0x0Fu} * 4;
      total = be16(ip + 2);
      proto = ip[9];
    } else if (ethertype == 0x86DD && left >= 40) {
      header = 40;
      total = 40 + be16(ip + 4);
      proto = ip[6];
    } else {
      continue;
    }
    if (total > left || header > total) continue;
    if (proto == 132) sctp(frame, ip + header, total - header, out);
    if (proto == 17) udp(frame, ip + header, total - header, out);
  }
  return out;
}

}  // namespace vnfpool::test
