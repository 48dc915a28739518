#!/usr/bin/env python3
"""Generates both message engines of system/protocol from one table.

  messages_gen.py extract KAFKA_MESSAGE_DIR [NEWER_MESSAGE_DIR] > system/protocol/messages_spec.json
  messages_gen.py generate      # writes the generated files below from messages_spec.json
  messages_gen.py check         # exit 1 if a generated file differs (the build runs this)

KAFKA_MESSAGE_DIR is clients/src/main/resources/common/message of an Apache
Kafka checkout (samsa's spec was extracted from tag 3.7.0). The few APIs of
NEWER (below) are read from NEWER_MESSAGE_DIR instead, a later checkout, and
their entries in messages_spec.json name that source. `extract` keeps
only facts (names, types, version ranges, tags, defaults, entity types; no
descriptions) and inlines common structs, giving messages_spec.json, the one
table. From it `generate` writes:

  messages.h, messages_table.cpp   the generic schema engine's MessageSpecs
  typed_messages.h, typed_messages.cpp
                                   one C++ struct per request/response with
                                   decode/encode (typed.h has their rules)

so the two engines cannot drift. Add an API: a line in APIS, extract, generate,
commit all of it, and a row in api.cpp's table.
"""
import json
import keyword
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPEC = HERE / "messages_spec.json"

APIS = ["Produce", "Fetch", "ListOffsets", "Metadata", "LeaderAndIsr", "StopReplica",
        "UpdateMetadata", "ControlledShutdown", "OffsetCommit", "OffsetFetch",
        "FindCoordinator", "JoinGroup", "Heartbeat", "LeaveGroup", "SyncGroup",
        "DescribeGroups", "ListGroups", "ApiVersions", "CreateTopics", "DeleteTopics",
        "InitProducerId", "OffsetForLeaderEpoch", "AddPartitionsToTxn", "AddOffsetsToTxn",
        "EndTxn", "WriteTxnMarkers", "TxnOffsetCommit", "DescribeConfigs", "DeleteGroups"]
# APIs taken from a later Kafka than 3.7.0, with the source they were
# extracted from (recorded per API in messages_spec.json).
NEWER = {
    # KIP-890 part 2: EndTxn v5 answers with the bumped ProducerId/ProducerEpoch.
    "EndTxn": "apache/kafka trunk 1eb7644349c (2024-10-25; EndTxn v0-5 as released in 4.0)",
}
PRIMITIVES = {"int8", "int16", "int32", "int64", "uint16", "uint32", "float64", "bool",
              "string", "bytes", "records", "uuid"}
FIELD_KEYS = ["name", "type", "versions", "nullableVersions", "tag", "taggedVersions",
              "default", "entityType"]

# ---------------------------------------------------------------- extract


def load(path):
    text = "\n".join(l for l in path.read_text().splitlines() if not l.strip().startswith("//"))
    return json.loads(text)


def extract_fields(fields, common):
    out = []
    for f in fields:
        g = {k: f[k] for k in FIELD_KEYS if k in f}
        base = f["type"][2:] if f["type"].startswith("[]") else f["type"]
        if base not in PRIMITIVES:
            g["fields"] = extract_fields(f.get("fields") or common[base], common)
        out.append(g)
    return out


def extract(src, newer_src=None):
    apis = []
    for api in APIS:
        entry = {"api": api}
        from_dir = src
        if api in NEWER:
            if newer_src is None:
                sys.exit("extract: %s comes from %s: pass its message dir as NEWER_MESSAGE_DIR" % (api, NEWER[api]))
            from_dir = newer_src
            entry["source"] = NEWER[api]
        for kind in ("Request", "Response"):
            spec = load(from_dir / f"{api}{kind}.json")
            common = {c["name"]: c["fields"] for c in spec.get("commonStructs", [])}
            entry[kind.lower()] = {
                "name": spec["name"], "apiKey": spec["apiKey"],
                "validVersions": spec["validVersions"], "flexibleVersions": spec["flexibleVersions"],
                "fields": extract_fields(spec["fields"], common)}
        apis.append(entry)
    return apis


def dump_fields(fields, indent):
    pad = " " * indent
    rows = []
    for f in fields:
        head = {k: v for k, v in f.items() if k != "fields"}
        text = json.dumps(head)
        if "fields" in f:
            text = text[:-1] + ', "fields": [\n' + dump_fields(f["fields"], indent + 2) + "\n" + pad + "]}"
        rows.append(pad + text)
    return ",\n".join(rows)


def dump_spec(apis):
    out = ['{"source": "Apache Kafka 3.7.0, clients/src/main/resources/common/message; '
           'extracted by messages_gen.py (facts only)",', ' "apis": [']
    blocks = []
    for a in apis:
        parts = []
        for kind in ("request", "response"):
            m = a[kind]
            head = {k: m[k] for k in ("name", "apiKey", "validVersions", "flexibleVersions")}
            parts.append('   "%s": %s, "fields": [\n%s\n   ]}' % (
                kind, json.dumps(head)[:-1], dump_fields(m["fields"], 4)))
        source = ', "source": %s' % json.dumps(a["source"]) if "source" in a else ""
        blocks.append('  {"api": "%s"%s,\n%s}' % (a["api"], source, ",\n".join(parts)))
    out.append(",\n".join(blocks))
    out.append(" ]}")
    return "\n".join(out) + "\n"

# ---------------------------------------------------------------- shared


def parse_versions(s):
    """(lo, hi) with hi None for open-ended; None for no versions."""
    if s is None or s == "" or s == "none":
        return None
    if s.endswith("+"):
        return (int(s[:-1]), None)
    if "-" in s:
        lo, hi = s.split("-")
        return (int(lo), int(hi))
    return (int(s), int(s))


def versions(s):
    v = parse_versions(s)
    if v is None:
        return "k_no_versions"
    lo, hi = v
    return "{%d, %s}" % (lo, "k_version_max" if hi is None else str(hi))


def snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def base_type(t):
    return t[2:] if t.startswith("[]") else t

# ---------------------------------------------------------------- generic tables


def ftype(t):
    return "FieldType::" + {"bool": "boolean"}.get(t, t)


class TableEmitter:
    def __init__(self):
        self.out = []
        self.count = 0

    def fields(self, prefix, fields):
        """Emits a FieldSpec array for `fields` (children first); returns its name."""
        rows = [self.field(prefix, f) for f in fields]
        if not rows:
            return None
        self.count += 1
        name = "k_%s_%d" % (prefix, self.count)
        self.out.append("constexpr FieldSpec %s[] = {\n%s\n};\n" % (name, ",\n".join(rows)))
        return name

    def field(self, prefix, f):
        t = f["type"]
        element = "FieldType::int8"
        children = None
        if t.startswith("[]"):
            elem = t[2:]
            kind = "FieldType::array"
            if elem in PRIMITIVES:
                element = ftype(elem)
            else:
                element = "FieldType::strukt"
                children = self.fields(prefix, f["fields"])
        elif t in PRIMITIVES:
            kind = ftype(t)
        else:
            kind = "FieldType::strukt"
            children = self.fields(prefix, f["fields"])
        default_int, default_null = default_of(f, kind)
        tag = f.get("tag", -1)
        span = children if children else "{}"
        return '  {"%s", %s, %s, %s, %s, %d, %s, %s, %d, %s}' % (
            f["name"], kind, element, versions(f["versions"]), versions(f.get("nullableVersions")),
            tag, versions(f.get("taggedVersions")), span, default_int, "true" if default_null else "false")


def default_of(f, kind):
    """(default int, default null) as the schema engine reads them."""
    default_int, default_null = 0, False
    d = f.get("default")
    if d is not None:
        d = str(d).lower() if isinstance(d, bool) else str(d)
        if d == "null":
            default_null = True
        elif d in ("true", "false"):
            default_int = 1 if d == "true" else 0
        elif kind not in ("FieldType::string", "FieldType::strukt", "FieldType::array"):
            default_int = int(d, 0)
    return default_int, default_null


def gen_header(apis):
    out = ["#pragma once",
           "// One MessageSpec per Kafka API request and response (the field tables",
           "// live in messages_table.cpp). Generated by messages_gen.py from",
           "// messages_spec.json; do not edit by hand.",
           '#include "system/protocol/schema.h"\n',
           "namespace samsa::protocol {\n"]
    for a in apis:
        for kind in ("request", "response"):
            out.append("extern const MessageSpec k_%s;" % snake(a[kind]["name"]))
    out.append("\n}  // namespace samsa::protocol")
    return "\n".join(out) + "\n"


def gen_table(apis):
    em = TableEmitter()
    specs = []
    for a in apis:
        for kind in ("request", "response"):
            m = a[kind]
            prefix = snake(m["name"])
            arr = em.fields(prefix, m["fields"])
            specs.append((prefix, m["name"], versions(m["flexibleVersions"]), arr, m["validVersions"]))
    out = ["// Generated by system/protocol/messages_gen.py from messages_spec.json (Apache",
           "// Kafka 3.7.0's message specs). Do not edit by hand.",
           '#include "system/protocol/messages.h"\n',
           "namespace samsa::protocol {\n",
           "namespace {\n",
           "\n".join(em.out),
           "}  // namespace\n"]
    for prefix, name, flex, arr, valid in specs:
        out.append("// %s: Kafka's validVersions %s" % (name, valid))
        out.append('const MessageSpec k_%s{"%s", %s, %s};' % (prefix, name, flex, arr or "{}"))
    out.append("\n}  // namespace samsa::protocol")
    return "\n".join(out) + "\n"

# ---------------------------------------------------------------- typed structs

INT_TYPES = {"int8": "std::int8_t", "int16": "std::int16_t", "int32": "std::int32_t",
             "int64": "std::int64_t", "uint16": "std::uint16_t", "uint32": "std::uint32_t",
             "float64": "double", "bool": "bool", "uuid": "Uuid", "string": "std::string",
             "bytes": "Bytes", "records": "Records"}

# Kafka spec field names that are ids of ours (besides entityType brokerId and
# producerId), with the wire type they must have.
ID_BY_NAME = {
    "PartitionIndex": ("int32", "PartitionId"), "Partition": ("int32", "PartitionId"),
    # ProduceRequest.PartitionData.Index and ProduceResponse.PartitionResponses.Index.
    "Index": ("int32", "PartitionId"),
    "PartitionIndexes": ("int32", "PartitionId"), "Partitions": ("int32", "PartitionId"),
    "LeaderEpoch": ("int32", "LeaderEpoch"), "CurrentLeaderEpoch": ("int32", "LeaderEpoch"),
    "LastFetchedEpoch": ("int32", "LeaderEpoch"), "CommittedLeaderEpoch": ("int32", "LeaderEpoch"),
    # FetchResponse's EpochEndOffset.Epoch and SnapshotId.Epoch are leader epochs.
    "Epoch": ("int32", "LeaderEpoch"),
    "BaseOffset": ("int64", "Offset"), "CommittedOffset": ("int64", "Offset"),
    "EndOffset": ("int64", "Offset"), "FetchOffset": ("int64", "Offset"),
    "FirstOffset": ("int64", "Offset"), "HighWatermark": ("int64", "Offset"),
    "LastStableOffset": ("int64", "Offset"), "LogStartOffset": ("int64", "Offset"),
    "Offset": ("int64", "Offset"), "OldStyleOffsets": ("int64", "Offset"),
    "ProducerEpoch": ("int16", "ProducerEpoch"), "V3AndBelowProducerEpoch": ("int16", "ProducerEpoch"),
    "GenerationId": ("int32", "GenerationId"),
    # KIP-848 renamed OffsetCommit's GenerationId; for the classic protocol it is the generation.
    "GenerationIdOrMemberEpoch": ("int32", "GenerationId"),
    "ControllerEpoch": ("int32", "ControllerEpoch"),
    "BrokerEpoch": ("int64", "BrokerEpoch"),
    # FetchRequest.ReplicaState.ReplicaEpoch is the fetching broker's epoch (KIP-903).
    "ReplicaEpoch": ("int64", "BrokerEpoch"),
    "ErrorCode": ("int16", "ErrorCode"), "PartitionErrorCode": ("int16", "ErrorCode"),
    "TopicConfigErrorCode": ("int16", "ErrorCode"),
}
ID_BY_ENTITY = {"brokerId": ("int32", "BrokerId"), "producerId": ("int64", "ProducerId")}
RESERVED = {"read", "write", "decode", "encode", "unknown_tags", "c", "r", "w"}
RESERVED_TYPES = {"Records", "Uuid", "Bytes", "ErrorCode", "Reader", "Writer", "Result"}


def member_name(name):
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()
    if keyword.iskeyword(s) or s in ("default", "delete", "new", "operator", "template", "class",
                                     "union", "register", "namespace", "private", "public"):
        s += "_"
    if s in RESERVED:
        raise SystemExit("field name %s clashes with a generated member" % name)
    return s


def scalar_type(f, wire):
    for table, key in ((ID_BY_ENTITY, f.get("entityType")), (ID_BY_NAME, f["name"])):
        if key in table:
            want, cpp = table[key]
            if want != wire:
                raise SystemExit("%s: expected %s for %s, spec says %s" % (f["name"], want, cpp, wire))
            return cpp
    return INT_TYPES[wire]


def cond(v, var="c.version"):
    """C++ condition for a version range; 'true' / 'false' when constant."""
    if v is None:
        return "false"
    lo, hi = v
    parts = []
    if lo > 0:
        parts.append("%s >= %d" % (var, lo))
    if hi is not None:
        parts.append("%s <= %d" % (var, hi))
    return " && ".join(parts) if parts else "true"


class Field:
    def __init__(self, f, struct_type):
        self.spec = f
        self.name = f["name"]
        self.member = member_name(f["name"])
        self.versions = parse_versions(f["versions"])
        self.nullable = parse_versions(f.get("nullableVersions"))
        self.tag = f.get("tag")
        self.tagged = parse_versions(f.get("taggedVersions"))
        if self.tag is not None and self.tagged != self.versions:
            raise SystemExit("%s: tagged in only some of its versions" % self.name)
        t = f["type"]
        self.is_array = t.startswith("[]")
        base = base_type(t)
        self.struct = struct_type if base not in PRIMITIVES else None
        elem = self.struct if self.struct else scalar_type(f, base)
        inner = "std::vector<%s>" % elem if self.is_array else elem
        if self.nullable is not None:
            if self.struct and not self.is_array:
                raise SystemExit("%s: nullable structs are not supported" % self.name)
            inner = "std::optional<%s>" % inner
        self.value_type = inner
        self.cpp_type = "std::optional<%s>" % inner if self.tag is not None else inner
        self.init = self.initializer(elem, base)

    def initializer(self, elem, base):
        if self.tag is not None:
            return ""  # not sent
        kind = ("FieldType::array" if self.is_array else
                "FieldType::strukt" if self.struct else ftype(base))
        d_int, d_null = default_of(self.spec, kind)
        if self.nullable is not None:
            if d_null:
                return ""
            return "{std::in_place}"
        if self.is_array or self.struct or base in ("string", "bytes", "records", "uuid"):
            return ""
        if elem == "ErrorCode":
            return "{ErrorCode::none}" if d_int == 0 else "{static_cast<ErrorCode>(%d)}" % d_int
        if elem == "bool":
            return "{%s}" % ("true" if d_int else "false")
        if elem == "double":
            return "{0.0}"
        return "{%d}" % d_int

    def comment(self):
        bits = ["%s %s" % (self.name, self.spec["versions"])]
        if self.nullable is not None:
            bits.append("nullable " + self.spec["nullableVersions"])
        if self.tag is not None:
            bits.append("tag %d" % self.tag)
        if "default" in self.spec:
            bits.append("default %s" % json.dumps(self.spec["default"]))
        return ", ".join(bits)


class Struct:
    def __init__(self, name, fields, owner):
        self.name = name            # C++ (and Kafka) type name
        self.qualified = "typed::%s::%s" % (snake(owner), name) if owner else name
        self.fields = fields


class TypedEmitter:
    def __init__(self):
        self.h = []
        self.cpp = []

    def message(self, m, api, kind):
        top = m["name"]
        nested = {}   # Kafka struct type name -> Struct, children first
        order = []

        def collect(fields):
            out = []
            for f in fields:
                base = base_type(f["type"])
                sname = None
                if base not in PRIMITIVES:
                    sname = base
                    if sname in RESERVED_TYPES or sname == top:
                        raise SystemExit("%s: struct name %s clashes" % (top, sname))
                    children = collect(f["fields"])
                    if sname in nested:
                        if [c.spec for c in nested[sname].fields] != [c.spec for c in children]:
                            raise SystemExit("%s: two structs named %s" % (top, sname))
                    else:
                        nested[sname] = Struct(sname, children, top)
                        order.append(sname)
                out.append(Field(f, sname))
            return out

        fields = collect(m["fields"])
        msg = Struct(top, fields, None)
        flex = parse_versions(m["flexibleVersions"])
        self.emit_decl(msg, [nested[n] for n in order], api, kind, m)
        for n in order:
            self.emit_defs(nested[n])
        self.emit_defs(msg)
        self.emit_top(msg, flex)

    def emit_decl(self, msg, nested, api, kind, m):
        h = self.h
        ns = snake(msg.name)
        if nested:
            # The nested structs live in a namespace of their own and are
            # named inside the message by aliases: a struct nested in the
            # class itself could not be default-constructed (its member
            # initialisers) before the class is complete, which clang rejects.
            h.append("namespace typed::%s {" % ns)
            for s in nested:
                h.append("")
                h.append("struct %s {" % s.name)
                self.emit_members(s, "  ")
                h.append("};")
            h.append("\n}  // namespace typed::%s\n" % ns)
        h.append("// %s: Kafka's validVersions %s, flexibleVersions %s." % (
            msg.name, m["validVersions"], m["flexibleVersions"]))
        h.append("struct %s {" % msg.name)
        h.append("  static constexpr ApiKey k_api_key = ApiKey::%s;" % snake(api))
        h.append("  static constexpr bool k_is_request = %s;" % ("true" if kind == "request" else "false"))
        h.append('  static constexpr std::string_view k_name = "%s";' % msg.name)
        h.append("  static constexpr VersionRange k_flexible_versions%s;" % versions(m["flexibleVersions"]))
        h.append("  // The generic engine's spec of the same message (same table).")
        h.append("  static const MessageSpec& spec() { return k_%s; }" % snake(msg.name))
        if nested:
            h.append("")
        for s in nested:
            h.append("  using %s = typed::%s::%s;" % (s.name, ns, s.name))
        h.append("")
        self.emit_members(msg, "  ", top=True)
        h.append("};\n")

    def emit_members(self, s, pad, top=False):
        h = self.h
        for f in s.fields:
            h.append("%s%s %s%s;  // %s" % (pad, f.cpp_type, f.member, f.init, f.comment()))
        h.append("%sstd::vector<UnknownTag> unknown_tags;  // tags this build does not know" % pad)
        h.append("")
        if top:
            h.append("%s// Decodes / encodes the body at `version` (the caller checks that the" % pad)
            h.append("%s// table supports it); decoding does not check that the reader is at its end." % pad)
            h.append("%sstatic Result<%s, DecodeError> decode(Reader& r, std::int16_t version);" % (pad, s.name))
            h.append("%svoid encode(Writer& w, std::int16_t version) const;" % pad)
        h.append("%styped::Status read(Reader& r, const typed::Ctx& c);" % pad)
        h.append("%svoid write(Writer& w, const typed::Ctx& c) const;" % pad)
        h.append("%sbool operator==(const %s&) const = default;" % (pad, s.name))

    def emit_defs(self, s):
        cpp = self.cpp
        q = s.qualified
        plain = [f for f in s.fields if f.tag is None]
        tagged = [f for f in s.fields if f.tag is not None]
        cpp.append("typed::Status %s::read(Reader& r, const typed::Ctx& c) {" % q)
        for f in plain:
            stmt = 'SAMSA_TYPED_READ(r, "%s", %s, %s);' % (f.name, f.member, cond(f.nullable))
            cpp.append(self.guarded(cond(f.versions), stmt))
        if tagged:
            cpp.append("  if (!c.flexible) return {};")
            cpp.append("  return typed::read_tags(r, unknown_tags, [&](std::uint32_t tag, Reader& sub) "
                       "-> Result<const char*, DecodeError> {")
            for f in tagged:
                cpp.append("    if (tag == %d && (%s)) {" % (f.tag, cond(f.versions)))
                cpp.append('      SAMSA_TYPED_READ(sub, "%s", %s.emplace(), %s);' % (
                    f.name, f.member, cond(f.nullable)))
                cpp.append('      return "%s";' % f.name)
                cpp.append("    }")
            cpp.append("    return nullptr;")
            cpp.append("  });")
        else:
            cpp.append("  if (c.flexible) return typed::read_tags(r, unknown_tags);")
            cpp.append("  return {};")
        cpp.append("}\n")
        cpp.append("void %s::write(Writer& w, const typed::Ctx& c) const {" % q)
        for f in plain:
            stmt = "typed::write(w, c, %s, %s);" % (cond(f.nullable), f.member)
            cpp.append(self.guarded(cond(f.versions), stmt))
        if tagged:
            cpp.append("  if (!c.flexible) return;")
            cpp.append("  typed::TagWriter tags(c, unknown_tags);")
            for f in tagged:
                cpp.append("  if ((%s) && %s) tags.add(%d, %s, *%s);" % (
                    cond(f.versions), f.member, f.tag, cond(f.nullable), f.member))
            cpp.append("  tags.finish(w);")
        else:
            cpp.append("  if (c.flexible) typed::write_tags(w, unknown_tags);")
        cpp.append("}\n")

    @staticmethod
    def guarded(condition, stmt):
        if condition == "true":
            return "  " + stmt
        return "  if (%s) %s" % (condition, stmt)

    def emit_top(self, s, flex):
        n = s.name
        self.cpp.append("Result<%s, DecodeError> %s::decode(Reader& r, std::int16_t version) {" % (n, n))
        self.cpp.append("  %s out;" % n)
        self.cpp.append("  if (auto st = out.read(r, typed::Ctx{version, k_flexible_versions.contains(version)}); !st) {")
        self.cpp.append("    return Err{st.error()};")
        self.cpp.append("  }")
        self.cpp.append("  return out;")
        self.cpp.append("}\n")
        self.cpp.append("void %s::encode(Writer& w, std::int16_t version) const {" % n)
        self.cpp.append("  write(w, typed::Ctx{version, k_flexible_versions.contains(version)});")
        self.cpp.append("}\n")


def gen_typed(apis):
    em = TypedEmitter()
    for a in apis:
        for kind in ("request", "response"):
            em.message(a[kind], a["api"], kind)
    reqs = [a["request"]["name"] for a in apis]
    resps = [a["response"]["name"] for a in apis]
    h = ["#pragma once",
         "// Typed Kafka messages: one struct per request and response of every API",
         "// in the table, generated by messages_gen.py from messages_spec.json, the",
         "// table the generic engine (messages_table.cpp) is generated from. Field",
         "// names are Kafka's spec names in snake_case; nested structs carry Kafka's",
         "// struct type names; ids are strong types (ids.h), error codes ErrorCode.",
         "// Each member's comment gives its Kafka name, versions, nullability, tag",
         "// and default. A field absent in a version keeps its default and is not",
         "// written; a tagged field is a std::optional, written only when set; a",
         "// nullable field is a std::optional (nullopt = null). Do not edit by hand.",
         "#include <optional>",
         "#include <string>",
         "#include <string_view>",
         "#include <variant>",
         "#include <vector>\n",
         '#include "system/protocol/api.h"',
         '#include "system/protocol/typed.h"\n',
         "namespace samsa::protocol {\n"]
    h += em.h
    h.append("// Every request / response type, in the table's order.")
    h.append("using AnyRequest = std::variant<%s>;" % ",\n                                ".join(reqs))
    h.append("using AnyResponse = std::variant<%s>;" % ",\n                                 ".join(resps))
    h.append("")
    h.append("// Decodes the body of request / response `key` at `version` into its struct.")
    h.append("Result<AnyRequest, DecodeError> decode_any_request(ApiKey key, std::int16_t version, Reader& r);")
    h.append("Result<AnyResponse, DecodeError> decode_any_response(ApiKey key, std::int16_t version, Reader& r);")
    h.append("\n}  // namespace samsa::protocol")
    cpp = ["// Generated by system/protocol/messages_gen.py from messages_spec.json. Do not",
           "// edit by hand.",
           '#include "system/protocol/typed_messages.h"\n',
           "namespace samsa::protocol {\n"]
    cpp += em.cpp
    for kind, names, var in (("request", reqs, "AnyRequest"), ("response", resps, "AnyResponse")):
        cpp.append("Result<%s, DecodeError> decode_any_%s(ApiKey key, std::int16_t version, Reader& r) {" % (var, kind))
        cpp.append("  switch (key) {")
        for a, name in zip(apis, names):
            cpp.append("    case %s::k_api_key: {" % name)
            cpp.append("      SAMSA_TRY(m, %s::decode(r, version));" % name)
            cpp.append("      return %s(std::move(m));" % var)
            cpp.append("    }")
        cpp.append("  }")
        cpp.append('  return Err{DecodeError{r.offset(), "unsupported api key " + '
                   "std::to_string(static_cast<int>(key))}};")
        cpp.append("}\n")
    cpp.append("}  // namespace samsa::protocol")
    return "\n".join(h) + "\n", "\n".join(cpp) + "\n"

# ---------------------------------------------------------------- main


def outputs():
    apis = json.loads(SPEC.read_text())["apis"]
    typed_h, typed_cpp = gen_typed(apis)
    return {"messages.h": gen_header(apis), "messages_table.cpp": gen_table(apis),
            "typed_messages.h": typed_h, "typed_messages.cpp": typed_cpp}


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else "generate"
    if cmd == "extract":
        newer = Path(sys.argv[3]) if len(sys.argv) > 3 else None
        sys.stdout.write(dump_spec(extract(Path(sys.argv[2]), newer)))
    elif cmd == "generate":
        for name, text in outputs().items():
            path = HERE / name
            if not path.exists() or path.read_text() != text:
                path.write_text(text)
                print("wrote", path)
    elif cmd == "check":
        stale = [n for n, t in outputs().items() if not (HERE / n).exists() or (HERE / n).read_text() != t]
        if stale:
            print("system/protocol: generated files out of date: %s; run system/protocol/messages_gen.py "
                  "generate and commit the result" % ", ".join(stale), file=sys.stderr)
            sys.exit(1)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
