/*
 * test_state_ops.c -- two-input operators and the non-keyed states:
 * keyed connect sharing keyed state between its two functions, the
 * broadcast state pattern (every subtask receives every broadcast record
 * and holds the same broadcast state; the other side may only read it),
 * operator list state in a job, and operator state redistribution on
 * restore at another parallelism (list split evenly, union list whole).
 * Keyed parts run on both backends.
 */
#include <pthread.h>

#include "state/state.h"
#include "test.h"
#include "test_util.h"

static const char *g_backend;

static sl_env *state_env(int P) {
  sl_env *env = env_p(P);
  CHECK_EQ_INT(sl_env_set(env, "state.backend.type", g_backend), 0);
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/rocksdb", g_tmp);
  sl_env_set(env, "state.backend.rocksdb.dir", dir);
  return env;
}

static int64_t v64(const void *p) {
  int64_t v;
  memcpy(&v, p, 8);
  return v;
}

/* ---- keyed connect ---------------------------------------------------------- */

/* Input a: deposits (key, amount); input b: withdrawals.  Both update the
 * same per-key balance; the operator emits (key, balance) after each. */
static const sl_state_desc BAL = {.name = "balance", .kind = SL_STATE_VALUE};
static int apply(sl_ctx *ctx, const sl_record *in, int64_t sign, sl_collector *out) {
  sl_state *s;
  sl_bytes b;
  int64_t bal = 0;
  int rc = sl_state_get(ctx, &BAL, &s);
  if (!rc) rc = sl_value_get(s, &b);
  if (rc < 0) return rc;
  if (rc == 0) bal = v64(b.data);
  bal += sign * v64(in->value);
  if ((rc = sl_value_set(s, &bal, 8))) return rc;
  sl_record r = {in->ts, in->key, in->key_len, &bal, 8};
  return sl_emit(out, &r);
}
static int deposit(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  return apply(ctx, in, 1, out);
}
static int withdraw(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  return apply(ctx, in, -1, out);
}
static int key_mod7(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  uint8_t *k = sl_ctx_scratch(ctx, 1);
  *k = (uint8_t)(v64(in->value) % 7);
  out->key = k;
  out->key_len = 1;
  return 0;
}

static void test_keyed_connect(void) {
  for (int P = 1; P <= 4; P *= 2) {
    sl_env *env = state_env(P);
    sl_collect *c = sl_collect_new();
    sl_stream *a = sl_key_by(sl_source_stream(env, sl_sequence_source(1, 7000)), key_mod7, NULL);
    sl_stream *b = sl_key_by(sl_source_stream(env, sl_sequence_source(1, 3500)), key_mod7, NULL);
    sl_stream *s = sl_connect(a, b, deposit, withdraw, NULL);
    sl_sink_to(s, sl_collect_sink(c));
    int rc = sl_execute(env, "connect");
    if (rc) fprintf(stderr, "%s\n", sl_env_last_error(env));
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(sl_collect_count(c), 10500);
    /* final balance per key = sum of deposits - sum of withdrawals; the
     * balances of one key are emitted in processing order, so the last
     * one emitted per key is the final balance. */
    int64_t want[7] = {0}, last[7] = {0};
    for (int64_t i = 1; i <= 7000; i++) want[i % 7] += i;
    for (int64_t i = 1; i <= 3500; i++) want[i % 7] -= i;
    for (size_t i = 0; i < sl_collect_count(c); i++) {
      sl_record r;
      sl_collect_get(c, i, &r);
      last[*(const uint8_t *)r.key] = v64(r.value);
    }
    for (int k = 0; k < 7; k++) CHECK_EQ_INT(last[k], want[k]);
    sl_collect_free(c);
    sl_env_free(env);
  }
}

/* Non-keyed connect: tags records with their input. */
static int tag_a(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  sl_record r = *in;
  r.value = "A";
  r.value_len = 1;
  return sl_emit(out, &r);
}
static int tag_b(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  sl_record r = *in;
  r.value = "B";
  r.value_len = 1;
  return sl_emit(out, &r);
}
static void test_plain_connect(void) {
  sl_env *env = state_env(2);
  sl_collect *c = sl_collect_new();
  sl_stream *a = sl_source_stream(env, sl_sequence_source(1, 300));
  sl_stream *b = sl_source_stream(env, sl_sequence_source(1, 200));
  sl_sink_to(sl_connect(a, b, tag_a, tag_b, NULL), sl_collect_sink(c));
  CHECK_EQ_INT(sl_execute(env, "plain-connect"), 0);
  int na = 0, nb = 0;
  for (size_t i = 0; i < sl_collect_count(c); i++) {
    sl_record r;
    sl_collect_get(c, i, &r);
    na += *(const char *)r.value == 'A';
    nb += *(const char *)r.value == 'B';
  }
  CHECK_EQ_INT(na, 300);
  CHECK_EQ_INT(nb, 200);
  sl_collect_free(c);
  sl_env_free(env);
}

/* ---- broadcast state ---------------------------------------------------------- */

/* Broadcast side: "rule N" records put N -> "on" into the broadcast map and
 * report "got N@subtask".  Keyed side: counts the rules it can see; writing
 * fails when the event value is 0 ("try to write"). */
static const sl_state_desc RULES = {.name = "rules", .kind = SL_STATE_MAP};
static int count_rule(void *ud, sl_bytes k, sl_bytes v) {
  (*(int *)ud)++;
  return 0;
}
static int on_rule(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  sl_state *s;
  int rc = sl_broadcast_state_get(ctx, &RULES, &s);
  if (!rc) rc = sl_map_put(s, in->value, in->value_len, "on", 2);
  if (rc) return rc;
  /* keyed state is not available here: no current key */
  sl_state *ks;
  sl_bytes b;
  if (sl_state_get(ctx, &BAL, &ks) == 0 && sl_value_get(ks, &b) != -SL_ESTATE)
    return sl_ctx_fail(ctx, "keyed state was readable in the broadcast function");
  char msg[64];
  int n = snprintf(msg, sizeof msg, "got %.*s@%d", (int)in->value_len,
                   (const char *)in->value, sl_ctx_subtask(ctx));
  sl_record r = {0, NULL, 0, msg, (uint32_t)n};
  return sl_emit(out, &r);
}
static int on_event(void *ud, sl_ctx *ctx, const sl_record *in, sl_collector *out) {
  sl_state *s;
  int rc = sl_broadcast_state_get(ctx, &RULES, &s);
  if (rc) return rc;
  if (v64(in->value) == 0) { /* must be refused: read-only on this side */
    rc = sl_map_put(s, "x", 1, "y", 1);
    return rc == -SL_ESTATE ? 0 : sl_ctx_fail(ctx, "write to broadcast state allowed");
  }
  int seen = 0;
  if ((rc = sl_map_foreach(s, count_rule, &seen))) return rc;
  char msg[32];
  int n = snprintf(msg, sizeof msg, "event sees %d", seen);
  sl_record r = {0, NULL, 0, msg, (uint32_t)n};
  return sl_emit(out, &r);
}

static void test_broadcast_state(void) {
  const int P = 2, RULES_N = 5, EVENTS = 2000;
  sl_env *env = state_env(P);
  sl_collect *c = sl_collect_new();
  const char *rules[] = {"r1", "r2", "r3", "r4", "r5"};
  sl_stream *events = sl_key_by(sl_source_stream(env, sl_sequence_source(0, EVENTS - 1)),
                                key_mod7, NULL);
  sl_stream *bc = sl_source_stream(env, sl_lines_source(rules, RULES_N));
  sl_sink_to(sl_connect_broadcast(events, bc, on_event, on_rule, NULL), sl_collect_sink(c));
  int rc = sl_execute(env, "broadcast");
  if (rc) fprintf(stderr, "%s\n", sl_env_last_error(env));
  CHECK_EQ_INT(rc, 0);
  int got[5][2] = {{0}}, events_seen = 0, bad = 0;
  for (size_t i = 0; i < sl_collect_count(c); i++) {
    sl_record r;
    sl_collect_get(c, i, &r);
    char buf[64];
    snprintf(buf, sizeof buf, "%.*s", (int)r.value_len, (const char *)r.value);
    int rule, sub, n;
    if (sscanf(buf, "got r%d@%d", &rule, &sub) == 2 && rule >= 1 && rule <= 5 && sub >= 0 && sub < P)
      got[rule - 1][sub]++;
    else if (sscanf(buf, "event sees %d", &n) == 1 && n >= 0 && n <= RULES_N)
      events_seen++;
    else
      bad++;
  }
  CHECK_EQ_INT(bad, 0);
  CHECK_EQ_INT(events_seen, EVENTS - 1); /* value 0 only tried to write */
  for (int rule = 0; rule < 5; rule++)
    for (int sub = 0; sub < P; sub++) CHECK_EQ_INT(got[rule][sub], 1); /* each subtask, once */
  sl_collect_free(c);
  sl_env_free(env);
}

/* ---- operator state in a job --------------------------------------------------- */

static const sl_state_desc SEEN = {.name = "seen", .kind = SL_STATE_LIST};
static int remember(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  sl_state *s;
  sl_list_iter it;
  sl_bytes b;
  int rc = sl_operator_state_get(ctx, &SEEN, &s);
  if (!rc) rc = sl_list_add(s, in->value, in->value_len);
  if (!rc) rc = sl_list_get(s, &it);
  if (rc < 0) return rc;
  int64_t *n = sl_ctx_scratch(ctx, 8), sum = 0;
  *n = 0;
  while (sl_list_next(&it, &b)) (*n)++, sum += v64(b.data);
  if (sum != v64(in->value) * (v64(in->value) + 1) / 2) /* 1 + 2 + ... + v */
    return sl_ctx_fail(ctx, "operator state lost elements");
  out->value = n;
  return 0;
}
static void test_operator_state_in_job(void) {
  sl_env *env = state_env(1);
  sl_collect *c = sl_collect_new();
  sl_stream *s = sl_source_stream(env, sl_sequence_source(1, 500));
  sl_sink_to(sl_map(s, remember, NULL), sl_collect_sink(c));
  int rc = sl_execute(env, "opstate");
  if (rc) fprintf(stderr, "%s\n", sl_env_last_error(env));
  CHECK_EQ_INT(rc, 0);
  CHECK_EQ_INT(sl_collect_count(c), 500);
  int bad = 0;
  for (size_t i = 0; i < sl_collect_count(c); i++) {
    sl_record r;
    sl_collect_get(c, i, &r);
    bad += v64(r.value) != (int64_t)i + 1;
  }
  CHECK_EQ_INT(bad, 0);
  sl_collect_free(c);
  sl_env_free(env);
}

/* ---- redistribution ------------------------------------------------------------ */

static const uint8_t EMPTY_CK[2] = {0, 0};

/* Old run: 3 subtasks; subtask i holds list "offsets" = {i*100 .. i*100+n_i-1}
 * (n = 4, 5, 6) and union list "config" = {"c<i>"}. */
static void write_old_images(char paths[3][1024]) {
  for (int i = 0; i < 3; i++) {
    sl__backend *be;
    char err[256];
    CHECK_EQ_INT(sl__heap_backend_open(NULL, 0, 0, 128, &be, err, sizeof err), 0);
    uint32_t list, uni;
    be->vt->add_state(be, "offsets", SL__STATE_LIST, &list);
    be->vt->add_state(be, "config", SL__STATE_UNION_LIST, &uni);
    for (int k = 0; k < 4 + i; k++) {
      uint8_t el[8];
      uint32_t len = 4;
      int32_t v = i * 100 + k;
      memcpy(el, &len, 4);
      memcpy(el + 4, &v, 4);
      be->vt->append(be, 0, list, EMPTY_CK, 2, sl__ck_hash(EMPTY_CK, 2), el, 8);
    }
    uint8_t el[6];
    uint32_t len = 2;
    memcpy(el, &len, 4);
    el[4] = 'c';
    el[5] = (uint8_t)('0' + i);
    be->vt->append(be, 0, uni, EMPTY_CK, 2, sl__ck_hash(EMPTY_CK, 2), el, 6);
    sl__snapshot *snap;
    be->vt->snapshot(be, &snap);
    snprintf(paths[i], 1024, "%s/opstate-%d", g_tmp, i);
    CHECK_EQ_INT(sl__image_write_file(be, snap, paths[i]), 0);
    be->vt->snap_release(snap);
    sl__backend_free(be);
  }
}

/* Elements of list state `name` in be, as ints (4-byte) or strings. */
static int list_elems(sl__backend *be, const char *name, char *out, size_t cap) {
  out[0] = 0;
  for (uint32_t sid = 0; sid < be->n_states; sid++) {
    if (strcmp(be->states[sid].name, name)) continue;
    const void *v;
    uint32_t vlen;
    if (be->vt->get(be, 0, sid, EMPTY_CK, 2, sl__ck_hash(EMPTY_CK, 2), &v, &vlen)) return 0;
    int n = 0;
    for (const uint8_t *p = v; p < (const uint8_t *)v + vlen; n++) {
      uint32_t len;
      memcpy(&len, p, 4);
      char item[16];
      if (len == 4) {
        int32_t x;
        memcpy(&x, p + 4, 4);
        snprintf(item, sizeof item, "%d,", x);
      } else {
        snprintf(item, sizeof item, "%.*s,", (int)len, (const char *)p + 4);
      }
      strncat(out, item, cap - strlen(out) - 1);
      p += 4 + len;
    }
    return n;
  }
  return 0;
}

static void test_redistribution(void) {
  char paths[3][1024];
  write_old_images(paths);
  const char *pp[3] = {paths[0], paths[1], paths[2]};
  /* 15 elements in order: 0..3, 100..104, 200..205 */
  const char *want2[] = {"0,1,2,3,100,101,102,", "103,104,200,201,202,203,204,205,"};
  const char *want4[] = {"0,1,2,", "3,100,101,102,", "103,104,200,201,", "202,203,204,205,"};
  for (int P = 2; P <= 4; P += 2) {
    for (int j = 0; j < P; j++) {
      sl__backend *be;
      char err[512] = "";
      CHECK_EQ_INT(sl__heap_backend_open(NULL, 0, 0, 128, &be, err, sizeof err), 0);
      int rc = sl__opstate_restore(be, pp, 3, P, j, err, sizeof err);
      if (rc) fprintf(stderr, "%s\n", err);
      CHECK_EQ_INT(rc, 0);
      char got[256];
      list_elems(be, "offsets", got, sizeof got);
      CHECK_EQ_STR(got, P == 2 ? want2[j] : want4[j]);
      list_elems(be, "config", got, sizeof got);
      CHECK_EQ_STR(got, "c0,c1,c2,"); /* union: everything, everywhere */
      sl__backend_free(be);
    }
  }
}

int main(void) {
  scratch_init("/tmp/sl_test_state_ops", 1);
  for (int b = 0; b < N_BACKENDS; b++) {
    g_backend = g_backends[b];
    fprintf(stderr, "== backend %s\n", g_backend);
    RUN(test_keyed_connect);
    RUN(test_plain_connect);
    RUN(test_broadcast_state);
    RUN(test_operator_state_in_job);
  }
  RUN(test_redistribution);
  TEST_MAIN_END();
}
