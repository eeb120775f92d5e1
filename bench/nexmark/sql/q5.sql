-- Nexmark q5, hot items: per sliding window (size 10 s, every 2 s) the
-- auctions with the most bids (every one of them on a tie).  nexmark-flink
-- joins the per-auction counts with each window's MAX(count); the same rows
-- come from Window Top-N with RANK over the counts.
CREATE TABLE nexmark_q5 (auction BIGINT, num BIGINT, starttime TIMESTAMP, endtime TIMESTAMP)
  WITH (connector = 'blackhole');
INSERT INTO nexmark_q5
SELECT auction, num, window_start AS starttime, window_end AS endtime
FROM (SELECT *, RANK() OVER (PARTITION BY window_start, window_end ORDER BY num DESC) AS rk
      FROM (SELECT auction, COUNT(*) AS num, window_start, window_end
            FROM HOP(bid, date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND)
            GROUP BY auction, window_start, window_end) AS counts) AS ranked
WHERE rk <= 1;
