// samsa decode [--request | --response --api NAME --version V] FILE
// Reads one Kafka frame (raw bytes, 4-byte size prefix included) and prints
// it as JSON with Kafka's field names. Exit 0 when it decodes, 2 when the
// frame is malformed (the message names the byte offset) or the usage is bad.
#include <fmt/format.h>

#include <fstream>
#include <iterator>

#include "system/protocol/api.h"
#include "tools/commands.h"

namespace samsa::tools {

namespace {

struct DecodeOptions {
  std::string file;
  bool request = false;
  bool response = false;
  std::string api;
  int version = -1;
};

int run_decode(const DecodeOptions& o) {
  namespace p = samsa::protocol;
  std::ifstream in(o.file, std::ios::binary);
  if (!in) {
    fmt::print(stderr, "samsa decode: cannot read '{}'\n", o.file);
    return 2;
  }
  const Bytes frame((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!o.response) {
    auto req = p::decode_request(frame);
    if (!req) {
      fmt::print(stderr, "samsa decode: {}: malformed request frame at {}\n", o.file, p::describe(req.error()));
      return 2;
    }
    fmt::print("{}\n", p::request_to_json(*req, p::records_to_json));
    return 0;
  }
  const p::ApiSpec* api = p::find_api(o.api);
  if (api == nullptr) {
    fmt::print(stderr, "samsa decode: unknown api '{}' (e.g. Metadata, Produce, ApiVersions)\n", o.api);
    return 2;
  }
  if (!api->supports(static_cast<std::int16_t>(o.version))) {
    fmt::print(stderr, "samsa decode: {} supports versions {}..{}, not {}\n", api->name, api->min_version,
               api->max_version, o.version);
    return 2;
  }
  const auto version = static_cast<std::int16_t>(o.version);
  auto resp = p::decode_response(frame, api->key, version);
  if (!resp) {
    fmt::print(stderr, "samsa decode: {}: malformed {} v{} response frame at {}\n", o.file, api->name, version,
               p::describe(resp.error()));
    return 2;
  }
  fmt::print("{}\n", p::response_to_json(*resp, api->key, p::records_to_json));
  return 0;
}

}  // namespace

Command add_decode_command(CLI::App& app) {
  auto opts = std::make_shared<DecodeOptions>();
  Command c;
  c.app = app.add_subcommand("decode", "print one Kafka frame (size prefix included) as JSON");
  c.app->add_flag("--request", opts->request, "decode a request (the default; api and version come from its header)");
  c.app->add_flag("--response", opts->response, "decode a response of --api NAME --version V");
  c.app->add_option("--api", opts->api, "API name of the response, e.g. Metadata");
  c.app->add_option("--version", opts->version, "API version of the response");
  c.app->add_option("file", opts->file, "file holding one frame")->required();
  c.run = [opts] {
    if (opts->request && opts->response) {
      fmt::print(stderr, "samsa decode: give --request or --response, not both\n");
      return 2;
    }
    if (opts->response && (opts->api.empty() || opts->version < 0)) {
      fmt::print(stderr, "samsa decode: --response needs --api NAME and --version V\n");
      return 2;
    }
    return run_decode(*opts);
  };
  return c;
}

}  // namespace samsa::tools
