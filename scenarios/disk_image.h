#pragma once
// Saving what the simulated disks kept durably to real files, so a failing
// run's partition logs and coordinator logs can be read with `samsa dump-log`
// and friends: <dir>/<node name>/<path on the node's disk>.
#include <string>

#include "sim/world/world.h"

namespace samsa::scenarios {

// Writes one disk's durable files under `dir` (paths as on the sim disk).
// Returns an error message, or an empty string on success.
std::string save_disk_image(const sim::SimDisk& disk, const std::string& dir);

// Writes every node's durable files under `dir`/<node name>/.
std::string save_disk_images(sim::World& world, const std::string& dir);

}  // namespace samsa::scenarios
