/*
 * cli.h -- shared pieces of the `sluice` command: option parsing, building
 * an environment from -D/--parallelism, running a job and mapping its result
 * to the documented exit codes.
 */
#ifndef SL_CLI_H
#define SL_CLI_H

#include <stdint.h>

#include "sluice.h"

/* Exit codes (documented in README.md and `sluice --help`). */
enum {
  SL_EXIT_OK = 0,        /* job finished */
  SL_EXIT_FAILED = 1,    /* job failed: bad input, I/O, user function */
  SL_EXIT_USAGE = 2,     /* bad command line or configuration */
  SL_EXIT_CANCELED = 130 /* stopped by SIGINT/SIGTERM (sinks flushed) */
};

/* Options common to jobs: collected from argv. */
typedef struct cli_opts {
  const char *input;
  const char *output;
  const char *socket; /* HOST:PORT */
  const char *parallelism;
  const char *records;
  const char *keys;
  const char *backend;
  const char *state_mb;           /* bench checkpoint */
  /* window-agg, bench window */
  const char *window;             /* tumbling:SIZE | sliding:SIZE:SLIDE | session:GAP */
  const char *time;               /* event | processing */
  const char *out_of_orderness;   /* durations: "500ms", "10s", "1m", bare = ms */
  const char *allowed_lateness;
  const char *idle_timeout;
  const char *watermark_interval;
  const char *late_output;        /* PATH */
  const char *dead_letter;        /* PATH */
  /* every job: checkpoints */
  const char *checkpoint_dir;      /* state.checkpoints.dir */
  const char *checkpoint_interval; /* execution.checkpointing.interval */
  const char *restore;             /* latest | PATH */
  const char *conf;                /* config.yaml, applied before -D */
  /* bench nexmark / ysb */
  const char *query, *events, *rate, *seed, *warmup_events, *generators, *profile;
  /* sluice list / cancel / stop */
  const char *rest, *token, *savepoint_path;
  /* sluice sql */
  const char *execute; /* -e STATEMENTS */
  const char *arg;     /* the one positional argument (FILE.sql) */
  int drain;
  int stateless;
  int progress; /* sluice run: a progress line every few seconds */
  int sql;      /* bench nexmark: the queries' SQL versions */
} cli_opts;

/* Parse argv[first..] (getopt_long): known --flags into opts, -D
 * key=value into env (after --conf FILE, a Flink-style config.yaml).
 * `allowed` lists the long flags this command takes, e.g.
 * "input,output,parallelism"; -p N is --parallelism, -s PATH --restore
 * where those are allowed, -e TEXT --execute; a command whose `allowed`
 * has "ARG" takes one positional argument (anywhere among the flags) into
 * opts->arg; a flag given twice is an error.  --help / -h
 * prints the command's options and exits 0.  Prints the error and returns SL_EXIT_USAGE on a problem,
 * 0 otherwise. */
int cli_parse(int argc, char **argv, int first, const char *cmd,
              const char *allowed, sl_env *env, cli_opts *opts);
/* A flag's value as a non-negative integer into *out (unchanged when the
 * flag was not given): 0, or SL_EXIT_USAGE with the error printed. */
int cli_u64(const char *cmd, const char *flag, const char *v, unsigned long long *out);

/* A job's --output: a file or directory, or plain lines on stdout when
 * NULL or "-" (no subtask prefixes: the output stays valid CSV). */
sl_sink *cli_output_sink(const char *output);
/* The same, for a job whose output has a fixed shape: a postgresql://
 * output gets the columns to create the table with when it is missing
 * (sink.create-table-columns) and the field delimiter of the job's lines
 * (sink.field-delimiter; NULL: ','), unless the URI sets them. */
sl_sink *cli_output_sink_table(const char *output, const char *columns, const char *delim);
/* A job's --input: kafka://..., postgresql://... (a snapshot read of the
 * table) or a path. */
sl_source *cli_input_source(const char *input);
int cli_is_kafka(const char *uri);
int cli_is_postgres(const char *uri);

/* Run env's job; print the error on failure; return the exit code.  At
 * the end it reports late records that no side output received
 * (sl_job_stats.late_records_dropped), when there were any, as
 * "NAME: N late records dropped (HINT)" on stderr. */
int cli_execute(sl_env *env, const char *name);
/* cli_execute, then (a `sluice run` job that ran) one summary line on
 * stderr: "NAME: summary: N records in, M out, D dead letters, L late
 * records dropped, C checkpoints, R restarts, S s, X records/s". */
int cli_run_job(sl_env *env, const char *name);
/* cli_run_job with another way to run the job than sl_execute (`sluice
 * sql` runs statements that build and execute it): run returns 0, a
 * negative SL_E* code (reported as a job failure) or a positive exit code
 * when it printed its own message. */
typedef int (*cli_run_fn)(void *ud, sl_env *env, const char *name);
int cli_run_job_with(sl_env *env, const char *name, cli_run_fn run, void *ud);
/* The next cli_execute runs run(ud, env, name) instead of sl_execute. */
void cli_run_next_with(cli_run_fn run, void *ud);
/* The HINT of that line: what the user can do to keep late records (a
 * command sets it before cli_execute; default: a generic hint). */
extern const char *cli_late_hint;

/* progress.c: a line on stderr every few seconds while env's job runs
 * (records/s in and out, watermark, last checkpoint, backpressure). */
typedef struct cli_progress cli_progress;
cli_progress *cli_progress_start(sl_env *env, const char *name);
void cli_progress_stop(cli_progress *p); /* NULL: nothing */

/* rest_client.c: sluice list / cancel / stop over a job's REST API. */
int cmd_list(int argc, char **argv);
int cmd_cancel(int argc, char **argv);
int cmd_stop(int argc, char **argv);
/* kafka_mock.c: sluice kafka-mock */
int cmd_kafka_mock(int argc, char **argv);

/* "host:port" -> host (into buf) and port.  0 or SL_EXIT_USAGE. */
int cli_host_port(const char *s, char *host, size_t cap, int *port);

/* A duration by the rules of configuration durations ("500ms", "10s",
 * "1m", a bare number is milliseconds; no negatives).  0 or SL_EXIT_USAGE. */
int cli_duration_ms(const char *s, int64_t *ms);

/* Peak resident set size of this process in MiB. */
double cli_peak_rss_mb(void);

int job_upper(int argc, char **argv);
int job_wordcount(int argc, char **argv);
int job_window_agg(int argc, char **argv);
int cmd_sql(int argc, char **argv);
int bench_pipeline(int argc, char **argv);
int checkpoint_inspect(int argc, char **argv);
int cmd_savepoint(int argc, char **argv);
int bench_state(int argc, char **argv);
int bench_window(int argc, char **argv);
int bench_checkpoint(int argc, char **argv);
int bench_nexmark(int argc, char **argv);
int bench_ysb(int argc, char **argv);
/* bench nexmark/ysb: the one summary line of a finished run, after `head`
 * ("bench=nexmark query=q0"): parallelism, events, rates, results,
 * checksum, latency percentiles, peak RSS (and checkpoints, when any). */
struct nx_meter;
void nx_print_summary(const char *head, sl_env *env, struct nx_meter *meter);
/* The same for a run whose first `warmup` events are not measured (0:
 * all are): events and rates over the rest, in measured_seconds. */
void nx_print_measured(const char *head, sl_env *env, struct nx_meter *meter, uint64_t warmup,
                       double measured_seconds);

#endif
