/*
 * env_ext.h -- the narrow hooks a layer above the public API gets into an
 * environment (internal; graph.c implements them).  The SQL layer
 * (src/sql) builds jobs with include/sluice.h calls alone; it needs only
 * two things more: a place on the environment for its session (the
 * catalog of tables and views, freed with the environment) and a way to
 * set the environment's last error (sl_env_last_error) to its message.
 */
#ifndef SL_ENV_EXT_H
#define SL_ENV_EXT_H

#include "sluice.h"

/* The SQL session attached to env (NULL: none yet). */
void *sl__env_sql(sl_env *env);
/* Attach it; sl_env_free calls free_fn(sql). */
void sl__env_set_sql(sl_env *env, void *sql, void (*free_fn)(void *sql));
/* sl_env_last_error(env) becomes msg (copied, cut at 2047 bytes). */
void sl__env_error(sl_env *env, const char *msg);

#endif
