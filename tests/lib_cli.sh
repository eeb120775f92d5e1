# lib_cli.sh -- helpers for the whole-CLI tests (sourced, not a test).
set -u
SLUICE=${SL_SLUICE:?}
TMP=${SL_TEST_TMP:?}
rm -rf "$TMP" && mkdir -p "$TMP"
fails=0
pass=0
check() { # check DESCRIPTION COMMAND...
  local d=$1; shift
  if "$@"; then pass=$((pass + 1)); else echo "FAIL: $d" >&2; fails=$((fails + 1)); fi
}
contains() { grep -qF -- "$2" "$1" || { echo "  '$1' lacks '$2':" >&2; head -c 600 "$1" >&2; echo >&2; return 1; }; }
# run ARGS...: the CLI with stdin closed, its stdout, stderr and exit code
# in $TMP/out, $TMP/err and $TMP/rc; rc_is N checks that code (and shows
# stderr when it differs)
run() { "$SLUICE" "$@" </dev/null >"$TMP/out" 2>"$TMP/err"; echo $? >"$TMP/rc"; }
rc_is() { [ "$(cat "$TMP/rc")" = "$1" ] || { echo "  exit $(cat "$TMP/rc") != $1" >&2; cat "$TMP/err" >&2; return 1; }; }
# same_sorted FILE EXPECTED_TEXT: FILE's lines equal the expected lines as a multiset
same_sorted() {
  if ! cmp -s <(LC_ALL=C sort "$1") <(printf '%s' "$2" | LC_ALL=C sort); then
    echo "  $1 differs (sorted; < got, > want):" >&2
    diff <(LC_ALL=C sort "$1") <(printf '%s' "$2" | LC_ALL=C sort) >&2
    return 1
  fi
}
finish() { echo "$pass passed, $fails failed"; [ "$fails" -eq 0 ]; exit $?; }
# reference word count: maximal runs of ASCII letters/digits, lower-cased
ref_wordcount() { LC_ALL=C tr -cs 'A-Za-z0-9' '\n' <"$1" | LC_ALL=C tr 'A-Z' 'a-z' | grep -v '^$' | LC_ALL=C sort | uniq -c | awk '{print $2 "\t" $1}'; }
# totals from sluice's wordcount output: the last line per word
last_per_word() { awk -F'\t' '{c[$1]=$2} END {for (w in c) print w "\t" c[w]}' "$1" | LC_ALL=C sort; }
