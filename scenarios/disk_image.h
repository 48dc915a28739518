#pragma once
// Saving what the simulated disks kept durably to real files, so a failing
// run's partition logs and coordinator logs can be read with `samsa dump-log`
// and friends: <dir>/<node name>/<path on the node's disk>.
#include <string>

#include "sim/world/world.h"

namespace samsa::scenarios {

// Writes every node's durable files under `dir`. Returns an error message,
// or an empty string on success.
std::string save_disk_images(sim::World& world, const std::string& dir);

}  // namespace samsa::scenarios
