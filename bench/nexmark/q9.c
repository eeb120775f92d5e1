/*
 * q9.c -- Nexmark q9, winning bids: for every auction, its highest bid
 * placed between its opening and its expiry (ties: the earliest, then the
 * lowest bidder id), emitted once the auction has closed.  The reference
 * ranks with ROW_NUMBER() OVER (PARTITION BY A.id ORDER BY price DESC,
 * dateTime ASC) and keeps rank 1; here the auction closes by an
 * event-time timer at its expiry (winning.c), so each auction gives one
 * final row instead of an updating one.
 */
#include "nexmark.h"

static sl_stream *build(sl_stream *events) { return nx_winning_bids(events); }

const nx_query nx_query_q9 = {"q9", "winning bid of every closed auction", 0, build, NULL};
