// The JSON form of ASAP and ENRP messages, for people and scripts (vnfpoolctl decode/encode, logs, the
// Wireshark cross-check). Lossless: fromJson(toJson(m)) == m for every message. docs/protocol.md shows
// the format. IDs and checksums are hex strings ("0x0000e001") because 64-bit values do not survive
// JSON numbers in most tools.
#pragma once

#include <string>
#include <string_view>

#include "vnfpool/wire/asap.h"
#include "vnfpool/wire/enrp.h"

namespace vnfpool::wire {

std::string toJson(const AsapMessage& message, bool pretty = false);
std::string toJson(const EnrpMessage& message, bool pretty = false);

/// Parses the JSON form. Bad JSON, a missing or mistyped field, an unknown key or a value out of range
/// gives an Error with cause InvalidValues whose detail names the field (e.g. "pool_element.policy.load:
/// expected an unsigned 32-bit number").
Result<AsapMessage> asapFromJson(std::string_view json);
Result<EnrpMessage> enrpFromJson(std::string_view json);

}  // namespace vnfpool::wire
