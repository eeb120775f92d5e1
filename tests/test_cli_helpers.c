/*
 * test_cli_helpers.c -- the CLI's shared helpers (tools/cli.c, declared in
 * tools/cli.h) on their own, linked without tools/sluice.c's main: option
 * parsing into cli_opts and the environment, "host:port" splitting and
 * durations.  Expected values are worked out by hand from the rules in
 * cli.h and `sluice --help`.
 */
#include <fcntl.h>
#include <unistd.h>

#include "cli.h"
#include "test.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof(a)[0]))

static void test_host_port(void) {
  char host[16];
  int port = -1;
  CHECK_EQ_INT(cli_host_port("localhost:9000", host, sizeof host, &port), 0);
  CHECK_EQ_STR(host, "localhost");
  CHECK_EQ_INT(port, 9000);
  /* the last colon separates the port (an IPv6-ish host keeps its colons) */
  CHECK_EQ_INT(cli_host_port("::1:65535", host, sizeof host, &port), 0);
  CHECK_EQ_STR(host, "::1");
  CHECK_EQ_INT(port, 65535);
  CHECK_EQ_INT(cli_host_port("h:65536", host, sizeof host, &port), SL_EXIT_USAGE);
  CHECK_EQ_INT(cli_host_port("h:0", host, sizeof host, &port), SL_EXIT_USAGE);
  CHECK_EQ_INT(cli_host_port("h:80x", host, sizeof host, &port), SL_EXIT_USAGE);
  CHECK_EQ_INT(cli_host_port(":80", host, sizeof host, &port), SL_EXIT_USAGE);
  CHECK_EQ_INT(cli_host_port("noport", host, sizeof host, &port), SL_EXIT_USAGE);
  /* the host and its terminating zero must fit */
  char small[6];
  CHECK_EQ_INT(cli_host_port("abcdef:1", small, sizeof small, &port), SL_EXIT_USAGE);
  CHECK_EQ_INT(cli_host_port("abcde:1", small, sizeof small, &port), 0);
  CHECK_EQ_STR(small, "abcde");
  CHECK_EQ_INT(port, 1);
}

static void test_duration(void) {
  int64_t ms = -1;
  CHECK_EQ_INT(cli_duration_ms("500ms", &ms), 0);
  CHECK_EQ_INT(ms, 500);
  CHECK_EQ_INT(cli_duration_ms("10s", &ms), 0);
  CHECK_EQ_INT(ms, 10000);
  CHECK_EQ_INT(cli_duration_ms("1m", &ms), 0);
  CHECK_EQ_INT(ms, 60000);
  CHECK_EQ_INT(cli_duration_ms("2h", &ms), 0);
  CHECK_EQ_INT(ms, 7200000);
  CHECK_EQ_INT(cli_duration_ms("250", &ms), 0);
  CHECK_EQ_INT(ms, 250);
  CHECK_EQ_INT(cli_duration_ms(NULL, &ms), SL_EXIT_USAGE);
  CHECK_EQ_INT(cli_duration_ms("-5s", &ms), SL_EXIT_USAGE);
  CHECK_EQ_INT(cli_duration_ms("3 parsecs", &ms), SL_EXIT_USAGE);
}

static void test_parse(void) {
  sl_env *env = sl_env_new();
  cli_opts o = {0};
  char *argv[] = {"sluice", "run", "upper", "--input", "a.txt", "--output=b.txt",
                  "-D", "pipeline.auto-watermark-interval=7s", "--parallelism", "3",
                  "--checkpoint-dir", "/tmp/ck"};
  CHECK_EQ_INT(cli_parse(ARGC(argv), argv, 3, "sluice run upper", "input,output,parallelism",
                         env, &o),
               0);
  CHECK_EQ_STR(o.input, "a.txt");
  CHECK_EQ_STR(o.output, "b.txt");
  CHECK_EQ_STR(o.parallelism, "3");
  CHECK_EQ_STR(o.checkpoint_dir, "/tmp/ck"); /* every `sluice run` job takes it */
  CHECK(o.keys == NULL && o.socket == NULL && !o.stateless);
  CHECK_EQ_STR(sl_env_get(env, "parallelism.default"), "3");
  CHECK_EQ_STR(sl_env_get(env, "state.checkpoints.dir"), "/tmp/ck");
  CHECK_EQ_STR(sl_env_get(env, "pipeline.auto-watermark-interval"), "7s");
  sl_env_free(env);

  /* refused: a flag this command does not take, a prefix of a flag, a
   * missing value, an unknown -D key, --stateless where not allowed, a
   * checkpoint flag outside `sluice run` */
  char *bad[][3] = {{"--keys", "5", NULL},     {"--inp", "a", NULL},
                    {"--input", NULL, NULL},   {"-Dno.such.key=1", NULL, NULL},
                    {"--stateless", NULL, NULL}, {"--restore", "latest", NULL}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    env = sl_env_new();
    cli_opts b = {0};
    char *args[4] = {"sluice", "bench", bad[i][0], bad[i][1]};
    int n = bad[i][1] ? 4 : 3;
    CHECK_EQ_INT(cli_parse(n, args, 2, "sluice bench pipeline", "input,parallelism", env, &b),
                 SL_EXIT_USAGE);
    sl_env_free(env);
  }
  /* --stateless and --keys where allowed */
  env = sl_env_new();
  cli_opts s = {0};
  char *ok[] = {"sluice", "bench", "pipeline", "--stateless", "--keys=12"};
  CHECK_EQ_INT(cli_parse(ARGC(ok), ok, 3, "sluice bench pipeline", "keys,stateless", env, &s), 0);
  CHECK_EQ_INT(s.stateless, 1);
  CHECK_EQ_STR(s.keys, "12");
  sl_env_free(env);
}

/* Flink's short flags, a repeated flag, and --conf (config.yaml) before -D */
static void test_parse_flink_style(void) {
  sl_env *env = sl_env_new();
  cli_opts o = {0};
  char *argv[] = {"sluice", "run", "upper", "-p", "3", "-s", "latest", "--input=x"};
  CHECK_EQ_INT(cli_parse(ARGC(argv), argv, 3, "sluice run upper", "input,output,parallelism",
                         env, &o),
               0);
  CHECK_EQ_STR(sl_env_get(env, "parallelism.default"), "3");
  CHECK_EQ_STR(sl_env_get(env, "execution.checkpointing.restore"), "latest");
  CHECK_EQ_STR(o.input, "x");
  sl_env_free(env);

  env = sl_env_new();
  cli_opts r = {0};
  char *twice[] = {"sluice", "run", "upper", "--input", "a", "--input=b"};
  CHECK_EQ_INT(cli_parse(ARGC(twice), twice, 3, "sluice run upper", "input", env, &r),
               SL_EXIT_USAGE);
  sl_env_free(env);

  env = sl_env_new();
  cli_opts pos = {0};
  char *stray[] = {"sluice", "run", "upper", "--input", "a", "extra"};
  CHECK_EQ_INT(cli_parse(ARGC(stray), stray, 3, "sluice run upper", "input", env, &pos),
               SL_EXIT_USAGE);
  sl_env_free(env);

  /* a config.yaml: nested maps flattened with dots; -D wins over it */
  char path[] = "/tmp/sl_cli_conf_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  const char *yaml = "parallelism:\n  default: 5\n"
                     "execution:\n  buffer-timeout: 7 ms\n  checkpointing:\n"
                     "    interval: 2 min\n    dir: /tmp/yck\n"
                     "pipeline.max-parallelism: 64\n";
  CHECK(write(fd, yaml, strlen(yaml)) == (ssize_t)strlen(yaml));
  close(fd);
  env = sl_env_new();
  cli_opts c = {0};
  char *conf[] = {"sluice", "run", "upper", "--conf", path, "-D", "execution.buffer-timeout=9ms"};
  CHECK_EQ_INT(cli_parse(ARGC(conf), conf, 3, "sluice run upper", "input", env, &c), 0);
  CHECK_EQ_STR(sl_env_get(env, "parallelism.default"), "5");
  CHECK_EQ_STR(sl_env_get(env, "execution.buffer-timeout"), "9ms"); /* -D after the file */
  CHECK_EQ_STR(sl_env_get(env, "execution.checkpointing.interval"), "2 min");
  CHECK_EQ_STR(sl_env_get(env, "state.checkpoints.dir"), "/tmp/yck"); /* Flink 2's name */
  CHECK_EQ_STR(sl_env_get(env, "pipeline.max-parallelism"), "64");
  sl_env_free(env);
  /* a mistyped key in the file: refused, naming the line */
  fd = open(path, O_WRONLY | O_TRUNC);
  const char *bad = "parallelism:\n  default: 2\nexecution.bufer-timeout: 1s\n";
  CHECK(write(fd, bad, strlen(bad)) == (ssize_t)strlen(bad));
  close(fd);
  env = sl_env_new();
  cli_opts d = {0};
  char *badconf[] = {"sluice", "run", "upper", "--conf", path};
  CHECK_EQ_INT(cli_parse(ARGC(badconf), badconf, 3, "sluice run upper", "input", env, &d),
               SL_EXIT_USAGE);
  sl_env_free(env);
  unlink(path);
}

int main(void) {
  RUN(test_host_port);
  RUN(test_duration);
  RUN(test_parse);
  RUN(test_parse_flink_style);
  TEST_MAIN_END();
}
