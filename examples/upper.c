/* upper.c -- the seed example: input.txt -> upper case -> output.txt.
 * Build: cc upper.c $(pkg-config --cflags --libs sluice) */
#include <stdio.h>
#include <sluice.h>

static int to_upper(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  char *buf = sl_ctx_scratch(ctx, in->value_len + 1);
  if (!buf) return -SL_ENOMEM;
  const char *s = in->value;
  for (uint32_t i = 0; i < in->value_len; i++)
    buf[i] = (s[i] >= 'a' && s[i] <= 'z') ? (char)(s[i] - 32) : s[i];
  out->value = buf;
  return 0;
}

int main(int argc, char **argv) {
  const char *input = argc > 1 ? argv[1] : "input.txt";
  const char *output = argc > 2 ? argv[2] : "output.txt";
  sl_env *env = sl_env_new();                                 /* 1. environment */
  sl_stream *lines = sl_source_stream(env, sl_file_source(input)); /* 2. source */
  sl_stream *upper = sl_map(lines, to_upper, NULL);           /* 3. transform */
  sl_sink_to(upper, sl_file_sink(output));                    /* 4. sink */
  int rc = sl_execute(env, "flink_streaming_example");        /* 5. run */
  if (rc) fprintf(stderr, "failed: %s\n", sl_env_last_error(env));
  sl_env_free(env);
  return rc ? 1 : 0;
}
