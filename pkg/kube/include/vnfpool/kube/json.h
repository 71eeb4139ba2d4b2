// JSON documents: Kubernetes objects are handled as cpprestsdk JSON values (web::json::value).
#pragma once

#include <cpprest/json.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vnfpool/kube/result.h"

namespace vnfpool::kube {

using Json = web::json::value;

/// Parses JSON text. Malformed input gives a BadResponse error naming what was wrong; never throws.
Result<Json> parseJson(std::string_view text);

/// Compact JSON text of a value.
std::string toString(const Json& value);

/// Walks a dotted path ("metadata.name") through nested objects; nullptr when any step is missing or
/// not an object. The pointer refers into `value` and lives as long as it is not modified.
const Json* find(const Json& value, std::string_view dotted_path);

/// Typed readers of a dotted path: std::nullopt when absent or of another type.
std::optional<std::string> getString(const Json& value, std::string_view dotted_path);
std::optional<std::int64_t> getInt(const Json& value, std::string_view dotted_path);
std::optional<bool> getBool(const Json& value, std::string_view dotted_path);
/// A string map (labels, annotations, ConfigMap data); empty when absent. Non-string values are skipped.
std::map<std::string, std::string> getStringMap(const Json& value, std::string_view dotted_path);

/// Sets a value at a dotted path, creating intermediate objects (replacing non-objects on the way).
void set(Json& value, std::string_view dotted_path, Json field);

/// JSON Merge Patch (RFC 7386) that turns `from` into `to`: the minimal patch, null for removed keys.
Json mergePatchDiff(const Json& from, const Json& to);

}  // namespace vnfpool::kube
