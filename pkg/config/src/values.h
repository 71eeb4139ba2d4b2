// Parsing and printing of values from text, shared by the file, environment and flag readers. Private.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "vnfpool/config/config.h"

namespace vnfpool::config::detail {

/// A value, or the message explaining why `text` is not one for `key` (without the source prefix):
/// "\"5x\" is not a duration (use e.g. 500ms, 5s)".
using Parsed = std::variant<Value, std::string>;

/// Parses text for any key type (lists: comma-separated).
Parsed parseText(const Key& key, std::string_view text);
/// Range, allowed values and the key's own checks, for a value of the key's type.
std::optional<std::string> validate(const Key& key, const Value& value);
/// How a value looks in messages and --help: durations as "5s", strings quoted, lists "[a, b]".
std::string display(const Key& key, const Value& value);
/// "0.0.0.0:3863" -> "\"0.0.0.0:3863\"" with backslash escapes; for messages.
std::string quote(std::string_view text);
/// The name of a type in --help and messages: "STRING", "DURATION", ...
std::string_view typeName(Type type);
/// True for environment variable names Kubernetes service links may define (<SVC>_PORT, ...).
bool looksLikeServiceLink(std::string_view env);
/// Edit distance (Levenshtein), for "did you mean".
std::size_t editDistance(std::string_view a, std::string_view b);

}  // namespace vnfpool::config::detail
