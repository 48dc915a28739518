#pragma once
// The simulated network: TCP-like connections that deliver whole frames in
// order after a per-link latency plus jitter. Faults: symmetric and one-way
// partitions, clogging (extra delay), connection resets that discard frames
// in flight, refused connects.
//
// Model of a partition (reset-style, `partition`): a frame that reaches a
// blocked link breaks its connection (both ends see `reset`, frames in flight
// in both directions are lost), and connects across a blocked link time out.
// So a request that arrived whose response crossed a partition is a lost ack.
//
// A silent partition (`partition_silent`) is a real network split: both ends
// keep the connection open and learn of the cut only by their own timeouts.
// `hold`: frames wait at the cut and arrive, in order, after heal (TCP
// retransmitting). `drop`: frames meeting the cut are lost; a connection that
// lost one stays open while the cut lasts and resets at heal (TCP gave up on
// a stream with a hole). Connects across either kind hang until their
// deadline (or connect_timeout).
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "sim/runtime/network.h"
#include "sim/runtime/runtime.h"

namespace samsa::sim {

class World;
struct SimNode;

struct NetworkConfig {
  Duration latency_min = 100us;  // per-link base latency, drawn per link
  Duration latency_max = 1ms;
  Duration jitter_max = 200us;   // per frame, uniform in [0, jitter_max]
  Duration connect_timeout = 3s; // a connect across a partition fails after
  std::size_t buffer_bytes = 16 * 1024 * 1024;  // per direction; send parks beyond
  std::size_t accept_backlog = 128;
};

struct Pipe;
struct Conn;

enum class SilentMode : std::uint8_t { hold, drop };
std::string_view to_string(SilentMode m);

class SimNetwork {
 public:
  SimNetwork(World& world, NetworkConfig config);
  ~SimNetwork();

  // --- faults (node ids; all take effect at once) ---------------------------
  // Each cut is one cause on its directed link; the causes are counted, so
  // faults that overlap on one link compose: ending one (end_partition*)
  // takes back only its own cause, and the link heals when the last one ends
  // (as open/close_lost_acks_window). heal() and heal_all() end every cause.
  void partition(NodeId a, NodeId b);           // both directions
  void partition_one_way(NodeId from, NodeId to);
  void isolate(NodeId n);                       // from every other node
  void end_partition(NodeId a, NodeId b);
  void end_partition_one_way(NodeId from, NodeId to);
  // Silent partitions (see above). A link cut by both modes drops.
  void partition_silent(NodeId a, NodeId b, SilentMode mode = SilentMode::hold);
  void partition_silent_one_way(NodeId from, NodeId to, SilentMode mode = SilentMode::hold);
  void isolate_silent(NodeId n, SilentMode mode = SilentMode::hold);
  void end_partition_silent(NodeId a, NodeId b, SilentMode mode);
  void end_partition_silent_one_way(NodeId from, NodeId to, SilentMode mode);
  // Lost acks (scenarios' lost-acks nemesis): frames from `from` to `to` are
  // silently dropped while at least one window is open: a silent `drop` cut
  // of the link while any window is open.
  void open_lost_acks_window(NodeId from, NodeId to);
  void close_lost_acks_window(NodeId from, NodeId to);
  // Ends every cause of every partition (reset-style and silent) between a
  // and b, both ways.
  void heal(NodeId a, NodeId b);
  void heal_all();
  bool blocked(NodeId from, NodeId to) const;
  std::optional<SilentMode> silently_cut(NodeId from, NodeId to) const;
  // Clogging: frames from `from` to `to` take `extra` longer. add_clog and
  // remove_clog count causes as the cuts do (the link takes the largest
  // extra of the clogs on it); clog() sets the link's clog outright,
  // replacing every cause (0: none).
  void clog(NodeId from, NodeId to, Duration extra);
  void add_clog(NodeId from, NodeId to, Duration extra);
  void remove_clog(NodeId from, NodeId to, Duration extra);
  void unclog_all();
  Duration clogged(NodeId from, NodeId to) const;  // the link's extra delay now
  // The link's own shape, not a fault (heal_all and unclog_all keep it): a
  // WAN link between datacenters, `latency` base plus up to `jitter` per
  // frame, instead of the config's LAN draw.
  void set_link(NodeId from, NodeId to, Duration latency, Duration jitter);
  void reset_connections(NodeId a, NodeId b);   // discards frames in flight
  void refuse_connects(NodeId n, bool refuse);
  void node_crashed(NodeId n);                  // resets all of its connections
  std::uint64_t frames_delivered() const { return frames_delivered_; }
  std::size_t open_connections() const { return conns_.size(); }

  // --- used by SimNodeNetwork -----------------------------------------------
  Result<std::unique_ptr<Listener>, NetErrc> listen(SimNode& node, std::uint16_t port);
  Result<std::unique_ptr<Connection>, NetErrc> connect(SimNode& from, const Address& to,
                                                      std::optional<MonoTime> deadline);
  Result<void, NetErrc> send(Conn& c, int side, ByteView frame);
  Result<Bytes, NetErrc> recv(Conn& c, int side, std::optional<MonoTime> deadline);
  void close(Conn& c, int side) noexcept;
  void unlisten(NodeId node, std::uint16_t port) noexcept;
  World& world() { return world_; }

 struct ListenState;

 private:
  Duration link_latency(NodeId from, NodeId to);
  Duration delivery_time(Pipe& p);
  void schedule_delivery(const std::shared_ptr<Conn>& c, int dir);
  void deliver(const std::shared_ptr<Conn>& c, int dir);
  void break_conn(Conn& c);
  void forget(Conn& c);
  void drop_unaccepted(Conn& c);
  void release_held(bool (*match)(const Conn&, NodeId, NodeId), NodeId a, NodeId b);
  void healed_one(NodeId a, NodeId b);  // a cause on the pair ended

  World& world_;
  NetworkConfig config_;
  Random rng_;
  // Active causes per directed link (entries with none are erased).
  std::map<std::pair<NodeId, NodeId>, int> blocked_;
  struct SilentCauses {
    int hold = 0;
    int drop = 0;
  };
  std::map<std::pair<NodeId, NodeId>, SilentCauses> silent_;
  std::map<std::pair<NodeId, NodeId>, int> lost_acks_windows_;  // open windows per link
  std::map<std::pair<NodeId, NodeId>, std::multiset<Duration>> clogged_;
  std::map<std::pair<NodeId, NodeId>, Duration> latency_;
  std::map<std::pair<NodeId, NodeId>, Duration> link_jitter_;  // set_link's links
  std::set<NodeId> refusing_;
  std::map<std::pair<NodeId, std::uint16_t>, std::shared_ptr<ListenState>> listeners_;
  std::map<std::uint64_t, std::weak_ptr<Conn>> conns_;  // by id: ordered, deterministic
  std::uint64_t next_conn_id_ = 1;
  std::uint64_t frames_delivered_ = 0;
};

// A node's view of the network: its Network interface.
class SimNodeNetwork final : public Network {
 public:
  SimNodeNetwork(SimNetwork& net, SimNode& node) : net_(net), node_(node) {}
  Result<std::unique_ptr<Listener>, NetErrc> listen(std::uint16_t port) override {
    return net_.listen(node_, port);
  }
  Result<std::unique_ptr<Connection>, NetErrc> connect(
      const Address& to, std::optional<MonoTime> deadline) override {
    return net_.connect(node_, to, deadline);
  }

 private:
  SimNetwork& net_;
  SimNode& node_;
};

}  // namespace samsa::sim
