/*
 * sluice_sql.h -- streaming SQL on sluice (public API, installed next to
 * sluice.h; part of libsluice).
 *
 * sl_sql_execute(env, text) runs SQL statements separated by ';' on an
 * environment, in the PostgreSQL grammar (parsed by libpg_query) with
 * streaming semantics in the style of Flink SQL and RisingWave:
 *
 *   CREATE TABLE name (col type, ...) WITH (connector = '...', ...)
 *   CREATE VIEW name AS SELECT ...
 *   SET 'key' = 'value'          any configuration key (sl_env_set)
 *   SHOW TABLES                  tables and views, one per line
 *   EXPLAIN INSERT ... | SELECT  the operator plan as text
 *   INSERT INTO sink SELECT ...  see below
 *
 * Types: BOOLEAN, INT, BIGINT, DOUBLE, DECIMAL(p, s) (p <= 18), VARCHAR /
 * TEXT, TIMESTAMP (millisecond precision, no time zone).  A table may
 * declare PRIMARY KEY (cols) [NOT ENFORCED] (Flink's form; nothing checks
 * it): a postgres sink upserts by it.  Connectors:
 * filesystem (path; format csv | json | debezium-json, below), datagen,
 * print, blackhole.
 * Option keys may be written as in Flink ('connector' = 'filesystem') or
 * as PostgreSQL reloptions (connector = 'filesystem', "number-of-rows" =
 * '10').
 *
 * The INSERT statements of one call form one job, built on env with the
 * public API (sources, map/filter operators, sinks) and run with
 * sl_execute before sl_sql_execute returns -- at env's parallelism, with
 * its checkpoints and restore settings, as any job.  An environment runs
 * one job: a second call with INSERTs on it fails (use a new
 * environment).  The catalog (tables, views) lives with env across calls
 * and is freed by sl_env_free.
 *
 * Types: see above; connectors also kafka (Flink's Kafka option names,
 * format csv | json | debezium-json), upsert-kafka (below) and postgres (url = 'postgresql://...', 'table-name';
 * the rows as the PostgreSQL connector reads and writes them), and nexmark
 * (tables person, auction, bid of the built-in generator).  A postgres
 * table with 'scan.mode' = 'cdc' (and the connector's CDC options:
 * slot.name, slot.drop-on-stop, ...) is read as Flink CDC's postgres-cdc
 * table: an updating table, a changelog -- its snapshot as +I rows, then
 * each insert +I, update -U (old row) +U (new row) and delete -D as the
 * server's logical replication stream says, with the column values parsed
 * as the SQL types.  The PostgreSQL table needs REPLICA IDENTITY FULL for
 * its updates and deletes: under DEFAULT the server sends only the key of
 * an old row, and the first such change fails the job with the ALTER
 * TABLE to run (no row with made-up values is emitted).  GROUP BY over it
 * retracts; a SELECT of it into a postgres table with PRIMARY KEY
 * replicates it (upserts and deletes; declare the CDC table's PRIMARY KEY
 * too: keyed by it, an update's -U is a delete of its key, so an update of
 * the key moves the row; keyed otherwise, the upsert materializer keeps
 * the rows per sink key); an inner join of it
 * retracts its pairs, an outer join of it NULL-pads and retracts as
 * Flink's; filesystem and kafka tables (but format debezium-json),
 * windows (TUMBLE, HOP, SESSION) and Top-N over it are refused.  Its snapshot is
 * read in one split (one reader emits the snapshot, then the stream: in
 * order); each read of a CDC table in a job needs its own replication
 * slot (declare a second table with another slot.name).  A table's
 * watermark option (COLUMN - INTERVAL 'n' UNIT, or COLUMN - n for a BIGINT
 * of epoch ms) makes COLUMN its event time with bounded out-of-orderness;
 * TUMBLE(t, col, size), HOP(t, col, slide, size) and SESSION(t, col, gap)
 * in FROM with GROUP BY window_start, window_end, ... aggregate per window
 * (COUNT, SUM, MIN, MAX, AVG; COUNT(DISTINCT x); MIN / MAX also of
 * VARCHAR -- with these two the window keeps its rows, in keyed state,
 * until it fires), emitted once when the window closes
 * (PROCTIME() as the time column: processing-time windows);
 * TUMBLE and HOP without GROUP BY give each row once per window, with
 * window_start and window_end.  Window Top-N: ROW_NUMBER() or RANK()
 * OVER (PARTITION BY window_start, window_end[, ...] ORDER BY ...) AS rn
 * in a subquery, with WHERE rn <= N around it, emits the best N rows of
 * each window (RANK: ties share a number) when the window ends.
 * Partitioned otherwise (or not at all), it is a Top-N over the
 * unbounded stream (Flink's AppendOnlyTopNFunction): an updating result
 * whose every rank that changes is a -U of the old row and a +U of the
 * new one (a new rank +I; a row RANK's ties push past N -D).  Inner
 * joins (a JOIN b ON a.x = b.y [AND ...]) of append-only inputs: when ON
 * pairs the two sides' window_end (TUMBLE / HOP rows or windowed
 * aggregates, renamed or not) it is a window join -- pairs emitted when
 * the window ends, state dropped then; when ON bounds the two sides'
 * event times (a.ts BETWEEN b.ts - INTERVAL ... AND b.ts + INTERVAL ...)
 * an interval join -- pairs at once, each row kept until the watermark
 * passes its last partner; otherwise a regular join whose two
 * sides stay in keyed state for good (or, with SET
 * 'table.exec.state.ttl' = '1 h', each row that long in processing time:
 * the state TTL, as Flink), each pair emitted as soon as both rows are
 * there.  FROM a, b WHERE ... is the inner join with the WHERE as ON.
 *
 * Updating queries (Flink's changelog): GROUP BY without a window, SELECT
 * DISTINCT, aggregates with no GROUP BY (one group of every row), LEFT /
 * RIGHT / FULL [OUTER] joins and aggregates over such results.  An outer
 * join is a regular join (both sides kept; ON's conditions beyond the
 * equalities decide which pairs match): a row without a partner is
 * emitted NULL-padded (+I) and retracted (-D) when its first partner
 * arrives.  Each input row updates its group (keyed
 * value state) and emits what changed: +I a new group's row, -U the old
 * row then +U the new one when the result changed, -D the row of a group
 * whose last input row was retracted; an aggregate over an updating input
 * retracts what it retracts (COUNT, SUM and AVG from their sums; MIN, MAX
 * and COUNT(DISTINCT) count each value in map state, so a retracted best
 * gives way to the next).  SET 'table.exec.mini-batch.enabled' = 'true'
 * (Flink's mini-batch aggregation) folds the rows of each key in a run
 * the engine hands the aggregate (up to 64, never across a watermark or
 * checkpoint barrier: no added latency) and emits once per key and run,
 * so the changelog is shorter and its final table the same.  Such a
 * result goes to
 * print (printed as +I[...], -U[...], ...), blackhole, or a postgres table
 * with PRIMARY KEY (cols) [NOT ENFORCED] in its DDL (upserted by the key,
 * deleted on -D: the sink's sink.changelog mode, the changes keyed by the
 * primary key to the sink's subtasks; when the changes do not come by
 * that key -- a join's rows, a key that updates change -- an upsert
 * materializer before the sink keeps the rows now in the result per key,
 * as Flink's SinkUpsertMaterializer), or an upsert-kafka table (below);
 * filesystem and kafka tables refuse it.  An inner join of an updating
 * input is a regular join that takes a -U / -D row out of its side's
 * state and retracts its pairs (each pair has the kind of the row that
 * made it); an outer join of one keeps a match count per row, so a row
 * whose last partner is retracted is NULL-padded again (outputs +I and
 * -D, as Flink's).  Not built yet, refused with the reason: Top-N of an
 * updating input.
 *
 * upsert-kafka (Flink's connector of that name) is a Kafka table that
 * holds the latest row per primary key, written and read:
 *   CREATE TABLE t (..., PRIMARY KEY (k, ...) NOT ENFORCED) WITH (
 *     connector = 'upsert-kafka', topic = '...',
 *     'properties.bootstrap.servers' = '...', 'key.format' = 'csv' | 'json',
 *     'value.format' = 'csv' | 'json'[, any other Kafka sink option:
 *     sink.delivery-guarantee, sink.transactional-id-prefix,
 *     sink.partitioner, properties.*])
 * The PRIMARY KEY and both formats are required (CREATE TABLE says which
 * is missing).  Each change of the result is one message: the key is the
 * primary-key columns in key.format (csv: those fields; json: an object
 * of them), the value the whole row in value.format; +I and +U are
 * upserts, -U is not written (the +U after it replaces it), -D is a
 * tombstone -- the key with a NULL value (the Kafka sink's
 * sink.empty-value-as-null; a compacted topic then drops the key).  An
 * append-only result is written the same way, every row an upsert.  The
 * rows are keyed by the primary key before the sink, so each key's
 * changes reach one writer in order and, with the default partitioner
 * (librdkafka's hash of the key), one partition.  Delivery is the Kafka
 * sink's (at-least-once by default; exactly-once with Kafka
 * transactions).  Caveat: with value.format csv, a one-column row that
 * is NULL reads as a tombstone (its CSV line is empty).
 * Read, the table is a changelog (Flink's upsert-kafka source with
 * ChangelogNormalize): the topic from its earliest offset (unless
 * scan.startup.mode says otherwise; any Kafka source option applies), each
 * value decoded as the whole row in value.format is an upsert of its key,
 * each tombstone (a NULL value) deletes the key it names in key.format;
 * keyed by the primary key, the row now per key (keyed state) turns them
 * into +I, -U/+U (nothing for an equal row) and -D (nothing for a key
 * without a row).  A message that does not decode goes to the dead-letter
 * output named by topic, partition and offset.  Windows over it are
 * refused; a sink keyed by the same primary key takes the changes as they
 * are (no materializer).
 *
 * format = 'debezium-json' (Flink's format; filesystem and kafka tables)
 * holds Debezium change events, one per line or message: {"before": row
 * | null, "after": row | null, "op": "c" | "r" | "u" | "d"}, also inside
 * "payload" beside a "schema"; the rows are JSON objects of the columns.
 * Read, the table is a changelog: c and r +I after, u -U before and +U
 * after, d -D before; a Kafka tombstone is skipped; an event that does
 * not decode goes to the dead-letter output (file and line, or topic,
 * partition and offset); an update or delete whose before is null fails
 * the job (it cannot be retracted: REPLICA IDENTITY FULL on the source
 * table).  Written, it takes any result, an updating one too: +I and +U
 * as {"before":null,"after":{...},"op":"c"}, -U and -D as
 * {"before":{...},"after":null,"op":"d"}, as Flink writes them.
 *
 * Returns 0, or a negative SL_E* code with the message in
 * sl_env_last_error(env): for a statement that does not parse or names an
 * unknown table, column or function it reads
 *   "line L, column C: MESSAGE" + the line + a caret under the token,
 * (-SL_EINVAL); a failed job returns sl_execute's code and message.  The
 * statements before a failing one have taken effect (a table created, a
 * key set) but no INSERT of the call runs.
 */
#ifndef SLUICE_SQL_H
#define SLUICE_SQL_H

#include "sluice.h"

#ifdef __cplusplus
extern "C" {
#endif

int sl_sql_execute(sl_env *env, const char *text);

/* Where the results of SHOW and EXPLAIN go: fn(ud, text) with the whole
 * result (lines ending in '\n'; borrowed for the call).  Default (fn
 * NULL): stdout. */
typedef void (*sl_sql_output_fn)(void *ud, const char *text);
void sl_sql_set_output(sl_env *env, sl_sql_output_fn fn, void *ud);

/* Where the rows of INSERT statements go instead of their sink tables'
 * connectors (tools and benchmarks: `sluice bench nexmark --sql`):
 * fn(ud, table, rows) gets each INSERT's stream of result rows -- record
 * values in sluice's binary row format (src/row/row.h), in the sink
 * table's column order and types -- and attaches what it likes (maps, a
 * sink); it returns 0 or a negative SL_E* code, which fails the
 * statement.  fn NULL: the tables' connectors again. */
typedef int (*sl_sql_sink_fn)(void *ud, const char *table, sl_stream *rows, int changelog);
void sl_sql_set_sink(sl_env *env, sl_sql_sink_fn fn, void *ud);

#ifdef __cplusplus
}
#endif
#endif /* SLUICE_SQL_H */
