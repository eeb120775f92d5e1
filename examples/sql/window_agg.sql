-- examples/sql/window_agg.sql: the sample readings (data/events.csv) per sensor
-- and second; run from the top of the source tree:
--   ./build/sluice sql examples/sql/window_agg.sql -p 1 --dead-letter out/bad.txt
CREATE TABLE readings (ts BIGINT, sensor VARCHAR, reading DOUBLE)
WITH ('connector' = 'filesystem', 'path' = 'data/events.csv', 'format' = 'csv',
      'watermark' = 'ts - 500');
CREATE TABLE per_second (window_start BIGINT, window_end BIGINT, sensor VARCHAR,
                         n BIGINT, total DOUBLE, lowest DOUBLE, highest DOUBLE)
WITH ('connector' = 'filesystem', 'path' = 'out/per_second.csv', 'format' = 'csv');

INSERT INTO per_second
SELECT window_start, window_end, sensor, COUNT(*), SUM(reading), MIN(reading), MAX(reading)
FROM TUMBLE(readings, ts, INTERVAL '1' SECOND)
GROUP BY window_start, window_end, sensor;
