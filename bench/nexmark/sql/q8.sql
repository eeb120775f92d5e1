-- Nexmark q8, monitor new users: the people who opened an auction in the
-- tumbling 10 s window in which they registered, once per person and
-- window -- nexmark-flink's query: each side grouped by (id, window),
-- then a window join on the id and the window.
CREATE TABLE nexmark_q8 (id BIGINT, name VARCHAR, starttime TIMESTAMP)
  WITH (connector = 'blackhole');
INSERT INTO nexmark_q8
SELECT P.id, P.name, P.starttime
FROM (SELECT id, name, window_start AS starttime, window_end AS endtime
      FROM TUMBLE(person, date_time, INTERVAL '10' SECOND)
      GROUP BY id, name, window_start, window_end) AS P
JOIN (SELECT seller, window_start AS starttime, window_end AS endtime
      FROM TUMBLE(auction, date_time, INTERVAL '10' SECOND)
      GROUP BY seller, window_start, window_end) AS A
ON P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime;
