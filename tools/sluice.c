/*
 * sluice.c -- the `sluice` command: help, version, configuration listing,
 * and dispatch to the built-in jobs (tools/jobs.c) and benchmarks (bench/).
 * Only main and the dispatch live here; the helpers the commands share are
 * in tools/cli.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *USAGE =
    "sluice " SL_VERSION_STRING " -- stream processing engine\n"
    "\n"
    "usage:\n"
    "  sluice run upper --input PATH [--output PATH] [options]\n"
    "      upper-case every line of the input\n"
    "  sluice run wordcount (--input PATH | --socket HOST:PORT) [--output PATH] [options]\n"
    "      rolling word count; one `word<TAB>count` line per update\n"
    "  sluice run window-agg --window SPEC [--input PATH | --socket HOST:PORT] [options]\n"
    "      windowed count,sum,min,max per key of CSV lines `timestamp_ms,key,value`\n"
    "      (stdin when neither --input nor --socket); one line per window firing:\n"
    "      `window_start,window_end,key,count,sum,min,max`\n"
    "        --window tumbling:SIZE | sliding:SIZE:SLIDE | session:GAP\n"
    "        --time event|processing    (default event)\n"
    "        --out-of-orderness DUR     watermark delay (default 0)\n"
    "        --allowed-lateness DUR     late records re-fire their window (default 0)\n"
    "        --idle-timeout DUR         idle input stops holding the watermark (0: never)\n"
    "        --watermark-interval DUR   0: a watermark after every record\n"
    "                                   (default pipeline.auto-watermark-interval)\n"
    "        --late-output PATH         records too late for any window, as read\n"
    "        --dead-letter PATH         bad records (malformed lines, windows beyond the\n"
    "                                   int64 range of ms) go here instead of failing\n"
    "  sluice sql FILE.sql | -e 'STATEMENTS' [-p N] [-D key=value] [--checkpoint-dir DIR] [options]\n"
    "      streaming SQL (PostgreSQL grammar): CREATE TABLE ... WITH (connector = ...),\n"
    "      CREATE VIEW, SET, SHOW TABLES, EXPLAIN, INSERT INTO sink SELECT ... FROM source\n"
    "      [TUMBLE|HOP|SESSION(...) GROUP BY window_start, window_end, ...]; the INSERTs of\n"
    "      a file run as one job (connectors: filesystem csv|json, kafka,\n"
    "      upsert-kafka, postgres, datagen, nexmark, print, blackhole)\n"
    "  sluice bench pipeline [--parallelism P] [--records N] [--keys K] [--stateless]\n"
    "      generator -> map -> filter -> key_by -> reduce -> discard\n"
    "  sluice bench state [--backend hashmap|rocksdb] [--keys N] [--records OPS] [--parallelism P]\n"
    "      value-state read-modify-write per record on a keyed stream\n"
    "  sluice bench window [--window tumbling|sliding] [--keys K] [--parallelism P] [--records N]\n"
    "      keyed 100 ms windows (sliding: every 20 ms) summing a generated stream\n"
    "  sluice bench checkpoint [--backend hashmap|rocksdb] [--state-mb M] [--parallelism P]\n"
    "      time to take and to restore a checkpoint of M MB of keyed state\n"
    "  sluice bench nexmark --query qN|all [--profile flink-v1|flink-v2] [--events N] [--rate R]\n"
    "                       [--warmup-events N] [--generators N] [--seed S] [--parallelism P]\n"
    "                       [--checkpoint-interval DUR] [--sql] [-D key=value]\n"
    "      Nexmark queries over the built-in generator, one summary line per query\n"
    "      (default 10000000 events at 10000000 events/s of event time; the profiles\n"
    "      are the published nexmark-flink suites' settings); --sql runs the queries'\n"
    "      SQL versions (bench/nexmark/sql/qN.sql), whose results and checksums equal\n"
    "      the C queries'\n"
    "  sluice bench ysb [--events N] [--parallelism P] [--rate R]\n"
    "      Yahoo Streaming Benchmark: ad views joined to campaigns, 10 s windowed counts\n"
    "  sluice checkpoint inspect PATH\n"
    "      what a checkpoint (chk-<n>, or the newest in a directory) holds; verifies checksums\n"
    "  sluice savepoint CHECKPOINT_DIR [--target PATH] [--timeout DUR]\n"
    "      ask the job checkpointing into CHECKPOINT_DIR for a savepoint; prints its\n"
    "      path (resume with --restore PATH; savepoints outlive the job)\n"
    "  sluice list [--rest HOST:PORT] [--token TOKEN]\n"
    "      the job a REST API serves (`sluice run` prints its URL; default 127.0.0.1:8081)\n"
    "  sluice cancel JOBID [--rest HOST:PORT] [--token TOKEN]\n"
    "      stop that job without drain (as Ctrl-C)\n"
    "  sluice stop JOBID [--drain] [--savepoint-path DIR] [--rest HOST:PORT] [--token TOKEN]\n"
    "      stop it with a savepoint (its final checkpoint) and print the savepoint's path;\n"
    "      --drain ends the input first so every window fires\n"
    "  sluice kafka-mock [--brokers N] [--port P] [--topic NAME[:PARTITIONS]]...\n"
    "      librdkafka's mock cluster until Ctrl-C (for trying Kafka jobs; not a real\n"
    "      broker); prints its bootstrap servers\n"
    "  sluice conf --list | --markdown\n"
    "      configuration keys with type, default and description\n"
    "  sluice --help | --version\n"
    "\n"
    "job options (`sluice run JOB --help` lists a job's own):\n"
    "  -p, --parallelism N worker threads (parallelism.default; default: CPUs)\n"
    "  -D key=value        set any configuration key (see `sluice conf --list`)\n"
    "  --conf FILE         a Flink-style config.yaml (nested keys flattened), before -D\n"
    "  --checkpoint-dir DIR --checkpoint-interval DUR\n"
    "                      take checkpoints (state.checkpoints.dir, execution.checkpointing.interval)\n"
    "  -s, --restore latest|PATH  resume from the newest complete checkpoint in DIR, or PATH\n"
    "  --progress          a progress line every few seconds (default: on a terminal)\n"
    "  --input PATH        a file, a directory or a glob pattern\n"
    "  --output PATH       a file (written atomically at the end) or a directory\n"
    "                      (ending in /) of part files; default (or -) plain lines on stdout\n"
    "  DUR                 a duration: 500ms, 10s, 10 seconds, 2 min, 1h (Flink's spellings;\n"
    "                      a bare number is ms)\n"
    "A job serves its REST API, Prometheus /metrics and a web dashboard on\n"
    "127.0.0.1:8081 (or the next free port; -D rest.port=N, -D rest.enabled=false) and\n"
    "logs the URL.  It ends with one summary line on stderr (records in/out, dead\n"
    "letters, late records dropped, checkpoints, restarts, wall time, records/s).\n"
    "\n"
    "exit codes: 0 finished, 1 job failed (message on stderr), 2 usage or\n"
    "configuration error, 130 stopped by SIGINT/SIGTERM (output flushed)\n";

static void conf_list(int markdown) {
  if (markdown) {
    printf("# Configuration\n\n"
           "Generated by `sluice conf --markdown` from the key table in "
           "`src/core/config.h`; do not edit by hand.\n\n"
           "Set keys with `sl_env_set(env, key, value)` or `-D key=value` on any "
           "`sluice run` job.  Durations take `ms`, `s`, `min`, `h` (a bare "
           "number is milliseconds); sizes take `b`, `kb`, `mb`, `gb`.\n\n"
           "| Key | Type | Default | Description |\n|---|---|---|---|\n");
  }
  for (size_t i = 0;; i++) {
    const sl_config_key *k = sl_config_key_at(i);
    if (!k) break;
    if (markdown)
      printf("| `%s` | %s | `%s` | %s |\n", k->key, k->type,
             k->deflt[0] ? k->deflt : "(empty)", k->doc);
    else
      printf("%-32s %-9s %-8s %s\n", k->key, k->type,
             k->deflt[0] ? k->deflt : "\"\"", k->doc);
  }
}

/* The USAGE entries of command `what` ("run", "bench", "checkpoint", ...):
 * each "  sluice WHAT ..." line and the indented lines under it. */
static void usage_of(const char *what) {
  char head[64];
  snprintf(head, sizeof head, "  sluice %s", what);
  size_t hn = strlen(head);
  int on = 0;
  printf("usage:\n");
  for (const char *l = USAGE; *l;) {
    const char *e = strchr(l, '\n');
    size_t n = e ? (size_t)(e - l) : strlen(l);
    if (!strncmp(l, "  sluice ", 9) || n == 0) on = !strncmp(l, head, hn) && (l[hn] == ' ' || l[hn] == '\n');
    if (on) printf("%.*s\n", (int)n, l);
    l += n + (e != NULL);
  }
  printf("\n`sluice %s%s --help` lists a command's options; exit codes: `sluice --help`.\n",
         what, !strcmp(what, "run") ? " JOB" : !strcmp(what, "bench") ? " NAME" : "");
}

static int wants_help(const char *a) { return !strcmp(a, "--help") || !strcmp(a, "-h"); }

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
      !strcmp(argv[1], "help")) {
    fputs(USAGE, argc < 2 ? stderr : stdout);
    return argc < 2 ? SL_EXIT_USAGE : SL_EXIT_OK;
  }
  if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
    printf("sluice %s\n", sl_version());
    return SL_EXIT_OK;
  }
  static const char *const commands[] = {"run",  "bench",  "checkpoint", "savepoint",
                                         "list", "cancel", "stop",       "conf"};
  for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++)
    if (!strcmp(argv[1], commands[c]) && argc == 3 && wants_help(argv[2]))
      return usage_of(commands[c]), SL_EXIT_OK;
  if (!strcmp(argv[1], "conf")) {
    if (argc == 3 && !strcmp(argv[2], "--list")) return conf_list(0), SL_EXIT_OK;
    if (argc == 3 && !strcmp(argv[2], "--markdown")) return conf_list(1), SL_EXIT_OK;
    fprintf(stderr, "sluice conf: expected --list or --markdown\n");
    return SL_EXIT_USAGE;
  }
  if (!strcmp(argv[1], "run") && argc == 2) {
    fprintf(stderr, "sluice run: missing job name (jobs: upper, wordcount, window-agg)\n");
    return SL_EXIT_USAGE;
  }
  if (!strcmp(argv[1], "bench") && argc == 2) {
    fprintf(stderr, "sluice bench: missing benchmark name (benchmarks: pipeline, state, window, "
                    "checkpoint, nexmark, ysb)\n");
    return SL_EXIT_USAGE;
  }
  if (!strcmp(argv[1], "checkpoint") && (argc < 3 || strcmp(argv[2], "inspect"))) {
    fprintf(stderr, "sluice checkpoint: expected `inspect PATH` (`sluice checkpoint --help`)\n");
    return SL_EXIT_USAGE;
  }
  if (!strcmp(argv[1], "checkpoint") && argc == 4 && wants_help(argv[3]))
    return usage_of("checkpoint"), SL_EXIT_OK;
  if (!strcmp(argv[1], "run") && argc >= 3) {
    if (!strcmp(argv[2], "upper")) return job_upper(argc, argv);
    if (!strcmp(argv[2], "wordcount")) return job_wordcount(argc, argv);
    if (!strcmp(argv[2], "window-agg")) return job_window_agg(argc, argv);
    fprintf(stderr, "sluice run: unknown job '%s' (jobs: upper, wordcount, window-agg)\n",
            argv[2]);
    return SL_EXIT_USAGE;
  }
  if (!strcmp(argv[1], "checkpoint") && argc >= 3 && !strcmp(argv[2], "inspect"))
    return checkpoint_inspect(argc, argv);
  if (!strcmp(argv[1], "savepoint")) return cmd_savepoint(argc, argv);
  if (!strcmp(argv[1], "list")) return cmd_list(argc, argv);
  if (!strcmp(argv[1], "cancel")) return cmd_cancel(argc, argv);
  if (!strcmp(argv[1], "stop")) return cmd_stop(argc, argv);
  if (!strcmp(argv[1], "kafka-mock")) return cmd_kafka_mock(argc, argv);
  if (!strcmp(argv[1], "sql")) return cmd_sql(argc, argv);
  if (!strcmp(argv[1], "bench") && argc >= 3) {
    if (!strcmp(argv[2], "pipeline")) return bench_pipeline(argc, argv);
    if (!strcmp(argv[2], "state")) return bench_state(argc, argv);
    if (!strcmp(argv[2], "window")) return bench_window(argc, argv);
    if (!strcmp(argv[2], "checkpoint")) return bench_checkpoint(argc, argv);
    if (!strcmp(argv[2], "nexmark")) return bench_nexmark(argc, argv);
    if (!strcmp(argv[2], "ysb")) return bench_ysb(argc, argv);
    fprintf(stderr, "sluice bench: unknown benchmark '%s' (benchmarks: pipeline, state, window, "
                    "checkpoint, nexmark, ysb)\n",
            argv[2]);
    return SL_EXIT_USAGE;
  }
  fprintf(stderr, "sluice: unknown command '%s'; try `sluice --help`\n", argv[1]);
  return SL_EXIT_USAGE;
}
