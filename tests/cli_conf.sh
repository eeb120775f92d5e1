#!/usr/bin/env bash
# --help, --version, conf --list, and docs/CONFIGURATION.md generated from
# the key table (fails when the committed file is stale).
. "$(dirname "$0")/lib_cli.sh"
"$SLUICE" --help >"$TMP/help"
check "help lists run upper" contains "$TMP/help" "sluice run upper"
check "help lists exit codes" contains "$TMP/help" "exit codes"
"$SLUICE" --version >"$TMP/version"
check "version" contains "$TMP/version" "sluice 0."
"$SLUICE" conf --list >"$TMP/list"
for k in parallelism.default pipeline.max-parallelism execution.buffer-timeout execution.batch-size; do
  check "conf --list has $k" contains "$TMP/list" "$k"
done
"$SLUICE" conf --markdown >"$TMP/conf.md"
check "docs/CONFIGURATION.md is current (regenerate: sluice conf --markdown > docs/CONFIGURATION.md)" \
  cmp -s "$TMP/conf.md" "$SL_SRC/docs/CONFIGURATION.md"
finish
