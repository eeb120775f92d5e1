/*
 * test_cli_socket.c -- `sluice run wordcount --socket HOST:PORT` against a
 * real TCP server on 127.0.0.1: the server sends a text in small pieces and
 * closes; the CLI must exit 0 and its last line per word must equal a count
 * computed here by a plain loop.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static const char *TEXT =
    "The quick brown fox\n"
    "jumps over the lazy dog; THE DOG sleeps.\n"
    "fox2 and Fox2 are one word, fox-2 is two\n"
    "\n"
    "last line without newline the end";

/* reference: maximal runs of ASCII letters/digits, lower-cased */
#define MAXW 64
static char words[MAXW][32];
static long counts[MAXW];
static int nwords;
static void ref_count(const char *t) {
  char w[32];
  int n = 0;
  for (const char *p = t;; p++) {
    if (*p && isalnum((unsigned char)*p)) {
      w[n++] = (char)tolower((unsigned char)*p);
      continue;
    }
    if (n) {
      w[n] = 0;
      int i;
      for (i = 0; i < nwords && strcmp(words[i], w); i++) {
      }
      if (i == nwords) strcpy(words[nwords++], w);
      counts[i]++;
      n = 0;
    }
    if (!*p) break;
  }
}

static void test_wordcount_socket(void) {
  const char *sluice = getenv("SL_SLUICE"), *tmp = getenv("SL_TEST_TMP");
  CHECK(sluice && tmp);
  if (!sluice || !tmp) return;
  mkdir(tmp, 0755);
  char out[512];
  snprintf(out, sizeof out, "%s/wc.txt", tmp);
  unlink(out);

  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  CHECK_EQ_INT(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
  CHECK_EQ_INT(listen(ls, 1), 0);
  socklen_t alen = sizeof a;
  getsockname(ls, (struct sockaddr *)&a, &alen);
  char hp[64];
  snprintf(hp, sizeof hp, "127.0.0.1:%d", ntohs(a.sin_port));

  pid_t pid = fork();
  if (pid == 0) {
    execl(sluice, sluice, "run", "wordcount", "--socket", hp, "--output", out,
          "--parallelism", "2", (char *)NULL);
    _exit(127);
  }
  int c = accept(ls, NULL, NULL);
  CHECK(c >= 0);
  size_t len = strlen(TEXT);
  for (size_t off = 0; off < len; off += 7) { /* small pieces */
    size_t n = len - off < 7 ? len - off : 7;
    CHECK_EQ_INT(write(c, TEXT + off, n), (long)n);
    usleep(1000);
  }
  close(c);
  close(ls);
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  ref_count(TEXT);
  long got[MAXW];
  for (int i = 0; i < MAXW; i++) got[i] = -1;
  FILE *f = fopen(out, "r");
  CHECK(f != NULL);
  char line[128];
  int unknown = 0;
  while (f && fgets(line, sizeof line, f)) {
    char *tab = strchr(line, '\t');
    if (!tab) {
      unknown++;
      continue;
    }
    *tab = 0;
    int i;
    for (i = 0; i < nwords && strcmp(words[i], line); i++) {
    }
    if (i == nwords) unknown++;
    else got[i] = atol(tab + 1); /* the last line of a word wins */
  }
  if (f) fclose(f);
  CHECK_EQ_INT(unknown, 0);
  for (int i = 0; i < nwords; i++) {
    if (got[i] != counts[i]) fprintf(stderr, "  word %s: want %ld got %ld\n", words[i], counts[i], got[i]);
    CHECK_EQ_INT(got[i], counts[i]);
  }
  CHECK_EQ_INT(counts[0], 4); /* "the": The, the, THE, the -- a hand check */
}

int main(void) {
  RUN(test_wordcount_socket);
  TEST_MAIN_END();
}
