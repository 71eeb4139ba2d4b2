#include <cctype>

#include "vnfpool/wire/codec.h"

namespace vnfpool::wire {

std::string toHex(std::span<const std::byte> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  text.reserve(bytes.size() * 2);
  for (auto b : bytes) {
    const auto v = std::to_integer<unsigned>(b);
    text.push_back(kDigits[v >> 4]);
    text.push_back(kDigits[v & 0xF]);
  }
  return text;
}

std::optional<Bytes> fromHex(std::string_view text) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Bytes out;
  int high = -1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    if (c == '0' && i + 1 < text.size() && (text[i + 1] == 'x' || text[i + 1] == 'X') && high < 0) {
      ++i;  // "0x" prefix of a group
      continue;
    }
    const int v = digit(c);
    if (v < 0) return std::nullopt;
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<std::byte>(high * 16 + v));
      high = -1;
    }
  }
  if (high >= 0) return std::nullopt;  // odd number of digits
  return out;
}

}  // namespace vnfpool::wire
