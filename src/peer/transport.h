// The peer transport: carries raft messages and snapshots between cluster members over
// their peer URLs (etcd's rafthttp, but over gRPC; proto/etcdpp/peer.proto).
//
// Wire
//   service etcdpp.peerpb.Peer {
//     Stream(stream MessageBatch) returns (stream StreamAck)   one per sender->receiver pair
//     Snapshot(stream SnapshotChunk) returns (SnapshotAck)     one per raft snapshot
//     Members(MembersRequest) returns (MembersResponse)        for a joining member
//   }
//   A MessageBatch is a list of raft::EncodeMessage bytes. The sender drains everything queued
//   for a peer into one batch of at most kMaxBatchBytes (a single larger message goes alone, up
//   to Options::max_message_bytes) per write. The receiver answers one StreamAck when it has
//   accepted the stream; after that the sender considers the peer active.
//   A snapshot is: chunk{message = the kSnap raft message, Snapshot.data empty}, then the db
//   file as chunk{data} of kSnapshotChunkBytes, then chunk{trailer{size, crc32c}}.
//
// Metadata (every Stream and Snapshot call; Members ignores it)
//   etcdpp-from        sender member id      \  16 lowercase hex digits, as etcd prints
//   etcdpp-to          receiver member id     | member ids ("8e9e05c52164694d"); parsed as
//   etcdpp-cluster-id  sender's cluster id   /  hex of 1..16 digits.
//   The receiver refuses with FAILED_PRECONDITION:
//     cluster id differs (and neither side's is 0) -> "etcdserver: cluster ID mismatch"
//     etcdpp-to != local id -> "etcdserver: request addressed to member <to>, this is member
//     <local>" ; sender removed (Handler::IsRemoved, checked at stream start and on every
//     batch) -> "the member has been permanently removed from the cluster".
//   Missing/unparseable metadata is INVALID_ARGUMENT. A receiver whose own cluster id is 0
//   (a joiner before SetClusterId) accepts any cluster id.
//
// Receiving
//   Each message is decoded (a corrupt one is logged and fails the stream with DATA_LOSS),
//   must have m.to == local id (else INVALID_ARGUMENT), and goes to Handler::Process in order.
//   A snapshot is written to <snap_dir>/<index>.snap.db.tmp, fsynced, checked against the
//   trailer (size + CRC-32C), renamed to <snap_dir>/<16-hex term>-<16-hex index>.snap.db, the
//   directory fsynced, then Handler::ProcessSnapshot(msg, path) runs and only after it returned
//   is the SnapshotAck sent. On any failure the tmp file is deleted and the sender gets an
//   error status (DATA_LOSS for size/checksum/short stream).
//
// Sending and failures
//   One sender thread per peer (plus, while a stream is open, a reader thread that notices at
//   once when the receiver ends the call) with a bounded queue (Options::max_queued_messages); Send
//   only enqueues, so a slow or dead peer never blocks Send or the other peers; per-peer order is
//   kept. Each connection attempt dials a fresh channel (the next URL of the peer after a
//   failure), waits up to dial_timeout for it to be READY, opens the stream and waits for the
//   StreamAck. On failure the sender backs off exponentially (backoff_min..backoff_max, reset
//   by a successful stream). While backing off, messages for the peer are dropped at once; a
//   full queue drops too; a broken stream loses the batch in flight. Each of these calls
//   Handler::ReportUnreachable(peer), at most once per kUnreachableReportInterval per peer.
//   FAILED_PRECONDITION refusals go to Handler::ReportRejected(peer, status) on every refused
//   attempt (so at most once per back-off period). The first failure after a success (or the
//   first ever) is logged with LOG_WARN, the recovery with LOG_INFO; retries are not logged.
//   Blackholed peers are detected by gRPC keepalive (ping every 1 s, 2 s timeout).
//   Messages to unknown/removed peers or to ourselves are dropped silently.
//
// Threads and callbacks
//   Handler::Process/ProcessSnapshot/IsRemoved/FillMembers run on gRPC server threads.
//   ReportUnreachable/ReportSnapshot/ReportRejected run on a transport thread, never on the
//   thread that calls Send/SendSnapshot, so the raft loop may call back into its own queues.
//   Handler methods may call Transport methods, with two exceptions: Stop() from Process,
//   ProcessSnapshot, IsRemoved or FillMembers deadlocks (Stop waits for them), and no Handler
//   method may destroy the Transport. (Stop() from ReportRejected, e.g. when this member was
//   removed, is fine.)
//   Stop() cancels every stream (outgoing and incoming), joins all threads and waits for
//   in-flight Handler calls to return; no Handler method is called after Stop() returned.
//   It is prompt (tens of ms) for dead, refusing and unreachable-at-dial peers. One case is
//   slower: a write stuck because the connection went dark with the socket buffer full is
//   not aborted by cancelling the call (gRPC completes it only when the connection dies), so
//   Stop/RemovePeer/UpdatePeer then wait up to the keepalive time + timeout (about 3 s).
//
// TLS is not implemented yet: all credentials come from MakePeerChannel/the lead's server
// builder (src/peer/channel.h), plain TCP for now.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "etcdpp/peer.pb.h"
#include "raft/types.h"

namespace grpc {
class Service;
class ServerBuilder;
}  // namespace grpc

namespace etcdpp::peer {

inline constexpr size_t kMaxBatchBytes = 4 << 20;
inline constexpr size_t kSnapshotChunkBytes = 1 << 20;
inline constexpr std::chrono::milliseconds kUnreachableReportInterval{100};

class Handler {
 public:
  virtual ~Handler() = default;
  // A message from a peer (m.to == local id). Any thread; must not block long.
  virtual void Process(raft::Message m) = 0;
  // A kSnap message whose db file is complete and fsynced at db_path (the handler owns the
  // file from now on). The sender gets its ack only after this returned.
  virtual void ProcessSnapshot(raft::Message m, std::string db_path) = 0;
  virtual void ReportUnreachable(uint64_t id) = 0;
  // Outcome of SendSnapshot(m) for m.to == id.
  virtual void ReportSnapshot(uint64_t id, bool ok) = 0;
  // Whether member `id` was removed from the cluster (its streams are refused).
  virtual bool IsRemoved(uint64_t id) = 0;
  // Peer `id` refused us (FAILED_PRECONDITION: cluster id mismatch, wrong receiver, or we were
  // removed: st.message() is the peer's text).
  virtual void ReportRejected(uint64_t id, const Status& st) = 0;
  // Answer to Members (cluster id + members).
  virtual void FillMembers(peerpb::MembersResponse* out) = 0;
};

struct Options {
  uint64_t local_id = 0;
  uint64_t cluster_id = 0;
  std::string snap_dir;  // where received snapshot files go (created if missing)
  size_t max_queued_messages =
      4096;  // per peer; beyond it messages are dropped (+ReportUnreachable)
  std::chrono::milliseconds dial_timeout{1000};
  std::chrono::milliseconds backoff_min{50}, backoff_max{2000};
  size_t max_message_bytes = 64 << 20;  // gRPC send/receive limit for one batch or chunk
};

// Per-peer counters for etcd's metrics (etcd_network_peer_{sent,received}_{bytes,failures}_total,
// etcd_network_active_peers). Bytes are encoded raft messages and snapshot data; failures are
// messages (or snapshots) that could not be sent / incoming streams that failed.
struct PeerCounters {
  uint64_t sent_bytes = 0;
  uint64_t sent_failures = 0;
  uint64_t received_bytes = 0;
  uint64_t received_failures = 0;
  bool active = false;
};

class Transport {
 public:
  // `h` must outlive the Transport.
  Transport(Options opts, Handler* h);
  ~Transport();  // Stop()
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // The receiving side; register it on the peer grpc::Server (configured with
  // ConfigurePeerServerBuilder). The Transport must outlive that server, or Stop() must be
  // called before the server is shut down (Stop cancels the long-lived incoming streams,
  // which would otherwise keep grpc::Server::Shutdown() waiting).
  grpc::Service* service();

  // Peer URLs are "http://host:port" ("localhost" dials 127.0.0.1). Invalid URLs are logged
  // and skipped; a peer without any valid URL drops everything sent to it.
  void AddPeer(uint64_t id, std::vector<std::string> urls);  // no-op if already known
  // New URLs: the current stream is closed and the peer redialled on the new URLs.
  void UpdatePeer(uint64_t id, std::vector<std::string> urls);
  // Closes the peer's stream and cancels its snapshot sends (ReportSnapshot(false)); joins
  // its threads (promptly).
  void RemovePeer(uint64_t id);
  // The joiner learns the cluster id after FetchMembers; used for new calls from now on.
  void SetClusterId(uint64_t cluster_id);

  // Never blocks. Messages of type kSnap must go through SendSnapshot (they are dropped here
  // with an error log and ReportSnapshot(to, false)).
  void Send(std::vector<raft::Message> msgs);
  // Asynchronous: streams m (kSnap, metadata only) and the file at db_path to m.to, then
  // Handler::ReportSnapshot(m.to, ok). db_path is deleted when done, either way.
  void SendSnapshot(raft::Message m, std::string db_path);

  // Since when the peer has been continuously reachable (etcd's ActiveSince, used by the
  // strict reconfiguration check); nullopt if not currently connected.
  std::optional<std::chrono::steady_clock::time_point> ActiveSince(uint64_t id) const;

  // Known peers (sent_*, active) and every member that ever sent to us (received_*).
  std::map<uint64_t, PeerCounters> Counters() const;

  void Stop();  // idempotent

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Asks each URL in turn (each with `timeout`) for the cluster's members; the first answer
// wins. kUnavailable "could not retrieve cluster information from the given URLs: ..." when
// none answered. No cluster-id check (the joiner does not know it yet).
Result<peerpb::MembersResponse> FetchMembers(const std::vector<std::string>& peer_urls,
                                             std::chrono::milliseconds timeout);

// Keepalive-permit and message-size arguments the peer server needs to match the senders'
// keepalive pings (without them the server answers frequent pings with GOAWAY).
void ConfigurePeerServerBuilder(grpc::ServerBuilder& builder,
                                size_t max_message_bytes = Options{}.max_message_bytes);

}  // namespace etcdpp::peer
