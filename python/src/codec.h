/*
 * codec.h -- the record codec of the Python API: Python objects <-> the
 * bytes of a record's value and key (codec.c).
 *
 * A value is one tagged item; containers nest.  Numbers are little-endian,
 * lengths and counts LEB128 varints:
 *
 *   0x00 None   0x01 False   0x02 True
 *   0x03 int    8 bytes, two's complement (every int that fits int64)
 *   0x04 int    varint n + n bytes, two's complement, minimal (the others)
 *   0x05 float  8 bytes, IEEE 754 double
 *   0x06 str    varint n + n bytes of UTF-8
 *   0x07 bytes  varint n + n bytes
 *   0x08 tuple  varint n + n items      0x09 list  varint n + n items
 *   0x0a dict   varint n + n (key, value) items, in the dict's order
 *   0x0b Row    varint n + flags (bit 0: named; bits 1-2: RowKind, 0 INSERT,
 *               not in a key) + [n str names] + n items
 *   0x0c pickle varint n + n bytes of pickle (anything else, by value)
 *
 * Only exact built-in types take the tagged forms (a subclass of int or str
 * is pickled, so it comes back as itself).  Keys use the same format but
 * without pickle (codec_encode_key): a key's bytes must be the same in
 * every subtask and every run -- the engine hashes them to route records
 * and to find their state after a restore -- and pickle does not promise
 * that (a frozenset's order follows Python's salted hash).  So a key is
 * None, a bool, an int, a float, a str, bytes, or a tuple or Row of those;
 * 1, 1.0 and True are three different keys.
 */
#ifndef SLUICE_PY_CODEC_H
#define SLUICE_PY_CODEC_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

enum {
  SLPY_T_NONE = 0,
  SLPY_T_FALSE = 1,
  SLPY_T_TRUE = 2,
  SLPY_T_INT = 3,
  SLPY_T_BIGINT = 4,
  SLPY_T_FLOAT = 5,
  SLPY_T_STR = 6,
  SLPY_T_BYTES = 7,
  SLPY_T_TUPLE = 8,
  SLPY_T_LIST = 9,
  SLPY_T_DICT = 10,
  SLPY_T_ROW = 11,
  SLPY_T_PICKLE = 12
};

/* A growable byte buffer (PyMem_Raw memory, reused across records). */
typedef struct slpy_buf {
  uint8_t *p;
  size_t len, cap;
} slpy_buf;

int slpy_buf_reserve(slpy_buf *b, size_t extra); /* 0, or -1 with MemoryError */
int slpy_buf_grow(slpy_buf *b, size_t extra);    /* the same, no exception (no GIL) */
void slpy_buf_free(slpy_buf *b);
int slpy_buf_put_varint(slpy_buf *b, uint64_t v);

/* The Python side's Row class and pickle's dumps/loads (slpy_codec_setup,
 * from the package's __init__). */
int slpy_codec_setup(PyObject *row_type, PyObject *dumps, PyObject *loads);
void slpy_codec_clear(void);

/* Append obj's encoding to b: 0, or -1 with a Python exception set (a
 * value pickle cannot serialise: its TypeError/PicklingError, with the
 * type named). */
int slpy_encode(slpy_buf *b, PyObject *obj);
/* Append the key encoding: -1 with TypeError naming the type for anything
 * outside the key types above. */
int slpy_encode_key(slpy_buf *b, PyObject *obj);
/* The object encoded in p[0..n) (a new reference), or NULL with ValueError
 * for bytes that are not one whole encoding. */
PyObject *slpy_decode(const uint8_t *p, size_t n);

/* Reads a varint at *p (< end): 0, or -1 when malformed. */
int slpy_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v);

#endif
