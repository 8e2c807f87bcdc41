#include "raft/codec.h"

#include <cstdint>
#include <vector>

namespace etcdpp::raft {

namespace {

constexpr uint8_t kVersion = 1;
constexpr uint8_t kTagConfChange = 'C';
constexpr uint8_t kTagConfChangeV2 = 'V';
constexpr uint8_t kTagSnapshot = 'S';
constexpr uint8_t kTagMessage = 'M';

class Writer {
 public:
  void Byte(uint8_t b) { out_.push_back(static_cast<char>(b)); }
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      Byte(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    Byte(static_cast<uint8_t>(v));
  }
  void Bytes(std::string_view s) {
    Varint(s.size());
    out_.append(s);
  }
  void Ids(const std::vector<uint64_t>& ids) {
    Varint(ids.size());
    for (uint64_t id : ids)
      Varint(id);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool Byte(uint8_t* b) {
    if (pos_ >= in_.size()) return false;
    *b = static_cast<uint8_t>(in_[pos_++]);
    return true;
  }
  bool Varint(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b;
      if (!Byte(&b)) return false;
      if (shift == 63 && b > 1) return false;  // overflows 64 bits
      result |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return false;
  }
  bool Bytes(std::string* s) {
    uint64_t n;
    if (!Varint(&n) || n > remaining()) return false;  // never trust the length
    s->assign(in_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  bool Bool(bool* b) {
    uint8_t v;
    if (!Byte(&v) || v > 1) return false;
    *b = v == 1;
    return true;
  }
  // A count of items each at least min_size bytes long must fit in the remaining input.
  bool Count(uint64_t* n, uint64_t min_size) { return Varint(n) && *n <= remaining() / min_size; }
  bool Ids(std::vector<uint64_t>* ids) {
    uint64_t n;
    if (!Count(&n, 1)) return false;
    ids->resize(n);
    for (auto& id : *ids) {
      if (!Varint(&id)) return false;
    }
    return true;
  }
  bool Header(uint8_t tag) {
    uint8_t t, v;
    return Byte(&t) && t == tag && Byte(&v) && v == kVersion;
  }
  size_t remaining() const { return in_.size() - pos_; }
  bool done() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

Status Bad(const char* what) {
  return Status::Corruption(std::string("raft codec: bad ") + what);
}

bool ReadConfChangeType(Reader* r, ConfChangeType* t) {
  uint8_t b;
  if (!r->Byte(&b) || b > static_cast<uint8_t>(ConfChangeType::kAddLearnerNode)) return false;
  *t = static_cast<ConfChangeType>(b);
  return true;
}

void WriteSnapshot(Writer* w, const Snapshot& s) {
  w->Bytes(s.data);
  w->Varint(s.metadata.index);
  w->Varint(s.metadata.term);
  const ConfState& cs = s.metadata.conf_state;
  w->Ids(cs.voters);
  w->Ids(cs.learners);
  w->Ids(cs.voters_outgoing);
  w->Ids(cs.learners_next);
  w->Byte(cs.auto_leave ? 1 : 0);
}

bool ReadSnapshot(Reader* r, Snapshot* s) {
  ConfState& cs = s->metadata.conf_state;
  return r->Bytes(&s->data) && r->Varint(&s->metadata.index) && r->Varint(&s->metadata.term) &&
         r->Ids(&cs.voters) && r->Ids(&cs.learners) && r->Ids(&cs.voters_outgoing) &&
         r->Ids(&cs.learners_next) && r->Bool(&cs.auto_leave);
}

}  // namespace

std::string EncodeConfChange(const ConfChange& cc) {
  Writer w;
  w.Byte(kTagConfChange);
  w.Byte(kVersion);
  w.Byte(static_cast<uint8_t>(cc.type));
  w.Varint(cc.node_id);
  w.Bytes(cc.context);
  return w.Take();
}

Result<ConfChange> DecodeConfChange(std::string_view in) {
  Reader r(in);
  ConfChange cc;
  if (!r.Header(kTagConfChange) || !ReadConfChangeType(&r, &cc.type) || !r.Varint(&cc.node_id) ||
      !r.Bytes(&cc.context) || !r.done()) {
    return Bad("ConfChange");
  }
  return cc;
}

std::string EncodeConfChangeV2(const ConfChangeV2& cc) {
  Writer w;
  w.Byte(kTagConfChangeV2);
  w.Byte(kVersion);
  w.Byte(static_cast<uint8_t>(cc.transition));
  w.Varint(cc.changes.size());
  for (const auto& c : cc.changes) {
    w.Byte(static_cast<uint8_t>(c.type));
    w.Varint(c.node_id);
  }
  w.Bytes(cc.context);
  return w.Take();
}

Result<ConfChangeV2> DecodeConfChangeV2(std::string_view in) {
  Reader r(in);
  ConfChangeV2 cc;
  uint8_t tr;
  uint64_t n;
  if (!r.Header(kTagConfChangeV2) || !r.Byte(&tr) ||
      tr > static_cast<uint8_t>(ConfChangeTransition::kJointExplicit) || !r.Count(&n, 2)) {
    return Bad("ConfChangeV2");
  }
  cc.transition = static_cast<ConfChangeTransition>(tr);
  cc.changes.resize(n);
  for (auto& c : cc.changes) {
    if (!ReadConfChangeType(&r, &c.type) || !r.Varint(&c.node_id)) return Bad("ConfChangeV2");
  }
  if (!r.Bytes(&cc.context) || !r.done()) return Bad("ConfChangeV2");
  return cc;
}

Result<ConfChangeV2> DecodeConfChangeEntry(const Entry& e) {
  if (e.type == EntryType::kConfChangeV2) return DecodeConfChangeV2(e.data);
  if (e.type != EntryType::kConfChange) return Bad("conf change entry type");
  auto cc = DecodeConfChange(e.data);
  if (!cc.ok()) return cc.status();
  ConfChangeV2 v2;
  v2.changes.push_back({cc->type, cc->node_id});
  v2.context = cc->context;
  return v2;
}

std::string EncodeSnapshot(const Snapshot& s) {
  Writer w;
  w.Byte(kTagSnapshot);
  w.Byte(kVersion);
  WriteSnapshot(&w, s);
  return w.Take();
}

Result<Snapshot> DecodeSnapshot(std::string_view in) {
  Reader r(in);
  Snapshot s;
  if (!r.Header(kTagSnapshot) || !ReadSnapshot(&r, &s) || !r.done()) return Bad("Snapshot");
  return s;
}

std::string EncodeMessage(const Message& m) {
  Writer w;
  w.Byte(kTagMessage);
  w.Byte(kVersion);
  w.Byte(static_cast<uint8_t>(m.type));
  w.Varint(m.to);
  w.Varint(m.from);
  w.Varint(m.term);
  w.Varint(m.log_term);
  w.Varint(m.index);
  w.Varint(m.commit);
  w.Byte(m.reject ? 1 : 0);
  w.Varint(m.reject_hint);
  w.Bytes(m.context);
  w.Varint(m.entries.size());
  for (const auto& e : m.entries) {
    w.Varint(e.term);
    w.Varint(e.index);
    w.Byte(static_cast<uint8_t>(e.type));
    w.Bytes(e.data);
  }
  w.Byte(m.snapshot ? 1 : 0);
  if (m.snapshot) WriteSnapshot(&w, *m.snapshot);
  return w.Take();
}

Result<Message> DecodeMessage(std::string_view in) {
  Reader r(in);
  Message m;
  uint8_t type;
  if (!r.Header(kTagMessage) || !r.Byte(&type) ||
      type > static_cast<uint8_t>(MessageType::kPreVoteResp)) {
    return Bad("Message");
  }
  m.type = static_cast<MessageType>(type);
  uint64_t n;
  if (!r.Varint(&m.to) || !r.Varint(&m.from) || !r.Varint(&m.term) || !r.Varint(&m.log_term) ||
      !r.Varint(&m.index) || !r.Varint(&m.commit) || !r.Bool(&m.reject) ||
      !r.Varint(&m.reject_hint) || !r.Bytes(&m.context) || !r.Count(&n, 4)) {
    return Bad("Message");
  }
  m.entries.resize(n);
  for (auto& e : m.entries) {
    uint8_t et;
    if (!r.Varint(&e.term) || !r.Varint(&e.index) || !r.Byte(&et) ||
        et > static_cast<uint8_t>(EntryType::kConfChangeV2) || !r.Bytes(&e.data)) {
      return Bad("Message entry");
    }
    e.type = static_cast<EntryType>(et);
  }
  bool has_snap;
  if (!r.Bool(&has_snap)) return Bad("Message");
  if (has_snap) {
    auto s = std::make_shared<Snapshot>();
    if (!ReadSnapshot(&r, s.get())) return Bad("Message snapshot");
    m.snapshot = std::move(s);
  }
  if (!r.done()) return Bad("Message (trailing bytes)");
  return m;
}

}  // namespace etcdpp::raft
