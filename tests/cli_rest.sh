#!/usr/bin/env bash
# The REST API, Prometheus /metrics and `sluice list/cancel/stop` against
# running jobs, over real sockets on 127.0.0.1 (docs/REST.md): JSON shapes,
# exact counters (a job fed exactly 1000 then 700 lines through a FIFO),
# counters that grow, a slow client that does not stall the job, 404s,
# savepoints, stop with drain, cancel, the bearer token off loopback, port
# choice, and a supervised job whose child is SIGKILLed (same URL, restarts
# and exceptions reported).
. "$(dirname "$0")/lib_cli.sh"
command -v curl >/dev/null || { echo "FAIL: curl is not installed (scripts/deps.sh)"; exit 1; }
command -v python3 >/dev/null || { echo "FAIL: python3 is not installed (scripts/deps.sh)"; exit 1; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; }
trap cleanup EXIT

# j EXPR: evaluate a Python expression over the JSON on stdin (as d)
j() { python3 -c 'import json,sys; d=json.load(sys.stdin); r=eval(sys.argv[1]); print(r if not isinstance(r,bool) else int(r))' "$1"; }
get() { curl -s --max-time 5 "${URL}${1#/}"; }
# wait_for DESC PYTHON-CONDITION PATH: poll PATH (up to 30 s) until the condition holds
wait_for() {
  for _ in $(seq 300); do
    [ "$(get "$3" | j "$2" 2>/dev/null)" = 1 ] && return 0
    sleep 0.1
  done
  echo "  timed out waiting for $1; last: $(get "$3" | head -c 400)" >&2
  return 1
}
url_of() { # url_of ERRFILE: the URL the job logged (waits up to 10 s)
  for _ in $(seq 100); do
    u=$(grep -o 'REST API and dashboard at http://[0-9.]*:[0-9]*/' "$1" 2>/dev/null | grep -o 'http.*')
    [ -n "$u" ] && { echo "$u"; return 0; }
    sleep 0.1
  done
  return 1
}
# lines TS0 N: N CSV lines, event times TS0, TS0+10, ...; keys k0..k6; value = i
lines() { awk -v t0="$1" -v n="$2" 'BEGIN { for (i = 0; i < n; i++) printf "%d,k%d,%d\n", t0 + 10 * i, i % 7, i }'; }

# ---- 1. a running window-agg, fed exactly --------------------------------
mkfifo "$TMP/in.fifo"
"$SLUICE" run window-agg --window tumbling:1s -p 2 -D rest.port=0 --checkpoint-interval 200ms \
  --checkpoint-dir "$TMP/ck" --output "$TMP/out.csv" --progress <"$TMP/in.fifo" 2>"$TMP/err" &
run=$!
pids+=("$run")
exec 3>"$TMP/in.fifo"
lines 0 1000 >&3
URL=$(url_of "$TMP/err")
check "the URL is logged (127.0.0.1, any free port)" test -n "$URL"
JID=$(get jobs | j 'd["jobs"][0]["id"]')
check "GET /jobs: one RUNNING job with a 32-hex id" \
  test "$(get jobs | j 'len(d["jobs"]) == 1 and d["jobs"][0]["status"] == "RUNNING"')" = 1
check "job id is 32 hex digits ($JID)" bash -c "[[ '$JID' =~ ^[0-9a-f]{32}$ ]]"
# the watermark passes 8999 once every record is in: windows [0,1s)..[8s,9s) x 7 keys
check "all 1000 lines in, 63 windows out" wait_for "1000 in / 63 out" \
  'd["vertices"][0]["metrics"]["write-records"] == 1000 and d["vertices"][5]["metrics"]["read-records"] == 63' "jobs/$JID"
get "jobs/$JID" >"$TMP/job.json"
check "vertices: the six operators in order" test "$(j '[v["name"] for v in d["vertices"]]' <"$TMP/job.json")" = \
  "['stdin-source#0', 'parse', 'timestamps', 'key_by#3', 'window', 'file-sink#5']"
check "parallelism: source 1, the others 2" test "$(j '[v["parallelism"] for v in d["vertices"]]' <"$TMP/job.json")" = "[1, 2, 2, 2, 2, 2]"
check "records in/out per operator (exact)" test \
  "$(j '[(v["metrics"]["read-records"], v["metrics"]["write-records"]) for v in d["vertices"]]' <"$TMP/job.json")" = \
  "[(0, 1000), (1000, 1000), (1000, 1000), (1000, 1000), (1000, 63), (63, 0)]"
check "the plan: window reads key_by by HASH" test "$(j '[n["inputs"][0]["ship_strategy"] for n in d["plan"]["nodes"][1:]]' <"$TMP/job.json")" = \
  "['REBALANCE', 'FORWARD', 'FORWARD', 'HASH', 'GLOBAL']"
check "plan inputs name the producer's vertex id" test "$(j 'd["plan"]["nodes"][4]["inputs"][0]["id"] == d["vertices"][3]["id"]' <"$TMP/job.json")" = 1
check "the window's input watermark is past 8999, before 9999" test \
  "$(j '8999 <= d["vertices"][4]["metrics"]["current-input-watermark"] < 9999' <"$TMP/job.json")" = 1
check "a source has no input watermark (null)" test "$(j 'd["vertices"][0]["metrics"]["current-input-watermark"] is None' <"$TMP/job.json")" = 1
check "job fields: name, state, start-time, isStoppable" test \
  "$(j 'd["name"] == "window-agg" and d["state"] == "RUNNING" and d["start-time"] > 0 and d["end-time"] == -1 and d["isStoppable"]' <"$TMP/job.json")" = 1
VID=$(j 'd["vertices"][4]["id"]' <"$TMP/job.json")
get "jobs/$JID/vertices/$VID" >"$TMP/vertex.json"
check "GET vertices/:vid: two subtasks reading 1000 records in all" test \
  "$(j 'len(d["subtasks"]) == 2 and sum(s["metrics"]["read-records"] for s in d["subtasks"]) == 1000 and d["subtasks"][1]["subtask"] == 1' <"$TMP/vertex.json")" = 1
# the window's state: one open pane [9s,10s) per key, 7 over both subtasks
check "state: the window holds 7 panes" wait_for "7 panes" \
  'sum(x["entries"] for s in d["subtasks"] for x in s["state"]) == 7 and all(x["bytes"] > 0 for s in d["subtasks"] for x in s["state"])' "jobs/$JID/vertices/$VID"
check "/metrics: stateEntries of the window sum to 7" test "$(get metrics | awk '/^sluice_taskmanager_job_task_operator_stateEntries\{.*operator="window"/ {s += $NF} END {print s}')" = 7
check "GET /jobs/overview" test "$(get jobs/overview | j 'd["jobs"][0]["jid"] == "'"$JID"'" and d["jobs"][0]["name"] == "window-agg" and d["jobs"][0]["tasks"]["running"] >= 1')" = 1
check "GET /overview" test "$(get overview | j 'd["jobs-running"] == 1 and d["slots-total"] == 2')" = 1
check "GET /config" test "$(get config | j 'd["refresh-interval"] == 3000 and "flink-version" in d')" = 1
check "GET /jobs/:jid/config lists keys set" test "$(get "jobs/$JID/config" | j 'd["execution-config"]["user-config"]["parallelism.default"] == "2"')" = 1
check "checkpoints complete" wait_for "a completed checkpoint" 'd["counts"]["completed"] >= 2' "jobs/$JID/checkpoints"
get "jobs/$JID/checkpoints" >"$TMP/ck.json"
check "GET checkpoints: counts, latest, history newest first" test \
  "$(j 'd["counts"]["failed"] == 0 and d["latest"]["completed"]["status"] == "COMPLETED" and d["history"][0]["id"] > d["history"][1]["id"] and d["latest"]["completed"]["num_acknowledged_subtasks"] == 12 and d["latest"]["completed"]["external_path"].startswith("'"$TMP/ck/chk-"'") and d["latest"]["restored"] is None' <"$TMP/ck.json")" = 1
check "GET exceptions: none" test "$(get "jobs/$JID/exceptions" | j 'd["root-exception"] is None and d["exceptionHistory"]["entries"] == []')" = 1

# Prometheus
get metrics >"$TMP/metrics.txt"
check "/metrics: parse's numRecordsIn over its subtasks is 1000" test \
  "$(awk '/^sluice_taskmanager_job_task_operator_numRecordsIn_total\{.*operator="parse"/ {s += $NF} END {print s}' "$TMP/metrics.txt")" = 1000
check "/metrics: labels job, job_id, operator, subtask" contains "$TMP/metrics.txt" \
  "sluice_taskmanager_job_task_operator_numRecordsOut_total{job=\"window-agg\",job_id=\"$JID\",operator=\"window\",subtask=\"0\"}"
check "/metrics: one TYPE line per metric, before its samples" python3 - "$TMP/metrics.txt" <<'EOF'
import sys
typed, seen = set(), set()
for line in open(sys.argv[1]):
    if line.startswith("# TYPE "):
        name = line.split()[2]
        assert name not in typed, name
        typed.add(name)
    elif not line.startswith("#"):
        name = line.split("{")[0]
        assert name in typed, name
        seen.add(name)
assert "sluice_jobmanager_job_numberOfCompletedCheckpoints_total" in seen
assert "sluice_taskmanager_job_task_operator_currentInputWatermark" in seen
EOF
check "/metrics: completed checkpoints counted" test \
  "$(awk '/^sluice_jobmanager_job_numberOfCompletedCheckpoints_total/ {print ($NF >= 2)}' "$TMP/metrics.txt")" = 1

# errors
check "unknown path: 404 with errors[]" test "$(curl -s -o "$TMP/404" -w '%{http_code}' "${URL}nope")" = 404
check "404 body is JSON errors" test "$(j 'd["errors"][0] == "Not found: /nope"' <"$TMP/404")" = 1
check "unknown job: 404" test "$(curl -s -o /dev/null -w '%{http_code}' "${URL}jobs/0123456789abcdef0123456789abcdef")" = 404
check "wrong method: 405" test "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "${URL}jobs")" = 405
check "unknown vertex: 404" test "$(curl -s -o /dev/null -w '%{http_code}' "${URL}jobs/$JID/vertices/nope")" = 404

# a slow client (a request that never completes) stalls neither the job nor the server
PORT=${URL##*:}; PORT=${PORT%/}
python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /jobs HTTP/1.1\r\nHost: x\r\n")  # no end of headers
time.sleep(8)' "$PORT" &
slow=$!
pids+=("$slow")
sleep 0.3
lines 10000 700 >&3
check "counters grow: 1700 in while a client hangs" wait_for "1700 in" \
  'd["vertices"][1]["metrics"]["read-records"] == 1700 and d["vertices"][4]["metrics"]["read-records"] == 1700' "jobs/$JID"
kill "$slow" 2>/dev/null

# savepoint over REST
tid=$(curl -s -X POST -d "{\"target-directory\": \"$TMP/sp\"}" "${URL}jobs/$JID/savepoints" | j 'd["request-id"]')
check "savepoint completes" wait_for "savepoint" 'd["status"]["id"] == "COMPLETED"' "jobs/$JID/savepoints/$tid"
loc=$(get "jobs/$JID/savepoints/$tid" | j 'd["operation"]["location"]')
check "savepoint location under the target ($loc)" bash -c "[[ '$loc' == '$TMP/sp/savepoint-'* ]] && test -f '$loc/_metadata'"
check "the history marks it a savepoint" test "$(get "jobs/$JID/checkpoints" | j 'd["latest"]["savepoint"]["external_path"] == "'"$loc"'"')" = 1

# --progress: a line every 3 s
for _ in $(seq 100); do grep -q 'progress:' "$TMP/err" && break; sleep 0.1; done
check "--progress prints a line" grep -qE '^window-agg: progress: [0-9]+ records/s in, [0-9]+ out, (watermark [0-9]+|no watermark), ([0-9]+ checkpoints \(last [0-9]+ ms, [0-9]+ bytes\)|no checkpoint yet), backpressure [0-9]+%$' "$TMP/err"

# stop with drain through the CLI
"$SLUICE" list --rest "127.0.0.1:$PORT" >"$TMP/list.txt"
check "sluice list shows the job" contains "$TMP/list.txt" ": $JID : window-agg (RUNNING)"
"$SLUICE" stop "$JID" --drain --savepoint-path "$TMP/final" --rest "127.0.0.1:$PORT" >"$TMP/stop.txt" 2>&1
check "sluice stop --drain exits 0" test $? -eq 0
check "sluice stop prints the savepoint's path" contains "$TMP/stop.txt" "Savepoint completed. Path: $TMP/final/savepoint-"
wait "$run"
check "the stopped job exits 130 (got $?)" test $? -eq 130
exec 3>&-
sp=$(grep -o "$TMP/final/savepoint-[0-9a-f-]*" "$TMP/stop.txt")
check "the final savepoint has _metadata" test -f "$sp/_metadata"
# drained: every window of the 1700 records fired ([0,1s)..[16s,17s) x 7 keys)
check "drain fired every window: 119 lines, counts summing to 1700" test \
  "$(awk -F, '{n++; c += $4} END {print n, c}' "$TMP/out.csv")" = "119 1700"

# ---- 2. cancel over REST -------------------------------------------------
"$SLUICE" run upper --input /dev/stdin -D rest.port=0 <"$TMP/in.fifo" >/dev/null 2>"$TMP/err2" &
run=$!
pids+=("$run")
exec 3>"$TMP/in.fifo"
printf 'x\n' >&3
URL=$(url_of "$TMP/err2")
JID=$(get jobs | j 'd["jobs"][0]["id"]')
check "PATCH ?mode=cancel: 202" test "$(curl -s -o /dev/null -w '%{http_code}' -X PATCH "${URL}jobs/$JID?mode=cancel")" = 202
wait "$run"
check "a job cancelled over REST exits 130 (got $?)" test $? -eq 130
exec 3>&-

# `sluice cancel` and the token, off loopback
"$SLUICE" run upper --input /dev/stdin -D rest.bind-address=0.0.0.0 </dev/null >/dev/null 2>"$TMP/err3"
rc=$?
check "0.0.0.0 without rest.auth.token is refused (exit $rc)" test "$rc" -eq 2
check "... naming rest.auth.token" contains "$TMP/err3" "set rest.auth.token"
"$SLUICE" run upper --input /dev/stdin -D rest.bind-address=0.0.0.0 -D rest.port=0 \
  -D rest.auth.token=s3cret <"$TMP/in.fifo" >/dev/null 2>"$TMP/err4" &
run=$!
pids+=("$run")
exec 3>"$TMP/in.fifo"
U=$(url_of "$TMP/err4")
PORT=${U##*:}; PORT=${PORT%/}
URL="http://127.0.0.1:$PORT/"
check "no token: 401" test "$(curl -s -o /dev/null -w '%{http_code}' "${URL}jobs")" = 401
check "wrong token: 401" test "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer s3creT' "${URL}jobs")" = 401
check "the token: 200" test "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer s3cret' "${URL}jobs")" = 200
check "the token is not shown in /jobs/:jid/config" bash -c "! curl -s -H 'Authorization: Bearer s3cret' '${URL}jobs/$(curl -s -H 'Authorization: Bearer s3cret' "${URL}jobs" | j 'd["jobs"][0]["id"]')/config' | grep -q s3cret"
"$SLUICE" list --rest "127.0.0.1:$PORT" >/dev/null 2>"$TMP/list_err"
check "sluice list without the token fails" test $? -eq 1
check "... saying 401" contains "$TMP/list_err" "answered 401"
JID=$(SLUICE_REST_TOKEN=s3cret "$SLUICE" list --rest "127.0.0.1:$PORT" | grep -o '[0-9a-f]\{32\}')
check "sluice list with \$SLUICE_REST_TOKEN" test -n "$JID"
"$SLUICE" cancel "$JID" --token s3cret --rest "127.0.0.1:$PORT" >"$TMP/cancel.txt"
check "sluice cancel exits 0" test $? -eq 0
check "sluice cancel says so" contains "$TMP/cancel.txt" "Cancelled job $JID."
wait "$run"
check "the cancelled job exits 130 (got $?)" test $? -eq 130
exec 3>&-

# ---- 3. ports --------------------------------------------------------------
"$SLUICE" run upper --input /dev/stdin <"$TMP/in.fifo" >/dev/null 2>"$TMP/err5" &
run=$!
pids+=("$run")
exec 3>"$TMP/in.fifo"
U=$(url_of "$TMP/err5")
PORT=${U##*:}; PORT=${PORT%/}
check "sluice run serves REST by default on 8081-8181 ($PORT)" test "$PORT" -ge 8081 -a "$PORT" -le 8181
"$SLUICE" run upper --input /dev/stdin -D "rest.port=$PORT" </dev/null >/dev/null 2>"$TMP/err6"
check "a taken explicit port fails the job (exit $?)" test $? -ne 0
check "... saying the address is in use" contains "$TMP/err6" "rest.port $PORT on 127.0.0.1: Address already in use"
"$SLUICE" run upper --input /dev/stdin -D rest.enabled=false </dev/null >/dev/null 2>"$TMP/err7"
check "rest.enabled=false: no server" bash -c "! grep -q 'REST API' '$TMP/err7'"
"$SLUICE" run upper --input /dev/stdin -D rest.port=abc </dev/null >/dev/null 2>"$TMP/err8"
check "a bad rest.port is a usage error (exit $?)" test $? -eq 2
check "... saying what a port is" contains "$TMP/err8" "rest.port: 'abc' is not a port"
kill -TERM "$run"; wait "$run"; exec 3>&-

# ---- 4. a supervised job keeps its URL across a crash ------------------------
mkdir -p "$TMP/dir"
lines 0 100 >"$TMP/dir/a.csv"
"$SLUICE" run window-agg --window tumbling:1s --input "$TMP/dir" -D source.monitor-interval=50ms \
  -D rest.port=0 -D execution.supervised=true -D restart-strategy.type=fixed-delay \
  -D restart-strategy.fixed-delay.delay=100ms --checkpoint-interval 100ms \
  --checkpoint-dir "$TMP/ck2" >/dev/null 2>"$TMP/err9" &
run=$!
pids+=("$run")
URL=$(url_of "$TMP/err9")
JID=$(get jobs | j 'd["jobs"][0]["id"]')
check "supervised: checkpoints before the crash" wait_for "a checkpoint" 'd["counts"]["completed"] >= 1' "jobs/$JID/checkpoints"
child=$(pgrep -P "$run" | head -1)
check "supervised: the job runs in a child ($child)" test -n "$child"
kill -9 "$child"
check "supervised: the same URL and job id answer after the restart" wait_for "restart 1" 'd["restarts"] == 1 and d["state"] == "RUNNING"' "jobs/$JID"
check "supervised: the crash is in the exceptions" test "$(get "jobs/$JID/exceptions" | j '"killed by signal 9" in d["exceptionHistory"]["entries"][0]["stacktrace"]')" = 1
check "supervised: restored from a checkpoint" wait_for "restored" 'd["latest"]["restored"] is not None and d["counts"]["restored"] == 1' "jobs/$JID/checkpoints"
check "PATCH with a mode other than cancel: 400" test "$(curl -s -o /dev/null -w '%{http_code}' -X PATCH "${URL}jobs/$JID?mode=stop")" = 400
curl -s -X PATCH "${URL}jobs/$JID?mode=cancel" >/dev/null
wait "$run"
check "supervised: cancelled over REST, exit 130 (got $?)" test $? -eq 130
finish
