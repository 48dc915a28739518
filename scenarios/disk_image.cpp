#include "scenarios/disk_image.h"

#include <filesystem>
#include <fstream>

namespace samsa::scenarios {

std::string save_disk_images(sim::World& world, const std::string& dir) {
  namespace fs = std::filesystem;
  for (sim::NodeId id : world.node_ids()) {
    const sim::SimNode& node = world.node(id);
    for (const auto& [path, bytes] : world.disk(id).durable_files()) {
      const fs::path file = fs::path(dir) / node.name / path;
      std::error_code ec;
      fs::create_directories(file.parent_path(), ec);
      if (ec) return file.parent_path().string() + ": " + ec.message();
      std::ofstream out(file, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(bytes.data()),
                static_cast<std::streamsize>(bytes.size()));
      if (!out) return file.string() + ": write failed";
    }
  }
  return {};
}

}  // namespace samsa::scenarios
