/*
 * test_window_agg_random.c -- `sluice run window-agg` against a reference.
 *
 * Thousands of random keyed streams (20-200 records, 1-5 keys, integer
 * values, timestamps with random disorder and some records far too late)
 * under random specs (tumbling / sliding / session, out-of-orderness,
 * allowed lateness) are run through the CLI binary ($SL_SLUICE) with
 * --watermark-interval 0 --parallelism 1, and its output and late output
 * are compared, as sorted line multisets, with a small single-threaded
 * reference written here in plain C (no engine code).  Every other run
 * turns the window fast path off (state.backend.hashmap.window-fast-path),
 * so both window paths meet the reference.
 *
 * Batching.  One CLI run per stream would cost ~15 ms each, so several
 * streams (5-15) share one run and one spec: each stream has its own key
 * prefix ("s012.k3") and its own time range, 10^7 ms after the previous
 * one, so the first record of a stream pushes the watermark past every
 * window of the streams before it -- each stream behaves as if alone,
 * ended by the final watermark.  The reference processes the batch's whole
 * input as one stream anyway, so the comparison is exact either way; on a
 * mismatch the first stream whose lines differ is printed (its records,
 * the spec, expected and actual lines).
 *
 * The reference models Flink's WindowOperator with a watermark after every
 * record:
 *   1. a record is processed under the watermark left by the records
 *      before it; afterwards watermark = max(ts) - bound - 1 (if higher);
 *   2. window W is late when W.end - 1 + lateness <= watermark; a record
 *      is added to each of its windows that is not late, and goes once to
 *      the late output when all of them are;
 *   3. a window whose end - 1 <= watermark when a record is added fires at
 *      once (with the whole updated aggregate); otherwise it fires when the
 *      watermark reaches end - 1; it is dropped when the watermark reaches
 *      end - 1 + lateness (after firing, when equal);
 *   4. sessions: a record's [ts, ts + gap) merges with every live session
 *      of its key it intersects, touching included (Flink's
 *      TimeWindow.intersects), possibly bridging two; the lateness test
 *      applies to the merged window;
 *   5. at the end a watermark of INT64_MAX fires what has not fired.
 *
 * Also here: --socket input, whose bad lines are numbered within the
 * connection.
 *
 * SL_WINDOW_STREAMS overrides the number of streams (default 4000; 2000
 * under sanitizers); SL_WINDOW_SEED the seed.
 */
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "test_util.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define DEFAULT_STREAMS 2000
#else
#define DEFAULT_STREAMS 4000
#endif

enum { K_TUMBLING, K_SLIDING, K_SESSION };

typedef struct spec {
  int kind;
  int64_t size, slide, gap, bound, lateness;
} spec;

typedef struct rec {
  int64_t ts;
  int stream, key;
  int64_t value;
} rec;

/* ---- random numbers (xorshift64*, reproducible from the seed) ------------- */

static uint64_t g_rng;
static uint64_t rnd64(void) {
  g_rng ^= g_rng >> 12;
  g_rng ^= g_rng << 25;
  g_rng ^= g_rng >> 27;
  return g_rng * 0x2545F4914F6CDD1DULL;
}
/* 0 .. n-1 */
static int64_t rnd(int64_t n) { return (int64_t)(rnd64() % (uint64_t)n); }

/* ---- text ------------------------------------------------------------------ */

static void key_name(char *buf, size_t cap, int stream, int key) {
  snprintf(buf, cap, "s%03d.k%d", stream, key);
}

static void rec_line(char *buf, size_t cap, const rec *r) {
  char k[32];
  key_name(k, sizeof k, r->stream, r->key);
  snprintf(buf, cap, "%lld,%s,%lld", (long long)r->ts, k, (long long)r->value);
}

/* A signed 128-bit integer in decimal. */
static char *i128_str(char *buf, __int128 v) {
  char tmp[48];
  int n = 0;
  unsigned __int128 a = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
  do {
    tmp[n++] = (char)('0' + (int)(a % 10));
    a /= 10;
  } while (a);
  char *p = buf;
  if (v < 0) *p++ = '-';
  while (n) *p++ = tmp[--n];
  *p = 0;
  return buf;
}

static void spec_str(char *buf, size_t cap, const spec *s) {
  if (s->kind == K_TUMBLING) snprintf(buf, cap, "tumbling:%lld", (long long)s->size);
  else if (s->kind == K_SLIDING)
    snprintf(buf, cap, "sliding:%lld:%lld", (long long)s->size, (long long)s->slide);
  else snprintf(buf, cap, "session:%lld", (long long)s->gap);
}

/* ---- the reference ----------------------------------------------------------- */

typedef struct rwin {
  int stream, key;
  int64_t start, end;
  int64_t count, min, max;
  __int128 sum;
  int pending; /* its timer at end - 1 has not fired */
} rwin;

typedef struct ref {
  spec sp;
  rwin *w;
  size_t n, cap;
  int64_t wm;
  lines out, late;
} ref;

static void ref_fire(ref *r, const rwin *w) {
  char k[32], line[256], sum[48];
  key_name(k, sizeof k, w->stream, w->key);
  int len = snprintf(line, sizeof line, "%lld,%lld,%s,%lld,%s,%lld,%lld",
                     (long long)w->start, (long long)w->end, k,
                     (long long)w->count, i128_str(sum, w->sum),
                     (long long)w->min, (long long)w->max);
  lines_add(&r->out, line, (size_t)len);
}

static int win_late(const ref *r, int64_t end) {
  /* end - 1 + lateness <= wm, without overflow for wm = INT64_MIN */
  return r->wm != INT64_MIN && end - 1 + r->sp.lateness <= r->wm;
}

static rwin *ref_find(ref *r, int stream, int key, int64_t start, int64_t end) {
  for (size_t i = 0; i < r->n; i++)
    if (r->w[i].stream == stream && r->w[i].key == key && r->w[i].start == start &&
        r->w[i].end == end)
      return &r->w[i];
  if (r->n == r->cap) {
    r->cap = r->cap ? 2 * r->cap : 64;
    r->w = realloc(r->w, r->cap * sizeof *r->w);
  }
  rwin *w = &r->w[r->n++];
  *w = (rwin){.stream = stream, .key = key, .start = start, .end = end,
              .min = INT64_MAX, .max = INT64_MIN};
  return w;
}

/* Add the record to w, then fire now or wait for the watermark. */
static void ref_add(ref *r, rwin *w, const rec *x) {
  w->count++;
  w->sum += x->value;
  if (x->value < w->min) w->min = x->value;
  if (x->value > w->max) w->max = x->value;
  if (r->wm != INT64_MIN && w->end - 1 <= r->wm) {
    ref_fire(r, w);
    w->pending = 0;
  } else {
    w->pending = 1;
  }
}

static void ref_advance(ref *r, int64_t wm) {
  if (wm <= r->wm) return;
  r->wm = wm;
  for (size_t i = 0; i < r->n; i++)
    if (r->w[i].pending && r->w[i].end - 1 <= wm) {
      ref_fire(r, &r->w[i]);
      r->w[i].pending = 0;
    }
  size_t k = 0;
  for (size_t i = 0; i < r->n; i++)
    if (!(wm == INT64_MAX || r->w[i].end - 1 + r->sp.lateness <= wm)) r->w[k++] = r->w[i];
  r->n = k;
}

static void ref_late(ref *r, const rec *x) {
  char line[128];
  rec_line(line, sizeof line, x);
  lines_add(&r->late, line, strlen(line));
}

static void ref_record(ref *r, const rec *x) {
  const spec *s = &r->sp;
  if (s->kind == K_SESSION) {
    int64_t start = x->ts, end = x->ts + s->gap;
    /* merge with every live session of the key it intersects */
    for (size_t i = 0; i < r->n; i++) {
      const rwin *w = &r->w[i];
      if (w->stream == x->stream && w->key == x->key && w->start <= x->ts + s->gap &&
          w->end >= x->ts) {
        if (w->start < start) start = w->start;
        if (w->end > end) end = w->end;
      }
    }
    if (win_late(r, end)) {
      ref_late(r, x);
      return;
    }
    rwin m = {.stream = x->stream, .key = x->key, .start = start, .end = end,
              .min = INT64_MAX, .max = INT64_MIN};
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++) {
      const rwin *w = &r->w[i];
      if (w->stream == x->stream && w->key == x->key && w->start <= x->ts + s->gap &&
          w->end >= x->ts) {
        m.count += w->count;
        m.sum += w->sum;
        if (w->min < m.min) m.min = w->min;
        if (w->max > m.max) m.max = w->max;
      } else {
        r->w[k++] = *w;
      }
    }
    r->n = k;
    rwin *w = ref_find(r, x->stream, x->key, start, end);
    *w = m;
    ref_add(r, w, x);
    return;
  }
  int64_t size = s->size, slide = s->kind == K_SLIDING ? s->slide : s->size;
  int64_t last = x->ts - ((x->ts + slide) % slide); /* Flink, offset 0 */
  int any = 0;
  for (int64_t st = last; st > x->ts - size; st -= slide) {
    if (win_late(r, st + size)) continue;
    any = 1;
    ref_add(r, ref_find(r, x->stream, x->key, st, st + size), x);
  }
  if (!any) ref_late(r, x);
}

/* Runs the reference over recs; expected lines in r->out / r->late. */
static void ref_run(ref *r, const spec *s, const rec *recs, size_t n) {
  memset(r, 0, sizeof *r);
  r->sp = *s;
  r->wm = INT64_MIN;
  int64_t max_ts = INT64_MIN;
  for (size_t i = 0; i < n; i++) {
    ref_record(r, &recs[i]);
    if (recs[i].ts > max_ts) max_ts = recs[i].ts;
    ref_advance(r, max_ts - s->bound - 1);
  }
  ref_advance(r, INT64_MAX);
  free(r->w);
  r->w = NULL;
}

/* ---- generating streams --------------------------------------------------------- */

static void random_spec(spec *s) {
  memset(s, 0, sizeof *s);
  s->kind = (int)rnd(3);
  if (s->kind == K_TUMBLING) {
    s->size = 1 + rnd(50);
  } else if (s->kind == K_SLIDING) {
    s->size = 2 + rnd(60);
    s->slide = 1 + rnd(s->size);
    if (s->slide < (s->size + 11) / 12) s->slide = (s->size + 11) / 12;
  } else {
    s->gap = 1 + rnd(30);
  }
  int b = (int)rnd(3), l = (int)rnd(3);
  s->bound = b == 0 ? 0 : b == 1 ? rnd(10) : rnd(40);
  s->lateness = l == 0 ? 0 : l == 1 ? rnd(20) : rnd(60);
}

/* Appends stream `id` to recs. */
static size_t gen_stream(rec *recs, size_t n, int id) {
  int keys = 1 + (int)rnd(5), len = 20 + (int)rnd(181);
  int64_t base = 1000 + (int64_t)id * 10000000, t = base;
  int64_t disorder = (int64_t[]){0, 3, 15, 50}[rnd(4)];
  int64_t step = 1 + rnd(10);
  int big = rnd(8) == 0; /* values near the int64 limits: sums beyond int64 */
  for (int i = 0; i < len; i++) {
    rec *x = &recs[n++];
    t += rnd(step + 1);
    x->ts = t - (disorder ? rnd(disorder + 1) : 0);
    if (rnd(25) == 0) x->ts = t - rnd(200); /* likely late */
    if (x->ts < base - 1000) x->ts = base - 1000;
    x->stream = id;
    x->key = (int)rnd(keys);
    x->value = rnd(2001) - 1000;
    if (big && rnd(3) == 0)
      x->value = rnd(2) ? INT64_MAX - rnd(1000) : INT64_MIN + rnd(1000);
  }
  return n;
}

/* ---- running the CLI --------------------------------------------------------------- */

/* Runs `sluice run window-agg` on input `in`; output lines in *out, late
 * lines in *late.  Returns the exit code (-1 if it did not run). */
/* fast: the window fast path allowed (it serves the specs without allowed
 * lateness); 0 forces the general path. */
static int run_cli(const spec *s, const char *in, int fast, lines *out, lines *late) {
  const char *sluice = getenv("SL_SLUICE");
  char outp[700], latep[700], errp[700], win[64], bound[32], al[32];
  tpath(outp, sizeof outp, "out.txt");
  tpath(latep, sizeof latep, "late.txt");
  tpath(errp, sizeof errp, "err.txt");
  unlink(outp);
  unlink(latep);
  spec_str(win, sizeof win, s);
  snprintf(bound, sizeof bound, "%lld", (long long)s->bound);
  snprintf(al, sizeof al, "%lld", (long long)s->lateness);
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execl(sluice, sluice, "run", "window-agg", "--input", in, "--output", outp,
          "--late-output", latep, "--window", win, "--out-of-orderness", bound,
          "--allowed-lateness", al, "--watermark-interval", "0", "--parallelism",
          "1", "-D",
          fast ? "state.backend.hashmap.window-fast-path=true"
               : "state.backend.hashmap.window-fast-path=false",
          (char *)NULL);
    _exit(127);
  }
  int st;
  if (pid < 0 || waitpid(pid, &st, 0) != pid) return -1;
  int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  size_t len;
  char *text = read_file(outp, &len);
  if (text) lines_split_copy(out, text, len);
  free(text);
  text = read_file(latep, &len);
  if (text) lines_split_copy(late, text, len);
  free(text);
  if (rc) {
    text = read_file(errp, &len);
    fprintf(stderr, "  sluice exited %d: %s\n", rc, text ? text : "");
    free(text);
  }
  return rc;
}

/* ---- comparing ------------------------------------------------------------------------ */

/* The stream number in a line's key ("...,s012.k3,..."): field `field`. */
static int line_stream(const char *line, int field) {
  const char *p = line;
  for (int f = 0; f < field && p; f++) {
    p = strchr(p, ',');
    if (p) p++;
  }
  return p && *p == 's' ? atoi(p + 1) : -1;
}

static void stream_lines(const lines *all, int field, int stream, lines *out) {
  for (size_t i = 0; i < all->n; i++)
    if (line_stream(all->v[i], field) == stream)
      lines_add(out, all->v[i], strlen(all->v[i]));
  lines_sort(out);
}

static int lines_equal(const lines *a, const lines *b) {
  if (a->n != b->n) return 0;
  for (size_t i = 0; i < a->n; i++)
    if (strcmp(a->v[i], b->v[i])) return 0;
  return 1;
}

static void print_lines(const char *title, const lines *l) {
  fprintf(stderr, "  %s (%zu):\n", title, l->n);
  for (size_t i = 0; i < l->n; i++) fprintf(stderr, "    %s\n", l->v[i]);
}

/* Prints the first stream of the batch whose lines differ. */
static void report(const spec *s, const rec *recs, size_t n, int first, int last,
                   const ref *want, const lines *got, const lines *got_late) {
  char sp[64];
  spec_str(sp, sizeof sp, s);
  for (int id = first; id <= last; id++) {
    lines we = {0}, ge = {0}, wl = {0}, gl = {0};
    stream_lines(&want->out, 2, id, &we);
    stream_lines(got, 2, id, &ge);
    stream_lines(&want->late, 1, id, &wl);
    stream_lines(got_late, 1, id, &gl);
    int same = lines_equal(&we, &ge) && lines_equal(&wl, &gl);
    if (!same) {
      fprintf(stderr, "  stream %d differs; --window %s --out-of-orderness %lld "
                      "--allowed-lateness %lld\n  records:\n",
              id, sp, (long long)s->bound, (long long)s->lateness);
      for (size_t i = 0; i < n; i++)
        if (recs[i].stream == id) {
          char line[128];
          rec_line(line, sizeof line, &recs[i]);
          fprintf(stderr, "    %s\n", line);
        }
      print_lines("expected output", &we);
      print_lines("got output", &ge);
      print_lines("expected late", &wl);
      print_lines("got late", &gl);
    }
    lines_free(&we);
    lines_free(&ge);
    lines_free(&wl);
    lines_free(&gl);
    if (!same) return;
  }
  fprintf(stderr, "  (no single stream differs: lines of unknown streams?)\n");
  print_lines("got output", got);
}

/* ---- the test --------------------------------------------------------------------------- */

/* The reference itself, on cases worked out by hand (a wrong reference
 * would make the comparison meaningless). */
static void test_reference_by_hand(void) {
  /* tumbling 10, bound 0, lateness 5: 12 moves the watermark to 11, firing
   * [0,10); 7 is within lateness (9 + 5 > 11) and re-fires it; 25 -> wm 24
   * drops [0,10) (9 + 5 <= 24); 3 is then late. */
  rec a[] = {{1, 0, 0, 5}, {12, 0, 0, 1}, {7, 0, 0, 2}, {25, 0, 0, 4}, {3, 0, 0, 9}};
  spec s = {.kind = K_TUMBLING, .size = 10, .lateness = 5};
  ref r;
  ref_run(&r, &s, a, 5);
  lines want = {0}, wl = {0};
  const char *w[] = {"0,10,s000.k0,1,5,5,5", "0,10,s000.k0,2,7,2,5",
                     "10,20,s000.k0,1,1,1,1", "20,30,s000.k0,1,4,4,4"};
  for (int i = 0; i < 4; i++) lines_add(&want, w[i], strlen(w[i]));
  lines_add(&wl, "3,s000.k0,9", 11);
  CHECK(same_lines(&want, &r.out, 0));
  CHECK(same_lines(&wl, &r.late, 0));
  lines_free(&want);
  lines_free(&wl);
  lines_free(&r.out);
  lines_free(&r.late);

  /* session gap 5, bound 30 (the watermark stays below 0): 0 -> [0,5),
   * 20 -> [20,25), 10 -> [10,15), then 5 -> [5,10) touches [0,5) and
   * [10,15) and bridges them: one session [0,15) with 0, 10 and 5.  The
   * final watermark fires [0,15) and [20,25). */
  rec b[] = {{0, 0, 0, 1}, {20, 0, 0, 2}, {10, 0, 0, 3}, {5, 0, 0, 4}};
  spec ss = {.kind = K_SESSION, .gap = 5, .bound = 30};
  ref_run(&r, &ss, b, 4);
  const char *w2[] = {"0,15,s000.k0,3,8,1,4", "20,25,s000.k0,1,2,2,2"};
  for (int i = 0; i < 2; i++) lines_add(&want, w2[i], strlen(w2[i]));
  CHECK(same_lines(&want, &r.out, 0));
  CHECK_EQ_INT(r.late.n, 0);
  lines_free(&want);
  lines_free(&r.out);
  lines_free(&r.late);

  /* sliding 10/5, bound 0: 3 is in [-5,5) and [0,10); 14 -> wm 13 fires
   * both; 4 then: [-5,5) late (4 <= 13), [0,10) late too -> late output. */
  rec c[] = {{3, 0, 0, 1}, {14, 0, 0, 2}, {4, 0, 0, 3}};
  spec sl = {.kind = K_SLIDING, .size = 10, .slide = 5};
  ref_run(&r, &sl, c, 3);
  const char *w3[] = {"-5,5,s000.k0,1,1,1,1", "0,10,s000.k0,1,1,1,1",
                      "5,15,s000.k0,1,2,2,2", "10,20,s000.k0,1,2,2,2"};
  for (int i = 0; i < 4; i++) lines_add(&want, w3[i], strlen(w3[i]));
  lines_add(&wl, "4,s000.k0,3", 11);
  CHECK(same_lines(&want, &r.out, 0));
  CHECK(same_lines(&wl, &r.late, 0));
  lines_free(&want);
  lines_free(&wl);
  lines_free(&r.out);
  lines_free(&r.late);
}

/* --socket: lines over TCP in small pieces; a malformed line is reported
 * by its line number within the connection.  tumbling:10: [0,10) a = {1,2},
 * [10,20) a = {4}, [0,10) b = {3}. */
static void test_socket_input(void) {
  const char *sluice = getenv("SL_SLUICE");
  CHECK(sluice && *sluice);
  if (!sluice || !*sluice) return;
  char out[700], dead[700], err[700], hp[64];
  tpath(out, sizeof out, "sock.out");
  tpath(dead, sizeof dead, "sock.dead");
  tpath(err, sizeof err, "sock.err");
  unlink(out);
  unlink(dead);
  int port, ls = listen_loopback(&port, 1);
  CHECK(ls >= 0);
  if (ls < 0) return;
  snprintf(hp, sizeof hp, "127.0.0.1:%d", port);
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) dup2(fd, 2);
    execl(sluice, sluice, "run", "window-agg", "--socket", hp, "--output", out,
          "--dead-letter", dead, "--window", "tumbling:10", "--parallelism", "2",
          (char *)NULL);
    _exit(127);
  }
  int c = accept(ls, NULL, NULL);
  CHECK(c >= 0);
  const char *text = "1,a,1\n2,a,2\n3;b;3\n5,b,3\n12,a,4";
  size_t len = strlen(text);
  for (size_t off = 0; c >= 0 && off < len; off += 5) {
    size_t n = len - off < 5 ? len - off : 5;
    CHECK_EQ_INT(write(c, text + off, n), (long)n);
    sleep_ms(1);
  }
  if (c >= 0) close(c);
  close(ls);
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  size_t n;
  char *got = read_file(out, &n), *dl = read_file(dead, &n);
  lines want = {0}, gl = {0};
  const char *w[] = {"0,10,a,2,3,1,2", "0,10,b,1,3,3,3", "10,20,a,1,4,4,4"};
  for (int i = 0; i < 3; i++) lines_add(&want, w[i], strlen(w[i]));
  if (got) lines_split_copy(&gl, got, strlen(got));
  CHECK(same_lines(&want, &gl, 0));
  CHECK_CONTAINS(dl, "line 3\texpected 3 fields");
  if (!got || !dl) {
    char *e = read_file(err, &n);
    fprintf(stderr, "  stderr: %s\n", e ? e : "");
    free(e);
  }
  free(got);
  free(dl);
  lines_free(&want);
  lines_free(&gl);
}

static void test_random_streams(void) {
  const char *sluice = getenv("SL_SLUICE");
  CHECK(sluice && *sluice); /* set by ctest: the sluice binary */
  if (!sluice || !*sluice) return;
  const char *e = getenv("SL_WINDOW_STREAMS");
  int total = e && atoi(e) > 0 ? atoi(e) : DEFAULT_STREAMS;
  e = getenv("SL_WINDOW_SEED");
  uint64_t seed = e && *e ? strtoull(e, NULL, 10) : 20240611;
  g_rng = seed * 2654435761u + 1;
  fprintf(stderr, "  %d streams, seed %llu\n", total, (unsigned long long)seed);
  rec *recs = malloc(16 * 200 * sizeof *recs);
  char inp[700];
  tpath(inp, sizeof inp, "in.csv");
  int done = 0, runs = 0, kinds[3] = {0};
  size_t fired = 0, late = 0;
  int64_t t0 = now_ms();
  while (done < total) {
    spec s;
    random_spec(&s);
    int per = 5 + (int)rnd(11);
    if (per > total - done) per = total - done;
    size_t n = 0;
    for (int i = 0; i < per; i++) n = gen_stream(recs, n, done + i);
    FILE *f = fopen(inp, "w");
    CHECK(f != NULL);
    if (!f) break;
    for (size_t i = 0; i < n; i++) {
      char line[128];
      rec_line(line, sizeof line, &recs[i]);
      fprintf(f, "%s\n", line);
    }
    fclose(f);
    ref r;
    ref_run(&r, &s, recs, n);
    lines got = {0}, got_late = {0};
    int rc = run_cli(&s, inp, runs % 2 == 0, &got, &got_late); /* both window paths */
    CHECK_EQ_INT(rc, 0);
    lines_sort(&r.out);
    lines_sort(&r.late);
    lines_sort(&got);
    lines_sort(&got_late);
    int ok = rc == 0 && lines_equal(&r.out, &got) && lines_equal(&r.late, &got_late);
    if (!ok) {
      CHECK(ok);
      report(&s, recs, n, done, done + per - 1, &r, &got, &got_late);
    }
    fired += r.out.n;
    late += r.late.n;
    kinds[s.kind] += per;
    lines_free(&r.out);
    lines_free(&r.late);
    lines_free(&got);
    lines_free(&got_late);
    done += per;
    runs++;
    if (!ok) break;
  }
  fprintf(stderr,
          "  %d streams (tumbling %d, sliding %d, session %d) in %d runs, %.1f s: "
          "%zu firings, %zu late records\n",
          done, kinds[0], kinds[1], kinds[2], runs, (double)(now_ms() - t0) / 1000.0,
          fired, late);
  free(recs);
}

int main(void) {
  scratch_init("/tmp/sl_test_window_agg_random", 1);
  RUN(test_reference_by_hand);
  RUN(test_socket_input);
  RUN(test_random_streams);
  TEST_MAIN_END();
}
