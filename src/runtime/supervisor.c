/*
 * supervisor.c -- run a job in a child process and restart it after a
 * crash, under the restart strategy (execution.supervised,
 * restart-strategy.*, Flink's option names).
 *
 * User code in C can crash the whole process, so a supervised sl_execute
 * forks: the child runs the job (attempt()) and sends back, through a pipe,
 * its return code, its statistics and its error message; the parent --
 * which never starts a worker thread, so forking it again is safe -- waits.
 * A child that dies by a signal, exits without a result, or returns an
 * error counts as a crash (configuration errors and cancellation do not:
 * they would only repeat).  After a crash the strategy decides:
 *
 *   none          the job fails with the crash as its error;
 *   fixed-delay   restart after `delay`, at most `attempts` times;
 *   failure-rate  restart after `delay` unless the crashes within the last
 *                 `failure-rate-interval` exceed `max-failures-per-interval`.
 *
 * Each restart is logged (a WARN to the job's logger) with its cause; the restarted child
 * resumes from the latest complete checkpoint (attempt(n > 0)).
 *
 * Cancellation: sl_cancel, or SIGINT/SIGTERM sent to the parent by kill(2)
 * (with execution.handle-signals), is forwarded to the child as SIGTERM,
 * which then stops cleanly without drain (sl_stop with drain: SIGUSR1, which
 * the child turns into the same request).  A terminal's Ctrl-C already reaches both (same
 * process group) and is not forwarded twice.  The child dies with the
 * parent (PR_SET_PDEATHSIG), so a killed supervisor leaves no orphan job.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/runtime.h"

typedef struct result {
  int rc;
  sl_job_stats stats;
  char err[2048];
} result;

static volatile sig_atomic_t g_child, g_signals;

static void on_signal(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  g_signals++;
  pid_t child = g_child;
  /* sent to us alone (kill(2)): pass it on; a terminal signalled the group */
  if (child > 0 && si->si_code <= 0) kill(child, g_signals > 1 ? SIGKILL : SIGTERM);
  if (g_signals > 1) _exit(128 + sig);
}

/* the child: SIGUSR1 from the parent asks for a stop with drain */
static _Atomic int *g_child_cancel;
static void on_drain(int sig) {
  (void)sig;
  int run = SL__RUN;
  if (g_child_cancel) atomic_compare_exchange_strong(g_child_cancel, &run, SL__STOP_DRAIN);
}

static int64_t mono_ms(void) { return sl__now_ns() / 1000000; }

/* Runs one attempt in a child; *res is its result, *why describes a crash. */
static int run_child(const sl__supervised *sv, int n, result *res, char *why, size_t whycap) {
  int fds[2];
  if (pipe(fds)) {
    sl__fmt(why, whycap, "cannot create a pipe: %s", strerror(errno));
    return -SL_EIO;
  }
  fflush(NULL); /* the child must not write the parent's buffered output again */
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    sl__fmt(why, whycap, "cannot fork: %s", strerror(errno));
    return -SL_EIO;
  }
  if (pid == 0) {
    close(fds[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1); /* the parent is already gone */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    g_child_cancel = sv->cancel;
    signal(SIGUSR1, on_drain);
    result *r = sl__calloc(1, sizeof *r);
    if (!r) _exit(1);
    r->rc = sv->attempt(sv->arg, n, &r->stats, r->err, sizeof r->err);
    fflush(NULL);
    int ok = sl__write_all(fds[1], r, sizeof *r) == 0;
    _exit(ok ? 0 : 1);
  }
  close(fds[1]);
  g_child = pid;
  size_t got = 0;
  int cancel_sent = 0;
  for (;;) {
    int stop = atomic_load(sv->cancel);
    if (!cancel_sent && stop) {
      kill(pid, stop == SL__STOP_DRAIN ? SIGUSR1 : SIGTERM);
      cancel_sent = 1;
    }
    struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
    int pr = poll(&pfd, 1, 100);
    if (pr < 0 && errno != EINTR) break;
    if (pr <= 0) continue;
    ssize_t k = read(fds[0], (char *)res + got, sizeof *res - got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    got += (size_t)k;
    if (got == sizeof *res) break;
  }
  close(fds[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  g_child = 0;
  if (got == sizeof *res && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    if (res->rc) sl__fmt(why, whycap, "%s", res->err[0] ? res->err : sl_strerror(res->rc));
    return res->rc;
  }
  if (cancel_sent) return -SL_ECANCELED;
  if (WIFSIGNALED(status))
    sl__fmt(why, whycap, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
  else
    sl__fmt(why, whycap, "exited with status %d without a result", WEXITSTATUS(status));
  return -SL_EINTERNAL;
}

static void sleep_ms(int64_t ms, _Atomic int *cancel) {
  while (ms > 0 && !atomic_load(cancel)) {
    int64_t step = ms < 50 ? ms : 50;
    struct timespec ts = {step / 1000, (long)(step % 1000) * 1000000};
    nanosleep(&ts, NULL);
    ms -= step;
  }
}

int sl__supervise(const sl__supervised *sv) {
  const sl__conf *conf = sv->conf;
  const char *type = SL__CONF_S(conf, RESTART_TYPE);
  int ckpt = SL__CONF_I(conf, CKPT_INTERVAL) > 0;
  int64_t attempts, delay;
  enum { NONE, FIXED, RATE } kind;
  if (!type || !*type) {
    kind = ckpt ? FIXED : NONE;
    attempts = INT32_MAX;
    delay = SL__CONF_I(conf, RESTART_FD_DELAY);
  } else if (!strcmp(type, "none")) {
    kind = NONE, attempts = 0, delay = 0;
  } else if (!strcmp(type, "fixed-delay")) {
    kind = FIXED;
    attempts = SL__CONF_I(conf, RESTART_FD_ATTEMPTS);
    delay = SL__CONF_I(conf, RESTART_FD_DELAY);
  } else if (!strcmp(type, "failure-rate")) {
    kind = RATE;
    attempts = SL__CONF_I(conf, RESTART_FR_MAX);
    delay = SL__CONF_I(conf, RESTART_FR_DELAY);
  } else {
    sl__fmt(sv->err, sv->errcap,
            "restart-strategy.type: '%s' is not none, fixed-delay or failure-rate", type);
    return -SL_ECONFIG;
  }
  static const char *names[] = {"none", "fixed-delay", "failure-rate"};
  int64_t window = SL__CONF_I(conf, RESTART_FR_INTERVAL);
  int64_t *crashes = sl__calloc((size_t)(kind == RATE ? attempts + 1 : 1), sizeof *crashes);
  if (!crashes) return -SL_ENOMEM;
  int n_crashes = 0; /* failure-rate: the newest attempts + 1 crash times */

  struct sigaction sa, old_int, old_term;
  int handle = SL__CONF_I(conf, HANDLE_SIGNALS) != 0;
  if (handle) {
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    g_signals = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
  }

  int rc;
  for (int n = 0;; n++) {
    result *res = sl__calloc(1, sizeof *res);
    char why[2300] = "";
    if (!res) {
      rc = -SL_ENOMEM;
      break;
    }
    rc = run_child(sv, n, res, why, sizeof why);
    *sv->stats = res->stats;
    sv->stats->restarts = (uint64_t)n;
    sl__free(res);
    if (!rc || rc == -SL_ECANCELED || atomic_load(sv->cancel) || g_signals) {
      if (rc && rc != -SL_ECANCELED) sl__fmt(sv->err, sv->errcap, "%s", why);
      if (!rc && (atomic_load(sv->cancel) || g_signals)) rc = -SL_ECANCELED;
      break;
    }
    if (sv->on_crash) sv->on_crash(sv->arg, why);
    int restart = 0;
    if (rc == -SL_ECONFIG || rc == -SL_EINVAL) {
      restart = 0; /* would fail the same way again */
    } else if (kind == FIXED) {
      restart = n < attempts;
    } else if (kind == RATE) {
      int64_t now = mono_ms();
      if (n_crashes == attempts + 1) memmove(crashes, crashes + 1, (size_t)attempts * sizeof *crashes);
      else n_crashes++;
      crashes[n_crashes - 1] = now;
      int in_window = 0;
      for (int i = 0; i < n_crashes; i++) in_window += now - crashes[i] <= window;
      restart = in_window <= attempts;
    }
    if (!restart) {
      sl__fmt(sv->err, sv->errcap, "%s (restart-strategy %s: %s)", why, names[kind],
              kind == NONE || rc == -SL_ECONFIG || rc == -SL_EINVAL ? "not restarted"
              : kind == FIXED ? "no attempts left"
                              : "too many failures within the interval");
      break;
    }
    sl__log(&sv->conf->log, SL_LOG_WARN, sv->log_scope,
            "the job crashed: %s; restart %d (restart-strategy %s) in %lld ms, from the "
            "latest checkpoint",
            why, n + 1, names[kind], (long long)delay);
    sleep_ms(delay, sv->cancel);
    if (atomic_load(sv->cancel) || g_signals) {
      rc = -SL_ECANCELED;
      break;
    }
  }
  if (handle) {
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
  }
  sl__free(crashes);
  return rc;
}
