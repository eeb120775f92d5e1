#!/usr/bin/env bash
# cmake/embed_dashboard.cmake writes a page into C as src/rest/dashboard.h
# declares it: every byte (NUL, 0xff, quotes, backslashes, newlines) comes
# back as it was, the length counts them all and a NUL follows.  The page
# this build embedded is its bundled dashboard.html byte for byte (when web/
# was bundled), or the placeholder that says the dashboard was not built.
. "$(dirname "$0")/lib_cli.sh"
CC=${CC:-cc}
cat >"$TMP/dump.c" <<'C'
#include <stdio.h>
#include "rest/dashboard.h"
int main(void) {
  fwrite(sl__dashboard_html, 1, sl__dashboard_html_len, stdout);
  return sl__dashboard_html[sl__dashboard_html_len] != 0;
}
C
printf '<p class="x">\\ \x00 \xff\n\t%s</p>' "$(seq 1 60 | tr '\n' ' ')" >"$TMP/in.html"
check "embed script runs" cmake -DIN="$TMP/in.html" -DOUT="$TMP/page.c" -P "$SL_SRC/cmake/embed_dashboard.cmake"
check "generated C compiles" "$CC" -Wall -Wextra -Werror -I"$SL_SRC/src" "$TMP/dump.c" "$TMP/page.c" -o "$TMP/dump"
check "every byte comes back, NUL after" bash -c '"$1" >"$2"' _ "$TMP/dump" "$TMP/out.html"
check "same bytes" cmp "$TMP/in.html" "$TMP/out.html"
check "length counts every byte" grep -q "sl__dashboard_html_len = $(stat -c %s "$TMP/in.html");" "$TMP/page.c"

# this build's page
gen="$SL_BUILD/generated"
check "this build's page compiles" "$CC" -I"$SL_SRC/src" "$TMP/dump.c" "$gen/dashboard_page.c" -o "$TMP/dump_build"
"$TMP/dump_build" >"$TMP/build.html"
if [ -f "$gen/dashboard.html" ]; then
  check "the bundled page is embedded as built" cmp "$gen/dashboard.html" "$TMP/build.html"
  check "it is the dashboard" contains "$TMP/build.html" '<table id="operators">'
  check "its script is inline" bash -c '! grep -Eiq "<script[^>]* src=|<link[^>]*stylesheet" "$1"' _ "$TMP/build.html"
else
  check "the placeholder says the dashboard was not built" contains "$TMP/build.html" "The dashboard was not built"
fi
finish
