// Code points of ASAP (RFC 5352), ENRP (RFC 5353), their parameters (RFC 5354), the drafts and the
// next-generation (ng) dialect. Numbers only; layouts are in types.h and docs/protocol.md.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vnfpool::wire {

/// Which byte layout a message uses. `Classic` is the RFC format RSPLIB speaks (32-bit IDs, Internet-16
/// audit checksum); `Ng` is the next-generation format (64-bit PE and PR IDs, Internet-32 checksum).
enum class Dialect : std::uint8_t { Classic, Ng };

/// ASAP and ENRP share type numbers, so a decoder must be told which protocol a message belongs to.
enum class Protocol : std::uint8_t { Asap, Enrp };

inline constexpr std::uint16_t kAsapPort = 3863;
inline constexpr std::uint16_t kEnrpPort = 9901;

/// SCTP payload protocol identifiers (IANA for classic; the ng values are the digest's proposal, 11.3).
inline constexpr std::uint32_t kPpidAsap = 11;
inline constexpr std::uint32_t kPpidEnrp = 12;
inline constexpr std::uint32_t kPpidNgAsap = 0x4E474153;  // "NGAS"
inline constexpr std::uint32_t kPpidNgEnrp = 0x4E47454E;  // "NGEN"

/// The header's 16-bit length bounds every message.
inline constexpr std::size_t kMaxMessageSize = 65535;
inline constexpr std::size_t kHeaderSize = 4;

/// RSPLIB aborts on longer pool handles (digest 2.6); we refuse to send them to classic peers.
inline constexpr std::size_t kMaxClassicPoolHandle = 32;

enum class AsapType : std::uint8_t {
  Registration = 0x01,
  Deregistration = 0x02,
  RegistrationResponse = 0x03,
  DeregistrationResponse = 0x04,
  HandleResolution = 0x05,
  HandleResolutionResponse = 0x06,
  EndpointKeepAlive = 0x07,
  EndpointKeepAliveAck = 0x08,
  EndpointUnreachable = 0x09,
  ServerAnnounce = 0x0a,
  Cookie = 0x0b,
  CookieEcho = 0x0c,
  BusinessCard = 0x0d,
  Error = 0x0e,
};

enum class EnrpType : std::uint8_t {
  Presence = 0x01,
  HandleTableRequest = 0x02,
  HandleTableResponse = 0x03,
  HandleUpdate = 0x04,
  ListRequest = 0x05,
  ListResponse = 0x06,
  InitTakeover = 0x07,
  InitTakeoverAck = 0x08,
  TakeoverServer = 0x09,
  Error = 0x0a,
};

/// Message flag bits (bit 0 = 0x01).
namespace flags {
inline constexpr std::uint8_t kRegistrationReject = 0x01;       // ASAP Registration Response R
inline constexpr std::uint8_t kHandleResolutionSubscribe = 0x01;  // ASAP Handle Resolution S (RFC 5352)
inline constexpr std::uint8_t kHandleResolutionAccepted = 0x01;   // ASAP Handle Resolution Response A
inline constexpr std::uint8_t kKeepAliveHome = 0x01;              // ASAP Endpoint Keep-Alive H
inline constexpr std::uint8_t kPresenceReplyRequired = 0x01;      // ENRP Presence R
inline constexpr std::uint8_t kOwnChildrenOnly = 0x01;            // ENRP Handle Table Request W
inline constexpr std::uint8_t kTableReject = 0x01;                // ENRP Handle Table Response R
inline constexpr std::uint8_t kTableMore = 0x02;                  // ENRP Handle Table Response M
inline constexpr std::uint8_t kTakeoverSuggested = 0x01;          // ENRP Handle Update T (takeover draft)
inline constexpr std::uint8_t kListReject = 0x01;                 // ENRP List Response R
}  // namespace flags

/// Parameter types, action bits included (the top two bits say what an unaware receiver does).
enum class ParamType : std::uint16_t {
  Ipv4Address = 0x0001,
  Ipv6Address = 0x0002,
  DccpTransport = 0x0003,
  SctpTransport = 0x0004,
  TcpTransport = 0x0005,
  UdpTransport = 0x0006,
  UdpLiteTransport = 0x0007,
  SelectionPolicy = 0x0008,
  PoolHandle = 0x0009,
  PoolElement = 0x000a,
  ServerInformation = 0x000b,
  OperationalError = 0x000c,
  Cookie = 0x000d,
  PeIdentifier = 0x000e,
  PeChecksum = 0x000f,
  HandleResolutionOption = 0x803f,  // draft-dreibholz-rserpool-asap-hropt
  NgCapabilities = 0x8040,          // ng: skippable, so classic stacks ignore it
  PeIdentifier64 = 0x4041,
  PoolElement64 = 0x4042,
  ServerInformation64 = 0x4043,
  PeChecksum32 = 0x4044,
  MptcpTransport = 0x4045,
};

/// What a receiver does with a parameter it does not recognise: the top two bits of the type (RFC 5354 3).
enum class UnknownAction : std::uint8_t {
  Stop = 0,             // 00: discard the message silently
  StopAndReport = 1,    // 01: discard and answer with an Error (Unrecognized Parameter)
  Skip = 2,             // 10: skip the parameter
  SkipAndReport = 3,    // 11: skip it and report it in an Error
};
constexpr UnknownAction unknownAction(std::uint16_t type) { return static_cast<UnknownAction>(type >> 14); }

/// ENRP Handle Update actions.
enum class UpdateAction : std::uint16_t { AddPe = 0x0000, DelPe = 0x0001 };

/// Transport Use of SCTP, TCP and MPTCP transport parameters.
enum class TransportUse : std::uint16_t { DataOnly = 0x0000, DataPlusControl = 0x0001 };

/// NG Capabilities feature bits (digest 11.3).
namespace features {
inline constexpr std::uint16_t kNgFormat = 0x0001;
inline constexpr std::uint16_t kChecksum32 = 0x0002;
inline constexpr std::uint16_t kTakeoverSuggestion = 0x0004;
inline constexpr std::uint16_t kHandleResolutionOption = 0x0008;
inline constexpr std::uint16_t kTcp = 0x0010;
inline constexpr std::uint16_t kMptcp = 0x0020;
inline constexpr std::uint16_t kDelayPenalty = 0x0040;
/// What every ng v1 implementation supports.
inline constexpr std::uint16_t kMandatory = kNgFormat | kChecksum32 | kTakeoverSuggestion | kHandleResolutionOption;
}  // namespace features

}  // namespace vnfpool::wire
