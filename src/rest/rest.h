/*
 * rest.h -- the REST server of a running job (part of the api layer):
 * Flink-shaped JSON endpoints, Prometheus /metrics and the web dashboard,
 * served by libmicrohttpd from its own thread (docs/REST.md).
 *
 * sl_execute opens the listening socket once (sl__rest_listen, before a
 * supervised job forks), each attempt serves on it while it runs
 * (sl__rest_start / sl__rest_stop), and sl_execute closes it at the end.
 * So the URL stays the same across restarts; requests that arrive between
 * two attempts wait in the socket's backlog.
 */
#ifndef SL_REST_H
#define SL_REST_H

#include <stddef.h>

#include "core/config.h"
#include "sluice.h"

struct sl__rest;
/* The listening socket per rest.enabled / rest.port / rest.bind-address /
 * rest.auth.token: *fd (-1: no server configured) and its URL; or an
 * error (-SL_ECONFIG, -SL_EIO) with the reason in err. */
int sl__rest_listen(const sl__conf *conf, int *fd, char *url, size_t urlcap, char *err,
                    size_t errcap);
/* Serve env's job on fd from now on (NULL: could not start; logged). */
struct sl__rest *sl__rest_start(sl_env *env, int fd);
/* Stop serving (fd stays open).  After a stop-with-savepoint request it
 * first waits, up to 10 s, for the client to fetch the result. */
void sl__rest_stop(struct sl__rest *r);

#endif
