#include "vnfpool/kube/json.h"

#include <gtest/gtest.h>

namespace vnfpool::kube {
namespace {

TEST(JsonTest, ParsesAndReadsDottedPaths) {
  auto doc = parseJson(R"({"metadata":{"name":"x","generation":3,"labels":{"a":"b","n":1}},"ok":true})");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(getString(doc.value(), "metadata.name"), "x");
  EXPECT_EQ(getInt(doc.value(), "metadata.generation"), 3);
  EXPECT_EQ(getBool(doc.value(), "ok"), true);
  EXPECT_EQ(getString(doc.value(), "metadata.generation"), std::nullopt);   // wrong type
  EXPECT_EQ(getString(doc.value(), "metadata.name.deeper"), std::nullopt);
  EXPECT_EQ(getStringMap(doc.value(), "metadata.labels"), (std::map<std::string, std::string>{{"a", "b"}}));
}

TEST(JsonTest, MalformedInputIsAnErrorNotAnException) {
  for (const char* text : {"", "{", "{\"a\":}", "nul", "[1,2", "\"unterminated"}) {
    auto doc = parseJson(text);
    ASSERT_FALSE(doc.ok()) << text;
    EXPECT_EQ(doc.error().kind, ErrorKind::BadResponse);
  }
}

TEST(JsonTest, SetCreatesIntermediateObjects) {
  Json doc = Json::object();
  set(doc, "spec.template.replicas", Json::number(3));
  EXPECT_EQ(getInt(doc, "spec.template.replicas"), 3);
  set(doc, "spec", Json::string("scalar"));
  set(doc, "spec.x", Json::number(1));
  EXPECT_EQ(getInt(doc, "spec.x"), 1);
}

TEST(JsonTest, MergePatchDiffIsMinimal) {
  auto from = parseJson(R"({"a":1,"b":{"c":2,"d":3},"e":[1]})").value();
  auto to = parseJson(R"({"a":1,"b":{"c":5},"e":[1,2],"f":"new"})").value();
  auto patch = mergePatchDiff(from, to);
  EXPECT_EQ(toString(patch), R"({"b":{"c":5,"d":null},"e":[1,2],"f":"new"})");
}

TEST(ErrorTest, ClassifiesApiErrors) {
  Error e{ErrorKind::Api, 409, "AlreadyExists", "x"};
  EXPECT_TRUE(e.conflict());
  EXPECT_TRUE(e.alreadyExists());
  EXPECT_FALSE(e.transient());
  EXPECT_TRUE((Error{ErrorKind::Api, 429, "TooManyRequests", ""}.transient()));
  EXPECT_TRUE((Error{ErrorKind::Api, 410, "Expired", ""}.expired()));
  EXPECT_EQ((Error{ErrorKind::Api, 404, "NotFound", "gone"}.describe()), "404 NotFound: gone");
}

}  // namespace
}  // namespace vnfpool::kube
