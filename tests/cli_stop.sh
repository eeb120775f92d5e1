#!/usr/bin/env bash
# The first SIGTERM/SIGINT stops a job within about a second even when it is
# blocked: a file source on a FIFO nobody writes to, a print sink whose
# stdout nobody reads.  Exit 130.
. "$(dirname "$0")/lib_cli.sh"

# wait_stop PID: SIGTERM (as soon as the job runs), then the exit code;
# 124 when the job is still alive 10 s later
wait_stop() {
  local pid=$1 i
  sleep 0.5
  kill -TERM "$pid"
  for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; wait "$pid"; return 124; fi
  wait "$pid"
}

mkfifo "$TMP/fifo"
"$SLUICE" run upper --input "$TMP/fifo" --output "$TMP/fifo-out.txt" 2>"$TMP/err1" &
wait_stop $!
rc=$?
check "FIFO without a writer: SIGTERM stops the job, exit 130 (got $rc)" test $rc -eq 130

# stdout is a pipe that nobody reads: the print sink's writes would block
seq 1 300000 >"$TMP/lines.txt"
exec 3> >(exec sleep 30)
reader=$!
"$SLUICE" run upper --input "$TMP/lines.txt" --parallelism 1 >&3 2>"$TMP/err2" &
pid=$!
exec 3>&-
wait_stop $pid
rc=$?
check "stdout not read: SIGTERM stops the job, exit 130 (got $rc)" test $rc -eq 130
check "the message says why" contains "$TMP/err2" "stdout was not read"
kill "$reader" 2>/dev/null
finish
