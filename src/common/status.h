// Status and Result<T>: how errors cross module boundaries (no exceptions).
//
// The codes mirror gRPC's canonical codes so that a Status produced deep in the
// store can be returned to a client unchanged (etcd's error strings ride in the
// message), plus two storage codes in the LevelDB tradition: kCorruption for
// data that fails its checks and kIOError for the operating system saying no.
// OK carries no allocation.
#pragma once

#include <cassert>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace etcdpp {

enum class Code : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
  // Storage-level codes (not gRPC codes); mapped to kDataLoss / kInternal at the edge.
  kCorruption = 100,
  kIOError = 101,
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string_view msg)
      : rep_(code == Code::kOk ? nullptr : std::make_shared<Rep>(Rep{code, std::string(msg)})) {}

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string_view m) { return {Code::kInvalidArgument, m}; }
  static Status NotFound(std::string_view m) { return {Code::kNotFound, m}; }
  static Status OutOfRange(std::string_view m) { return {Code::kOutOfRange, m}; }
  static Status FailedPrecondition(std::string_view m) { return {Code::kFailedPrecondition, m}; }
  static Status ResourceExhausted(std::string_view m) { return {Code::kResourceExhausted, m}; }
  static Status Unavailable(std::string_view m) { return {Code::kUnavailable, m}; }
  static Status Internal(std::string_view m) { return {Code::kInternal, m}; }
  static Status Corruption(std::string_view m) { return {Code::kCorruption, m}; }
  static Status IOError(std::string_view m) { return {Code::kIOError, m}; }
  static Status Unimplemented(std::string_view m) { return {Code::kUnimplemented, m}; }

  bool ok() const { return rep_ == nullptr; }
  Code code() const { return rep_ ? rep_->code : Code::kOk; }
  const std::string& message() const {
    static const std::string kEmpty;
    return rep_ ? rep_->msg : kEmpty;
  }
  bool Is(Code c) const { return code() == c; }
  std::string ToString() const;

 private:
  struct Rep {
    Code code;
    std::string msg;
  };
  std::shared_ptr<const Rep> rep_;  // shared: copying a Status is cheap and it is immutable
};

const char* CodeName(Code c);

inline std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(CodeName(code())) + ": " + message();
}

// Result<T>: a value or a non-OK Status (std::expected is C++23).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status st) : v_(std::move(st)) {    // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result built from an OK Status");
  }

  bool ok() const { return v_.index() == 0; }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace etcdpp

// Propagate a non-OK Status from an expression.
#define ETCDPP_RETURN_IF_ERROR(expr) \
  do {                               \
    ::etcdpp::Status _st = (expr);   \
    if (!_st.ok()) return _st;       \
  } while (0)

#define ETCDPP_CONCAT_INNER(a, b) a##b
#define ETCDPP_CONCAT(a, b) ETCDPP_CONCAT_INNER(a, b)
// Assign the value of a Result or return its Status: ETCDPP_ASSIGN_OR_RETURN(auto x, F());
#define ETCDPP_ASSIGN_OR_RETURN(lhs, expr)                                                  \
  auto ETCDPP_CONCAT(_res_, __LINE__) = (expr);                                             \
  if (!ETCDPP_CONCAT(_res_, __LINE__).ok()) return ETCDPP_CONCAT(_res_, __LINE__).status(); \
  lhs = std::move(ETCDPP_CONCAT(_res_, __LINE__)).value()
