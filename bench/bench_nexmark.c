/*
 * bench_nexmark.c -- `sluice bench nexmark`: the Nexmark queries
 * (bench/nexmark/) over the built-in generator, one summary line each:
 *
 *   bench=nexmark query=qN parallelism=P events=N seconds=S events_per_sec=R
 *   events_per_sec_per_core=C results=K checksum=X p50_latency_ms=L50
 *   p99_latency_ms=L99 peak_rss_mb=M [checkpoints=K]
 *
 * events_per_sec counts generated events (all kinds) over the job's wall
 * time; per core divides by the parallelism (one worker thread each).
 * checksum is the sum of a 64-bit hash of every result's bytes, so it does
 * not depend on the order of results: runs at P=1 and P=2 print the same
 * one (except q12, whose processing-time windows depend on the clock).
 * Latency: see bench/nexmark/common.c.  `--query all` runs every query,
 * each in a child process so that peak_rss_mb is that query's own.
 *
 * --checkpoint-interval without --checkpoint-dir takes checkpoints into a
 * temporary directory, removed afterwards.
 *
 * Profiles (--profile) are the two published nexmark-flink suites: rate
 * (TPS), timelines (numEventGenerators = 8, the suites' source
 * parallelism), warm-up and measured events, and their checkpoints every 3
 * minutes; an explicit --rate, --events, --warmup-events, --generators or
 * --checkpoint-interval still wins.
 *   flink-v1  10 M events/s, 100 M events
 *   flink-v2  100 K events/s, 150 M warm-up + 50 M measured (GUIDE_V2)
 * With a warm-up, events_per_sec is over the measured events only: from the
 * wall time the first measured event's event time was reached to the last
 * event (the ingest clock), and the line adds warmup_events and
 * measured_seconds.  --events is always the measured part.
 */
#define _GNU_SOURCE
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "nexmark/nexmark.h"
#include "nexmark_sql.h"

static void print_line(const char *head, sl_env *env, nx_meter *meter, uint64_t warmup,
                       double measured_seconds, uint64_t events);

static const char *CMD = "sluice bench nexmark";
static const char *FLAGS = "query,events,rate,seed,warmup-events,generators,profile,parallelism,"
                           "checkpoint-dir,checkpoint-interval,sql";

typedef struct nx_opts {
  const char *query, *profile;
  unsigned long long events, rate, seed, warmup, generators;
  const char *ckpt_interval; /* the profile's, unless given */
  int sql;                   /* --sql: bench/nexmark/sql/qN.sql */
} nx_opts;

/* The published suites' settings (see the header). */
static int apply_profile(nx_opts *no, const char *profile, const cli_opts *given) {
  unsigned long long rate, events, warmup;
  if (!strcmp(profile, "flink-v1"))
    rate = 10000000ULL, events = 100000000ULL, warmup = 0;
  else if (!strcmp(profile, "flink-v2"))
    rate = 100000ULL, events = 50000000ULL, warmup = 150000000ULL;
  else {
    fprintf(stderr, "%s: unknown profile '%s' (profiles: flink-v1, flink-v2)\n", CMD, profile);
    return SL_EXIT_USAGE;
  }
  if (!given->rate) no->rate = rate;
  if (!given->events) no->events = events;
  if (!given->warmup_events) no->warmup = warmup;
  if (!given->generators) no->generators = 8;
  no->ckpt_interval = "3min";
  return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  return remove(path);
}

/* One query in its own environment; prints its line.  Exit code. */
static int run_one(const nx_query *q, const nx_opts *no, int argc, char **argv) {
  sl_env *env = sl_env_new();
  if (!env) return SL_EXIT_FAILED;
  cli_opts o = {0};
  int rc = cli_parse(argc, argv, 3, CMD, FLAGS, env, &o); /* per query: its own environment */
  char tmp[] = "/tmp/sluice-nexmark-ckpt-XXXXXX";
  int made_tmp = 0;
  const char *set_iv = sl_env_get(env, "execution.checkpointing.interval");
  if (!rc && no->ckpt_interval && !o.checkpoint_interval && set_iv && !strcmp(set_iv, "0")) {
    o.checkpoint_interval = no->ckpt_interval; /* the profile's, unless -D or the flag */
    if (sl_env_set(env, "execution.checkpointing.interval", no->ckpt_interval)) rc = SL_EXIT_USAGE;
  }
  if (!rc && o.checkpoint_interval && !o.checkpoint_dir) {
    if (!mkdtemp(tmp)) {
      perror("sluice bench nexmark: temporary checkpoint directory");
      rc = SL_EXIT_FAILED;
    } else {
      made_tmp = 1;
      if (sl_env_set(env, "state.checkpoints.dir", tmp)) rc = SL_EXIT_USAGE;
    }
  }
  sl_nexmark_config cfg;
  sl_nexmark_config_default(&cfg);
  cfg.events = no->warmup + no->events;
  cfg.first_event_rate = no->rate;
  cfg.seed = no->seed;
  cfg.num_event_generators = (uint32_t)no->generators;
  char err[256];
  if (!rc && sl_nexmark_config_check(&cfg, err, sizeof err)) {
    fprintf(stderr, "%s: %s\n", CMD, err);
    rc = SL_EXIT_USAGE;
  }
  nx_ingest *ingest = rc ? NULL : nx_ingest_new(&cfg);
  nx_meter *meter = ingest ? nx_meter_new(ingest, q->processing_time) : NULL;
  if (!rc && !meter) rc = SL_EXIT_FAILED;
  nx_sql_job *sql = NULL;
  if (!rc) {
    char name[32];
    if (no->sql) {
      snprintf(name, sizeof name, "%s", q->name); /* messages name the file: q2.sql */
      rc = nx_sql_prepare(env, q->name, &cfg, meter, &sql);
    } else {
      snprintf(name, sizeof name, "nexmark-%s", q->name);
      sl_stream *results = q->build(nx_events(env, &cfg, ingest));
      if (q->table) nx_meter_changelog_sink(q->table(results), meter);
      else nx_meter_sink(results, meter);
    }
    if (!rc) rc = cli_execute(env, name);
  }
  if (rc == SL_EXIT_OK) {
    char head[96];
    snprintf(head, sizeof head, "bench=nexmark query=%s%s%s%s", q->name, no->sql ? " sql=1" : "",
             no->profile ? " profile=" : "", no->profile ? no->profile : "");
    /* with a warm-up, the measured part only: from the first measured
     * event's event time to the end (the ingest clock) */
    int64_t from = cfg.base_time_ms + (int64_t)((__uint128_t)no->warmup * 1000 / no->rate);
    /* SQL: each table is its own generator source (records_in counts
     * every table's events): the generated events are the run's */
    print_line(head, env, meter, no->warmup,
               no->warmup ? nx_ingest_seconds_since(ingest, from) : 0, no->sql ? no->events : 0);
  }
  nx_sql_job_free(sql);
  nx_meter_free(meter);
  nx_ingest_free(ingest);
  sl_env_free(env);
  if (made_tmp) nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  return rc;
}

void nx_print_summary(const char *head, sl_env *env, nx_meter *meter) {
  nx_print_measured(head, env, meter, 0, 0);
}

void nx_print_measured(const char *head, sl_env *env, nx_meter *meter, uint64_t warmup,
                       double measured_seconds) {
  print_line(head, env, meter, warmup, measured_seconds, 0);
}

/* events: the measured events (0: the job's records in, less the warm-up) */
static void print_line(const char *head, sl_env *env, nx_meter *meter, uint64_t warmup,
                       double measured_seconds, uint64_t events) {
  sl_job_stats st;
  nx_summary sum;
  sl_job_stats_get(env, &st);
  nx_meter_summary(meter, &sum);
  if (!events) events = st.records_in - warmup;
  double seconds = warmup ? measured_seconds : st.seconds;
  double eps = seconds > 0 ? (double)events / seconds : 0;
  char ck[64] = "", wu[96] = "";
  if (st.checkpoints) snprintf(ck, sizeof ck, " checkpoints=%llu", (unsigned long long)st.checkpoints);
  if (warmup)
    snprintf(wu, sizeof wu, " warmup_events=%llu seconds=%.3f measured_seconds=%.3f",
             (unsigned long long)warmup, st.seconds, seconds);
  else
    snprintf(wu, sizeof wu, " seconds=%.3f", st.seconds);
  printf("%s parallelism=%d events=%llu%s events_per_sec=%.0f events_per_sec_per_core=%.0f "
         "results=%llu checksum=%016llx p50_latency_ms=%.1f p99_latency_ms=%.1f "
         "peak_rss_mb=%.1f%s\n",
         head, st.parallelism, (unsigned long long)events, wu, eps,
         eps / (st.parallelism > 0 ? st.parallelism : 1), (unsigned long long)sum.results,
         (unsigned long long)sum.checksum, sum.p50_ms, sum.p99_ms, cli_peak_rss_mb(), ck);
  fflush(stdout);
}


int bench_nexmark(int argc, char **argv) {
  nx_opts no = {NULL, NULL, 10000000ULL, 10000000ULL, 0, 0, 1, NULL, 0};
  /* parsed once here for the benchmark's own flags (and --help); each
   * query parses again into its own environment (run_one) */
  sl_env *penv = sl_env_new();
  cli_opts o = {0};
  int rc = penv ? cli_parse(argc, argv, 3, CMD, FLAGS, penv, &o) : SL_EXIT_FAILED;
  sl_env_free(penv);
  if (!rc) rc = cli_u64(CMD, "events", o.events, &no.events);
  if (!rc) rc = cli_u64(CMD, "rate", o.rate, &no.rate);
  if (!rc) rc = cli_u64(CMD, "seed", o.seed, &no.seed);
  if (!rc) rc = cli_u64(CMD, "warmup-events", o.warmup_events, &no.warmup);
  if (!rc) rc = cli_u64(CMD, "generators", o.generators, &no.generators);
  no.query = o.query;
  no.sql = o.sql;
  no.profile = o.profile;
  if (!rc && no.profile) rc = apply_profile(&no, no.profile, &o);
  if (!rc && (no.generators == 0 || no.generators > 65536)) {
    fprintf(stderr, "%s: --generators must be 1 .. 65536\n", CMD);
    rc = SL_EXIT_USAGE;
  }
  if (!rc && !no.query) {
    fprintf(stderr, "%s: --query qN or --query all is needed (queries:", CMD);
    for (size_t i = 0; nx_query_at(i); i++) fprintf(stderr, " %s", nx_query_at(i)->name);
    fprintf(stderr, ")\n");
    rc = SL_EXIT_USAGE;
  }
  if (!rc && no.sql && no.warmup) {
    fprintf(stderr, "%s: --sql runs measure the whole run: no --warmup-events (nor a profile "
                    "with one)\n", CMD);
    rc = SL_EXIT_USAGE;
  }
  if (!rc && no.events == 0) {
    fprintf(stderr, "%s: --events must be > 0 (the benchmark is a bounded run)\n", CMD);
    rc = SL_EXIT_USAGE;
  }
  if (!rc && strcmp(no.query, "all")) {
    const nx_query *q = nx_query_find(no.query);
    if (!q) {
      fprintf(stderr, "%s: unknown query '%s' (queries:", CMD, no.query);
      for (size_t i = 0; nx_query_at(i); i++) fprintf(stderr, " %s", nx_query_at(i)->name);
      fprintf(stderr, ", all)\n");
      rc = SL_EXIT_USAGE;
    } else {
      rc = run_one(q, &no, argc, argv);
    }
  } else if (!rc) {
    for (size_t i = 0; nx_query_at(i) && !rc; i++) {
      if (no.sql && !nx_sql_text(nx_query_at(i)->name)) continue; /* no SQL version */
      fflush(stdout);
      pid_t pid = fork();
      if (pid < 0) {
        perror("sluice bench nexmark: fork");
        rc = SL_EXIT_FAILED;
      } else if (pid == 0) {
        _exit(run_one(nx_query_at(i), &no, argc, argv));
      } else {
        int status;
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status)) rc = SL_EXIT_FAILED;
        else rc = WEXITSTATUS(status);
      }
    }
  }
  return rc;
}
