// A small reader for the libpcap captures in tests/data: it finds the ASAP and ENRP messages inside
// Ethernet/IPv4/IPv6 frames, in SCTP DATA chunks (by PPID) and in UDP datagrams (by port).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vnfpool/wire/constants.h"
#include "vnfpool/wire/types.h"

namespace vnfpool::test {

struct CapturedMessage {
  std::size_t frame = 0;          // 1-based frame number, as tshark counts
  wire::Protocol protocol = wire::Protocol::Asap;
  bool over_udp = false;
  wire::Bytes bytes{};
};

/// Reads every ASAP/ENRP message of a capture; throws std::runtime_error if the file is not a pcap with
/// Ethernet link type (test code: a failure to read the fixture is a test failure).
std::vector<CapturedMessage> readCapture(const std::string& path);

}  // namespace vnfpool::test
