#include "gateway/call.h"

#include <grpcpp/completion_queue.h>
#include <grpcpp/support/byte_buffer.h>

#include <chrono>
#include <cstdint>
#include <deque>

#include "gateway/errors.h"
#include "gateway/json_codec.h"
#include "gateway/metadata.h"

namespace etcdpp::gateway {

namespace {

// How long a waiting handler goes without checking for a vanished client.
constexpr auto kPollInterval = std::chrono::milliseconds(100);

enum Tag : intptr_t { kStart = 1, kWrite, kWritesDone, kRead, kFinish };

void* TagPtr(Tag t) {
  return reinterpret_cast<void*>(static_cast<intptr_t>(t));
}

http::Headers JsonHeaders(const http::Headers& extra) {
  http::Headers h = extra;
  h.emplace_back("Content-Type", "application/json");
  return h;
}

grpc::ByteBuffer Serialize(const google::protobuf::Message& msg) {
  std::string wire = msg.SerializeAsString();
  grpc::Slice slice(wire);
  return grpc::ByteBuffer(&slice, 1);
}

bool Parse(const grpc::ByteBuffer& buf, google::protobuf::Message* msg) {
  std::vector<grpc::Slice> slices;
  if (!buf.Dump(&slices).ok()) return false;
  std::string wire;
  for (const auto& s : slices)
    wire.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return msg->ParseFromString(wire);
}

// Waits for the next completion; while waiting, cancels the call (once) when
// the HTTP client has gone. False only when the queue is shut down.
bool NextEvent(grpc::CompletionQueue& cq, grpc::ClientContext& ctx, http::ResponseWriter& w,
               bool* cancelled, Tag* tag, bool* ok) {
  for (;;) {
    void* t = nullptr;
    auto r = cq.AsyncNext(&t, ok, std::chrono::system_clock::now() + kPollInterval);
    if (r == grpc::CompletionQueue::GOT_EVENT) {
      *tag = static_cast<Tag>(reinterpret_cast<intptr_t>(t));
      return true;
    }
    if (r == grpc::CompletionQueue::SHUTDOWN) return false;
    if (!*cancelled && w.ClientGone()) {
      *cancelled = true;
      ctx.TryCancel();
    }
  }
}

void DrainAndShutdown(grpc::CompletionQueue& cq) {
  cq.Shutdown();
  void* t;
  bool ok;
  while (cq.Next(&t, &ok)) {
  }
}

std::string ResultChunk(const google::protobuf::Message& msg) {
  return "{\"result\":" + EncodeJson(msg) + "}\n";
}

}  // namespace

void SendError(http::ResponseWriter& w, int grpc_code, std::string_view message,
               const http::Headers& extra_headers) {
  http::Headers h = JsonHeaders(extra_headers);
  // grpc-gateway sets the challenge header to the message for Unauthenticated.
  if (grpc_code == grpc::StatusCode::UNAUTHENTICATED)
    h.emplace_back("WWW-Authenticate", std::string(message));
  w.Send(HttpStatusFromGrpcCode(grpc_code), std::move(h), UnaryErrorBody(grpc_code, message));
}

void ServeUnary(const Route& route, const http::Request& req, http::ResponseWriter& w,
                grpc::GenericStub& stub, const http::Headers& extra_headers) {
  auto request = NewMessage(route.request);
  // Go's decoder reads one value and ignores what follows it.
  auto values = SplitJsonValues(req.body, 1);
  if (!values.ok())
    return SendError(w, grpc::StatusCode::INVALID_ARGUMENT, values.status().message(),
                     extra_headers);
  if (!values->empty()) {
    Status st = DecodeJson(values->front(), request.get());
    if (!st.ok())
      return SendError(w, grpc::StatusCode::INVALID_ARGUMENT, st.message(), extra_headers);
  }
  grpc::ClientContext ctx;
  if (Status st = ApplyRequestMetadata(req, &ctx); !st.ok())
    return SendError(w, grpc::StatusCode::INVALID_ARGUMENT, st.message(), extra_headers);

  grpc::CompletionQueue cq;
  grpc::ByteBuffer request_buf = Serialize(*request);
  auto call = stub.PrepareUnaryCall(&ctx, route.grpc_method, request_buf, &cq);
  call->StartCall();
  grpc::ByteBuffer response_buf;
  grpc::Status status;
  call->Finish(&response_buf, &status, TagPtr(kFinish));
  bool cancelled = false;
  Tag tag;
  bool ok;
  // Finish always completes (cancellation included), so this loop ends.
  while (NextEvent(cq, ctx, w, &cancelled, &tag, &ok) && tag != kFinish) {
  }
  DrainAndShutdown(cq);

  if (!status.ok()) return SendError(w, status.error_code(), status.error_message(), extra_headers);
  auto response = NewMessage(route.response);
  if (!Parse(response_buf, response.get()))
    return SendError(w, grpc::StatusCode::INTERNAL, "failed to parse the gRPC response",
                     extra_headers);
  http::Headers h = JsonHeaders(extra_headers);
  AddResponseMetadata(ctx, &h);
  w.Send(200, std::move(h), EncodeJson(*response));
}

namespace {

// The state of one streaming exchange; see ServeStream.
class StreamExchange {
 public:
  StreamExchange(const Route& route, http::ResponseWriter& w, const http::Headers& extra_headers)
      : route_(route), w_(w), extra_headers_(extra_headers) {}

  void Run(grpc::GenericStub& stub, std::deque<grpc::ByteBuffer> requests) {
    requests_ = std::move(requests);
    call_ = stub.PrepareCall(&ctx_, route_.grpc_method, &cq_);
    call_->StartCall(TagPtr(kStart));
    pending_ = 1;
    Tag tag;
    bool ok;
    // Every operation started completes (a cancelled call fails them all),
    // so the loop ends once the call is finished and nothing is in flight.
    while (pending_ > 0 && NextEvent(cq_, ctx_, w_, &cancelled_, &tag, &ok)) {
      pending_--;
      OnEvent(tag, ok);
    }
    DrainAndShutdown(cq_);
    Answer();
  }

  grpc::ClientContext& context() { return ctx_; }

 private:
  void OnEvent(Tag tag, bool ok) {
    switch (tag) {
      case kStart:
        if (!ok) return StartFinish();
        StartRead();
        return NextWrite();
      case kWrite:
        if (ok) return NextWrite();
        return;  // the stream broke: the read side will see it and finish
      case kWritesDone:
        return;
      case kRead:
        if (!ok) return StartFinish();
        OnResponse();
        return StartRead();
      case kFinish:
        return;
    }
  }

  void NextWrite() {
    if (!requests_.empty()) {
      call_->Write(requests_.front(), TagPtr(kWrite));
      requests_.pop_front();
    } else {
      call_->WritesDone(TagPtr(kWritesDone));  // end of body = half-close
    }
    pending_++;
  }

  void StartRead() {
    call_->Read(&read_buf_, TagPtr(kRead));
    pending_++;
  }

  void StartFinish() {
    call_->Finish(&status_, TagPtr(kFinish));
    pending_++;
  }

  void OnResponse() {
    if (cancelled_) return;  // nobody is listening any more
    auto msg = NewMessage(route_.response);
    if (!Parse(read_buf_, msg.get())) {
      parse_failed_ = true;
      Cancel();
      return;
    }
    if (!started_) {
      http::Headers h = extra_headers_;
      h.emplace_back("Content-Type", "application/json");
      AddResponseMetadata(ctx_, &h);
      started_ = true;
      if (!w_.StartStream(200, std::move(h))) return Cancel();
    }
    if (!w_.WriteChunk(ResultChunk(*msg))) Cancel();
  }

  void Cancel() {
    if (!cancelled_) {
      cancelled_ = true;
      ctx_.TryCancel();
    }
  }

  // The HTTP answer once the call is over.
  void Answer() {
    int code = status_.error_code();
    std::string message = status_.error_message();
    if (parse_failed_) {
      code = grpc::StatusCode::INTERNAL;
      message = "failed to parse the gRPC response";
    }
    if (!started_) {
      if (code == grpc::StatusCode::OK) {
        // The stream ended without a message (e.g. keepalive with an empty body).
        http::Headers h = extra_headers_;
        h.emplace_back("Content-Type", "application/json");
        if (w_.StartStream(200, std::move(h))) w_.EndStream();
        return;
      }
      return SendError(w_, code, message, extra_headers_);
    }
    if (code != grpc::StatusCode::OK && (parse_failed_ || !cancelled_))
      w_.WriteChunk(StreamErrorChunk(code, message));
    w_.EndStream();
  }

  const Route& route_;
  http::ResponseWriter& w_;
  const http::Headers& extra_headers_;
  grpc::ClientContext ctx_;
  grpc::CompletionQueue cq_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  std::deque<grpc::ByteBuffer> requests_;
  grpc::ByteBuffer read_buf_;
  grpc::Status status_;
  int pending_ = 0;
  bool cancelled_ = false;
  bool started_ = false;
  bool parse_failed_ = false;
};

}  // namespace

void ServeStream(const Route& route, const http::Request& req, http::ResponseWriter& w,
                 grpc::GenericStub& stub, const http::Headers& extra_headers) {
  const bool bidi = route.kind == CallKind::kBidiStream;
  auto values = SplitJsonValues(req.body, bidi ? SIZE_MAX : 1);
  std::deque<grpc::ByteBuffer> requests;
  Status bad = values.status();
  if (bad.ok()) {
    for (auto v : *values) {
      auto msg = NewMessage(route.request);
      bad = DecodeJson(v, msg.get());
      if (!bad.ok()) break;
      requests.push_back(Serialize(*msg));
    }
  }
  if (!bad.ok()) {
    if (!bidi)
      return SendError(w, grpc::StatusCode::INVALID_ARGUMENT, bad.message(), extra_headers);
    // Go's gateway reports a bad message of a client stream as a stream error.
    http::Headers h = JsonHeaders(extra_headers);
    if (w.StartStream(400, std::move(h))) {
      w.WriteChunk(StreamErrorChunk(grpc::StatusCode::INVALID_ARGUMENT, bad.message()));
      w.EndStream();
    }
    return;
  }
  // A server stream always sends its one request, {} for an empty body.
  if (!bidi && requests.empty()) requests.push_back(Serialize(*NewMessage(route.request)));

  StreamExchange exchange(route, w, extra_headers);
  if (Status st = ApplyRequestMetadata(req, &exchange.context()); !st.ok())
    return SendError(w, grpc::StatusCode::INVALID_ARGUMENT, st.message(), extra_headers);
  exchange.Run(stub, std::move(requests));
}

}  // namespace etcdpp::gateway
