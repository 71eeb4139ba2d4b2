#include "vnfpool/kube/json.h"

#include <string>

namespace vnfpool::kube {

std::string Error::describe() const {
  switch (kind) {
    case ErrorKind::Api:
      return std::to_string(status) + " " + (reason.empty() ? "Error" : reason) + ": " + message;
    case ErrorKind::Config: return "configuration: " + message;
    case ErrorKind::Transport: return "transport: " + message;
    case ErrorKind::BadResponse: return "bad response: " + message;
    case ErrorKind::BadInput: return "bad input: " + message;
    case ErrorKind::Cancelled: return "cancelled: " + message;
  }
  return message;
}

Result<Json> parseJson(std::string_view text) {
  if (text.empty()) return Error{ErrorKind::BadResponse, 0, "", "empty JSON document"};
  try {
    return Json::parse(std::string(text));
  } catch (const web::json::json_exception& e) {
    return Error{ErrorKind::BadResponse, 0, "", std::string("malformed JSON: ") + e.what()};
  }
}

std::string toString(const Json& value) { return value.serialize(); }

const Json* find(const Json& value, std::string_view dotted_path) {
  const Json* cur = &value;
  std::size_t pos = 0;
  while (pos <= dotted_path.size()) {
    const auto dot = dotted_path.find('.', pos);
    const auto key = dotted_path.substr(pos, dot == std::string_view::npos ? std::string_view::npos : dot - pos);
    if (!cur->is_object()) return nullptr;
    const auto& obj = cur->as_object();
    const auto it = obj.find(std::string(key));
    if (it == obj.end()) return nullptr;
    cur = &it->second;
    if (dot == std::string_view::npos) break;
    pos = dot + 1;
  }
  return cur;
}

std::optional<std::string> getString(const Json& value, std::string_view path) {
  const Json* v = find(value, path);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return v->as_string();
}

std::optional<std::int64_t> getInt(const Json& value, std::string_view path) {
  const Json* v = find(value, path);
  if (v == nullptr || !v->is_number() || !v->as_number().is_int64()) return std::nullopt;
  return v->as_number().to_int64();
}

std::optional<bool> getBool(const Json& value, std::string_view path) {
  const Json* v = find(value, path);
  if (v == nullptr || !v->is_boolean()) return std::nullopt;
  return v->as_bool();
}

std::map<std::string, std::string> getStringMap(const Json& value, std::string_view path) {
  std::map<std::string, std::string> out;
  const Json* v = find(value, path);
  if (v == nullptr || !v->is_object()) return out;
  for (const auto& [k, field] : v->as_object()) {
    if (field.is_string()) out.emplace(k, field.as_string());
  }
  return out;
}

void set(Json& value, std::string_view dotted_path, Json field) {
  Json* cur = &value;
  std::size_t pos = 0;
  while (true) {
    const auto dot = dotted_path.find('.', pos);
    const std::string key(dotted_path.substr(pos, dot == std::string_view::npos ? std::string_view::npos : dot - pos));
    if (!cur->is_object()) *cur = Json::object();
    if (dot == std::string_view::npos) {
      (*cur)[key] = std::move(field);
      return;
    }
    cur = &(*cur)[key];
    pos = dot + 1;
  }
}

Json mergePatchDiff(const Json& from, const Json& to) {
  if (!from.is_object() || !to.is_object()) return to;
  Json patch = Json::object();
  for (const auto& [k, v] : from.as_object()) {
    if (!to.has_field(k)) patch[k] = Json::null();
  }
  for (const auto& [k, v] : to.as_object()) {
    if (!from.has_field(k)) {
      patch[k] = v;
    } else if (from.at(k) != v) {
      patch[k] = (from.at(k).is_object() && v.is_object()) ? mergePatchDiff(from.at(k), v) : v;
    }
  }
  return patch;
}

}  // namespace vnfpool::kube
