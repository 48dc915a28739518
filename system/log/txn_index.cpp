#include "system/log/txn_index.h"

#include "system/log/big_endian.h"

namespace samsa::log {

void encode_aborted_txn(Bytes& out, const AbortedTxn& t) {
  put_be(out, static_cast<std::uint16_t>(k_aborted_txn_version), 2);
  put_be(out, static_cast<std::uint64_t>(t.producer_id), 8);
  put_be(out, static_cast<std::uint64_t>(t.first_offset), 8);
  put_be(out, static_cast<std::uint64_t>(t.last_offset), 8);
  put_be(out, static_cast<std::uint64_t>(t.last_stable_offset), 8);
}

Bytes encode_txn_index(const std::vector<AbortedTxn>& entries) {
  Bytes out;
  out.reserve(entries.size() * k_aborted_txn_bytes);
  for (const auto& t : entries) encode_aborted_txn(out, t);
  return out;
}

Result<std::vector<AbortedTxn>, IndexError> decode_txn_index(ByteView file, std::int64_t base_offset) {
  if (file.size() % k_aborted_txn_bytes != 0)
    return Err{IndexError{file.size() / k_aborted_txn_bytes, "partial entry"}};
  std::vector<AbortedTxn> out;
  out.reserve(file.size() / k_aborted_txn_bytes);
  for (std::size_t at = 0; at < file.size(); at += k_aborted_txn_bytes) {
    const std::size_t i = at / k_aborted_txn_bytes;
    if (static_cast<std::int16_t>(get_be(file, at, 2)) != k_aborted_txn_version)
      return Err{IndexError{i, "unexpected aborted transaction version"}};
    AbortedTxn t;
    t.producer_id = static_cast<std::int64_t>(get_be(file, at + 2, 8));
    t.first_offset = static_cast<std::int64_t>(get_be(file, at + 10, 8));
    t.last_offset = static_cast<std::int64_t>(get_be(file, at + 18, 8));
    t.last_stable_offset = static_cast<std::int64_t>(get_be(file, at + 26, 8));
    if (t.last_offset < base_offset) return Err{IndexError{i, "last offset below the segment's base offset"}};
    if (t.first_offset < 0 || t.first_offset > t.last_offset)
      return Err{IndexError{i, "first offset after last offset"}};
    if (!out.empty() && t.last_offset <= out.back().last_offset)
      return Err{IndexError{i, "markers out of order"}};
    out.push_back(t);
  }
  return out;
}

bool collect_aborted_txns_in(const std::vector<AbortedTxn>& entries, std::int64_t fetch_offset,
                             std::int64_t upper_bound_offset, std::vector<AbortedTxn>& out) {
  for (const auto& t : entries) {
    if (t.last_offset >= fetch_offset && t.first_offset < upper_bound_offset) out.push_back(t);
    if (t.last_stable_offset >= upper_bound_offset) return true;
  }
  return false;
}

}  // namespace samsa::log
