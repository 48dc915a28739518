#pragma once
// The ZooKeeper recipes Kafka uses, on top of Client: paths that must
// exist, ephemeral registration, controller election with an epoch,
// conditional (zkVersion) update, and sequential ids.
#include "system/coord/client.h"
#include "system/coord/kafka_layout.h"

namespace samsa::coord {

// Creates `path` and its missing parents as persistent nodes.
Result<void, Code> ensure_path(Client& c, const std::string& path);
// Creates every persistent path of Kafka's layout.
Result<void, Code> create_kafka_layout(Client& c);

// /brokers/ids/<id> as an ephemeral node. After connection loss it checks
// whether its own session already owns the node (the create may have
// happened); node_exists then means another session holds the id.
Result<void, Code> register_broker(Client& c, std::int32_t broker_id, std::string_view host,
                                   std::uint16_t port, std::int64_t timestamp_ms);

struct Election {
  bool elected = false;
  std::int32_t controller_id = -1;  // who holds /controller (-1: nobody seen)
  std::int32_t epoch = 0;           // our new epoch, when elected
  std::int32_t epoch_zk_version = 0;
};

struct ElectionOptions {
  // Kafka's rule: bump /controller_epoch in the same multi as the create,
  // conditional on its zkVersion. false = a deliberately broken recipe that
  // writes a cached epoch unconditionally (to prove the checker catches it).
  bool conditional_epoch = true;
  std::int32_t cached_epoch = 0;
};

// One attempt to become controller (Kafka's
// registerControllerAndIncrementControllerEpoch): read /controller_epoch,
// then multi(create ephemeral /controller, setData /controller_epoch
// epoch+1 at its version). Connection loss is resolved by reading back
// whether our session owns /controller.
Result<Election, Code> try_elect_controller(Client& c, std::int32_t broker_id,
                                            std::int64_t timestamp_ms,
                                            const ElectionOptions& options = {});

// Compare-and-set with a zkVersion (Kafka's conditionalUpdatePath): the new
// version, or bad_version when someone else wrote first.
Result<std::int32_t, Code> conditional_update(Client& c, const std::string& path, Bytes data,
                                              std::int32_t expected_version);

// A sequential node under `prefix` (e.g. "/brokers/seqid/id-"); returns the
// number ZooKeeper appended.
Result<std::int64_t, Code> next_sequential_id(Client& c, const std::string& prefix,
                                              CreateMode mode = CreateMode::persistent_sequential);

}  // namespace samsa::coord
