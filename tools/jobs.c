/*
 * jobs.c -- the built-in jobs of `sluice run`:
 *   upper      the seed example: upper-case every line (ASCII letters);
 *   wordcount  a word is a maximal run of ASCII letters and digits,
 *              lower-cased; key_by(word) -> rolling count; one
 *              "word<TAB>count" line per update, so the last line of a word
 *              carries its total.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int to_upper(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  char *buf = sl_ctx_scratch(ctx, in->value_len);
  if (!buf && in->value_len) return -SL_ENOMEM;
  const unsigned char *s = in->value;
  for (uint32_t i = 0; i < in->value_len; i++)
    buf[i] = (char)((s[i] >= 'a' && s[i] <= 'z') ? s[i] - 32 : s[i]);
  out->value = buf;
  return 0;
}

static sl_sink *output_sink(const cli_opts *o) { return cli_output_sink(o->output); }

static sl_env *new_env(void) {
  sl_env *env = sl_env_new();
  if (!env) fprintf(stderr, "sluice: out of memory\n");
  return env;
}

int job_upper(int argc, char **argv) {
  sl_env *env = new_env();
  if (!env) return SL_EXIT_FAILED;
  cli_opts o = {0};
  int rc = cli_parse(argc, argv, 3, "sluice run upper", "input,output,parallelism",
                     env, &o);
  if (!rc && !o.input) {
    fprintf(stderr, "sluice run upper: --input PATH is required\n");
    rc = SL_EXIT_USAGE;
  }
  if (!rc) {
    sl_stream *s = sl_source_stream(env, cli_input_source(o.input));
    s = sl_name(sl_map(s, to_upper, NULL), "upper");
    sl_sink_to(s, output_sink(&o));
    rc = cli_run_job(env, "upper");
  }
  sl_env_free(env);
  return rc;
}

/* ---- wordcount ---------------------------------------------------------- */

static int tokenize(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  const unsigned char *s = in->value;
  uint32_t n = in->value_len;
  char *word = sl_ctx_scratch(ctx, n ? n : 1);
  if (!word) return -SL_ENOMEM;
  static const int64_t one = 1;
  for (uint32_t i = 0; i < n;) {
    while (i < n && !isalnum(s[i])) i++;
    uint32_t len = 0;
    while (i < n && s[i] < 0x80 && isalnum(s[i])) word[len++] = (char)tolower(s[i++]);
    if (!len) continue;
    sl_record r = {in->ts, word, len, &one, sizeof one};
    int rc = sl_emit(out, &r);
    if (rc) return rc;
  }
  return 0;
}

static int add_counts(void *ud, sl_ctx *ctx, const sl_record *acc,
                      const sl_record *in, sl_record *out) {
  int64_t a, b, *sum = sl_ctx_scratch(ctx, sizeof *sum);
  memcpy(&a, acc->value, sizeof a);
  memcpy(&b, in->value, sizeof b);
  *sum = a + b;
  out->value = sum;
  return 0;
}

static int format_count(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  int64_t c;
  memcpy(&c, in->value, sizeof c);
  char *buf = sl_ctx_scratch(ctx, in->key_len + 24);
  if (!buf) return -SL_ENOMEM;
  memcpy(buf, in->key, in->key_len);
  int n = snprintf(buf + in->key_len, 24, "\t%lld", (long long)c);
  out->value = buf;
  out->value_len = in->key_len + (uint32_t)n;
  return 0;
}

int job_wordcount(int argc, char **argv) {
  sl_env *env = new_env();
  if (!env) return SL_EXIT_FAILED;
  cli_opts o = {0};
  const char *cmd = "sluice run wordcount";
  int rc = cli_parse(argc, argv, 3, cmd, "input,socket,output,parallelism", env, &o);
  if (!rc && !o.input == !o.socket) {
    fprintf(stderr, "%s: give exactly one of --input PATH or --socket HOST:PORT\n", cmd);
    rc = SL_EXIT_USAGE;
  }
  char host[256];
  int port = 0;
  if (!rc && o.socket && cli_host_port(o.socket, host, sizeof host, &port)) {
    fprintf(stderr, "%s: --socket expects HOST:PORT, got '%s'\n", cmd, o.socket);
    rc = SL_EXIT_USAGE;
  }
  if (!rc) {
    sl_source *src = o.input ? cli_input_source(o.input) : sl_socket_source(host, port);
    sl_stream *s = sl_source_stream(env, src);
    s = sl_name(sl_flat_map(s, tokenize, NULL), "tokenize");
    s = sl_name(sl_reduce(sl_key_by(s, NULL, NULL), add_counts, NULL), "count");
    s = sl_name(sl_map(s, format_count, NULL), "format");
    sl_sink_to(s, output_sink(&o));
    rc = cli_run_job(env, "wordcount");
  }
  sl_env_free(env);
  return rc;
}
