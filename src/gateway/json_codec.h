// JSON <-> protobuf the way etcd 3.6's grpc-gateway (protojson) does it
// (ETCD-FACTS.md §3): requests accept proto or lowerCamel names, base64 bytes
// in either alphabet with or without padding, 64-bit integers as strings or
// numbers, enum names or numbers, and drop unknown keys; responses use the
// exact proto field names, omit zero values, print 64-bit integers as strings
// and bytes as padded standard base64.
#pragma once

#include <google/protobuf/message.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace etcdpp::gateway {

// Splits a body into its top-level JSON values ("{..} {..}\n{..}"), as Go's
// json.Decoder reads a stream of requests. Only the value boundaries are found
// here (strings and nesting are respected); the values are validated when
// decoded. Whitespace-only input gives no values. InvalidArgument for a value
// that is cut off (unbalanced brackets or an unterminated string). Stops after
// `max_values` values; what follows them is not looked at.
Result<std::vector<std::string_view>> SplitJsonValues(std::string_view body,
                                                      size_t max_values = SIZE_MAX);

// Decodes one JSON value into `msg` (which is cleared first).
// InvalidArgument with the parser's reason when it is not a valid request.
Status DecodeJson(std::string_view json, google::protobuf::Message* msg);

// The response JSON of one message: proto names, zero values omitted.
std::string EncodeJson(const google::protobuf::Message& msg);

// `s` as a JSON string literal (with the quotes). Invalid UTF-8 bytes become
// U+FFFD, as Go's encoding/json does.
std::string JsonQuote(std::string_view s);

}  // namespace etcdpp::gateway
