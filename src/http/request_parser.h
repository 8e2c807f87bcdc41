// HTTP/1.x request heads and chunked bodies, parsed the way Go's net/http
// does (etcd's HTTP side is Go's server): what it accepts we accept, and what
// it refuses we refuse with its status code. Pure functions, no sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/http.h"

namespace etcdpp::http {

// A request refused before any handler runs. `status` 0 means no error.
struct ParseError {
  int status = 0;      // 400, 417, 431, 501, 505
  std::string detail;  // Go's text after "400 Bad Request: " ("" for none)
};

struct RequestHead {
  Request request;        // method, target, path, query and headers filled in
  int minor_version = 1;  // HTTP/1.<minor>
  bool keep_alive = true;
  bool chunked = false;
  uint64_t content_length = 0;   // without chunked: the body's length
  bool expect_continue = false;  // "Expect: 100-continue" on HTTP/1.1
};

// Index just past the blank line that ends the head in `buf`, or npos.
// Lines may end in "\r\n" or "\n" (Go accepts both).
size_t FindHeadEnd(std::string_view buf);

// Parses a head (request line and header lines, up to and including the
// blank line). On error, `err->status` is set and the head is meaningless.
RequestHead ParseRequestHead(std::string_view head, ParseError* err);

// Decodes "Transfer-Encoding: chunked" bodies fed in pieces. Chunk extensions
// and trailers are skipped (as Go does).
class ChunkedDecoder {
 public:
  enum class State { kMore, kDone, kError, kTooLarge };
  // Consumes what it can from `in` (sets *consumed), appends the data to
  // *body. kTooLarge once *body would exceed max_body_bytes.
  State Feed(std::string_view in, size_t* consumed, std::string* body, size_t max_body_bytes);

 private:
  enum class Phase { kSize, kData, kDataEnd, kTrailer };
  Phase phase_ = Phase::kSize;
  uint64_t remaining_ = 0;
};

// "%41" -> "A" without form decoding ('+' stays); nullopt on a bad escape.
std::optional<std::string> DecodePath(std::string_view s);

}  // namespace etcdpp::http
