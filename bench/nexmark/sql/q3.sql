-- Nexmark q3, local item suggestion: the auctions of category 10 whose
-- seller is from Oregon, Idaho or California, with the seller's name,
-- city and state -- a regular inner join of the two append-only tables,
-- emitted as soon as both rows are there.  Both sides are kept in state for
-- good (as Flink without table.exec.state.ttl); the filters sit below the
-- join (Flink's optimizer pushes them there), so only the matching
-- auctions and persons are kept.
CREATE TABLE nexmark_q3 (name VARCHAR, city VARCHAR, state VARCHAR, id BIGINT)
  WITH (connector = 'blackhole');
INSERT INTO nexmark_q3
SELECT P.name, P.city, P.state, A.id
FROM (SELECT id, seller FROM auction WHERE category = 10) AS A
JOIN (SELECT id, name, city, state FROM person
      WHERE state = 'OR' OR state = 'ID' OR state = 'CA') AS P
ON A.seller = P.id;
