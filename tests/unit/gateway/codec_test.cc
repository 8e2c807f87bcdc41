// The JSON conventions on their own: splitting concatenated requests, what the
// decoder accepts (ETCD-FACTS.md §3 "Request decoding"), what the encoder
// prints ("Response encoding"), error bodies and the status mapping.
#include <gtest/gtest.h>

#include "etcdserverpb/rpc.pb.h"
#include "gateway/errors.h"
#include "gateway/json_codec.h"
#include "gateway/routes.h"

namespace etcdpp::gateway {
namespace {

std::vector<std::string> Split(std::string_view body) {
  auto r = SplitJsonValues(body);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return {};
  return std::vector<std::string>(r->begin(), r->end());
}

TEST(GatewaySplitJsonValues, ConcatenatedValues) {
  EXPECT_EQ(Split(""), std::vector<std::string>{});
  EXPECT_EQ(Split(" \r\n\t"), std::vector<std::string>{});
  EXPECT_EQ(Split("{}"), std::vector<std::string>{"{}"});
  EXPECT_EQ(Split(R"({"a":"}{"}{"b":[1,{"c":"\"}"}]})"),
            (std::vector<std::string>{R"({"a":"}{"})", R"({"b":[1,{"c":"\"}"}]})"}));
  EXPECT_EQ(Split("{\"ID\":1}\n{\"ID\":2}\n"),
            (std::vector<std::string>{"{\"ID\":1}", "{\"ID\":2}"}));
  EXPECT_EQ(Split("null 1 \"x\"{}"), (std::vector<std::string>{"null", "1", "\"x\"", "{}"}));
}

TEST(GatewaySplitJsonValues, CutOffValueIsAnError) {
  EXPECT_FALSE(SplitJsonValues("{\"a\":1").ok());
  EXPECT_FALSE(SplitJsonValues("{}{\"a\":\"x").ok());
  EXPECT_EQ(SplitJsonValues("{}{\"a\":\"x", 1)->size(), 1u);  // the rest is not looked at
}

TEST(GatewayDecodeJson, AcceptsBothNamesBothBase64AlphabetsAndNumbersAsStrings) {
  etcdserverpb::RangeRequest r;
  ASSERT_TRUE(DecodeJson(R"({"key":"Zm9v","range_end":"Zm9w","limit":"5","revision":7,
                             "sort_order":"DESCEND","sortTarget":2,"keysOnly":true,
                             "serializable":true,"unknown_field":{"x":1}})",
                         &r)
                  .ok());
  EXPECT_EQ(r.ShortDebugString(),
            "key: \"foo\" range_end: \"fop\" limit: 5 revision: 7 sort_order: DESCEND "
            "sort_target: CREATE serializable: true keys_only: true");
  // URL-safe alphabet, no padding; standard alphabet, no padding.
  ASSERT_TRUE(DecodeJson(R"({"key":"-_8","rangeEnd":"+/8"})", &r).ok());
  EXPECT_EQ(r.key(), "\xfb\xff");
  EXPECT_EQ(r.range_end(), "\xfb\xff");
  ASSERT_TRUE(DecodeJson(R"({"key":"Zm9vYQ"})", &r).ok());
  EXPECT_EQ(r.key(), "fooa");
  ASSERT_TRUE(DecodeJson("{}", &r).ok());
  EXPECT_EQ(r.ShortDebugString(), "");
}

TEST(GatewayDecodeJson, UnknownKeyInsideARequestOpLeavesItEmpty) {
  etcdserverpb::TxnRequest t;
  ASSERT_TRUE(DecodeJson(R"({"compare":[{"key":"YQ==","target":"MOD","mod_revision":"0",
      "result":"EQUAL"}],"success":[{"request_put":{"key":"YQ==","value":"Yg==","lease":"42"}}],
      "failure":[{"requestDeleteRange":{"key":"YQ=="}},{"bogus":{}}]})",
                         &t)
                  .ok());
  EXPECT_EQ(t.ShortDebugString(),
            "compare { target: MOD key: \"a\" mod_revision: 0 } success { request_put { key: "
            "\"a\" value: \"b\" lease: 42 } } failure { request_delete_range { key: \"a\" } } "
            "failure { }");
}

TEST(GatewayDecodeJson, RejectsWhatIsNotARequest) {
  etcdserverpb::RangeRequest r;
  for (const char* bad :
       {"null", "[]", "\"x\"", "{\"limit\":\"x\"}", "{\"key\":\"!!\"}", "{", "{\"key\":1}"}) {
    Status st = DecodeJson(bad, &r);
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << bad;
  }
}

TEST(GatewayEncodeJson, ProtoNamesStringInt64sOmittedZeroesBase64) {
  etcdserverpb::RangeResponse resp;
  resp.mutable_header()->set_revision(5);
  resp.mutable_header()->set_cluster_id(1ULL << 63);
  auto* kv = resp.add_kvs();
  kv->set_key("foo");
  kv->set_value(std::string("\xff\x00", 2));
  kv->set_create_revision(2);
  resp.set_count(1);
  resp.set_more(false);
  EXPECT_EQ(EncodeJson(resp),
            R"({"header":{"cluster_id":"9223372036854775808","revision":"5"},)"
            R"("kvs":[{"key":"Zm9v","create_revision":"2","value":"/wA="}],"count":"1"})");

  etcdserverpb::MemberListResponse ml;
  auto* m = ml.add_members();
  m->set_id(7);
  m->add_peerurls("http://x");
  m->set_islearner(true);
  EXPECT_EQ(EncodeJson(ml), R"({"members":[{"ID":"7","peerURLs":["http://x"],"isLearner":true}]})");

  etcdserverpb::LeaseKeepAliveResponse ka;  // unknown lease: no TTL key at all
  ka.set_id(9);
  EXPECT_EQ(EncodeJson(ka), R"({"ID":"9"})");
  EXPECT_EQ(EncodeJson(etcdserverpb::DefragmentResponse()), "{}");

  etcdserverpb::StatusResponse st;
  st.set_dbsize(4096);
  st.set_version("3.6.14");
  st.set_raftindex(3);
  EXPECT_EQ(EncodeJson(st), R"({"version":"3.6.14","dbSize":"4096","raftIndex":"3"})");
}

TEST(GatewayEncodeJson, EventsOmitPutTypeAndKeepEmptyHeader) {
  etcdserverpb::WatchResponse w;
  w.mutable_header();
  w.set_created(true);
  auto* ev = w.add_events();
  ev->set_type(mvccpb::Event::DELETE);
  ev->mutable_kv()->set_key("a");
  w.add_events()->mutable_kv()->set_key("b");
  EXPECT_EQ(EncodeJson(w),
            R"({"header":{},"created":true,"events":[{"type":"DELETE","kv":{"key":"YQ=="}},)"
            R"({"kv":{"key":"Yg=="}}]})");
}

TEST(GatewayJsonQuote, EscapesAndReplacesInvalidUtf8) {
  EXPECT_EQ(JsonQuote("a\"b\\c\n\x01"), R"("a\"b\\c\n\u0001")");
  EXPECT_EQ(JsonQuote("h\xc3\xa9!"), "\"h\xc3\xa9!\"");
  EXPECT_EQ(JsonQuote("x\xff"
                      "y"),
            "\"x\xEF\xBF\xBDy\"");
  EXPECT_EQ(JsonQuote("\xe2\x82"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");  // cut-off sequence
}

TEST(GatewayErrors, HttpStatusOfEveryGrpcCode) {
  const int expected[17] = {200, 499, 500, 400, 504, 404, 409, 403, 429,
                            400, 409, 400, 501, 500, 503, 500, 401};
  for (int code = 0; code <= 16; code++)
    EXPECT_EQ(HttpStatusFromGrpcCode(code), expected[code]) << code;
  EXPECT_EQ(HttpStatusFromGrpcCode(99), 500);
}

TEST(GatewayErrors, BodiesCarryBothGenerations) {
  EXPECT_EQ(UnaryErrorBody(5, "etcdserver: requested lease not found"),
            R"({"code":5,"message":"etcdserver: requested lease not found",)"
            R"("error":"etcdserver: requested lease not found"})");
  EXPECT_EQ(StreamErrorChunk(14, "etcdserver: no leader"),
            R"({"error":{"code":14,"message":"etcdserver: no leader","grpc_code":14,)"
            R"("http_code":503,"http_status":"Service Unavailable"}})"
            "\n");
}

TEST(GatewayRouteTable, LockAndElectionAreDescribedAtRunTime) {
  const Route* lock = nullptr;
  const Route* observe = nullptr;
  for (const auto& r : Routes()) {
    if (r.path == "/v3/lock/lock") lock = &r;
    if (r.path == "/v3/election/observe") observe = &r;
  }
  ASSERT_NE(lock, nullptr);
  ASSERT_NE(observe, nullptr);
  EXPECT_EQ(lock->grpc_method, "/v3lockpb.Lock/Lock");
  EXPECT_EQ(observe->grpc_method, "/v3electionpb.Election/Observe");
  EXPECT_EQ(observe->kind, CallKind::kServerStream);
  auto req = NewMessage(lock->request);
  ASSERT_TRUE(DecodeJson(R"({"name":"bG9jaw==","lease":"5"})", req.get()).ok());
  EXPECT_EQ(EncodeJson(*req), R"({"name":"bG9jaw==","lease":"5"})");
  auto resp = NewMessage(observe->response);  // LeaderResponse{header, kv}
  ASSERT_TRUE(DecodeJson(R"({"header":{"revision":"3"},"kv":{"key":"YQ=="}})", resp.get()).ok());
  EXPECT_EQ(EncodeJson(*resp), R"({"header":{"revision":"3"},"kv":{"key":"YQ=="}})");
}

}  // namespace
}  // namespace etcdpp::gateway
