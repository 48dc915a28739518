#!/usr/bin/env bash
# `samsa check --timeline` renders in headless Chromium: the screenshot is a
# real picture (it holds the ok bars' green and the fault shading), and the
# DOM Chromium built holds the violating operations, outlined, with the
# checker's explanation. Exit 77 (skipped) where chromium is missing
# (tools/setup --peers installs it).
# Usage: timeline_chromium_test.sh <path to samsa>
set -uo pipefail
samsa=$1
chromium=$(command -v chromium || command -v chromium-browser || true)
[[ -n "$chromium" ]] || { echo "skip: no chromium (tools/setup --peers)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# v0 acked at offset 0 and never polled though offset 1 was: lost-write, ops 1 and 6.
{
  echo '{"index":0,"time_ns":0,"process":0,"type":"invoke","f":"send","value":{"topic":"t","value":"v0"}}'
  echo '{"index":1,"time_ns":5000000,"process":0,"type":"ok","f":"send","value":{"topic":"t","value":"v0","partition":0,"offset":0}}'
  echo '{"index":2,"time_ns":6000000,"process":"nemesis","type":"info","f":"crash","value":{"node":"b1"}}'
  echo '{"index":3,"time_ns":7000000,"process":0,"type":"invoke","f":"send","value":{"topic":"t","value":"v1"}}'
  echo '{"index":4,"time_ns":9000000,"process":0,"type":"ok","f":"send","value":{"topic":"t","value":"v1","partition":0,"offset":1}}'
  echo '{"index":5,"time_ns":10000000,"process":1,"type":"invoke","f":"poll","value":{}}'
  echo '{"index":6,"time_ns":12000000,"process":1,"type":"ok","f":"poll","value":{"records":[{"topic":"t","partition":0,"offset":1,"value":"v1"}]}}'
  echo '{"index":7,"time_ns":14000000,"process":"nemesis","type":"info","f":"crash-end","value":{"node":"b1"}}'
  echo '{"index":8,"time_ns":15000000,"process":"nemesis","type":"info","f":"heal-all","value":{}}'
} >"$tmp/h.jsonl"
"$samsa" check "$tmp/h.jsonl" --timeline "$tmp/t.html" >"$tmp/out" 2>&1
[[ $? -eq 1 ]] || fail "check must find the lost write: $(cat "$tmp/out")"

flags=(--headless --no-sandbox --disable-gpu --disable-background-networking --user-data-dir="$tmp/profile")
timeout 120 "$chromium" "${flags[@]}" --window-size=1400,500 --screenshot="$tmp/shot.png" "file://$tmp/t.html" \
  >"$tmp/chromium.log" 2>&1 || fail "chromium --screenshot: $(tail -5 "$tmp/chromium.log")"
[[ -s "$tmp/shot.png" ]] || fail "empty screenshot"
python3 - "$tmp/shot.png" <<'PY' || fail "the screenshot does not show the timeline"
# Decodes the PNG (8-bit RGB/RGBA, as Chromium writes it) and looks for the
# ok colour (#5cb85c) and many colours in all: not a blank page.
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
pos, idat = 8, b""
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR": w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
    if kind == b"IDAT": idat += body
    pos += 12 + n
assert depth == 8 and ctype in (2, 6), (depth, ctype)
bpp = 3 if ctype == 2 else 4
raw, stride, prev, colours = zlib.decompress(idat), w * bpp, bytearray(w * bpp), set()
for y in range(h):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    colours.update(bytes(line[x:x + 3]) for x in range(0, stride, bpp))
    prev = line
assert bytes.fromhex("5cb85c") in colours, "no ok bar"
assert len(colours) > 20, len(colours)
print(f"screenshot {w}x{h}, {len(colours)} colours")
PY

timeout 120 "$chromium" "${flags[@]}" --dump-dom "file://$tmp/t.html" >"$tmp/dom.html" 2>"$tmp/chromium.log" \
  || fail "chromium --dump-dom: $(tail -5 "$tmp/chromium.log")"
for op in 1 6; do
  grep -q "id=\"op-$op\" class=\"op bad\"" "$tmp/dom.html" || fail "op $op is not outlined in the rendered page"
  grep -q "href=\"#op-$op\"" "$tmp/dom.html" || fail "op $op is not listed with its violation"
done
grep -q "lost-write" "$tmp/dom.html" && grep -q "was never polled" "$tmp/dom.html" \
  || fail "the explanation is not in the rendered page"
grep -q "nemesis b1" "$tmp/dom.html" || fail "no nemesis lane"
echo "ok: the timeline renders in chromium"
