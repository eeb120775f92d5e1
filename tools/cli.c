/*
 * cli.c -- the helpers every `sluice` command shares (declared in cli.h):
 * parsing options into cli_opts and -D keys into the environment, running a
 * job and mapping its result to the documented exit codes, "host:port" and
 * durations, peak RSS for the benchmarks.  The jobs (tools/), the
 * benchmarks (bench/) and tools/sluice.c's dispatch call down into these;
 * nothing here calls back up.
 */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <yaml.h>

#include "cli.h"
#include "core/core.h" /* sl__parse_duration_ms: durations read as -D keys do */

static int g_progress; /* --progress (cli_run_job) */

static int run_execute(void *ud, sl_env *env, const char *name) {
  const char *pn = sl_env_get(env, "pipeline.name");
  return sl_execute(env, pn && *pn ? NULL : name); /* -D pipeline.name wins */
}

static cli_run_fn g_run = run_execute; /* what cli_execute runs */
static void *g_run_ud;


static int flag_allowed(const char *allowed, const char *name) {
  size_t n = strlen(name);
  for (const char *p = allowed; (p = strstr(p, name)); p += n)
    if ((p == allowed || p[-1] == ',') && (p[n] == ',' || !p[n])) return 1;
  return 0;
}

/* Every long flag: its cli_opts field (a string; an int set to 1 for a
 * flag without argument), argument and description. */
static const struct flag {
  const char *name;
  size_t off;
  const char *arg, *doc;
} g_flags[] = {
    {"input", offsetof(cli_opts, input), "PATH",
     "file, directory or glob to read (or kafka://..., postgresql://...?table-name=T,\n"
     "                                     with &scan.mode=cdc: the table, then its changes)"},
    {"output", offsetof(cli_opts, output), "PATH",
     "where the results go (default: stdout; or kafka://..., postgresql://...?table-name=T)"},
    {"socket", offsetof(cli_opts, socket), "HOST:PORT", "read lines from a TCP socket"},
    {"parallelism", offsetof(cli_opts, parallelism), "N", "worker threads (-p N)"},
    {"records", offsetof(cli_opts, records), "N", "records to generate"},
    {"keys", offsetof(cli_opts, keys), "K", "distinct keys"},
    {"backend", offsetof(cli_opts, backend), "hashmap|rocksdb", "keyed-state backend"},
    {"state-mb", offsetof(cli_opts, state_mb), "M", "MB of keyed state"},
    {"window", offsetof(cli_opts, window), "SPEC", "tumbling:SIZE | sliding:SIZE:SLIDE | session:GAP"},
    {"time", offsetof(cli_opts, time), "event|processing", "the windows' time"},
    {"out-of-orderness", offsetof(cli_opts, out_of_orderness), "DUR", "watermark delay"},
    {"allowed-lateness", offsetof(cli_opts, allowed_lateness), "DUR",
     "late records re-fire their window"},
    {"idle-timeout", offsetof(cli_opts, idle_timeout), "DUR",
     "an input without records this long stops holding the watermark"},
    {"watermark-interval", offsetof(cli_opts, watermark_interval), "DUR",
     "watermarks every DUR of processing time (0: after every record)"},
    {"checkpoint-dir", offsetof(cli_opts, checkpoint_dir), "DIR", "where checkpoints go"},
    {"checkpoint-interval", offsetof(cli_opts, checkpoint_interval), "DUR",
     "checkpoint every DUR"},
    {"restore", offsetof(cli_opts, restore), "latest|PATH",
     "resume from a checkpoint or savepoint (-s PATH)"},
    {"late-output", offsetof(cli_opts, late_output), "PATH", "records too late for any window"},
    {"dead-letter", offsetof(cli_opts, dead_letter), "PATH", "bad records go here"},
    {"query", offsetof(cli_opts, query), "qN|all", "the query (all: each in a process)"},
    {"events", offsetof(cli_opts, events), "N", "events to generate"},
    {"rate", offsetof(cli_opts, rate), "R", "events per second of event time"},
    {"seed", offsetof(cli_opts, seed), "S", "the generator's seed (default 0)"},
    {"warmup-events", offsetof(cli_opts, warmup_events), "N", "events before the measured ones"},
    {"generators", offsetof(cli_opts, generators), "N",
     "generator timelines (numEventGenerators; default 1)"},
    {"profile", offsetof(cli_opts, profile), "flink-v1|flink-v2",
     "the published nexmark-flink suites' settings"},
    {"sql", offsetof(cli_opts, sql), NULL,
     "the query's SQL version (bench/nexmark/sql/qN.sql) instead of its C graph"},
    {"stateless", offsetof(cli_opts, stateless), NULL, "no keyed state"},
    {"progress", offsetof(cli_opts, progress), NULL,
     "a progress line on stderr every few seconds (default: when stderr is a terminal)"},
    {"rest", offsetof(cli_opts, rest), "HOST:PORT", "the job's REST API (default 127.0.0.1:8081)"},
    {"token", offsetof(cli_opts, token), "TOKEN",
     "its rest.auth.token (default: $SLUICE_REST_TOKEN)"},
    {"drain", offsetof(cli_opts, drain), NULL, "end the input first: windows fire (Flink's --drain)"},
    {"savepoint-path", offsetof(cli_opts, savepoint_path), "DIR",
     "where the savepoint goes (default: state.savepoints.dir, else <checkpoint dir>/savepoints)"},
    {"conf", offsetof(cli_opts, conf), "FILE",
     "a Flink-style config.yaml, applied before -D"},
    {"execute", offsetof(cli_opts, execute), "STATEMENTS", "SQL statements to run (-e)"},
};
#define N_FLAGS (sizeof g_flags / sizeof g_flags[0])

/* Flags of this command: its own, and every `sluice run` job's checkpoint
 * flags and --conf. */
static int flag_on(const char *cmd, const char *allowed, const char *name) {
  if (!strcmp(name, "conf")) return 1;
  if (!strncmp(cmd, "sluice run ", 11) &&
      (!strcmp(name, "checkpoint-dir") || !strcmp(name, "checkpoint-interval") ||
       !strcmp(name, "restore") || !strcmp(name, "progress")))
    return 1;
  return flag_allowed(allowed, name);
}

static void print_help(const char *cmd, const char *allowed) {
  printf("usage: %s%s [options]\n\noptions:\n", cmd,
         flag_allowed(allowed, "ARG") ? " FILE" : "");
  for (size_t f = 0; f < N_FLAGS; f++) {
    if (!flag_on(cmd, allowed, g_flags[f].name)) continue;
    char left[64];
    snprintf(left, sizeof left, "--%s%s%s", g_flags[f].name, g_flags[f].arg ? " " : "",
             g_flags[f].arg ? g_flags[f].arg : "");
    printf("  %-34s %s\n", left, g_flags[f].doc);
  }
  printf("  %-34s %s\n", "-D key=value", "set a configuration key (repeatable; `sluice conf "
                                          "--list` lists them)");
  printf("  %-34s %s\n", "-h, --help", "this help");
  printf("\nA flag's value may follow it or be joined with '=' (--parallelism=4).  Durations:\n"
         "a number and ms, s, min, h or d (Flink's spellings: 10s, 10 seconds, 2 min); a bare\n"
         "number is milliseconds.\n");
}

/* A Flink-style config.yaml: nested maps flattened with dots into keys,
 * each scalar set as sl_env_set would (so every error names the file, line
 * and key). */
static int read_conf_yaml(const char *cmd, const char *path, sl_env *env) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "%s: --conf %s: %s\n", cmd, path, strerror(errno));
    return SL_EXIT_USAGE;
  }
  yaml_parser_t p;
  if (!yaml_parser_initialize(&p)) {
    fclose(f);
    fprintf(stderr, "%s: --conf %s: out of memory\n", cmd, path);
    return SL_EXIT_USAGE;
  }
  yaml_parser_set_input_file(&p, f);
  char key[512] = "";
  size_t lens[32]; /* lens[d]: length of the key prefix of the map at depth d + 1 */
  int depth = 0, want_key = 1, rc = 0, done = 0;
  while (!rc && !done) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&p, &ev)) {
      fprintf(stderr, "%s: --conf %s:%zu: %s\n", cmd, path, p.problem_mark.line + 1,
              p.problem ? p.problem : "not YAML");
      rc = SL_EXIT_USAGE;
      break;
    }
    size_t line = ev.start_mark.line + 1;
    switch (ev.type) {
      case YAML_MAPPING_START_EVENT:
        if (depth == 0 && !key[0]) { /* the document's top-level map */
          depth = 1, lens[0] = 0, want_key = 1;
          break;
        }
        if (depth >= 31) {
          fprintf(stderr, "%s: --conf %s:%zu: nested too deeply\n", cmd, path, line);
          rc = SL_EXIT_USAGE;
          break;
        }
        lens[depth++] = strlen(key); /* key "a.b" becomes the prefix */
        want_key = 1;
        break;
      case YAML_MAPPING_END_EVENT: /* back to the parent map's prefix */
        if (--depth > 0) key[lens[depth - 1]] = 0;
        want_key = 1;
        break;
      case YAML_SCALAR_EVENT: {
        const char *v = (const char *)ev.data.scalar.value;
        if (want_key) {
          size_t at = depth > 0 ? lens[depth - 1] : 0;
          if (at && at < sizeof key - 1) key[at++] = '.';
          snprintf(key + at, sizeof key - at, "%s", v);
          want_key = 0;
        } else {
          if (sl_env_set(env, key, v)) {
            fprintf(stderr, "%s: --conf %s:%zu: %s\n", cmd, path, line, sl_env_last_error(env));
            rc = SL_EXIT_USAGE;
          }
          key[depth > 0 ? lens[depth - 1] : 0] = 0;
          want_key = 1;
        }
        break;
      }
      case YAML_SEQUENCE_START_EVENT:
        fprintf(stderr, "%s: --conf %s:%zu: '%s': lists are not configuration values\n", cmd,
                path, line, key);
        rc = SL_EXIT_USAGE;
        break;
      case YAML_STREAM_END_EVENT: done = 1; break;
      default: break;
    }
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&p);
  fclose(f);
  return rc;
}

/* A --input/--output that looks like a URI must be one we know: a URI
 * never becomes a file path. */
static int check_uri(const char *cmd, const char *flag, const char *v) {
  const char *sep = v ? strstr(v, "://") : NULL;
  if (!sep || !strncmp(v, "kafka://", 8) || cli_is_postgres(v)) return 0;
  for (const char *c = v; c < sep; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
          *c == '+' || *c == '-' || *c == '.'))
      return 0; /* a path that happens to contain "://" */
  fprintf(stderr, "%s: --%s '%s': unknown scheme '%.*s://' (kafka://HOST:PORT/TOPIC, "
                  "postgresql://USER@HOST:PORT/DB?table-name=T, or a file path)\n", cmd, flag, v, (int)(sep - v), v);
  return SL_EXIT_USAGE;
}

int cli_parse(int argc, char **argv, int first, const char *cmd, const char *allowed, sl_env *env,
              cli_opts *o) {
  /* getopt_long over [cmd, argv[first..]] */
  int n = argc - first;
  char **args = calloc((size_t)n + 2, sizeof *args);
  struct option *lo = calloc(N_FLAGS + 2, sizeof *lo);
  const char **dkv = calloc((size_t)n + 1, sizeof *dkv); /* -D's, applied after --conf */
  int n_d = 0, rc = 0;
  if (!args || !lo || !dkv) {
    free(args), free(lo), free(dkv);
    fprintf(stderr, "%s: out of memory\n", cmd);
    return SL_EXIT_FAILED;
  }
  args[0] = (char *)cmd;
  for (int i = 0; i < n; i++) args[i + 1] = argv[first + i];
  int nl = 0;
  for (size_t f = 0; f < N_FLAGS; f++)
    if (flag_on(cmd, allowed, g_flags[f].name))
      lo[nl++] = (struct option){g_flags[f].name, g_flags[f].arg ? required_argument : no_argument,
                                 NULL, 256 + (int)f};
  lo[nl++] = (struct option){"help", no_argument, NULL, 'h'};
  char shorts[16] = "+:hD:"; /* '+': options first, no permuting */
  if (flag_on(cmd, allowed, "parallelism")) strcat(shorts, "p:");
  if (flag_on(cmd, allowed, "restore")) strcat(shorts, "s:");
  if (flag_on(cmd, allowed, "execute")) strcat(shorts, "e:");
  unsigned char seen[N_FLAGS] = {0};
  optind = 0; /* a full reset: cli_parse may run more than once */
  opterr = 0;
  int c;
  int positional = flag_allowed(allowed, "ARG");
  for (int at = optind ? optind : 1; !rc; at = optind) {
    if ((c = getopt_long(n + 1, args, shorts, lo, NULL)) == -1) {
      /* '+' stops at the first positional argument: take it, go on */
      if (!positional || o->arg || optind > n || !strcmp(args[optind - 1], "--")) break;
      o->arg = args[optind++];
      continue;
    }
    int f = -1;
    if (c >= 256) { /* exactly the flag's name: getopt_long takes abbreviations */
      const char *tok = args[at], *name = g_flags[c - 256].name;
      size_t len = strlen(name);
      if (strncmp(tok, "--", 2) || strncmp(tok + 2, name, len) ||
          (tok[2 + len] && tok[2 + len] != '=')) {
        fprintf(stderr, "%s: unknown option '%s'; try `%s --help`\n", cmd, tok, cmd);
        rc = SL_EXIT_USAGE;
        break;
      }
    }
    if (c == 'h') {
      print_help(cmd, allowed);
      free(args), free(lo), free(dkv);
      exit(SL_EXIT_OK);
    } else if (c == 'D') {
      dkv[n_d++] = optarg;
      continue;
    } else if (c == 'p' || c == 's' || c == 'e') {
      for (size_t k = 0; k < N_FLAGS; k++)
        if (!strcmp(g_flags[k].name, c == 'p' ? "parallelism" : c == 's' ? "restore" : "execute"))
          f = (int)k;
    } else if (c >= 256) {
      f = c - 256;
    } else if (c == ':') {
      fprintf(stderr, "%s: %s needs a value\n", cmd, args[optind - 1]);
      rc = SL_EXIT_USAGE;
      break;
    } else {
      fprintf(stderr, "%s: unknown option '%s'; try `%s --help`\n", cmd, args[optind - 1], cmd);
      rc = SL_EXIT_USAGE;
      break;
    }
    if (seen[f]++) {
      fprintf(stderr, "%s: --%s given twice\n", cmd, g_flags[f].name);
      rc = SL_EXIT_USAGE;
    } else if (!g_flags[f].arg) {
      *(int *)((char *)o + g_flags[f].off) = 1;
    } else {
      *(const char **)((char *)o + g_flags[f].off) = optarg;
    }
  }
  if (!rc && optind <= n) {
    fprintf(stderr, "%s: unexpected argument '%s'; try `%s --help`\n", cmd, args[optind], cmd);
    rc = SL_EXIT_USAGE;
  }
  if (!rc && o->conf) rc = read_conf_yaml(cmd, o->conf, env);
  for (int i = 0; !rc && i < n_d; i++)
    if (sl_env_set_kv(env, dkv[i])) {
      fprintf(stderr, "%s: %s\n", cmd, sl_env_last_error(env)); /* the message names the key */
      rc = SL_EXIT_USAGE;
    }
  free(args), free(lo), free(dkv);
  if (rc) return rc;
  /* checkpoint flags of every job map to configuration keys */
  static const struct {
    size_t off;
    const char *flag, *key;
  } ckpt[] = {{offsetof(cli_opts, checkpoint_dir), "--checkpoint-dir", "state.checkpoints.dir"},
              {offsetof(cli_opts, checkpoint_interval), "--checkpoint-interval",
               "execution.checkpointing.interval"},
              {offsetof(cli_opts, restore), "--restore", "execution.checkpointing.restore"}};
  for (size_t k = 0; k < sizeof ckpt / sizeof ckpt[0]; k++) {
    const char *v = *(const char **)((const char *)o + ckpt[k].off);
    if (v && sl_env_set(env, ckpt[k].key, v)) {
      fprintf(stderr, "%s: %s: %s\n", cmd, ckpt[k].flag, sl_env_last_error(env));
      return SL_EXIT_USAGE;
    }
  }
  if (o->parallelism && sl_env_set(env, "parallelism.default", o->parallelism)) {
    fprintf(stderr, "%s: --parallelism: %s\n", cmd, sl_env_last_error(env));
    return SL_EXIT_USAGE;
  }
  g_progress = o->progress;
  if (check_uri(cmd, "input", o->input) || check_uri(cmd, "output", o->output))
    return SL_EXIT_USAGE;
  return 0;
}

void cli_run_next_with(cli_run_fn run, void *ud) { g_run = run, g_run_ud = ud; }

int cli_run_job_with(sl_env *env, const char *name, cli_run_fn run, void *ud) {
  g_run = run, g_run_ud = ud;
  return cli_run_job(env, name);
}

int cli_run_job(sl_env *env, const char *name) {
  /* REST API and dashboard on by default: 8081, or the next free port */
  const char *port = sl_env_get(env, "rest.port"), *on = sl_env_get(env, "rest.enabled");
  if ((!port || !*port) && on && !strcmp(on, "true")) sl_env_set(env, "rest.port", "8081-8181");
  cli_progress *pr = g_progress || isatty(2) ? cli_progress_start(env, name) : NULL;
  int rc = cli_execute(env, name);
  cli_progress_stop(pr);
  const char *pn = sl_env_get(env, "pipeline.name");
  if (pn && *pn) name = pn; /* the job's name, as in its log lines */
  sl_job_stats st;
  sl_job_stats_get(env, &st);
  if (st.seconds > 0) /* it ran (not refused before starting) */
    fprintf(stderr,
            "%s: summary: %llu records in, %llu out, %llu dead letters, %llu late records "
            "dropped, %llu checkpoints, %llu restarts, %.3f s, %.0f records/s\n",
            name, (unsigned long long)st.records_in, (unsigned long long)st.records_out,
            (unsigned long long)st.dead_letters, (unsigned long long)st.late_records_dropped,
            (unsigned long long)st.checkpoints, (unsigned long long)st.restarts, st.seconds,
            (double)st.records_in / st.seconds);
  return rc;
}

int cli_u64(const char *cmd, const char *flag, const char *v, unsigned long long *out) {
  char *end;
  if (!v) return 0;
  errno = 0;
  unsigned long long x = *v && *v != '-' ? strtoull(v, &end, 10) : 0;
  if (!*v || *v == '-' || errno || *end) {
    fprintf(stderr, "%s: --%s expects a non-negative integer, got '%s'\n", cmd, flag, v);
    return SL_EXIT_USAGE;
  }
  *out = x;
  return 0;
}

int cli_is_kafka(const char *uri) { return uri && !strncmp(uri, "kafka://", 8); }

int cli_is_postgres(const char *uri) {
  return uri && (!strncmp(uri, "postgresql://", 13) || !strncmp(uri, "postgres://", 11));
}

sl_source *cli_input_source(const char *input) {
  if (cli_is_postgres(input)) return sl_postgres_source_uri(input);
  return cli_is_kafka(input) ? sl_kafka_source_uri(input) : sl_file_source(input);
}

/* uri's query has option `key` already (the user's wins). */
static int has_query_key(const char *uri, const char *key) {
  const char *q = strchr(uri, '?');
  size_t n = strlen(key);
  for (const char *p = q; p; p = strchr(p + 1, '&'))
    if (!strncmp(p + 1, key, n) && p[1 + n] == '=') return 1;
  return 0;
}

/* &key=percent-encoded value */
static void add_query(char *buf, size_t cap, const char *key, const char *value) {
  size_t at = strlen(buf);
  at += (size_t)snprintf(buf + at, at < cap ? cap - at : 0, "%c%s=", strchr(buf, '?') ? '&' : '?', key);
  for (const unsigned char *v = (const unsigned char *)value; *v && at + 4 < cap; v++) {
    if ((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') || (*v >= '0' && *v <= '9') ||
        *v == '-' || *v == '_' || *v == '.')
      buf[at++] = (char)*v;
    else
      at += (size_t)snprintf(buf + at, cap - at, "%%%02X", *v);
  }
  if (at < cap) buf[at] = 0;
}

sl_sink *cli_output_sink_table(const char *output, const char *columns, const char *delim) {
  if (cli_is_kafka(output)) return sl_kafka_sink_uri(output);
  if (cli_is_postgres(output)) {
    size_t cap = strlen(output) + 1024;
    char *uri = malloc(cap);
    if (!uri) return NULL;
    snprintf(uri, cap, "%s", output);
    if (columns && !has_query_key(output, "sink.create-table-columns"))
      add_query(uri, cap, "sink.create-table-columns", columns);
    if (delim && !has_query_key(output, "sink.field-delimiter"))
      add_query(uri, cap, "sink.field-delimiter", delim);
    sl_sink *k = sl_postgres_sink_uri(uri);
    free(uri);
    return k;
  }
  return output && strcmp(output, "-") ? sl_file_sink(output) : sl_stdout_sink();
}

sl_sink *cli_output_sink(const char *output) { return cli_output_sink_table(output, NULL, NULL); }



const char *cli_late_hint = "no side output received them";

static void report_late(sl_env *env, const char *name) {
  sl_job_stats st;
  sl_job_stats_get(env, &st);
  if (st.late_records_dropped)
    fprintf(stderr, "%s: %llu late records dropped (%s)\n", name,
            (unsigned long long)st.late_records_dropped, cli_late_hint);
}

int cli_execute(sl_env *env, const char *name) {
  int rc = g_run(g_run_ud, env, name);
  g_run = run_execute, g_run_ud = NULL;
  report_late(env, name);
  if (rc == 0) return SL_EXIT_OK;
  if (rc > 0) return rc; /* the run reported it and chose the exit code */
  if (rc == -SL_ECANCELED) {
    const char *why = sl_env_last_error(env);
    if (why && *why) /* stopped, but a sink could not deliver everything */
      fprintf(stderr, "%s: stopped: %s\n", name, why);
    else
      fprintf(stderr, "%s: stopped; output flushed\n", name);
    return SL_EXIT_CANCELED;
  }
  fprintf(stderr, "%s: job failed (%s): %s\n", name, sl_err_name(rc),
          sl_env_last_error(env));
  return rc == -SL_ECONFIG ? SL_EXIT_USAGE : SL_EXIT_FAILED;
}

int cli_host_port(const char *s, char *host, size_t cap, int *port) {
  const char *colon = strrchr(s, ':');
  if (!colon || colon == s || (size_t)(colon - s) >= cap) return SL_EXIT_USAGE;
  char *end;
  long p = strtol(colon + 1, &end, 10);
  if (*end || p <= 0 || p > 65535) return SL_EXIT_USAGE;
  memcpy(host, s, (size_t)(colon - s));
  host[colon - s] = 0;
  *port = (int)p;
  return 0;
}

int cli_duration_ms(const char *s, int64_t *ms) {
  return s && sl__parse_duration_ms(s, ms) == 0 ? 0 : SL_EXIT_USAGE;
}

double cli_peak_rss_mb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_maxrss / 1024.0;
}
