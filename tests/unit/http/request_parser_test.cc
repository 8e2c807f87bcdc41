#include "http/request_parser.h"

#include <gtest/gtest.h>

namespace etcdpp::http {
namespace {

RequestHead Parse(std::string_view head, ParseError* err) {
  return ParseRequestHead(head, err);
}

TEST(RequestParserTest, FindHeadEnd_CrlfAndBareLf) {
  EXPECT_EQ(FindHeadEnd("GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY"), 27u);
  EXPECT_EQ(FindHeadEnd("GET / HTTP/1.1\nHost: a\n\nBODY"), 24u);
  EXPECT_EQ(FindHeadEnd("GET / HTTP/1.1\r\nHost: a\r\n"), std::string_view::npos);
}

TEST(RequestParserTest, ParseRequestHead_Basic) {
  ParseError err;
  auto h = Parse(
      "GET /health%2Fx?serializable=true&a=b+c HTTP/1.1\r\nHost: x\r\nX-Thing:  v  \r\n\r\n", &err);
  ASSERT_EQ(err.status, 0);
  EXPECT_EQ(h.request.method, "GET");
  EXPECT_EQ(h.request.target, "/health%2Fx?serializable=true&a=b+c");
  EXPECT_EQ(h.request.path, "/health/x");
  EXPECT_EQ(h.request.query, "serializable=true&a=b+c");
  ASSERT_NE(h.request.Header("x-thing"), nullptr);
  EXPECT_EQ(*h.request.Header("x-thing"), "v");
  EXPECT_EQ(h.request.QueryParams()["a"][0], "b c");
  EXPECT_TRUE(h.keep_alive);
  EXPECT_EQ(h.minor_version, 1);
  EXPECT_EQ(h.content_length, 0u);
}

TEST(RequestParserTest, ParseRequestHead_AbsoluteFormAndPlusInPath) {
  ParseError err;
  auto h = Parse("GET http://h:1/a+b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", &err);
  ASSERT_EQ(err.status, 0);
  EXPECT_EQ(h.request.path, "/a+b");
  EXPECT_EQ(h.request.query, "x=1");
}

TEST(RequestParserTest, ParseRequestHead_KeepAliveRules) {
  ParseError err;
  EXPECT_FALSE(Parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n", &err).keep_alive);
  EXPECT_FALSE(Parse("GET / HTTP/1.0\r\n\r\n", &err).keep_alive);
  EXPECT_EQ(err.status, 0);  // HTTP/1.0 needs no Host
  EXPECT_TRUE(Parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &err).keep_alive);
}

TEST(RequestParserTest, ParseRequestHead_Bodies) {
  ParseError err;
  auto h = Parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n", &err);
  EXPECT_EQ(err.status, 0);
  EXPECT_EQ(h.content_length, 12u);
  h = Parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", &err);
  EXPECT_EQ(err.status, 0);
  // Chunked wins over Content-Length (Go drops the latter).
  h = Parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            &err);
  EXPECT_EQ(err.status, 0);
  EXPECT_TRUE(h.chunked);
  h = Parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
            &err);
  EXPECT_TRUE(h.expect_continue);
}

TEST(RequestParserTest, ParseRequestHead_ErrorsAsGo) {
  struct Case {
    const char* head;
    int status;
    const char* detail;
  } cases[] = {
      {"GET / HTTP/1.1\r\n\r\n", 400, "missing required Host header"},
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "too many Host headers"},
      {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "unsupported protocol version"},
      {"GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400, ""},
      {"GET /\r\nHost: a\r\n\r\n", 400, ""},
      {"garbage\r\n\r\n", 400, ""},
      {"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, ""},
      {"GET nopath HTTP/1.1\r\nHost: a\r\n\r\n", 400, ""},
      {"GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400, ""},
      {"GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n", 400, ""},
      {"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400, ""},
      {"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400, ""},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400, ""},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400, ""},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501, ""},
      {"POST / HTTP/1.1\r\nHost: a\r\nExpect: something\r\nContent-Length: 1\r\n\r\n", 417, ""},
  };
  for (const auto& c : cases) {
    ParseError err;
    Parse(c.head, &err);
    EXPECT_EQ(err.status, c.status) << c.head;
    EXPECT_EQ(err.detail, c.detail) << c.head;
  }
}

TEST(RequestParserTest, ChunkedDecoder_InPieces) {
  std::string wire =
      "4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: 1\r\n\r\nNEXT";
  // Every split point gives the same body and leaves the next request alone.
  for (size_t split = 0; split <= wire.size(); split++) {
    ChunkedDecoder dec;
    std::string body, in = wire.substr(0, split);
    size_t used = 0;
    auto st = dec.Feed(in, &used, &body, 1 << 20);
    in.erase(0, used);
    if (st == ChunkedDecoder::State::kMore) {
      in += wire.substr(split);
      st = dec.Feed(in, &used, &body, 1 << 20);
      in.erase(0, used);
    } else {
      in += wire.substr(split);
    }
    ASSERT_EQ(st, ChunkedDecoder::State::kDone) << split;
    EXPECT_EQ(body, "Wikipedia in\r\n\r\nchunks.") << split;
    EXPECT_EQ(in, "NEXT") << split;
  }
}

TEST(RequestParserTest, ChunkedDecoder_ErrorsAndLimit) {
  std::string body;
  size_t used = 0;
  ChunkedDecoder a;
  EXPECT_EQ(a.Feed("zz\r\n", &used, &body, 100), ChunkedDecoder::State::kError);
  ChunkedDecoder b;
  EXPECT_EQ(b.Feed("3\r\nabcX", &used, &body, 100), ChunkedDecoder::State::kError);
  ChunkedDecoder c;
  body.clear();
  EXPECT_EQ(c.Feed("65\r\n", &used, &body, 100), ChunkedDecoder::State::kTooLarge);
  ChunkedDecoder d;
  EXPECT_EQ(d.Feed("ffffffffffffffffff\r\n", &used, &body, 100), ChunkedDecoder::State::kError);
}

TEST(RequestParserTest, DecodePath) {
  EXPECT_EQ(*DecodePath("/a%20b+c"), "/a b+c");
  EXPECT_FALSE(DecodePath("/a%2").has_value());
  EXPECT_FALSE(DecodePath("/a%").has_value());
}

}  // namespace
}  // namespace etcdpp::http
