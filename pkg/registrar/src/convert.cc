#include "convert.h"

#include <cstdio>

namespace vnfpool::registrar {

std::string policyName(std::uint32_t type) {
  if (const auto* info = wire::policyInfo(type)) return std::string(info->name);
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", type);
  return text;
}

void toProto(const wire::Transport& t, v1::Transport& out) {
  out.set_protocol(std::string(wire::transportName(t.kind)));
  out.set_port(t.port);
  out.set_use(t.use);
  for (const auto& a : t.addresses) out.add_addresses(a.toString());
}

void toProto(const wire::Policy& p, v1::Policy& out) {
  out.set_type(policyName(p.type));
  if (const auto* info = wire::policyInfo(p.type)) {
    for (std::size_t i = 0; i < info->fields.size() && i < p.word_count; ++i)
      (*out.mutable_values())[std::string(wire::policyFieldName(info->fields[i]))] = p.words[i];
  }
}

void toProto(const wire::PoolElement& pe, const std::string& pool, wire::PrId self, v1::PoolElement& out) {
  out.set_pool(pool);
  out.set_pe_id(pe.id);
  out.set_home_pr(pe.home_pr);
  out.set_registration_life_ms(pe.registration_life_ms);
  toProto(pe.user_transport, *out.mutable_user_transport());
  toProto(pe.policy, *out.mutable_policy());
  if (pe.asap_transport) toProto(*pe.asap_transport, *out.mutable_asap_transport());
  out.set_own(pe.home_pr == self);
}

void toProto(const handlespace::PeView& view, wire::PrId self, v1::PoolElement& out) {
  toProto(view.poolElement(), std::string(view.pool()), self, out);
}

void toProto(const HandlespaceEvent& e, wire::PrId self, v1::HandlespaceEvent& out) {
  switch (e.kind) {
    case HandlespaceEvent::Kind::Added: out.set_kind(v1::HandlespaceEvent::ADDED); break;
    case HandlespaceEvent::Kind::Updated: out.set_kind(v1::HandlespaceEvent::UPDATED); break;
    case HandlespaceEvent::Kind::Removed: out.set_kind(v1::HandlespaceEvent::REMOVED); break;
    case HandlespaceEvent::Kind::Rehomed: out.set_kind(v1::HandlespaceEvent::REHOMED); break;
    case HandlespaceEvent::Kind::Synced: out.set_kind(v1::HandlespaceEvent::SYNCED); return;
  }
  if (e.element) {
    toProto(*e.element, e.pool, self, *out.mutable_pool_element());
  } else {
    auto* pe = out.mutable_pool_element();
    pe->set_pool(e.pool);
    pe->set_pe_id(e.pe);
    pe->set_home_pr(e.owner);
    pe->set_own(e.owner == self);
  }
}

std::string formatCursor(const handlespace::TableCursor& c) {
  char text[48];
  std::snprintf(text, sizeof text, "%llx.%llx", static_cast<unsigned long long>(c.owner),
                static_cast<unsigned long long>(c.after));
  return text;
}

bool parseCursor(const std::string& text, handlespace::TableCursor& out) {
  unsigned long long owner = 0;
  unsigned long long after = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%llx.%llx%c", &owner, &after, &tail) != 2) return false;
  out.owner = owner;
  out.after = after;
  return true;
}

}  // namespace vnfpool::registrar
