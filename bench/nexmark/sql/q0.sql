-- Nexmark q0, passthrough: every bid as it is.  The bid's columns in the
-- generator's order (q0.c passes the bid events on unchanged; nexmark-flink
-- selects auction, bidder, price, dateTime, extra).
-- `sluice bench nexmark --sql --query q0` creates the tables person, auction
-- and bid (connector nexmark, watermark date_time - 4 s) before this file.
CREATE TABLE nexmark_q0 (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR,
  url VARCHAR, date_time TIMESTAMP, extra VARCHAR) WITH (connector = 'blackhole');
INSERT INTO nexmark_q0
SELECT auction, bidder, price, channel, url, date_time, extra FROM bid;
