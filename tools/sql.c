/*
 * sql.c -- `sluice sql FILE.sql` and `sluice sql -e 'STATEMENTS'`: streaming
 * SQL through sl_sql_execute (include/sluice_sql.h), with every job's
 * options (-p, -D, --conf, --checkpoint-dir, --checkpoint-interval,
 * --restore, --progress) and --dead-letter.  The statements' INSERTs run
 * as one job, reported like every `sluice run` job (REST API, progress,
 * summary line, exit codes); a statement that does not parse or plan is
 * reported as FILE:LINE:COLUMN with the line and a caret, exit code 2.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sluice_sql.h"

typedef struct sql_run {
  const char *text;
  const char *source; /* the file's name, or "-e" */
} sql_run;

static int run(void *ud, sl_env *env, const char *name) {
  const sql_run *r = ud;
  int rc = sl_sql_execute(env, r->text);
  if (rc && !sl_job_id(env)[0]) { /* no job started: the statements' error */
    const char *m = sl_env_last_error(env);
    if (!strncmp(m, "line ", 5) && strstr(m, ", column ")) { /* "line L, column C: ..." -> FILE:L:C: ... */
      int line = 0, col = 0, used = 0;
      if (sscanf(m, "line %d, column %d: %n", &line, &col, &used) == 2 && used)
        return fprintf(stderr, "sluice sql: %s:%d:%d: %s\n", r->source, line, col, m + used), SL_EXIT_USAGE;
    }
    fprintf(stderr, "sluice sql: %s: %s\n", r->source, m);
    return rc == -SL_ENOMEM ? SL_EXIT_FAILED : SL_EXIT_USAGE;
  }
  return rc;
}

static char *read_file(const char *path) {
  FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
  if (!f) return NULL;
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  while (buf) {
    size_t n = fread(buf + len, 1, cap - len - 1, f);
    len += n;
    if (len + 1 < cap) break;
    char *b = realloc(buf, cap *= 2);
    if (!b) free(buf);
    buf = b;
  }
  int err = ferror(f);
  if (f != stdin) fclose(f);
  if (!buf || err) return free(buf), NULL;
  buf[len] = 0;
  return buf;
}

int cmd_sql(int argc, char **argv) {
  const char *cmd = "sluice sql";
  sl_env *env = sl_env_new();
  if (!env) return fprintf(stderr, "sluice: out of memory\n"), SL_EXIT_FAILED;
  cli_opts o = {0};
  char *file_text = NULL;
  int rc = cli_parse(argc, argv, 2, cmd,
                     "ARG,execute,parallelism,checkpoint-dir,checkpoint-interval,restore,progress,"
                     "dead-letter",
                     env, &o);
  if (!rc && !o.arg == !o.execute) {
    fprintf(stderr, "%s: give a FILE.sql (- for stdin) or -e 'STATEMENTS', not %s\n", cmd,
            o.arg ? "both" : "neither");
    rc = SL_EXIT_USAGE;
  }
  if (!rc && o.dead_letter && sl_env_set(env, "pipeline.dead-letter.path", o.dead_letter)) {
    fprintf(stderr, "%s: --dead-letter: %s\n", cmd, sl_env_last_error(env));
    rc = SL_EXIT_USAGE;
  }
  if (!rc && o.arg && !(file_text = read_file(o.arg))) {
    fprintf(stderr, "%s: cannot read '%s': %s\n", cmd, o.arg, errno ? strerror(errno) : "read error");
    rc = SL_EXIT_USAGE;
  }
  if (!rc) {
    sql_run r = {file_text ? file_text : o.execute, o.arg ? o.arg : "-e"};
    rc = cli_run_job_with(env, "sql", run, &r);
  }
  free(file_text);
  sl_env_free(env);
  return rc;
}
