/*
 * kafka_mock.c -- `sluice kafka-mock [--brokers N] [--port P] [--topic
 * NAME[:PARTITIONS]]...`: librdkafka's mock cluster (an in-process Kafka
 * for trying and testing, not a real broker) until SIGINT/SIGTERM.  It
 * prints the bootstrap servers on the first line of stdout.  With --port a
 * bootstrap listener on 127.0.0.1:P forwards to the first broker (clients
 * then reach every broker at the address its metadata gives), so a fixed
 * address can be written down in advance.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

typedef struct fwd {
  int client;
  struct sockaddr_in broker;
} fwd;

/* Copies bytes both ways between a client and the broker until one side
 * closes. */
static void *forward(void *arg) {
  fwd *f = arg;
  int b = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (b >= 0 && connect(b, (struct sockaddr *)&f->broker, sizeof f->broker) == 0) {
    struct pollfd p[2] = {{.fd = f->client, .events = POLLIN}, {.fd = b, .events = POLLIN}};
    char buf[65536];
    while (!g_stop && poll(p, 2, 200) >= 0) {
      int done = 0;
      for (int i = 0; i < 2 && !done; i++) {
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = read(p[i].fd, buf, sizeof buf);
        if (n <= 0) {
          done = 1;
          break;
        }
        for (ssize_t off = 0; off < n;) {
          ssize_t w = write(p[1 - i].fd, buf + off, (size_t)(n - off));
          if (w <= 0) {
            done = 1;
            break;
          }
          off += w;
        }
      }
      if (done) break;
    }
  }
  if (b >= 0) close(b);
  close(f->client);
  free(f);
  return NULL;
}

typedef struct listener {
  int fd;
  struct sockaddr_in broker;
} listener;

static void *accept_loop(void *arg) {
  listener *l = arg;
  while (!g_stop) {
    struct pollfd p = {.fd = l->fd, .events = POLLIN};
    if (poll(&p, 1, 200) <= 0) continue;
    int c = accept(l->fd, NULL, NULL);
    if (c < 0) continue;
    fwd *f = malloc(sizeof *f);
    pthread_t t;
    if (!f) {
      close(c);
      continue;
    }
    *f = (fwd){c, l->broker};
    if (pthread_create(&t, NULL, forward, f)) {
      close(c);
      free(f);
      continue;
    }
    pthread_detach(t);
  }
  return NULL;
}

int cmd_kafka_mock(int argc, char **argv) {
  const char *cmd = "sluice kafka-mock";
  int brokers = 3, port = 0;
  const char *topics[64];
  int n_topics = 0;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if ((!strcmp(a, "--brokers") || !strcmp(a, "--port") || !strcmp(a, "--topic")) && !v) {
      fprintf(stderr, "%s: %s needs a value\n", cmd, a);
      return SL_EXIT_USAGE;
    }
    if (!strcmp(a, "--brokers")) {
      brokers = atoi(v), i++;
      if (brokers < 1 || brokers > 32) {
        fprintf(stderr, "%s: --brokers expects 1 to 32, got '%s'\n", cmd, v);
        return SL_EXIT_USAGE;
      }
    } else if (!strcmp(a, "--port")) {
      port = atoi(v), i++;
      if (port < 1 || port > 65535) {
        fprintf(stderr, "%s: --port expects 1 to 65535, got '%s'\n", cmd, v);
        return SL_EXIT_USAGE;
      }
    } else if (!strcmp(a, "--topic") && n_topics < 64) {
      topics[n_topics++] = v, i++;
    } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      printf("usage: %s [--brokers N] [--port P] [--topic NAME[:PARTITIONS]]...\n\n"
             "librdkafka's mock cluster (for trying and testing; not a real broker) until\n"
             "Ctrl-C.  Prints the bootstrap servers on the first line of stdout.\n"
             "  --brokers N        brokers (default 3)\n"
             "  --port P           also accept bootstrap connections on 127.0.0.1:P\n"
             "  --topic NAME[:N]   create a topic with N partitions (default 4); others are\n"
             "                     created when first written to\n", cmd);
      return SL_EXIT_OK;
    } else {
      fprintf(stderr, "%s: unknown option '%s'; try `%s --help`\n", cmd, a, cmd);
      return SL_EXIT_USAGE;
    }
  }
  char err[512];
  rd_kafka_conf_t *c = rd_kafka_conf_new();
  rd_kafka_conf_set(c, "log_level", "3", err, sizeof err);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
  rd_kafka_mock_cluster_t *mc = rk ? rd_kafka_mock_cluster_new(rk, brokers) : NULL;
  if (!mc) {
    fprintf(stderr, "%s: cannot start the mock cluster: %s\n", cmd, rk ? "failed" : err);
    if (rk) rd_kafka_destroy(rk);
    return SL_EXIT_FAILED;
  }
  for (int i = 0; i < n_topics; i++) {
    char name[256];
    snprintf(name, sizeof name, "%s", topics[i]);
    char *colon = strrchr(name, ':');
    int parts = 4;
    if (colon) {
      *colon = 0;
      parts = atoi(colon + 1);
    }
    if (!*name || parts < 1 || rd_kafka_mock_topic_create(mc, name, parts, 1)) {
      fprintf(stderr, "%s: --topic '%s': expected NAME[:PARTITIONS]\n", cmd, topics[i]);
      rd_kafka_mock_cluster_destroy(mc);
      rd_kafka_destroy(rk);
      return SL_EXIT_USAGE;
    }
  }
  const char *boot = rd_kafka_mock_cluster_bootstraps(mc);
  listener l = {-1, {0}};
  pthread_t acceptor;
  int accepting = 0;
  if (port) { /* the bootstrap listener, forwarding to the first broker */
    int bport = 0;
    sscanf(strrchr(boot, ':') ? strchr(boot, ':') + 1 : "0", "%d", &bport);
    l.broker = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)bport)};
    inet_pton(AF_INET, "127.0.0.1", &l.broker.sin_addr);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int one = 1;
    l.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    setsockopt(l.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (l.fd < 0 || bind(l.fd, (struct sockaddr *)&a, sizeof a) || listen(l.fd, 64)) {
      fprintf(stderr, "%s: --port %d: %s\n", cmd, port, strerror(errno));
      rd_kafka_mock_cluster_destroy(mc);
      rd_kafka_destroy(rk);
      return SL_EXIT_FAILED;
    }
    accepting = !pthread_create(&acceptor, NULL, accept_loop, &l);
    printf("127.0.0.1:%d\n", port);
  } else {
    printf("%s\n", boot);
  }
  fflush(stdout);
  fprintf(stderr, "%s: %d brokers at %s (librdkafka's mock cluster: for trying and testing, "
                  "not a real broker); Ctrl-C stops it\n", cmd, brokers, boot);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  while (!g_stop) pause();
  if (accepting) pthread_join(acceptor, NULL);
  if (l.fd >= 0) close(l.fd);
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return SL_EXIT_OK;
}
