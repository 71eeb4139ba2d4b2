// Handlespace and wire values in the admin API's protobuf form.
#pragma once

#include <string>

#include "vnfpool/handlespace/handlespace.h"
#include "vnfpool/registrar/registrar.h"
#include "vnfpool/v1/registrar.pb.h"

namespace vnfpool::registrar {

/// The short policy name ("lu"), or "0x%08x" for an unknown type.
std::string policyName(std::uint32_t type);
void toProto(const wire::Transport& t, v1::Transport& out);
void toProto(const wire::Policy& p, v1::Policy& out);
void toProto(const wire::PoolElement& pe, const std::string& pool, wire::PrId self, v1::PoolElement& out);
void toProto(const handlespace::PeView& view, wire::PrId self, v1::PoolElement& out);
void toProto(const HandlespaceEvent& e, wire::PrId self, v1::HandlespaceEvent& out);

/// Page tokens of DumpHandlespace: "<owner>.<after>" in hex.
std::string formatCursor(const handlespace::TableCursor& c);
bool parseCursor(const std::string& text, handlespace::TableCursor& out);

}  // namespace vnfpool::registrar
