#include "range_stream.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <vector>

namespace etcdpp::bench {

namespace {

using google::protobuf::internal::WireFormatLite;

// Decodes one RangeStreamResponse; adds the chunk's kvs to *kvs.
bool DecodeChunk(const grpc::ByteBuffer& buffer, int64_t* kvs) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return false;
  std::string bytes;
  for (const auto& s : slices)
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  constexpr uint32_t kRangeResponseTag =
      (1 << 3) | WireFormatLite::WIRETYPE_LENGTH_DELIMITED;  // field 1, bytes
  while (uint32_t tag = in.ReadTag()) {
    if (tag != kRangeResponseTag) {
      if (!WireFormatLite::SkipField(&in, tag)) return false;
      continue;
    }
    uint32_t length = 0;
    if (!in.ReadVarint32(&length)) return false;
    auto limit = in.PushLimit(static_cast<int>(length));
    etcdserverpb::RangeResponse chunk;
    if (!chunk.ParseFromCodedStream(&in)) return false;
    in.PopLimit(limit);
    *kvs += chunk.kvs_size();
  }
  return true;
}

class RangeStreamCall : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  RangeStreamCall(Connections* c, int lane, const etcdserverpb::RangeRequest& req,
                  std::atomic<int64_t>* kvs, Done done)
      : total_kvs_(kvs), done_(std::move(done)) {
    c->Prepare(&ctx_);
    std::string bytes = req.SerializeAsString();
    grpc::Slice slice(bytes);
    request_ = grpc::ByteBuffer(&slice, 1);
    c->Generic(lane)->PrepareBidiStreamingCall(&ctx_, kRangeStreamMethod, grpc::StubOptions(),
                                               this);
    // A server-streaming call on the wire: one request, then half-close.
    StartWriteLast(&request_, grpc::WriteOptions());
    StartRead(&response_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream ended; OnDone follows with the status
    if (!DecodeChunk(response_, &kvs_)) bad_chunk_ = true;
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override {
    total_kvs_->fetch_add(kvs_);
    if (status.ok() && bad_chunk_) {
      done_(grpc::Status(grpc::StatusCode::INTERNAL, "undecodable RangeStreamResponse"));
    } else {
      done_(status);
    }
    delete this;
  }

 private:
  grpc::ClientContext ctx_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  std::atomic<int64_t>* total_kvs_;
  Done done_;
  int64_t kvs_ = 0;
  bool bad_chunk_ = false;
};

}  // namespace

void StartRangeStream(Connections* c, int lane, const etcdserverpb::RangeRequest& req,
                      std::atomic<int64_t>* kvs, Done done) {
  new RangeStreamCall(c, lane, req, kvs, std::move(done));  // deletes itself in OnDone
}

}  // namespace etcdpp::bench
