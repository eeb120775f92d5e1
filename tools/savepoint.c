/*
 * savepoint.c -- `sluice savepoint DIR [--target PATH] [--timeout DUR]`:
 * ask the job running with checkpoints in DIR (state.checkpoints.dir) for
 * a savepoint and print its path once it is complete.
 *
 * The request is a file, DIR/_savepoint-request ("<nonce> <target>"),
 * written atomically; the job's checkpoint coordinator looks for it every
 * 100 ms, takes the savepoint right away (not waiting for the interval)
 * and answers in DIR/_savepoint-<nonce>.  A savepoint is a checkpoint in a
 * directory of its own (default DIR/savepoints/savepoint-<n>-<ms>): no
 * retention deletes it, it outlives the job, and `--restore PATH` resumes
 * from it.  Exit 0 with the path on stdout, 1 when the job answered with
 * an error or none answered in time (default 60 s).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint/checkpoint.h"
#include "cli.h"
#include "core/core.h"

int cmd_savepoint(int argc, char **argv) {
  const char *dir = NULL, *target = "";
  int64_t timeout_ms = 60000;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      printf("usage: sluice savepoint CHECKPOINT_DIR [--target PATH] [--timeout DUR]\n\n"
             "Ask the job checkpointing into CHECKPOINT_DIR for a savepoint and print its path\n"
             "(resume with --restore PATH; savepoints outlive the job).\n\n"
             "  --target PATH    where the savepoint goes (default DIR/savepoints/savepoint-<n>-<ms>)\n"
             "  --timeout DUR    how long to wait for the job's answer (default 60s)\n");
      return SL_EXIT_OK;
    }
    if (!strcmp(argv[i], "--target") && i + 1 < argc) {
      target = argv[++i];
    } else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
      if (sl__parse_duration_ms(argv[++i], &timeout_ms) || timeout_ms <= 0) {
        fprintf(stderr, "sluice savepoint: --timeout: '%s' is not a duration\n", argv[i]);
        return SL_EXIT_USAGE;
      }
    } else if (argv[i][0] != '-' && !dir) {
      dir = argv[i];
    } else {
      fprintf(stderr, "usage: sluice savepoint CHECKPOINT_DIR [--target PATH] [--timeout DUR]\n");
      return SL_EXIT_USAGE;
    }
  }
  if (!dir) {
    fprintf(stderr, "usage: sluice savepoint CHECKPOINT_DIR [--target PATH] [--timeout DUR]\n");
    return SL_EXIT_USAGE;
  }
  if (access(dir, W_OK) != 0) {
    fprintf(stderr, "sluice savepoint: '%s' is not a writable checkpoint directory\n", dir);
    return SL_EXIT_FAILED;
  }
  char nonce[32], msg[4400];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  snprintf(nonce, sizeof nonce, "%lx%lx", (unsigned long)getpid(), (unsigned long)ts.tv_nsec);
  int rc = sl__savepoint_request(dir, nonce, target);
  if (rc) {
    fprintf(stderr, "sluice savepoint: cannot write the request into '%s': %s\n", dir,
            strerror(-rc));
    return SL_EXIT_FAILED;
  }
  for (int64_t waited = 0; waited < timeout_ms; waited += 50) {
    int ok;
    if (sl__savepoint_answer(dir, nonce, &ok, msg, sizeof msg)) {
      if (ok)
        printf("%s\n", msg);
      else
        fprintf(stderr, "sluice savepoint: the job failed to take it: %s\n", msg);
      return ok ? SL_EXIT_OK : SL_EXIT_FAILED;
    }
    struct timespec d = {0, 50 * 1000000};
    nanosleep(&d, NULL);
  }
  sl__savepoint_withdraw(dir, nonce); /* unless the job took it meanwhile */
  fprintf(stderr,
          "sluice savepoint: no job answered within %lld ms (is a job running with "
          "--checkpoint-dir %s and a checkpoint interval?)\n",
          (long long)timeout_ms, dir);
  return SL_EXIT_FAILED;
}
