"""A plain-Python reference of event-time windows (Flink's WindowOperator
semantics), for the window tests: records in source order, a watermark
after every record (pipeline.auto-watermark-interval 0) of max timestamp -
bound - 1, windows late when end - 1 + lateness <= watermark, a record whose
windows are all late goes to the late output, a window within its lateness
fires again at once with the record added, the final watermark fires every
window not yet fired."""

MIN = -2 ** 63


def windows_of(t, size, slide):
    """Tumbling (slide == size) or sliding windows [start, start+size) of t."""
    last = t - t % slide
    out = []
    s = last
    while s > t - size:
        out.append((s, s + size))
        s -= slide
    return out


def event_time_windows(records, size, slide, bound, lateness, fn):
    """records: [(key, ts, value)]; fn(key, start, end, [values]) -> result.
    Returns (results [(key, start, end, result)], late [(key, ts, value)])."""
    wm = MIN
    maxts = MIN
    contents = {}  # (key, start, end) -> [values]
    fired = set()
    results, late = [], []
    for key, t, v in records:
        wins = windows_of(t, size, slide)
        live = [w for w in wins if not (w[1] - 1 + lateness <= wm)]
        if not live:
            late.append((key, t, v))
        for w in live:
            k = (key,) + w
            contents.setdefault(k, []).append(v)
            if w[1] - 1 <= wm:  # within the allowed lateness: fires (again) at once
                fired.add(k)
                results.append(k + (fn(key, w[0], w[1], list(contents[k])),))
        maxts = max(maxts, t)
        wm = max(wm, maxts - bound - 1)
        for k in sorted(contents, key=lambda k: k[2]):
            if k[2] - 1 <= wm and k not in fired:
                fired.add(k)
                results.append(k + (fn(k[0], k[1], k[2], list(contents[k])),))
        for k in [k for k in contents if k[2] - 1 + lateness <= wm]:
            del contents[k]
            fired.discard(k)
    for k in sorted(contents, key=lambda k: k[2]):
        if k not in fired:
            results.append(k + (fn(k[0], k[1], k[2], list(contents[k])),))
    return results, late


def sessions(records, gap, fn):
    """records in timestamp order, none late: [(key, start, end, result)]."""
    by_key = {}
    for key, t, v in records:
        by_key.setdefault(key, []).append((t, v))
    out = []
    for key, items in by_key.items():
        cur = None
        for t, v in sorted(items, key=lambda x: x[0]):
            if cur and t <= cur[1]:
                cur[1] = max(cur[1], t + gap)
                cur[2].append(v)
            else:
                if cur:
                    out.append((key, cur[0], cur[1], fn(key, cur[0], cur[1], cur[2])))
                cur = [t, t + gap, [v]]
        out.append((key, cur[0], cur[1], fn(key, cur[0], cur[1], cur[2])))
    return out
