// Fuzz target: the ENRP decoder never crashes, and whatever decodes survives encode + decode unchanged.
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "vnfpool/wire/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vnfpool::wire;  // NOLINT(google-build-using-namespace)
  const auto bytes = std::as_bytes(std::span(data, size));
  for (auto dialect : {Dialect::Classic, Dialect::Ng}) {
    DecodeReport report;
    auto first = decodeEnrp(bytes, dialect, &report);
    // The in-place table page reader agrees with the full decoder: same entries, or the same error.
    if (auto page = decodeHandleTableResponse(bytes, dialect); page.ok()) {
      DecodeReport page_report;
      TableEntryReader reader(page.value(), &page_report);
      TableEntry entry;
      std::vector<std::pair<std::string, PoolElement>> read;
      std::optional<Error> error;
      for (;;) {
        auto more = reader.next(entry);
        if (!more.ok()) {
          error = more.error();
          break;
        }
        if (!more.value()) break;
        read.emplace_back(std::string(entry.pool), entry.pe);
      }
      if (first.ok() != !error.has_value()) std::abort();
      if (error && *error != first.error()) std::abort();
      if (first.ok()) {
        std::vector<std::pair<std::string, PoolElement>> expected;
        for (const auto& pool : std::get<enrp::HandleTableResponse>(first.value()).pools)
          for (const auto& pe : pool.pes) expected.emplace_back(pool.pool_handle, pe);
        if (read != expected || page_report.skipped_to_report != report.skipped_to_report) std::abort();
      }
    } else if (first.ok() && std::holds_alternative<enrp::HandleTableResponse>(first.value())) {
      std::abort();  // the full decoder read a page whose header the page reader refused
    }
    if (!first.ok()) continue;
    auto encoded = encode(first.value(), dialect);
    if (!encoded.ok()) std::abort();  // a decoded message can always be encoded again
    auto again = decodeEnrp(encoded.value(), dialect);
    if (!again.ok() || again.value() != first.value()) std::abort();
  }
  return 0;
}
