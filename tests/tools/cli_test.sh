#!/usr/bin/env bash
# The command-line contract: exit codes, --json fields, sweep/shard/merge and
# replay of a saved failure file reproducing the recorded trace hash.
# Usage: cli_test.sh <path to samsa> [<path to test_log>]
set -uo pipefail
samsa=$1
test_log=${2:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
passes=0
pass() { echo "ok: $1"; passes=$((passes+1)); }
check() {  # check <description> <expected exit> <command...>
  local what=$1 want=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; local got=$?
  if [[ $got -ne $want ]]; then
    echo "FAIL: $what: exit $got, wanted $want"; cat "$tmp/out" "$tmp/err"; failures=$((failures+1))
  else
    pass "$what"
  fi
}
json_field() { python3 -c "import json,sys; print(json.load(open('$1'))$2)"; }

check "--version" 0 "$samsa" --version
check "--help" 0 "$samsa" --help
check "list" 0 "$samsa" list
check "no subcommand is bad usage" 2 "$samsa"
check "unknown scenario is bad input" 2 "$samsa" run no/such --seed 1
check "pingpong holds" 0 "$samsa" run selftest/pingpong --seed 3 --json
for f in scenario seed verdict trace_hash events virtual_time_ms wall_ms; do
  python3 -c "import json; j=json.load(open('$tmp/out')); assert '$f' in j, '$f'" \
    || { echo "FAIL: --json lacks $f"; failures=$((failures+1)); }
done
check "a duplicating server is a safety violation" 1 "$samsa" run selftest/pingpong-dup-bug --seed 3

check "sweep of the buggy scenario fails" 1 "$samsa" sweep selftest/pingpong-dup-bug --seeds 1..6 --jobs 2 --out "$tmp/full"
file=$(ls "$tmp/full/failures" | head -1)
recorded=$(json_field "$tmp/full/failures/$file" "['trace_hash']")
check "replay of a failure file" 1 "$samsa" replay "$tmp/full/failures/$file" --log-level off --json
replayed=$(json_field "$tmp/out" "['trace_hash']")
[[ "$recorded" == "$replayed" ]] && pass "replay reproduces trace $recorded" \
  || { echo "FAIL: replay trace $replayed != recorded $recorded"; failures=$((failures+1)); }
check "replay --timeline" 1 "$samsa" replay "$tmp/full/failures/$file" --log-level off --timeline "$tmp/t.html"
grep -q "<svg" "$tmp/t.html" && grep -q 'class="op bad"' "$tmp/t.html" && grep -q "duplicate" "$tmp/t.html" \
  && pass "replay --timeline draws the run and outlines the violating ops" \
  || { echo "FAIL: replay --timeline: $(head -c 300 "$tmp/t.html")"; failures=$((failures+1)); }

check "shard 1/2" 1 "$samsa" sweep selftest/pingpong-dup-bug --seeds 1..6 --shard 1/2 --jobs 1 --out "$tmp/s1"
check "shard 2/2" 1 "$samsa" sweep selftest/pingpong-dup-bug --seeds 1..6 --shard 2/2 --jobs 1 --out "$tmp/s2"
check "merge" 1 "$samsa" merge "$tmp/s1" "$tmp/s2" --json
merged=$(json_field "$tmp/out" "['failed_seeds']")
full=$(json_field "$tmp/full/summary.json" "['failed_seeds']")
[[ "$merged" == "$full" ]] && pass "merged shards equal the full sweep" \
  || { echo "FAIL: merged $merged != full $full"; failures=$((failures+1)); }
check "sweep summary counts rechecks" 1 "$samsa" sweep selftest/pingpong-dup-bug --seeds 1..4 --jobs 2 --json
python3 -c "import json; d=json.loads(open('$tmp/out').read().strip().splitlines()[-1]); assert d['rechecked']==4 and d['mismatched']==0 and d['violation_kinds']['duplicate']['first_seed']==1, d" \
  && pass "sweep summary: rechecked, mismatched, violation kinds" || { echo "FAIL: sweep summary"; cat "$tmp/out"; failures=$((failures+1)); }

# Traces: --trace writes every event; --trace-diff names where two runs part.
check "run --trace" 0 "$samsa" run selftest/pingpong --seed 7 --trace "$tmp/t7.jsonl"
check "the same seed agrees with its trace" 0 "$samsa" run selftest/pingpong --seed 7 --trace-diff "$tmp/t7.jsonl" --json
[[ "$(json_field "$tmp/out" "['trace_diff']['diverged']")" == "False" ]] && pass "trace_diff.diverged is false for the same run" \
  || { echo "FAIL: trace_diff of the same run"; cat "$tmp/out"; failures=$((failures+1)); }
check "another schedule parts from it" 0 "$samsa" run selftest/pingpong --seed 7 --set faults.rate_per_s=1.0 --trace-diff "$tmp/t7.jsonl"
grep -q "part at event" "$tmp/out" && pass "trace-diff names the first differing event" \
  || { echo "FAIL: trace-diff text"; cat "$tmp/out"; failures=$((failures+1)); }
check "replay --trace-diff against a failure file" 1 "$samsa" replay "$tmp/full/failures/$file" --log-level off --trace-diff "$tmp/full/failures/$file"
grep -q "events agree" "$tmp/out" && pass "a failure file replays event for event" \
  || { echo "FAIL: replay trace-diff"; cat "$tmp/out"; failures=$((failures+1)); }
echo '{"x":1}' >"$tmp/notrace.jsonl"
check "--trace-diff of a file that is no trace" 2 "$samsa" run selftest/pingpong --seed 7 --trace-diff "$tmp/notrace.jsonl"

# Scenario files and --set.
printf '[cluster]\nnodes = [1, 2\n' >"$tmp/bad.toml"
check "a TOML syntax error is bad input" 2 "$samsa" run "$tmp/bad.toml" --seed 1
grep -q "bad.toml:2:" "$tmp/err" && pass "syntax error names file:line" || { echo "FAIL: no file:line in"; cat "$tmp/err"; failures=$((failures+1)); }
printf '[workload]\nname = "pingpong"\n[faults]\nphase = 3\n' >"$tmp/unknown.toml"
check "an unknown key is bad input" 2 "$samsa" run "$tmp/unknown.toml" --seed 1
grep -q "unknown.toml:4:1: unknown key 'phase' in \[faults\] (allowed: phase_ms" "$tmp/err" && pass "unknown key named with the allowed ones" \
  || { echo "FAIL: unknown key message"; cat "$tmp/err"; failures=$((failures+1)); }
printf '[cluster]\nnodes = 3\n[workload]\nname = "pingpong"\n[faults]\nphase_ms = 2000\nheal_ms = 3000\nrate_per_s = 2.0\n[[nemesis]]\nname = "partition"\n[checkers]\nwell-formed = {}\necho = {}\necho-liveness = {}\n' >"$tmp/mine.toml"
check "a user's scenario file runs" 0 "$samsa" run "$tmp/mine.toml" --seed 2 --json
check "--set a workload option" 1 "$samsa" run "$tmp/mine.toml" --seed 2 --set workload.duplicate_bug=true
check "--set with a bad value" 2 "$samsa" run selftest/pingpong --seed 1 --set faults.rate_per_s=fast
grep -q -- "--set faults.rate_per_s" "$tmp/err" && pass "a bad --set names itself" || { echo "FAIL: --set message"; cat "$tmp/err"; failures=$((failures+1)); }
check "--set an unknown key" 2 "$samsa" run selftest/pingpong --seed 1 --set no.such.key=1
# A value the consumer's, producer's or broker's config refuses is the
# scenario's mistake, said before the run starts (exit 2), for every command.
for s in txn/exactly-once mirror/wan-partition groups/at-least-once; do
  check "a bad consumer value in $s is bad input" 2 "$samsa" run $s --seed 1 --set max.poll.records=0
  grep -q "max.poll.records" "$tmp/err" && ! grep -q "internal error" "$tmp/err" && pass "the message names the key" \
    || { echo "FAIL: bad config message"; cat "$tmp/err"; failures=$((failures+1)); }
done
check "sweep: a bad broker value is bad input" 2 "$samsa" sweep broker/acks-all --seeds 1..2 --set min.insync.replicas=0
check "replay: a bad producer value is bad input" 2 "$samsa" replay broker/acks-all --seed 1 --set acks=2
printf '[cluster]\nbrokers = 3\n[[topics]]\nname = "t"\nreplication_factor = 3\n[workload]\nname = "kafka"\nconsumers = 1\n[config]\n"max.poll.records" = 0\n' >"$tmp/badvalue.toml"
check "a bad value in a scenario file is bad input" 2 "$samsa" run "$tmp/badvalue.toml" --seed 1
grep -q "badvalue.toml:10:" "$tmp/err" && pass "the message names file:line:col" \
  || { echo "FAIL: bad value position"; cat "$tmp/err"; failures=$((failures+1)); }
check "live workload: a bad value is bad input" 2 "$samsa" live workload --bootstrap 127.0.0.1:1 --scenario "$tmp/badvalue.toml" --history "$tmp/live.jsonl"

# Histories and samsa check.
check "run --history" 1 "$samsa" run selftest/pingpong-dup-bug --seed 3 --history "$tmp/h.jsonl"
check "check finds the duplicates" 1 "$samsa" check "$tmp/h.jsonl" --json
python3 -c "import json; d=json.load(open('$tmp/out')); assert d['verdict']=='safety' and len(d['anomalies']['duplicate'])>0, d" \
  && pass "check --json names the anomaly" || { echo "FAIL: check --json"; head -c 500 "$tmp/out"; failures=$((failures+1)); }
check "check --allow the anomaly" 0 "$samsa" check "$tmp/h.jsonl" --allow duplicate --allow per-key-order
check "run --history of a clean run" 0 "$samsa" run selftest/pingpong --seed 3 --history "$tmp/ok.jsonl"
check "check of a clean history" 0 "$samsa" check "$tmp/ok.jsonl"
echo '{"process":0,"type":"ok","f":"send"' >"$tmp/broken.jsonl"
check "check of a broken history" 2 "$samsa" check "$tmp/broken.jsonl"
grep -q "broken.jsonl:1:" "$tmp/err" && pass "a broken history names file:line:col" || { echo "FAIL"; cat "$tmp/err"; failures=$((failures+1)); }
# A Kafka history: v0 acked at offset 0, never polled, though offset 1 was.
{
  echo '{"index":0,"time_ns":0,"process":0,"type":"invoke","f":"send","value":{"topic":"t","key":"k","value":"v0"}}'
  echo '{"index":1,"time_ns":5,"process":0,"type":"ok","f":"send","value":{"topic":"t","key":"k","value":"v0","partition":0,"offset":0}}'
  echo '{"index":2,"time_ns":6,"process":0,"type":"invoke","f":"send","value":{"topic":"t","key":"k","value":"v1"}}'
  echo '{"index":3,"time_ns":7,"process":0,"type":"ok","f":"send","value":{"topic":"t","key":"k","value":"v1","partition":0,"offset":1}}'
  echo '{"index":4,"time_ns":9,"process":1,"type":"invoke","f":"poll","value":{}}'
  echo '{"index":5,"time_ns":12,"process":1,"type":"ok","f":"poll","value":{"records":[{"topic":"t","partition":0,"offset":1,"key":"k","value":"v1"}]}}'
} >"$tmp/lost.jsonl"
check "check finds a lost write" 1 "$samsa" check "$tmp/lost.jsonl" --json
python3 -c "import json; d=json.load(open('$tmp/out')); l=d['delivery']; assert d['anomalies']['lost-write'][0]['ops']==[1,5] and l['at_most_once'] and not l['at_least_once'] and not l['exactly_once'] and l['partitions'][0]['ordered'], d" \
  && pass "check --json: delivery verdicts and per-partition order" || { echo "FAIL: check delivery"; head -c 800 "$tmp/out"; failures=$((failures+1)); }
check "check --set acks=1 with crashes allows the loss" 0 "$samsa" check "$tmp/lost.jsonl" --set acks=1 --set nemeses=crash
grep -q "at-least-once  violated" "$tmp/out" && grep -q "(allowed: acks=1" "$tmp/out" && pass "check prints delivery and the reason" \
  || { echo "FAIL: check text: $(cat "$tmp/out")"; failures=$((failures+1)); }
check "check --set min.insync.replicas=2 under partitions does not" 1 "$samsa" check "$tmp/lost.jsonl" --set min.insync.replicas=2 --set nemeses=partition
check "check --timeline" 1 "$samsa" check "$tmp/lost.jsonl" --timeline "$tmp/lost.html"
grep -q 'id="op-1" class="op bad"' "$tmp/lost.html" && pass "check --timeline outlines the lost write" \
  || { echo "FAIL: check --timeline"; failures=$((failures+1)); }

# Failure files: self-contained, the saved schedule replays, shrink.
check "run --out writes a failure file" 1 "$samsa" run selftest/pingpong-dup-bug --seed 3 --out "$tmp/one" --set faults.rate_per_s=2.0
ff="$tmp/one/selftest_pingpong-dup-bug-seed3.json"
python3 -c "import json; d=json.load(open('$ff')); assert d['scenario_text'] and d['build_id'] and d['overrides']==['faults.rate_per_s=2.0'] and isinstance(d['schedule'], list) and len(d['schedule'])>3, d.keys()" \
  && pass "a failure file holds scenario text, overrides, schedule, build id" || { echo "FAIL: failure file"; failures=$((failures+1)); }
check "replay prints the saved schedule" 1 "$samsa" replay "$ff" --log-level off
grep -q "with the saved schedule" "$tmp/err" && grep -q "matches the recorded run" "$tmp/err" && pass "replay shows the schedule and matches the trace" \
  || { echo "FAIL: replay output"; cat "$tmp/err"; failures=$((failures+1)); }
python3 -c "
import json; d=json.load(open('$ff')); d['schedule']=d['schedule'][:1]; json.dump(d, open('$tmp/edited.json','w'))"
check "an edited schedule replays" 1 "$samsa" replay "$tmp/edited.json" --log-level off --json
python3 -c "import json; d=json.load(open('$tmp/out')); assert len(d['schedule'])==1 and d['details']['faults']==1, d['schedule']" \
  && pass "replay ran the edited schedule, not the seed's" || { echo "FAIL: edited replay"; failures=$((failures+1)); }
check "shrink" 0 "$samsa" shrink "$ff" -o "$tmp/min.json"
grep -q "^before:" "$tmp/out" && grep -q "^after :" "$tmp/out" && pass "shrink prints before and after" || { echo "FAIL: shrink output"; cat "$tmp/out"; failures=$((failures+1)); }
check "the shrunk file replays the failure" 1 "$samsa" replay "$tmp/min.json" --log-level off --json
python3 -c "import json; d=json.load(open('$tmp/out')); assert len(d['schedule'])<=3, len(d['schedule'])" \
  && pass "shrunk to at most 3 faults" || { echo "FAIL: shrunk schedule too long"; failures=$((failures+1)); }
check "shrink of a passing run is refused" 2 "$samsa" shrink "$tmp/nothing.json"

check "bad seed range" 2 "$samsa" sweep selftest/pingpong --seeds 5..1
check "replay of a non-file" 2 "$samsa" replay /nonexistent.json

if [[ -n "$test_log" ]]; then
  # A partition directory exported from a simulated disk, read back.
  SAMSA_LOG_EXPORT_DIR="$tmp/img" "$test_log" "an exported sim disk image parses back batch by batch" >/dev/null
  check "dump-log of a partition directory" 0 "$samsa" dump-log "$tmp/img/data/orders-3" --records
  count=$(grep -c "baseOffset:.*isvalid: true" "$tmp/out")
  [[ "$count" == 6 ]] && pass "dump-log shows the 6 valid batches" \
    || { echo "FAIL: dump-log showed $count valid batches"; failures=$((failures+1)); }
  seg="$tmp/img/data/orders-3/00000000000000000000.log"
  printf '\xff' | dd of="$seg" bs=1 seek=100 conv=notrunc status=none
  check "dump-log of a corrupted segment" 0 "$samsa" dump-log "$seg"
  grep -q "isvalid: false" "$tmp/out" && pass "dump-log flags the corrupt batch" \
    || { echo "FAIL: dump-log did not flag corruption"; cat "$tmp/out"; failures=$((failures+1)); }
  check "dump-log of a missing path" 2 "$samsa" dump-log "$tmp/nothing-here"
fi

# A .txnindex written by hand: one AbortedTxn entry (34 bytes, big-endian).
txi="$tmp/00000000000000000000.txnindex"
printf '\x00\x00''\x00\x00\x00\x00\x00\x00\x00\x07''\x00\x00\x00\x00\x00\x00\x00\x01''\x00\x00\x00\x00\x00\x00\x00\x05''\x00\x00\x00\x00\x00\x00\x00\x03' >"$txi"
check "dump-log of a .txnindex" 0 "$samsa" dump-log "$txi"
grep -q "^version: 0 producerId: 7 firstOffset: 1 lastOffset: 5 lastStableOffset: 3$" "$tmp/out" \
  && pass "dump-log prints the aborted transaction" || { echo "FAIL: txnindex dump"; cat "$tmp/out"; failures=$((failures+1)); }

# samsa assign: Kafka's assignors without a cluster (the seed's examples).
json_equals() {  # json_equals <description> <expected JSON>: compares with the last command's stdout
  python3 -c "import json,sys; sys.exit(json.load(open('$tmp/out')) != json.loads(sys.argv[1]))" "$2" \
    && pass "$1" || { echo "FAIL: $1: got $(cat "$tmp/out")"; failures=$((failures+1)); }
}
check "assign range" 0 "$samsa" assign --strategy range --topic t=10 --member C1-0=t --member C2-0=t --member C3-0=t --json
json_equals "range gives p0-p3, p4-p6, p7-p9" \
  '{"C1-0":["t-0","t-1","t-2","t-3"],"C2-0":["t-4","t-5","t-6"],"C3-0":["t-7","t-8","t-9"]}'
check "assign roundrobin" 0 "$samsa" assign --strategy roundrobin --topic t0=1 --topic t1=2 --topic t2=3 \
  --member C0=t0 --member C1=t0,t1 --member C2=t0,t1,t2 --member C3= --json
json_equals "roundrobin deals the seed's unequal subscriptions; an idle member gets []" \
  '{"C0":["t0-0"],"C1":["t1-0"],"C2":["t1-1","t2-0","t2-1","t2-2"],"C3":[]}'
check "assign as text" 0 "$samsa" assign --strategy range --topic t=2 --member a=t --member b=t
grep -qx "a: t-0" "$tmp/out" && pass "assign prints one line per member" \
  || { echo "FAIL: assign text: $(cat "$tmp/out")"; failures=$((failures+1)); }
check "assign: unknown strategy" 2 "$samsa" assign --strategy sticky --topic t=1 --member a=t
check "assign: bad partition count" 2 "$samsa" assign --strategy range --topic t=x --member a=t
check "assign: negative partition count" 2 "$samsa" assign --strategy range --topic t=-1 --member a=t
check "assign: member without =" 2 "$samsa" assign --strategy range --topic t=1 --member a
check "assign: member twice" 2 "$samsa" assign --strategy range --topic t=1 --member a=t --member a=t
check "assign: no member" 2 "$samsa" assign --strategy range --topic t=1

# samsa partition: Kafka's default partitioner for keys (values from Kafka's
# UtilsTest murmur2 vectors and kafka-python's DefaultPartitioner).
check "partition" 0 "$samsa" partition --partitions 7 abc 21 "" --json
json_equals "partition of abc, 21 and the empty key" '{"abc":4,"21":3,"":2}'
check "partition as text" 0 "$samsa" partition --partitions 100 foobar
grep -qx "foobar 66" "$tmp/out" && pass "partition prints key and partition" \
  || { echo "FAIL: partition text: $(cat "$tmp/out")"; failures=$((failures+1)); }
check "partition: zero partitions" 2 "$samsa" partition --partitions 0 k
check "partition: not a number" 2 "$samsa" partition --partitions x k
check "partition: no key" 2 "$samsa" partition --partitions 3

# Expectations: a demonstration exits 0 with what the configuration allows
# reported apart (expected, demonstrated); must-hold scenarios promise it.
check "a demonstration that shows its anomaly exits 0" 0 "$samsa" run broker/acks-1-leader-crash --seed 1 --json
python3 -c "
import json; d=json.load(open('$tmp/out'))
assert d['verdict']=='ok' and d['violations']==[], d['violations']
assert 'lost-write' in d['expected']['allowed'] and 'lost-write' not in d['expected']['must_hold']
assert d['demonstration']['shown'] and d['demonstrated'] and all(v['name'] in d['expected']['allowed'] for v in d['demonstrated'])
" && pass "run --json: expected, demonstrated, demonstration" || { echo "FAIL: run --json expectations"; head -c 1500 "$tmp/out"; failures=$((failures+1)); }
check "demonstration as text" 0 "$samsa" run broker/acks-1-leader-crash --seed 1
grep -q "^demonstrated: .*allowed: acks=1" "$tmp/out" && grep -q "^demonstrates .*: shown" "$tmp/out" \
  && pass "run prints the demonstrated anomaly and its reason" || { echo "FAIL: run text: $(cat "$tmp/out")"; failures=$((failures+1)); }
check "a must-hold scenario" 0 "$samsa" run broker/acks-all --seed 1 --json
python3 -c "
import json; d=json.load(open('$tmp/out'))
assert 'lost-write' in d['expected']['must_hold'] and d['demonstrated']==[] and d['demonstration'] is None, d['expected']
" && pass "run --json: a must-hold scenario promises lost-write" || { echo "FAIL: acks-all expected"; failures=$((failures+1)); }
check "sweep of a demonstration exits 0" 0 "$samsa" sweep broker/acks-1-leader-crash --seeds 1..2 --jobs 2 --json
python3 -c "
import json; d=json.loads(open('$tmp/out').read().strip().splitlines()[-1])
assert d['verdicts']['ok']==2 and d['demonstration']['shown_seeds']>=1 and d['demonstration']['first_seed']==1, d
assert any(k in d['demonstrated_kinds'] for k in ('lost-write','inconsistent-offsets')), d['demonstrated_kinds']
" && pass "sweep summary: demonstrated_kinds and demonstration" || { echo "FAIL: sweep demonstration"; cat "$tmp/out"; failures=$((failures+1)); }
check "sweep shard of a demonstration" 0 "$samsa" sweep broker/acks-1-leader-crash --seeds 1..2 --shard 1/2 --jobs 1 --out "$tmp/d1"
check "sweep shard of a demonstration" 0 "$samsa" sweep broker/acks-1-leader-crash --seeds 1..2 --shard 2/2 --jobs 1 --out "$tmp/d2"
check "merge of demonstration shards" 0 "$samsa" merge "$tmp/d1" "$tmp/d2" --json
python3 -c "
import json; d=json.load(open('$tmp/out'))
assert d['demonstration']['first_seed']==1 and d['demonstration']['shown_seeds']>=1 and d['demonstrated_kinds'], d
" && pass "merge keeps the demonstration" || { echo "FAIL: merge demonstration"; cat "$tmp/out"; failures=$((failures+1)); }
check "zoo of one entry" 0 "$samsa" zoo producer/inflight-reordering --max-seeds 5 --jobs 2 --no-shrink --json
python3 -c "
import json; d=json.load(open('$tmp/out')); e=d['entries'][0]
assert d['found']==1 and d['total']==1 and e['found'] and e['caught_by']=='nonmonotonic-send' and e['ok'], d
" && pass "zoo --json: the entry found, by its checker" || { echo "FAIL: zoo --json"; cat "$tmp/out"; failures=$((failures+1)); }
check "zoo of a scenario that demonstrates nothing" 2 "$samsa" zoo broker/acks-all

echo "$passes passed, $failures failed"
[[ $failures -eq 0 ]]
