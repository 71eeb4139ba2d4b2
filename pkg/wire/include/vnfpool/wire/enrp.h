// ENRP messages (RFC 5353 with the Takeover Suggestion draft and the ng dialect), as values. Every ENRP
// message carries the sender's and the receiver's PR ID (0 = receiver unknown).
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "vnfpool/wire/types.h"

namespace vnfpool::wire::enrp {

/// The two PR IDs that start every ENRP message (32-bit in classic, 64-bit in ng).
struct Ids {
  PrId sender = 0;
  PrId receiver = 0;
  friend bool operator==(const Ids&, const Ids&) = default;
};

/// Heartbeat and audit: `checksum` is the sender's ownership checksum, Internet-16 in classic (only the
/// low 16 bits are sent) and Internet-32 in ng.
struct Presence {
  bool reply_required = false;  // R flag
  Ids ids{};
  std::optional<NgCapabilities> ng_caps{};
  std::uint32_t checksum = 0;
  std::optional<ServerInformation> server_info{};  // RSPLIB requires it; we always send it
  friend bool operator==(const Presence&, const Presence&) = default;
};

struct HandleTableRequest {
  bool own_children_only = false;  // W flag
  Ids ids{};
  friend bool operator==(const HandleTableRequest&, const HandleTableRequest&) = default;
};

/// One Pool Handle parameter and the Pool Element parameters that follow it.
struct PoolEntries {
  PoolHandle pool_handle{};
  std::vector<PoolElement> pes{};
  friend bool operator==(const PoolEntries&, const PoolEntries&) = default;
};

struct HandleTableResponse {
  bool reject = false;  // R flag
  bool more = false;    // M flag: ask again for the next part
  Ids ids{};
  std::vector<PoolEntries> pools{};
  friend bool operator==(const HandleTableResponse&, const HandleTableResponse&) = default;
};

/// A Handle Table Response read in place (decodeHandleTableResponse): its flags and IDs, with the
/// entries left encoded in the message for a TableEntryReader (codec.h) to read one at a time. Points
/// into the message: valid while its bytes are.
struct HandleTableResponseView {
  bool reject = false;
  bool more = false;
  Ids ids{};
  Dialect dialect = Dialect::Ng;
  std::span<const std::byte> message{};  // the whole message (offsets in errors refer to it)
  std::size_t entries_begin = 0;         // where the parameters start and end in `message`
  std::size_t entries_end = 0;
};

struct HandleUpdate {
  bool takeover_suggested = false;  // T flag (takeover draft): "please take this PE over"
  Ids ids{};
  std::uint16_t action = static_cast<std::uint16_t>(UpdateAction::AddPe);  // UpdateAction; others kept as sent
  std::uint16_t reserved = 0;
  PoolHandle pool_handle{};
  PoolElement pe{};
  friend bool operator==(const HandleUpdate&, const HandleUpdate&) = default;
};

struct ListRequest {
  Ids ids{};
  friend bool operator==(const ListRequest&, const ListRequest&) = default;
};

struct ListResponse {
  bool reject = false;  // R flag
  Ids ids{};
  std::optional<NgCapabilities> ng_caps{};
  std::vector<ServerInformation> servers{};
  friend bool operator==(const ListResponse&, const ListResponse&) = default;
};

/// Init Takeover, Init Takeover Ack and Takeover Server share one layout: the IDs and the target PR.
struct InitTakeover {
  Ids ids{};
  PrId target = 0;
  friend bool operator==(const InitTakeover&, const InitTakeover&) = default;
};
struct InitTakeoverAck {
  Ids ids{};
  PrId target = 0;
  friend bool operator==(const InitTakeoverAck&, const InitTakeoverAck&) = default;
};
struct TakeoverServer {
  Ids ids{};
  PrId target = 0;
  friend bool operator==(const TakeoverServer&, const TakeoverServer&) = default;
};

struct Error {
  Ids ids{};
  OperationalError error{};
  friend bool operator==(const Error&, const Error&) = default;
};

}  // namespace vnfpool::wire::enrp

namespace vnfpool::wire {

using EnrpMessage =
    std::variant<enrp::Presence, enrp::HandleTableRequest, enrp::HandleTableResponse, enrp::HandleUpdate,
                 enrp::ListRequest, enrp::ListResponse, enrp::InitTakeover, enrp::InitTakeoverAck,
                 enrp::TakeoverServer, enrp::Error>;

EnrpType typeOf(const EnrpMessage& message);
std::string_view enrpTypeName(std::uint8_t type);
/// The sender and receiver IDs of any ENRP message.
const enrp::Ids& idsOf(const EnrpMessage& message);

}  // namespace vnfpool::wire
