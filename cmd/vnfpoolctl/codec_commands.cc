#include "codec_commands.h"

#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>

#include "vnfpool/wire/codec.h"
#include "vnfpool/wire/json.h"

namespace vnfpool::ctl {
namespace {

using wire::Dialect;
using wire::Protocol;

struct Options {
  std::optional<Protocol> protocol;
  Dialect dialect = Dialect::Classic;
  std::string file;
  bool lines = false;
  bool pretty = false;
  bool raw = false;
};

const char* kDecodeUsage =
    "usage: vnfpoolctl decode --protocol asap|enrp [--dialect classic|ng] [--file F] [--lines] [--pretty]\n"
    "  Reads one message as hex on stdin (white space allowed), or raw bytes from --file, and prints it as\n"
    "  JSON. --lines: every stdin line is one message in hex; prints one JSON line each.\n";
const char* kEncodeUsage =
    "usage: vnfpoolctl encode [--protocol asap|enrp] [--dialect classic|ng] [--raw | --lines]\n"
    "  Reads one message as JSON on stdin (the form decode prints) and prints its bytes as hex\n"
    "  (--raw: the bytes themselves). The protocol defaults to the JSON's \"protocol\" field.\n"
    "  --lines: every stdin line is one message in JSON (as decode --lines prints them); prints one hex\n"
    "  line each, or \"error\" for a message that cannot be encoded.\n";

std::optional<Options> parse(const std::vector<std::string>& args, std::ostream& err, const char* usage) {
  Options o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= args.size()) {
        err << "vnfpoolctl: " << a << " needs a value\n" << usage;
        return std::nullopt;
      }
      return args[++i];
    };
    if (a == "--protocol" || a == "-p") {
      auto v = value();
      if (!v) return std::nullopt;
      if (*v == "asap") o.protocol = Protocol::Asap;
      else if (*v == "enrp") o.protocol = Protocol::Enrp;
      else {
        err << "vnfpoolctl: --protocol must be asap or enrp, not \"" << *v << "\"\n";
        return std::nullopt;
      }
    } else if (a == "--dialect" || a == "-d") {
      auto v = value();
      if (!v) return std::nullopt;
      if (*v == "classic") o.dialect = Dialect::Classic;
      else if (*v == "ng") o.dialect = Dialect::Ng;
      else {
        err << "vnfpoolctl: --dialect must be classic or ng, not \"" << *v << "\"\n";
        return std::nullopt;
      }
    } else if (a == "--file" || a == "-f") {
      auto v = value();
      if (!v) return std::nullopt;
      o.file = *v;
    } else if (a == "--lines") {
      o.lines = true;
    } else if (a == "--pretty") {
      o.pretty = true;
    } else if (a == "--raw") {
      o.raw = true;
    } else if (a == "--help" || a == "-h") {
      err << usage;
      return std::nullopt;
    } else {
      err << "vnfpoolctl: unknown argument \"" << a << "\"\n" << usage;
      return std::nullopt;
    }
  }
  return o;
}

std::string describe(const wire::Error& e) {
  std::ostringstream s;
  s << "cause 0x" << std::hex;
  s.width(4);
  s.fill('0');
  s << static_cast<unsigned>(e.cause) << std::dec << " (" << wire::causeName(static_cast<std::uint16_t>(e.cause))
    << ") at offset " << e.offset;
  if (!e.detail.empty()) s << ": " << e.detail;
  if (!e.offending.empty()) s << " [offending bytes " << wire::toHex(e.offending) << "]";
  if (!e.report) s << " (action bits: discard silently)";
  return s.str();
}

// Decodes one message; prints JSON or, on failure, the cause. Returns whether it decoded.
bool decodeOne(std::span<const std::byte> bytes, const Options& o, std::ostream& out, std::ostream& err,
               const std::string& where) {
  std::string json;
  std::optional<wire::Error> error;
  if (*o.protocol == Protocol::Asap) {
    auto m = wire::decodeAsap(bytes, o.dialect);
    if (m.ok()) json = wire::toJson(m.value(), o.pretty);
    else error = m.error();
  } else {
    auto m = wire::decodeEnrp(bytes, o.dialect);
    if (m.ok()) json = wire::toJson(m.value(), o.pretty);
    else error = m.error();
  }
  if (error) {
    err << "vnfpoolctl: cannot decode" << where << ": " << describe(*error) << "\n";
    if (o.lines) out << "{\"error\":{\"cause\":" << static_cast<unsigned>(error->cause) << "}}\n";
    return false;
  }
  out << json << "\n";
  return true;
}

}  // namespace

int runDecode(const std::vector<std::string>& args, std::istream& in, std::ostream& out, std::ostream& err) {
  auto o = parse(args, err, kDecodeUsage);
  if (!o) return kExitUsage;
  if (!o->protocol) {
    err << "vnfpoolctl: decode needs --protocol asap or --protocol enrp (they share type codes)\n";
    return kExitUsage;
  }
  if (!o->file.empty()) {
    std::ifstream f(o->file, std::ios::binary);
    if (!f) {
      err << "vnfpoolctl: cannot read " << o->file << "\n";
      return kExitUsage;
    }
    std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    return decodeOne(std::as_bytes(std::span(data.data(), data.size())), *o, out, err, "") ? kExitOk : kExitBadInput;
  }
  if (o->lines) {
    bool all = true;
    std::string line;
    std::size_t number = 0;
    while (std::getline(in, line)) {
      ++number;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      auto bytes = wire::fromHex(line);
      const std::string where = " line " + std::to_string(number);
      if (!bytes) {
        err << "vnfpoolctl: line " << number << " is not hex\n";
        out << "{\"error\":{\"cause\":0}}\n";
        all = false;
        continue;
      }
      all = decodeOne(*bytes, *o, out, err, where) && all;
    }
    return all ? kExitOk : kExitBadInput;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto bytes = wire::fromHex(text);
  if (!bytes) {
    err << "vnfpoolctl: stdin is not hex (use --file for raw bytes)\n";
    return kExitBadInput;
  }
  return decodeOne(*bytes, *o, out, err, "") ? kExitOk : kExitBadInput;
}

// Encodes one JSON message; prints its hex (or raw bytes) or, on failure, the reason. Returns whether it
// encoded.
bool encodeOne(const std::string& text, const Options& o, std::ostream& out, std::ostream& err,
               const std::string& where) {
  auto fail = [&](const std::string& why) {
    err << "vnfpoolctl: " << why << where << "\n";
    if (o.lines) out << "error\n";
    return false;
  };
  // Without --protocol it comes from the JSON: the "protocol" field makes exactly one parser accept.
  const Protocol protocol =
      o.protocol ? *o.protocol : (text.find("\"enrp\"") != std::string::npos ? Protocol::Enrp : Protocol::Asap);
  wire::Result<wire::Bytes> bytes = wire::Error{};
  if (protocol == Protocol::Asap) {
    auto m = wire::asapFromJson(text);
    if (!m.ok()) return fail("bad message JSON: " + m.error().detail);
    bytes = wire::encode(m.value(), o.dialect);
  } else {
    auto m = wire::enrpFromJson(text);
    if (!m.ok()) return fail("bad message JSON: " + m.error().detail);
    bytes = wire::encode(m.value(), o.dialect);
  }
  if (!bytes.ok()) return fail("cannot encode: " + describe(bytes.error()));
  if (o.raw) {
    out.write(reinterpret_cast<const char*>(bytes.value().data()), static_cast<std::streamsize>(bytes.value().size()));
  } else {
    out << wire::toHex(bytes.value()) << "\n";
  }
  return true;
}

int runEncode(const std::vector<std::string>& args, std::istream& in, std::ostream& out, std::ostream& err) {
  auto o = parse(args, err, kEncodeUsage);
  if (!o) return kExitUsage;
  if (o->lines && o->raw) {
    err << "vnfpoolctl: --lines and --raw exclude each other (raw messages have no line boundaries)\n";
    return kExitUsage;
  }
  if (o->lines) {
    bool all = true;
    std::string line;
    std::size_t number = 0;
    while (std::getline(in, line)) {
      ++number;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      all = encodeOne(line, *o, out, err, " (line " + std::to_string(number) + ")") && all;
    }
    return all ? kExitOk : kExitBadInput;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return encodeOne(text, *o, out, err, "") ? kExitOk : kExitBadInput;
}

}  // namespace vnfpool::ctl
