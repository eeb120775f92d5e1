-- Nexmark q12, processing-time windows: bids per bidder per tumbling 10 s
-- window of processing time (the wall clock when a bid is processed, as
-- nexmark-flink's PROCTIME() column).  Which window a bid falls in depends
-- on when it is processed: only the per-bidder totals are reproducible.
CREATE TABLE nexmark_q12 (bidder BIGINT, bid_count BIGINT, starttime TIMESTAMP,
  endtime TIMESTAMP) WITH (connector = 'blackhole');
INSERT INTO nexmark_q12
SELECT bidder, COUNT(*) AS bid_count, window_start AS starttime, window_end AS endtime
FROM TUMBLE(bid, PROCTIME(), INTERVAL '10' SECOND)
GROUP BY bidder, window_start, window_end;
