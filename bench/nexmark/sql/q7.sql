-- Nexmark q7, highest bid: per tumbling 10 s window the bids with the
-- window's highest price (every one of them on a tie), as bid columns.
-- nexmark-flink joins the bids with each window's MAX(price); the same
-- rows come from Window Top-N with RANK (ties share rank 1).
CREATE TABLE nexmark_q7 (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR,
  url VARCHAR, date_time TIMESTAMP, extra VARCHAR) WITH (connector = 'blackhole');
INSERT INTO nexmark_q7
SELECT auction, bidder, price, channel, url, date_time, extra
FROM (SELECT *, RANK() OVER (PARTITION BY window_start, window_end ORDER BY price DESC) AS rk
      FROM TUMBLE(bid, date_time, INTERVAL '10' SECOND)) AS ranked
WHERE rk <= 1;
