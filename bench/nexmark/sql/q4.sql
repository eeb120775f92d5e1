-- Nexmark q4, average price for a category: per category, the average of
-- the winning (highest) bid of each of its auctions, counting the bids
-- between the auction's opening and its expiry.  As nexmark-flink writes
-- it: an aggregate over an aggregate over a regular join, so the result is
-- updating -- a changelog, in which each new highest bid of an auction
-- retracts the auction's old maximum from its category's average (-U, +U).
-- Flink's AVG of a BIGINT is a BIGINT (the sum divided by the count,
-- truncated); sluice's AVG is a DOUBLE, so the query divides itself.
CREATE TABLE nexmark_q4 (id BIGINT, final BIGINT) WITH (connector = 'blackhole');
INSERT INTO nexmark_q4
SELECT Q.category, SUM(Q.final) / COUNT(*)
FROM (SELECT MAX(B.price) AS final, A.category
      FROM auction A, bid B
      WHERE A.id = B.auction AND B.date_time BETWEEN A.date_time AND A.expires
      GROUP BY A.id, A.category) Q
GROUP BY Q.category;
