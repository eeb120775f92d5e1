-- Nexmark q1, currency conversion: every bid with its price in euros.
-- nexmark-flink writes 0.908 * price; prices are whole cents here, so the
-- conversion is exact integer arithmetic truncated to cents (as q1.c).
CREATE TABLE nexmark_q1 (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR,
  url VARCHAR, date_time TIMESTAMP, extra VARCHAR) WITH (connector = 'blackhole');
INSERT INTO nexmark_q1
SELECT auction, bidder, price * 908 / 1000, channel, url, date_time, extra FROM bid;
