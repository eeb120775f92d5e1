#!/usr/bin/env bash
# libsluice.so exports its public API and nothing else (and libsluice.a
# defines no global name outside sl_): every defined
# dynamic symbol is sl_ followed by a non-underscore (no sl__ internals, no
# helpers without a prefix), exactly the functions declared in the public
# headers are exported (each of them, and nothing else), and a program that uses
# only <sluice.h> links against the shared library of the build tree and runs.
# The public headers are every include/*.h (today sluice.h and
# sluice_nexmark.h, both installed).
. "$(dirname "$0")/lib_cli.sh"
san=${SL_SANITIZE:+-fsanitize=$SL_SANITIZE}
so=$SL_BUILD/libsluice.so
check "libsluice.so is built" test -e "$so"

nm -D --defined-only "$so" | awk 'NF == 3 {print $3}' | sed 's/@.*//' | LC_ALL=C sort -u >"$TMP/exported"
check "libsluice.so exports something" test -s "$TMP/exported"
grep -v '^sl_[^_]' "$TMP/exported" >"$TMP/bad"
check "only sl_* exported ($(wc -l <"$TMP/bad") others, e.g. $(head -3 "$TMP/bad" | tr '\n' ' '))" \
  test ! -s "$TMP/bad"

# the static library keeps the sl__ internals for the CLI and the tests, but
# defines no global name outside sl_ either (a program linking libsluice.a
# must not meet, say, a `sql_error` of ours)
# (names the compiler reserves, `__`, are the sanitizers' own: __odr_asan.*)
nm -g --defined-only "$SL_BUILD/libsluice.a" 2>/dev/null | awk 'NF == 3 {print $3}' | LC_ALL=C sort -u |
  grep -v -e '^sl_' -e '^__' >"$TMP/static_bad"
check "libsluice.a defines only sl_* globals (others: $(head -3 "$TMP/static_bad" | tr '\n' ' '))" \
  test ! -s "$TMP/static_bad"

# the functions the public headers declare (not function-pointer members,
# not static inline helpers)
for h in "$SL_SRC"/include/*.h; do
  gcc -fpreprocessed -dD -E "$h"
done >"$TMP/headers"
grep -oE 'static inline [^(]*\bsl_[a-z0-9_]+\(' "$TMP/headers" | grep -oE 'sl_[a-z0-9_]+\($' |
  tr -d '(' | LC_ALL=C sort -u >"$TMP/inline"
grep -oE '(\(\*)?\bsl_[a-z0-9_]+ *\(\*?' "$TMP/headers" | grep -v '^(\*' | grep -v '(\*$' |
  grep -oE 'sl_[a-z0-9_]+' | LC_ALL=C sort -u | LC_ALL=C comm -23 - "$TMP/inline" >"$TMP/declared"
check "the headers declare the API (found $(wc -l <"$TMP/declared"))" \
  test "$(wc -l <"$TMP/declared")" -ge 80
for f in sl_env_new sl_execute sl_strerror sl_version sl_nexmark_source; do
  check "$f is declared" grep -qx "$f" "$TMP/declared"
done
LC_ALL=C comm -23 "$TMP/declared" "$TMP/exported" >"$TMP/missing"
check "every declared function is exported (missing: $(head -5 "$TMP/missing" | tr '\n' ' '))" \
  test ! -s "$TMP/missing"
LC_ALL=C comm -13 "$TMP/declared" "$TMP/exported" >"$TMP/extra"
check "nothing but declared functions is exported (extra: $(head -5 "$TMP/extra" | tr '\n' ' '))" \
  test ! -s "$TMP/extra"

# a user program against the shared library: public header only
cat >"$TMP/user.c" <<'EOF'
#include <stdio.h>
#include <string.h>
#include <sluice.h>
static int upper(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  char *buf = sl_ctx_scratch(ctx, in->value_len + 1);
  if (!buf) return -SL_ENOMEM;
  const char *v = in->value;
  for (uint32_t i = 0; i < in->value_len; i++)
    buf[i] = v[i] >= 'a' && v[i] <= 'z' ? (char)(v[i] - 32) : v[i];
  out->value = buf;
  return 0;
}
int main(int argc, char **argv) {
  if (strcmp(sl_version(), SL_VERSION_STRING)) return 3;
  sl_env *env = sl_env_new();
  if (!env || sl_env_set(env, "parallelism.default", "1")) return 4;
  sl_stream *s = sl_source_stream(env, sl_file_source(argv[1]));
  sl_sink_to(sl_map(s, upper, NULL), sl_file_sink(argv[2]));
  int rc = sl_execute(env, "user");
  if (rc) fprintf(stderr, "user: %s: %s\n", sl_strerror(rc), sl_env_last_error(env));
  sl_env_free(env);
  return rc ? 1 : 0;
}
EOF
check "a program using only sluice.h links against libsluice.so" \
  cc $san -o "$TMP/user" "$TMP/user.c" -I"$SL_SRC/include" "$so" -Wl,-rpath,"$SL_BUILD"
check "it loads the shared library" bash -c "ldd '$TMP/user' | grep -q 'libsluice\.so'"
printf 'hello\nworld\n' >"$TMP/in.txt"
check "it runs" "$TMP/user" "$TMP/in.txt" "$TMP/out.txt"
check "its output" cmp -s "$TMP/out.txt" <(printf 'HELLO\nWORLD\n')
finish
