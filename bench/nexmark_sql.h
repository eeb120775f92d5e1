/*
 * nexmark_sql.h -- the Nexmark queries in SQL for `sluice bench nexmark
 * --sql` (nexmark_sql.c; the queries are bench/nexmark/sql/qN.sql).
 */
#ifndef SL_BENCH_NEXMARK_SQL_H
#define SL_BENCH_NEXMARK_SQL_H

#include "nexmark/nexmark.h"

/* The text of bench/nexmark/sql/QUERY.sql, or NULL. */
const char *nx_sql_text(const char *query);

/* Prepare query's SQL job on env over the generator settings cfg, its
 * rows laid out as the C query's results into meter: the next
 * cli_execute(env, ...) runs it.  0, or an exit code after a message. */
typedef struct nx_sql_job nx_sql_job;
int nx_sql_prepare(sl_env *env, const char *query, const sl_nexmark_config *cfg, nx_meter *meter,
                   nx_sql_job **out);
void nx_sql_job_free(nx_sql_job *j);

#endif
