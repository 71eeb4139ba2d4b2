#include "vnfpool/wire/json.h"

#include <gtest/gtest.h>

#include "samples.h"

namespace vnfpool::wire {
namespace {

TEST(Json, EverySampleSurvivesTheJsonForm) {
  for (auto d : {Dialect::Classic, Dialect::Ng}) {
    const auto asap = test::sampleAsapMessages(d);
    for (std::size_t i = 0; i < asap.size(); ++i) {
      SCOPED_TRACE(test::label(asap[i], i));
      for (bool pretty : {false, true}) {
        auto back = asapFromJson(toJson(asap[i], pretty));
        ASSERT_TRUE(back.ok()) << back.error().detail << "\n" << toJson(asap[i], true);
        EXPECT_EQ(back.value(), asap[i]);
      }
    }
    const auto enrp = test::sampleEnrpMessages(d);
    for (std::size_t i = 0; i < enrp.size(); ++i) {
      SCOPED_TRACE(test::label(enrp[i], i));
      auto back = enrpFromJson(toJson(enrp[i], true));
      ASSERT_TRUE(back.ok()) << back.error().detail << "\n" << toJson(enrp[i], true);
      EXPECT_EQ(back.value(), enrp[i]);
    }
  }
}

TEST(Json, ReadableForm) {
  asap::HandleResolution m{false, std::nullopt, "EchoPool", 3u};
  EXPECT_EQ(toJson(AsapMessage{m}),
            R"({"protocol":"asap","type":"handle_resolution","subscribe":false,"pool_handle":"EchoPool","items":3})");
  asap::EndpointUnreachable binary{std::string("\x01\x02", 2), 0x0123456789abcdef};
  EXPECT_EQ(toJson(AsapMessage{binary}),
            R"({"protocol":"asap","type":"endpoint_unreachable","pool_handle":"0x0102","pe_id":"0x0123456789abcdef"})");
}

TEST(Json, ErrorsNameTheField) {
  auto missing = asapFromJson(R"({"type":"deregistration","pool_handle":"p"})");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().detail, "pe_id: missing");

  auto range = asapFromJson(R"({"type":"handle_resolution","pool_handle":"p","items":4294967296})");
  ASSERT_FALSE(range.ok());
  EXPECT_NE(range.error().detail.find("items"), std::string::npos);

  auto typo = asapFromJson(R"({"type":"deregistration","pool_handle":"p","pe_id":1,"pe_idd":2})");
  ASSERT_FALSE(typo.ok());
  EXPECT_EQ(typo.error().detail, "pe_idd: unknown key");

  auto nested = asapFromJson(R"({"type":"registration","pool_handle":"p","pool_element":{"id":1,
      "registration_life_ms":1,"user_transport":{"protocol":"tcp","port":1,"addresses":["300.1.1.1"]},
      "policy":{"type":"rr"}}})");
  ASSERT_FALSE(nested.ok());
  EXPECT_NE(nested.error().detail.find("pool_element.user_transport.addresses[0]"), std::string::npos);

  auto policy = asapFromJson(R"({"type":"registration","pool_handle":"p","pool_element":{"id":1,
      "registration_life_ms":1,"user_transport":{"protocol":"tcp","port":1,"addresses":["10.0.0.1"]},
      "policy":{"type":"fastest"}}})");
  ASSERT_FALSE(policy.ok());
  EXPECT_NE(policy.error().detail.find("unknown policy"), std::string::npos);

  EXPECT_FALSE(asapFromJson("{not json").ok());
  EXPECT_FALSE(asapFromJson(R"({"type":"nonsense"})").ok());
  EXPECT_FALSE(enrpFromJson(R"({"protocol":"asap","type":"presence"})").ok());
  EXPECT_FALSE(asapFromJson(R"([1,2])").ok());
}

TEST(Json, HexAndDecimalNumbersAreAccepted) {
  auto m = asapFromJson(R"({"type":"deregistration","pool_handle":"p","pe_id":"0xe001"})");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(std::get<asap::Deregistration>(m.value()).pe_id, 0xe001u);
  auto d = asapFromJson(R"({"type":"deregistration","pool_handle":"p","pe_id":57345})");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(std::get<asap::Deregistration>(d.value()).pe_id, 0xe001u);
  EXPECT_FALSE(asapFromJson(R"({"type":"deregistration","pool_handle":"p","pe_id":"-1"})").ok());
  EXPECT_FALSE(asapFromJson(R"({"type":"deregistration","pool_handle":"p","pe_id":"12abc"})").ok());
}

}  // namespace
}  // namespace vnfpool::wire
