/* socket_wordcount.c -- window-less word count over a socket, printed as
 * "word<TAB>count" per update.  Try: nc -lk 9999, then ./socket_wordcount
 * localhost 9999 and type lines.  Ctrl-C stops cleanly. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sluice.h>

static int split(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  static const int64_t one = 1;
  const unsigned char *s = in->value;
  char *w = sl_ctx_scratch(ctx, in->value_len + 1);
  for (uint32_t i = 0, n = 0; i <= in->value_len; i++) {
    if (i < in->value_len && isalnum(s[i])) { w[n++] = (char)tolower(s[i]); continue; }
    sl_record r = {in->ts, w, n, &one, sizeof one};
    if (n && sl_emit(out, &r)) return -SL_ECANCELED;
    n = 0;
  }
  return 0;
}

static int add(void *ud, sl_ctx *ctx, const sl_record *acc, const sl_record *in,
               sl_record *out) {
  int64_t *sum = sl_ctx_scratch(ctx, 8), a, b;
  memcpy(&a, acc->value, 8), memcpy(&b, in->value, 8);
  *sum = a + b;
  out->value = sum;
  return 0;
}

static int show(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  int64_t c;
  memcpy(&c, in->value, 8);
  char *buf = sl_ctx_scratch(ctx, in->key_len + 24);
  out->value_len = (uint32_t)sprintf(buf, "%.*s\t%lld", (int)in->key_len,
                                     (const char *)in->key, (long long)c);
  out->value = buf;
  return 0;
}

int main(int argc, char **argv) {
  sl_env *env = sl_env_new();
  sl_env_set(env, "source.socket.max-retry", "-1"); /* keep reconnecting */
  sl_stream *s = sl_source_stream(env, sl_socket_source(
      argc > 1 ? argv[1] : "localhost", argc > 2 ? atoi(argv[2]) : 9999));
  s = sl_reduce(sl_key_by(sl_flat_map(s, split, NULL), NULL, NULL), add, NULL);
  sl_sink_to(sl_map(s, show, NULL), sl_print_sink());
  int rc = sl_execute(env, "socket wordcount");
  if (rc && rc != -SL_ECANCELED) fprintf(stderr, "%s\n", sl_env_last_error(env));
  sl_env_free(env);
  return rc && rc != -SL_ECANCELED;
}
