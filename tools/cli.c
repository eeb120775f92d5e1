/*
 * cli.c -- the helpers every `sluice` command shares (declared in cli.h):
 * parsing options into cli_opts and -D keys into the environment, running a
 * job and mapping its result to the documented exit codes, "host:port" and
 * durations, peak RSS for the benchmarks.  The jobs (tools/), the
 * benchmarks (bench/) and tools/sluice.c's dispatch call down into these;
 * nothing here calls back up.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"
#include "core/core.h" /* sl__parse_duration_ms: durations read as -D keys do */

static int flag_allowed(const char *allowed, const char *name) {
  size_t n = strlen(name);
  for (const char *p = allowed; (p = strstr(p, name)); p += n)
    if ((p == allowed || p[-1] == ',') && (p[n] == ',' || !p[n])) return 1;
  return 0;
}

int cli_parse(int argc, char **argv, int first, const char *cmd,
              const char *allowed, sl_env *env, cli_opts *o) {
  static const struct {
    const char *name;
    size_t off;
  } flags[] = {{"input", offsetof(cli_opts, input)},
               {"output", offsetof(cli_opts, output)},
               {"socket", offsetof(cli_opts, socket)},
               {"parallelism", offsetof(cli_opts, parallelism)},
               {"records", offsetof(cli_opts, records)},
               {"keys", offsetof(cli_opts, keys)},
               {"backend", offsetof(cli_opts, backend)},
               {"state-mb", offsetof(cli_opts, state_mb)},
               {"window", offsetof(cli_opts, window)},
               {"time", offsetof(cli_opts, time)},
               {"out-of-orderness", offsetof(cli_opts, out_of_orderness)},
               {"allowed-lateness", offsetof(cli_opts, allowed_lateness)},
               {"idle-timeout", offsetof(cli_opts, idle_timeout)},
               {"watermark-interval", offsetof(cli_opts, watermark_interval)},
               {"checkpoint-dir", offsetof(cli_opts, checkpoint_dir)},
               {"checkpoint-interval", offsetof(cli_opts, checkpoint_interval)},
               {"restore", offsetof(cli_opts, restore)},
               {"late-output", offsetof(cli_opts, late_output)},
               {"dead-letter", offsetof(cli_opts, dead_letter)}};
  for (int i = first; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-D") || !strncmp(a, "-D", 2)) {
      const char *kv = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
      if (!kv) {
        fprintf(stderr, "%s: -D needs key=value\n", cmd);
        return SL_EXIT_USAGE;
      }
      if (sl_env_set_kv(env, kv)) {
        fprintf(stderr, "%s: %s\n", cmd, sl_env_last_error(env));
        return SL_EXIT_USAGE;
      }
      continue;
    }
    if (!strcmp(a, "--stateless") && flag_allowed(allowed, "stateless")) {
      o->stateless = 1;
      continue;
    }
    int matched = 0;
    for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
      size_t n = strlen(flags[f].name);
      if (strncmp(a, "--", 2) || strncmp(a + 2, flags[f].name, n)) continue;
      if (a[2 + n] != 0 && a[2 + n] != '=') continue;
      int job_flag = !strncmp(cmd, "sluice run ", 11) &&
                     (!strcmp(flags[f].name, "checkpoint-dir") ||
                      !strcmp(flags[f].name, "checkpoint-interval") ||
                      !strcmp(flags[f].name, "restore"));
      if (!job_flag && !flag_allowed(allowed, flags[f].name)) break;
      const char *v = a[2 + n] == '=' ? a + 3 + n : (i + 1 < argc ? argv[++i] : NULL);
      if (!v) {
        fprintf(stderr, "%s: %s needs a value\n", cmd, a);
        return SL_EXIT_USAGE;
      }
      *(const char **)((char *)o + flags[f].off) = v;
      matched = 1;
    }
    if (!matched) {
      fprintf(stderr, "%s: unknown option '%s'; try `sluice --help`\n", cmd, a);
      return SL_EXIT_USAGE;
    }
  }
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
  return 0;
}

const char *cli_late_hint = "no side output received them";

static void report_late(sl_env *env, const char *name) {
  sl_job_stats st;
  sl_job_stats_get(env, &st);
  if (st.late_records_dropped)
    fprintf(stderr, "%s: %llu late records dropped (%s)\n", name,
            (unsigned long long)st.late_records_dropped, cli_late_hint);
}

int cli_execute(sl_env *env, const char *name) {
  const char *pn = sl_env_get(env, "pipeline.name");
  int rc = sl_execute(env, pn && *pn ? NULL : name); /* -D pipeline.name wins */
  report_late(env, name);
  if (rc == 0) return SL_EXIT_OK;
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
