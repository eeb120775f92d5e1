/*
 * bench_checkpoint.c -- `sluice bench checkpoint`: how long it takes to
 * checkpoint and to restore a given amount of keyed state.
 *
 *   run 1: sequence 0..K-1 -> key_by(8-byte index) -> process (value state:
 *          100 bytes per key) -> discard; checkpointing on with a long
 *          interval, so the one checkpoint is the final one, taken when the
 *          input ended, of all K keys (K = state size / 100 bytes).
 *   run 2: the same job restored from it (its source has nothing left).
 *
 * Prints one line:
 *   bench=checkpoint backend=B state_mb=M keys=K parallelism=P take_ms=T
 *   checkpoint_mb=C restore_ms=R peak_rss_mb=S
 * take_ms is the final checkpoint from trigger to _metadata (synchronous
 * part and writing), restore_ms reading it back into the state backend.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define VALUE_BYTES 100

static int key_of(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  out->key = in->value; /* the 8-byte index */
  out->key_len = 8;
  return 0;
}

static const sl_state_desc blob = {.name = "blob", .kind = SL_STATE_VALUE};

static int put(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  sl_state *s;
  uint8_t v[VALUE_BYTES];
  memset(v, 0x5a, sizeof v);
  memcpy(v, in->value, 8);
  int rc = sl_state_get(ctx, &blob, &s);
  return rc ? rc : sl_value_set(s, v, sizeof v);
}

static int run(sl_env *env, long long keys, sl_job_stats *st) {
  sl_stream *s = sl_source_stream(env, sl_sequence_source(0, keys - 1));
  s = sl_process(sl_key_by(s, key_of, NULL), put, NULL);
  sl_sink_to(s, sl_discard_sink());
  int rc = cli_execute(env, "bench-checkpoint");
  sl_job_stats_get(env, st);
  return rc;
}

static double du_mb(const char *dir) {
  char cmd[4300];
  snprintf(cmd, sizeof cmd, "du -sk '%s' 2>/dev/null", dir);
  FILE *p = popen(cmd, "r");
  long long kb = 0;
  if (p) {
    if (fscanf(p, "%lld", &kb) != 1) kb = 0;
    pclose(p);
  }
  return (double)kb / 1024.0;
}

int bench_checkpoint(int argc, char **argv) {
  sl_env *env = sl_env_new();
  cli_opts o = {0};
  char dir[] = "/tmp/sluice-bench-ckpt-XXXXXX";
  int rc = cli_parse(argc, argv, 3, "sluice bench checkpoint",
                     "parallelism,backend,state-mb,checkpoint-dir", env, &o);
  long long mb = o.state_mb ? atoll(o.state_mb) : 1024;
  if (!rc && mb <= 0) {
    fprintf(stderr, "sluice bench checkpoint: --state-mb must be > 0\n");
    rc = SL_EXIT_USAGE;
  }
  const char *ck = o.checkpoint_dir;
  if (!rc && !ck && !(ck = mkdtemp(dir))) {
    perror("sluice bench checkpoint: mkdtemp");
    rc = SL_EXIT_FAILED;
  }
  if (rc) {
    sl_env_free(env);
    return rc;
  }
  long long keys = mb * 1024 * 1024 / VALUE_BYTES;
  sl_job_stats st1, st2;
  double ck_mb = 0;
  /* the same settings for both runs (every -D applies to each) */
  for (int pass = 0; pass < 2 && !rc; pass++) {
    sl_env *e = pass ? sl_env_new() : env;
    if (pass) {
      cli_opts o2 = {0};
      rc = cli_parse(argc, argv, 3, "sluice bench checkpoint",
                     "parallelism,backend,state-mb,checkpoint-dir", e, &o2);
      if (!rc) rc = sl_env_set(e, "execution.checkpointing.restore", "latest") ? SL_EXIT_USAGE : 0;
    }
    if (!rc && o.backend && sl_env_set(e, "state.backend.type", o.backend)) {
      fprintf(stderr, "sluice bench checkpoint: %s\n", sl_env_last_error(e));
      rc = SL_EXIT_USAGE;
    }
    if (!rc) rc = sl_env_set(e, "state.checkpoints.dir", ck) ? SL_EXIT_USAGE : 0;
    if (!rc) rc = sl_env_set(e, "execution.checkpointing.interval", "1h") ? SL_EXIT_USAGE : 0;
    if (!rc) rc = run(e, keys, pass ? &st2 : &st1);
    if (!pass) ck_mb = du_mb(ck); /* before run 2 adds its own final one */
    if (pass) sl_env_free(e);
  }
  if (!rc) {
    printf("bench=checkpoint backend=%s state_mb=%lld keys=%lld parallelism=%d take_ms=%.0f "
           "checkpoint_mb=%.0f restore_ms=%.0f peak_rss_mb=%.0f\n",
           sl_env_get(env, "state.backend.type"), mb, keys, st1.parallelism,
           st1.checkpoint_p50_ms, ck_mb, st2.restore_ms, cli_peak_rss_mb());
  }
  if (!o.checkpoint_dir) {
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "sluice bench checkpoint: cannot remove %s\n", dir);
  }
  sl_env_free(env);
  return rc;
}
