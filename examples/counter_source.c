/*
 * counter_source.c -- a source written on the public connector SDK
 * (include/sluice_connector.h), the way Kafka or database connectors are:
 * it emits 0, 1, ..., N-1 without blocking, and records its position in
 * checkpoints so a restored job goes on where it stopped.  The job writes
 * the numbers as text lines to counter.txt.
 *
 *   cc counter_source.c $(pkg-config --cflags --libs sluice) && ./a.out
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice_connector.h>

typedef struct counter {
  uint64_t next, end;
} counter;

static int c_open(void *ud, sl_ctx *ctx, void **reader) {
  (void)ctx;
  counter *c = calloc(1, sizeof *c);
  if (!c) return -SL_ENOMEM;
  c->end = *(const uint64_t *)ud;
  *reader = c;
  return 0;
}

/* Emit up to `budget` records; never block. */
static int c_poll(void *reader, sl_ctx *ctx, int budget) {
  counter *c = reader;
  for (int i = 0; i < budget && c->next < c->end; i++, c->next++) {
    sl_record r = {.ts = (int64_t)c->next, .value = &c->next, .value_len = 8};
    int rc = sl_ctx_emit(ctx, &r);
    if (rc) return rc;
  }
  return c->next < c->end ? SL_POLL_MORE : SL_POLL_END; /* or SL_POLL_IDLE */
}

/* The position a checkpoint stores: everything below `next` was emitted. */
static int c_position(void *reader, sl_ctx *ctx, uint8_t *buf, size_t cap, size_t *len) {
  (void)ctx, (void)cap; /* cap >= 8 */
  memcpy(buf, &((counter *)reader)->next, 8);
  *len = 8;
  return 0;
}

/* Restoring: the bytes of every reader of the previous run (one here, the
 * others left empty blobs).  They come from disk: check them. */
static int c_seek(void *reader, sl_ctx *ctx, const uint8_t *const *blobs, const size_t *lens,
                  int n) {
  counter *c = reader;
  for (int i = 0; i < n; i++) {
    if (!lens[i]) continue;
    if (lens[i] != 8) return sl_ctx_fail(ctx, "not a counter position"), -SL_ESTATE;
    memcpy(&c->next, blobs[i], 8);
  }
  return c->next <= c->end ? 0 : -SL_ESTATE;
}

static void c_close(void *reader, sl_ctx *ctx) {
  (void)ctx;
  free(reader);
}

static const sl_source_ops COUNTER = {
    .version = SL_CONNECTOR_VERSION, .kind = "counter", .open = c_open, .poll = c_poll,
    .close = c_close, .position = c_position, .seek = c_seek};

static int to_text(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  (void)ud;
  uint64_t v;
  memcpy(&v, in->value, 8);
  char *buf = sl_ctx_scratch(ctx, 24);
  if (!buf) return -SL_ENOMEM;
  out->value = buf;
  out->value_len = (uint32_t)snprintf(buf, 24, "%llu", (unsigned long long)v);
  return 0;
}

int main(void) {
  static uint64_t n = 1000;
  sl_env *env = sl_env_new();
  sl_env_set(env, "parallelism.default", "2");
  /* one reader on subtask 0; the map runs on both subtasks */
  sl_stream *s = sl_source_stream(env, sl_source_new(&COUNTER, &n, SL_SOURCE_NONPARALLEL));
  s = sl_map(s, to_text, NULL);
  sl_sink_to(s, sl_file_sink("counter.txt"));
  int rc = sl_execute(env, "counter");
  if (rc) fprintf(stderr, "%s\n", sl_env_last_error(env));
  sl_env_free(env);
  return rc ? 1 : 0;
}
