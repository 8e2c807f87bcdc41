#include "gateway/errors.h"

#include "http/status_text.h"

#include "gateway/json_codec.h"

namespace etcdpp::gateway {

int HttpStatusFromGrpcCode(int code) {
  switch (code) {
    case 0:
      return 200;  // OK
    case 1:
      return 499;  // Canceled (client closed request)
    case 2:
      return 500;  // Unknown
    case 3:
      return 400;  // InvalidArgument
    case 4:
      return 504;  // DeadlineExceeded
    case 5:
      return 404;  // NotFound
    case 6:
      return 409;  // AlreadyExists
    case 7:
      return 403;  // PermissionDenied
    case 8:
      return 429;  // ResourceExhausted
    case 9:
      return 400;  // FailedPrecondition (v2; v1 said 412)
    case 10:
      return 409;  // Aborted
    case 11:
      return 400;  // OutOfRange
    case 12:
      return 501;  // Unimplemented
    case 13:
      return 500;  // Internal
    case 14:
      return 503;  // Unavailable
    case 15:
      return 500;  // DataLoss
    case 16:
      return 401;  // Unauthenticated
    default:
      return 500;
  }
}

std::string UnaryErrorBody(int code, std::string_view message) {
  std::string quoted = JsonQuote(message);
  return "{\"code\":" + std::to_string(code) + ",\"message\":" + quoted + ",\"error\":" + quoted +
         "}";
}

std::string StreamErrorChunk(int code, std::string_view message) {
  int http = HttpStatusFromGrpcCode(code);
  std::string quoted = JsonQuote(message);
  return "{\"error\":{\"code\":" + std::to_string(code) + ",\"message\":" + quoted +
         ",\"grpc_code\":" + std::to_string(code) + ",\"http_code\":" + std::to_string(http) +
         ",\"http_status\":" + JsonQuote(http::StatusText(http)) + "}}\n";
}

}  // namespace etcdpp::gateway
