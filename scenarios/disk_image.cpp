#include "scenarios/disk_image.h"

#include <filesystem>
#include <fstream>

namespace samsa::scenarios {

std::string save_disk_image(const sim::SimDisk& disk, const std::string& dir) {
  namespace fs = std::filesystem;
  for (const auto& [path, bytes] : disk.durable_files()) {
    const fs::path file = fs::path(dir) / path;
    std::error_code ec;
    fs::create_directories(file.parent_path(), ec);
    if (ec) return file.parent_path().string() + ": " + ec.message();
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out) return file.string() + ": write failed";
  }
  return {};
}

std::string save_disk_images(sim::World& world, const std::string& dir) {
  for (sim::NodeId id : world.node_ids()) {
    const std::string error =
        save_disk_image(world.disk(id), (std::filesystem::path(dir) / world.node(id).name).string());
    if (!error.empty()) return error;
  }
  return {};
}

}  // namespace samsa::scenarios
