#!/usr/bin/env bash
# Bad input and bad usage: clear messages naming file and byte offset,
# documented exit codes, dead-letter file instead of failure when configured.
. "$(dirname "$0")/lib_cli.sh"
run() { "$SLUICE" "$@" >"$TMP/out" 2>"$TMP/err"; echo $? >"$TMP/rc"; }
rc_is() { [ "$(cat "$TMP/rc")" = "$1" ] || { echo "  exit $(cat "$TMP/rc") != $1" >&2; cat "$TMP/err" >&2; return 1; }; }

run run upper --input "$TMP/missing.txt" --output "$TMP/o.txt"
check "missing input exit 1" rc_is 1
check "missing input names the path" contains "$TMP/err" "$TMP/missing.txt"

# line 3 starts at byte 12 ("ok line\n" = 8, "two\n" = 4) and is invalid UTF-8
printf 'ok line\ntwo\nbad \xff\xfe here\nlast\n' >"$TMP/bad_utf8.txt"
run run upper --input "$TMP/bad_utf8.txt" --output "$TMP/o.txt" --parallelism 1
check "invalid utf-8 exit 1" rc_is 1
check "invalid utf-8 names file" contains "$TMP/err" "$TMP/bad_utf8.txt"
check "invalid utf-8 names offset" contains "$TMP/err" "offset=12"
check "failed job leaves no output" test ! -e "$TMP/o.txt"

# a 100-byte line with a 64-byte maximum, starting at byte 6
{ printf 'short\n'; printf 'x%.0s' $(seq 100); printf '\nafter\n'; } >"$TMP/long.txt"
run run upper --input "$TMP/long.txt" --output "$TMP/o.txt" -D pipeline.max-line-length=64
check "long line exit 1" rc_is 1
check "long line offset" contains "$TMP/err" "offset=6"

# with a dead-letter file the job succeeds and the bad records are kept
run run upper --input "$TMP/bad_utf8.txt" --output "$TMP/o.txt" -D "pipeline.dead-letter.path=$TMP/dead.txt"
check "dead-letter exit 0" rc_is 0
check "good lines delivered" cmp -s "$TMP/o.txt" <(printf 'OK LINE\nTWO\nLAST\n')
check "dead-letter has the offset" contains "$TMP/dead.txt" "offset=12"
check "dead-letter has the record, escaped" contains "$TMP/dead.txt" 'bad \xff\xfe here'

run run upper --input "$SL_SRC/data/input.txt" -D no.such.key=1
check "unknown key exit 2" rc_is 2
check "unknown key named" contains "$TMP/err" "no.such.key"
run run upper --input "$SL_SRC/data/input.txt" --bogus
check "unknown flag exit 2" rc_is 2
run run nosuchjob
check "unknown job exit 2" rc_is 2
run run wordcount --output "$TMP/x"
check "wordcount without input exit 2" rc_is 2
run run wordcount --socket nohostport
check "bad socket spec exit 2" rc_is 2
# a URI never becomes a file path
run run upper --input 'xyz://host/topic'
check "unknown input scheme exit 2" rc_is 2
check "unknown input scheme named" contains "$TMP/err" "--input 'xyz://host/topic': unknown scheme 'xyz://'"
run run window-agg --window tumbling:1s --output 's3://bucket/x'
check "unknown output scheme exit 2" rc_is 2
check "unknown output scheme named" contains "$TMP/err" "--output 's3://bucket/x': unknown scheme 's3://'"
finish
