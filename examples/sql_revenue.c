/*
 * sql_revenue.c -- streaming SQL from C (include/sluice_sql.h): revenue
 * per product and minute of a CSV file of orders
 * `order_time,product,quantity,price`, written as JSON lines; the plan is
 * printed first (EXPLAIN, through sl_sql_set_output).
 *
 *   cc sql_revenue.c $(pkg-config --cflags --libs sluice) -o sql_revenue
 *   ./sql_revenue orders.csv revenue.json
 */
#include <stdio.h>
#include <string.h>

#include <sluice_sql.h>

static void show(void *ud, const char *text) {
  (void)ud;
  fputs(text, stderr);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s ORDERS.csv OUT.json\n", argv[0]);
    return 2;
  }
  char sql[4096];
  snprintf(sql, sizeof sql,
           "CREATE TABLE orders (order_time TIMESTAMP, product VARCHAR, quantity INT, price DECIMAL(10, 2))\n"
           "  WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv',\n"
           "        'watermark' = 'order_time - INTERVAL ''5'' SECOND');\n"
           "CREATE TABLE revenue (minute TIMESTAMP, product VARCHAR, orders BIGINT, total DECIMAL(18, 2))\n"
           "  WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'json');\n"
           "%sINSERT INTO revenue SELECT window_start, product, COUNT(*), SUM(quantity * price)\n"
           "  FROM TUMBLE(orders, order_time, INTERVAL '1' MINUTE) WHERE quantity > 0\n"
           "  GROUP BY window_start, window_end, product;\n",
           argv[1], argv[2], "");
  sl_env *env = sl_env_new();
  if (!env) return 1;
  sl_sql_set_output(env, show, NULL);
  /* the tables, then the plan of the last statement, then the job */
  char explain[4200];
  const char *ins = strstr(sql, "INSERT INTO revenue");
  snprintf(explain, sizeof explain, "%.*sEXPLAIN %s", (int)(ins - sql), sql, ins);
  int rc = sl_sql_execute(env, explain);
  sl_env_free(env);
  if (rc) {
    fprintf(stderr, "sql_revenue: plan failed\n");
    return 1;
  }
  env = sl_env_new(); /* a fresh catalog for the run */
  if (!env) return 1;
  rc = sl_sql_execute(env, sql);
  if (rc) fprintf(stderr, "sql_revenue: %s\n", sl_env_last_error(env));
  sl_env_free(env);
  return rc ? 1 : 0;
}
