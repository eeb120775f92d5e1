#!/usr/bin/env python3
"""make_seeds.py -- writes the seed corpora of the fuzz harnesses
(tests/fuzz/corpus/<harness>/seed-*): small, well-formed inputs for every
format, built from the format descriptions in the sources (storage.h,
backend.h, file_source.c, connector.h, file_sink.c), plus hostile ones
(huge counts and lengths, path traversal).  With a chk-<n> directory as
argument it also takes that checkpoint's real files as seeds.  Files named
regress-* are inputs that once crashed a harness; this script leaves them.

    python3 tests/fuzz/make_seeds.py [CHK_DIR]
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def put(harness, name, data):
    d = os.path.join(HERE, "corpus", harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def blobs(*bs):
    """fz_blobs layout: count selector, u16-prefixed blobs, the last raw."""
    out = bytes([len(bs) - 1])
    for b in bs[:-1]:
        out += struct.pack("<H", len(b)) + b
    return out + bs[-1]


def image(states, blocks, maxp=128, lo=0, hi=127):
    """A state image without its trailing checksum (the harness can add it)."""
    b = b"SLSTATE1" + struct.pack("<5I", 1, maxp, lo, hi, len(states))
    for kind, name in states:
        b += bytes([kind]) + struct.pack("<H", len(name)) + name
    for kg, sid, entries in blocks:
        b += struct.pack("<2I", kg, sid)
        for ck, v in entries:
            b += struct.pack("<I", len(ck)) + ck + struct.pack("<I", len(v)) + v
        b += struct.pack("<I", 0xFFFFFFFF)
    return b + struct.pack("<I", 0xFFFFFFFF)


def meta_payload(P, ops, inst=None):
    b = struct.pack("<qq3i", 7, 1700000000000, P, 128, len(ops))
    for kind, name in ops:
        b += bytes([kind]) + struct.pack("<H", len(name)) + name
    for i in range(len(ops) * P):
        flags, size = inst[i] if inst else (8, 28)
        b += struct.pack("<BQ", flags, size)
    return b


def frame(magic, payload):
    # the checksum is left wrong on purpose: the harness frames payloads itself
    return magic + struct.pack("<I", 1) + payload + b"\0" * 8


# ---- checkpoint _metadata -------------------------------------------------
ops = [(0, b"file-source#0"), (6, b"count"), (8, b"sink")]
put("ckpt_meta", "payload-3ops-p2", meta_payload(2, ops, [(8, 33), (8, 40), (1 | 8, 900),
                                                          (1 | 8, 950), (8, 60), (8, 70)]))
put("ckpt_meta", "payload-1op-p1", meta_payload(1, [(0, b"src")]))
put("ckpt_meta", "payload-huge-counts", struct.pack("<qq3i", 7, 0, 4096, 128, 100000))
put("ckpt_meta", "payload-negative-p", struct.pack("<qq3i", 7, 0, -1, 128, 1))
put("ckpt_meta", "frame-short", b"SLCKPT01" + struct.pack("<I", 1))

# ---- keyed state images (byte 0: bit 0 unknown size, bit 1 add checksum) -----
ck = b"\x03key\x00"  # varint key length, key, varint(0) namespace
st = [(1, b"count"), (3, b"map")]
img = image(st, [(5, 0, [(ck, struct.pack("<q", 42))]),
                 (9, 1, [(ck + b"uk", b"mapvalue"), (b"\x01k\x00", b"")])])
put("state_image", "two-states-fixed", b"\x02" + img)
put("state_image", "two-states-unknown-size", b"\x03" + img)
put("state_image", "empty", b"\x02" + image([], []))
put("state_image", "huge-state-count", b"\x00" + b"SLSTATE1" + struct.pack("<5I", 1, 128, 0, 127,
                                                                          0xFFFFFFFE))
put("state_image", "huge-entry", b"\x01" + image([(1, b"s")], [])[:-4] +
    struct.pack("<3I", 0, 0, 1 << 30) + b"k" * 8)

# ---- operator state images (byte 0 bit 7: add checksums; byte 1: P and s) ----
def oplist(*elems):
    return b"".join(struct.pack("<I", len(e)) + e for e in elems)


ostate = image([(2, b"offsets"), (6, b"union")],
               [(0, 0, [(b"\x00\x00", oplist(b"a", b"bb", b"", b"dddd"))]),
                (0, 1, [(b"\x00\x00", oplist(b"u1", b"u2"))])], lo=0, hi=0)
ostate2 = image([(2, b"offsets")], [(0, 0, [(b"\x00\x00", oplist(b"x", b"y", b"z"))])],
                lo=0, hi=0)
put("opstate_image", "two-images-p3-s1", bytes([0x80, 2 + 4 * 1]) + blobs(ostate, ostate2))
put("opstate_image", "one-image-p1", bytes([0x80, 0]) + blobs(ostate))
bad_list = image([(2, b"offsets")], [(0, 0, [(b"\x00\x00", struct.pack("<I", 0xFFFFFFF0) + b"ab")])],
                 lo=0, hi=0)
put("opstate_image", "list-length-past-end", bytes([0x80, 1]) + blobs(bad_list))

# ---- file source positions (byte 0: bit 0 continuous, P and s) ---------------
def bounded(n_splits, entries):
    b = b"B" + struct.pack("<2I", n_splits, len(entries))
    for split, state, skipping, off, lines in entries:
        b += struct.pack("<IBBQQ", split, state, skipping, off, lines)
    return b


def continuous(entries):
    b = b"C" + struct.pack("<I", len(entries))
    for path, off, lines, skipping in entries:
        b += struct.pack("<H", len(path)) + path + struct.pack("<QQB", off, lines, skipping)
    return b


# three files of 24, 53 and 0 bytes in 16-byte splits: 2 + 4 + 1 = 7 splits
put("file_source_seek", "bounded-p2", bytes([0 | (1 << 1)]) +
    blobs(bounded(7, [(0, 2, 0, 0, 0), (2, 1, 1, 20, 1)]), bounded(7, [(1, 1, 0, 18, 3)])))
put("file_source_seek", "bounded-p1-all-done", bytes([0]) +
    blobs(bounded(7, [(i, 2, 0, 0, 0) for i in range(7)])))
put("file_source_seek", "bounded-other-input", bytes([0]) + blobs(bounded(9, [(0, 1, 0, 4, 1)])))
put("file_source_seek", "continuous-p3", bytes([1 | (2 << 1) | (1 << 3)]) +
    blobs(continuous([(b"/tmp/in/a.txt", 8, 2, 0)]),
          continuous([(b"/tmp/in/b.txt", 49, 1, 1), (b"/tmp/in/a.txt", 24, 5, 0)])))

# ---- generator positions ------------------------------------------------------
def gen(*ents):
    return b"".join(struct.pack("<3Q", f, n, s) for f, n, s in ents)


put("gen_seek", "rescale-2-to-1", blobs(gen((0, 100, 2), (0, 40, 2)), gen((1, 101, 2))))
put("gen_seek", "one-reader", blobs(gen((0, 1000, 1))))
put("gen_seek", "zero-step", blobs(gen((5, 10, 0), (3, 9, 3))))

# ---- file sink recovery (byte 0: bit 0 single-file sink) -----------------------
def sink(*files):
    b = struct.pack("<I", len(files))
    for kind, length, tmp, final in files:
        b += bytes([kind]) + struct.pack("<qH", length, len(tmp)) + tmp + \
            struct.pack("<H", len(final)) + final
    return b


put("file_sink_recover", "dir-pending", b"\x00" +
    blobs(sink((0, 17, b".part-0-1.inprogress", b"part-0-1")), sink()))
put("file_sink_recover", "single-inprogress", b"\x01" +
    blobs(sink((1, 12, b"out.txt.inprogress", b"out.txt"))))
put("file_sink_recover", "traversal", b"\x00" +
    blobs(sink((0, 0, b"../../victim", b"../../victim2"))))
put("file_sink_recover", "truncated", b"\x00" + blobs(struct.pack("<I", 3) + b"\x00\x01"))

# ---- line reader (max-1, bufsize-1, flags, limit; then the stream) -------------
put("line_reader", "ascii", bytes([40, 7, 0, 0]) + b"one\ntwo\r\n\nthree")
put("line_reader", "utf8-good-and-bad", bytes([63, 15, 0, 0]) +
    "größe ✓ 𝄞\n".encode() + b"\xc3\x28\n\xed\xa0\x80\n\xf4\x90\x80\x80\nend\n")
put("line_reader", "overlong", bytes([5, 3, 0, 0]) + b"short\n" + b"x" * 40 + b"\nok\n")
put("line_reader", "skip-first-limit", bytes([20, 4, 3, 12]) + b"partial\nline1\nline2\nline3\n")

# ---- configuration (byte 0: key index; then the value) -------------------------
for i, v in enumerate([b"4", b"128", b"100ms", b"1mb", b"true", b"hashmap", b"10 s",
                       b"9223372036854775807", b"-1", b"18446744073709551615kb", b"1gib",
                       b"key=value", b"parallelism.default=2", b"", b"0x10"]):
    put("config", "value-%02d" % i, bytes([(i * 5) % 42]) + v)

# ---- window-agg CSV lines --------------------------------------------------------
for i, line in enumerate([b"1000,k1,42", b"0,key,-7.25", b"9223372036854775807,k,1",
                          b"12,k,+0.000000001", b"5,k,-9223372036854775808.999999999",
                          b"1,,2", b"1,k,2,3", b"x,k,1", b"1,k,1e5", b"007,k,1.50"]):
    put("window_agg_fields", "line-%02d" % i, line)

# ---- SQL rows: CSV and JSON lines of (INT, VARCHAR, DECIMAL(6,2), TIMESTAMP, DOUBLE, BOOLEAN)
for i, line in enumerate([b'1,ann,12.50,2024-01-01 00:00:00,0.1,true',
                          b',"",,,,',
                          b'-2147483648,"say ""hi"", ok",-9999.99,1969-12-31T23:59:59.999Z,1e308,f',
                          b'7,x,0.005,2020-02-29 12:30,-0,1',
                          b'{"i": 5, "s": "a\\"b\\u00e9\\ud83d\\ude00", "d": "1.5", "t": "2024-01-01", "f": 2.5, "b": true}',
                          b'{"s": null, "x": {"y": [1, {"z": 2}]}, "i": 0}',
                          b'{"i": 2147483648}', b'1,a,1,2024-13-01 00:00:00,1,t', b'"unterminated']):
    put("sql_row", "line-%02d" % i, line)

# ---- a real checkpoint's files ----------------------------------------------------
if len(sys.argv) > 1:
    chk = sys.argv[1]
    with open(os.path.join(chk, "_metadata"), "rb") as f:
        m = f.read()
    put("ckpt_meta", "real-metadata-frame", m)
    put("ckpt_meta", "real-metadata-payload", m[12:-8])
    for name in sorted(os.listdir(chk)):
        p = os.path.join(chk, name)
        with open(p, "rb") as f:
            data = f.read()
        if name.endswith(".keyed") and len(data) < 8192:
            put("state_image", "real-" + name, b"\x00" + data)
