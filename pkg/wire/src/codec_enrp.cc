// ENRP message codec. Every message starts with the sender's and receiver's PR IDs (32-bit classic,
// 64-bit ng); Handle Update adds action + reserved, the takeover messages add the target PR ID.
#include <string>

#include "params.h"

namespace vnfpool::wire {
namespace {

using namespace detail;  // NOLINT(google-build-using-namespace): private building blocks

constexpr std::uint8_t kind(EnrpType t) { return static_cast<std::uint8_t>(t); }

#define VNFPOOL_TRY(var, expr)                         \
  auto var##_result = (expr);                          \
  if (!var##_result.ok()) return var##_result.error(); \
  auto var = std::move(var##_result).value()

std::size_t idSize(Dialect dialect) { return dialect == Dialect::Classic ? 4 : 8; }

std::size_t fixedSize(std::uint8_t type, Dialect dialect) {
  const std::size_t ids = 2 * idSize(dialect);
  switch (static_cast<EnrpType>(type)) {
    case EnrpType::HandleUpdate: return ids + 4;
    case EnrpType::InitTakeover:
    case EnrpType::InitTakeoverAck:
    case EnrpType::TakeoverServer: return ids + idSize(dialect);
    default: return ids;
  }
}

struct EnrpDecoder {
  std::span<const std::byte> bytes;
  Dialect dialect;
  ParamReader& params;
  Reader fixed;  // positioned after the header
  enrp::Ids ids{};

  std::uint64_t id() { return dialect == Dialect::Classic ? std::uint64_t{*fixed.u32()} : *fixed.u64(); }

  template <typename T>
  Result<EnrpMessage> finish(T&& message) {
    if (auto error = params.expectEnd()) return *error;
    return EnrpMessage{std::forward<T>(message)};
  }

  Result<EnrpMessage> presence(std::uint8_t flags) {
    enrp::Presence m;
    m.reply_required = (flags & flags::kPresenceReplyRequired) != 0;
    m.ids = ids;
    if (auto e = optionalNgCapabilities(bytes, params, m.ng_caps)) return *e;
    VNFPOOL_TRY(checksum_tlv, params.expect(checksumType(dialect), "PE checksum"));
    VNFPOOL_TRY(checksum, decodeChecksum(checksum_tlv));
    m.checksum = checksum;
    VNFPOOL_TRY(info_tlv, params.optional(serverInformationType(dialect)));
    if (info_tlv) {
      VNFPOOL_TRY(info, decodeServerInformation(bytes, *info_tlv, dialect));
      m.server_info = std::move(info);
    }
    return finish(std::move(m));
  }

  Result<EnrpMessage> handleTableResponse(std::uint8_t flags) {
    enrp::HandleTableResponse m;
    m.reject = (flags & flags::kTableReject) != 0;
    m.more = (flags & flags::kTableMore) != 0;
    m.ids = ids;
    for (;;) {
      VNFPOOL_TRY(handle_tlv, params.optional(ParamType::PoolHandle));
      if (!handle_tlv) break;
      VNFPOOL_TRY(handle, decodePoolHandle(*handle_tlv));
      enrp::PoolEntries entries;
      entries.pool_handle = std::move(handle);
      if (auto e = poolElementList(bytes, params, dialect, entries.pes)) return *e;
      m.pools.push_back(std::move(entries));
    }
    return finish(std::move(m));
  }

  Result<EnrpMessage> handleUpdate(std::uint8_t flags) {
    enrp::HandleUpdate m;
    m.takeover_suggested = (flags & flags::kTakeoverSuggested) != 0;
    m.ids = ids;
    m.action = *fixed.u16();
    m.reserved = *fixed.u16();
    VNFPOOL_TRY(handle, expectPoolHandle(params));
    m.pool_handle = std::move(handle);
    if (auto e = expectPoolElement(bytes, params, dialect, m.pe)) return *e;
    return finish(std::move(m));
  }

  Result<EnrpMessage> listResponse(std::uint8_t flags) {
    enrp::ListResponse m;
    m.reject = (flags & flags::kListReject) != 0;
    m.ids = ids;
    if (auto e = optionalNgCapabilities(bytes, params, m.ng_caps)) return *e;
    for (;;) {
      VNFPOOL_TRY(tlv, params.optional(serverInformationType(dialect)));
      if (!tlv) break;
      VNFPOOL_TRY(info, decodeServerInformation(bytes, *tlv, dialect));
      m.servers.push_back(std::move(info));
    }
    return finish(std::move(m));
  }

  template <typename T>
  Result<EnrpMessage> takeover() {
    T m;
    m.ids = ids;
    m.target = id();
    return finish(std::move(m));
  }

  Result<EnrpMessage> error() {
    enrp::Error m;
    m.ids = ids;
    VNFPOOL_TRY(tlv, params.expect(ParamType::OperationalError, "operational error"));
    VNFPOOL_TRY(error, decodeOperationalError(tlv));
    m.error = std::move(error);
    return finish(std::move(m));
  }
};

}  // namespace

Result<EnrpMessage> decodeEnrp(std::span<const std::byte> bytes, Dialect dialect, DecodeReport* report) {
  auto header = peekHeader(bytes);
  if (!header) return makeError(Cause::InvalidValues, 0, bytes, "shorter than a message header");
  if (header->type < kind(EnrpType::Presence) || header->type > kind(EnrpType::Error)) {
    auto frame = checkFrame(bytes, kHeaderSize);
    auto whole = frame.ok() ? bytes.first(frame.value()) : bytes;
    return makeError(Cause::UnrecognizedMessage, 0, whole,
                     "unrecognised ENRP message type " + std::to_string(header->type));
  }
  const std::size_t fixed = fixedSize(header->type, dialect);
  auto length = checkFrame(bytes, kHeaderSize + fixed);
  if (!length.ok()) return length.error();
  ParamReader params(bytes, kHeaderSize + fixed, length.value(), dialect, report);
  EnrpDecoder d{bytes, dialect, params, Reader(bytes.subspan(kHeaderSize))};
  d.ids.sender = d.id();
  d.ids.receiver = d.id();
  const std::uint8_t f = header->flags;
  switch (static_cast<EnrpType>(header->type)) {
    case EnrpType::Presence: return d.presence(f);
    case EnrpType::HandleTableRequest: {
      enrp::HandleTableRequest m;
      m.own_children_only = (f & flags::kOwnChildrenOnly) != 0;
      m.ids = d.ids;
      return d.finish(std::move(m));
    }
    case EnrpType::HandleTableResponse: return d.handleTableResponse(f);
    case EnrpType::HandleUpdate: return d.handleUpdate(f);
    case EnrpType::ListRequest: return d.finish(enrp::ListRequest{d.ids});
    case EnrpType::ListResponse: return d.listResponse(f);
    case EnrpType::InitTakeover: return d.takeover<enrp::InitTakeover>();
    case EnrpType::InitTakeoverAck: return d.takeover<enrp::InitTakeoverAck>();
    case EnrpType::TakeoverServer: return d.takeover<enrp::TakeoverServer>();
    case EnrpType::Error: return d.error();
  }
  return makeError(Cause::UnrecognizedMessage, 0, bytes, "unrecognised ENRP message type");
}

Result<enrp::HandleTableResponseView> decodeHandleTableResponse(std::span<const std::byte> bytes, Dialect dialect) {
  auto header = peekHeader(bytes);
  if (!header) return makeError(Cause::InvalidValues, 0, bytes, "shorter than a message header");
  if (header->type != kind(EnrpType::HandleTableResponse))
    return makeError(Cause::InvalidValues, 0, {},
                     "not a Handle Table Response: type " + std::to_string(header->type));
  auto length = checkFrame(bytes, kHeaderSize + fixedSize(header->type, dialect));
  if (!length.ok()) return length.error();
  Reader fixed(bytes.subspan(kHeaderSize));
  auto id = [&] { return dialect == Dialect::Classic ? std::uint64_t{*fixed.u32()} : *fixed.u64(); };
  enrp::HandleTableResponseView view;
  view.reject = (header->flags & flags::kTableReject) != 0;
  view.more = (header->flags & flags::kTableMore) != 0;
  view.ids.sender = id();
  view.ids.receiver = id();
  view.dialect = dialect;
  view.message = bytes;
  view.entries_begin = kHeaderSize + fixedSize(header->type, dialect);
  view.entries_end = length.value();
  return view;
}

// The same walk as EnrpDecoder::handleTableResponse and its finish(), one entry per call: [Pool Handle,
// Pool Element*]*, then nothing recognised. A fresh ParamReader resumes where the last call stopped.
Result<bool> TableEntryReader::next(TableEntry& entry) {
  if (done_) return false;
  ParamReader params(message_, pos_, end_, dialect_, report_);
  const ParamType pe_type = poolElementType(dialect_);
  for (;;) {
    if (!pool_.empty()) {  // a Pool Handle was read: its PEs follow
      if (const Tlv* t = params.take(pe_type)) {
        resetForDecoding(entry.pe);
        if (auto e = decodePoolElement(message_, *t, dialect_, entry.pe)) {
          done_ = true;
          return *e;
        }
        entry.pool = pool_;
        pos_ = params.position();
        return true;
      }
      if (params.failed()) {
        done_ = true;
        return params.error();
      }
    }
    done_ = true;  // until a next Pool Handle is read
    VNFPOOL_TRY(handle_tlv, params.optional(ParamType::PoolHandle));
    if (!handle_tlv) {
      if (auto error = params.expectEnd()) return *error;
      return false;
    }
    VNFPOOL_TRY(handle, decodePoolHandleView(*handle_tlv));
    pool_ = handle;
    done_ = false;
  }
}

#undef VNFPOOL_TRY

namespace {

struct EnrpEncoder {
  Bytes& out;
  Dialect dialect;

  // Writes the header's IDs, then `rest`.
  template <typename Rest>
  Result<std::size_t> message(EnrpType type, std::uint8_t flags, const enrp::Ids& ids, Rest&& rest) {
    return encodeMessage(out, kind(type), flags, [&](Writer& w) -> std::optional<Error> {
      if (auto e = encodeId(w, ids.sender, dialect, "sender PR identifier")) return e;
      if (auto e = encodeId(w, ids.receiver, dialect, "receiver PR identifier")) return e;
      return rest(w);
    });
  }
  static std::optional<Error> nothing(Writer&) { return std::nullopt; }

  Result<std::size_t> operator()(const enrp::Presence& m) {
    const std::uint8_t f = m.reply_required ? flags::kPresenceReplyRequired : 0;
    return message(EnrpType::Presence, f, m.ids, [&](Writer& w) -> std::optional<Error> {
      if (m.ng_caps) {
        if (auto e = encodeNgCapabilities(w, *m.ng_caps, dialect)) return e;
      }
      if (auto e = encodeChecksum(w, m.checksum, dialect)) return e;
      if (m.server_info) return encodeServerInformation(w, *m.server_info, dialect);
      return std::nullopt;
    });
  }
  Result<std::size_t> operator()(const enrp::HandleTableRequest& m) {
    const std::uint8_t f = m.own_children_only ? flags::kOwnChildrenOnly : 0;
    return message(EnrpType::HandleTableRequest, f, m.ids, nothing);
  }
  Result<std::size_t> operator()(const enrp::HandleTableResponse& m) {
    const std::uint8_t f =
        static_cast<std::uint8_t>((m.reject ? flags::kTableReject : 0) | (m.more ? flags::kTableMore : 0));
    return message(EnrpType::HandleTableResponse, f, m.ids, [&](Writer& w) -> std::optional<Error> {
      for (const auto& pool : m.pools) {
        encodePoolHandle(w, pool.pool_handle);
        for (const auto& pe : pool.pes) {
          if (auto e = encodePoolElement(w, pe, dialect)) return e;
        }
      }
      return std::nullopt;
    });
  }
  Result<std::size_t> operator()(const enrp::HandleUpdate& m) {
    const std::uint8_t f = m.takeover_suggested ? flags::kTakeoverSuggested : 0;
    return message(EnrpType::HandleUpdate, f, m.ids, [&](Writer& w) -> std::optional<Error> {
      w.u16(m.action);
      w.u16(m.reserved);
      encodePoolHandle(w, m.pool_handle);
      return encodePoolElement(w, m.pe, dialect);
    });
  }
  Result<std::size_t> operator()(const enrp::ListRequest& m) { return message(EnrpType::ListRequest, 0, m.ids, nothing); }
  Result<std::size_t> operator()(const enrp::ListResponse& m) {
    const std::uint8_t f = m.reject ? flags::kListReject : 0;
    return message(EnrpType::ListResponse, f, m.ids, [&](Writer& w) -> std::optional<Error> {
      if (m.ng_caps) {
        if (auto e = encodeNgCapabilities(w, *m.ng_caps, dialect)) return e;
      }
      for (const auto& info : m.servers) {
        if (auto e = encodeServerInformation(w, info, dialect)) return e;
      }
      return std::nullopt;
    });
  }
  template <typename T>
  Result<std::size_t> takeover(EnrpType type, const T& m) {
    return message(type, 0, m.ids, [&](Writer& w) { return encodeId(w, m.target, dialect, "target PR identifier"); });
  }
  Result<std::size_t> operator()(const enrp::InitTakeover& m) { return takeover(EnrpType::InitTakeover, m); }
  Result<std::size_t> operator()(const enrp::InitTakeoverAck& m) { return takeover(EnrpType::InitTakeoverAck, m); }
  Result<std::size_t> operator()(const enrp::TakeoverServer& m) { return takeover(EnrpType::TakeoverServer, m); }
  Result<std::size_t> operator()(const enrp::Error& m) {
    return message(EnrpType::Error, 0, m.ids, [&](Writer& w) -> std::optional<Error> {
      encodeOperationalError(w, m.error);
      return std::nullopt;
    });
  }
};

}  // namespace

Result<std::size_t> encodeTo(const EnrpMessage& message, Dialect dialect, Bytes& out) {
  return std::visit(EnrpEncoder{out, dialect}, message);
}

void appendPoolHandleParameter(std::string_view handle, Bytes& body) {
  Writer w(body);
  encodePoolHandle(w, handle);
  w.finish();
}

Result<std::size_t> appendPoolElementParameter(const PoolElement& pe, Dialect dialect, Bytes& body) {
  const std::size_t start = body.size();
  Writer w(body);
  if (auto e = encodePoolElement(w, pe, dialect)) {
    body.resize(start);
    return *e;
  }
  w.finish();
  if (w.overflowed()) {
    body.resize(start);
    return makeError(Cause::LackOfResources, 0, {}, "parameter longer than 65535 bytes");
  }
  return body.size() - start;
}

Result<std::size_t> encodeHandleTableResponseTo(bool reject, bool more, const enrp::Ids& ids,
                                                std::span<const std::byte> body, Dialect dialect, Bytes& out) {
  const std::uint8_t f = static_cast<std::uint8_t>((reject ? flags::kTableReject : 0) | (more ? flags::kTableMore : 0));
  return EnrpEncoder{out, dialect}.message(EnrpType::HandleTableResponse, f, ids, [&](Writer& w) -> std::optional<Error> {
    w.raw(body);
    return std::nullopt;
  });
}

Result<Bytes> encode(const EnrpMessage& message, Dialect dialect) {
  Bytes out;
  out.reserve(256);
  auto n = encodeTo(message, dialect, out);
  if (!n.ok()) return n.error();
  return out;
}

}  // namespace vnfpool::wire
