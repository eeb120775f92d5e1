/*
 * codec.c -- the record codec of the Python API (the format: codec.h).
 *
 * Encoding appends to a reused buffer, so a record costs no allocation
 * beyond the Python objects themselves; decoding checks every length
 * against the end of the bytes (state and checkpoints come from disk).
 * Nesting deeper than Python's recursion limit raises RecursionError.
 */
#include "codec.h"

#include <string.h>

static PyObject *g_row_type, *g_dumps, *g_loads;

int slpy_codec_setup(PyObject *row_type, PyObject *dumps, PyObject *loads) {
  Py_XINCREF(row_type);
  Py_XINCREF(dumps);
  Py_XINCREF(loads);
  slpy_codec_clear();
  g_row_type = row_type;
  g_dumps = dumps;
  g_loads = loads;
  return 0;
}

void slpy_codec_clear(void) {
  Py_CLEAR(g_row_type);
  Py_CLEAR(g_dumps);
  Py_CLEAR(g_loads);
}

int slpy_buf_grow(slpy_buf *b, size_t extra) {
  if (b->len + extra <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra) cap *= 2;
  uint8_t *p = PyMem_RawRealloc(b->p, cap);
  if (!p) return -1;
  b->p = p;
  b->cap = cap;
  return 0;
}

int slpy_buf_reserve(slpy_buf *b, size_t extra) {
  if (!slpy_buf_grow(b, extra)) return 0;
  PyErr_NoMemory();
  return -1;
}

void slpy_buf_free(slpy_buf *b) {
  PyMem_RawFree(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

static inline int put(slpy_buf *b, const void *p, size_t n) {
  if (slpy_buf_reserve(b, n)) return -1;
  if (n) memcpy(b->p + b->len, p, n);
  b->len += n;
  return 0;
}

static inline int put_byte(slpy_buf *b, uint8_t c) { return put(b, &c, 1); }

int slpy_buf_put_varint(slpy_buf *b, uint64_t v) {
  uint8_t tmp[10];
  int n = 0;
  do {
    uint8_t c = v & 0x7f;
    v >>= 7;
    tmp[n++] = c | (v ? 0x80 : 0);
  } while (v);
  return put(b, tmp, (size_t)n);
}

static int put_le64(slpy_buf *b, uint64_t v) {
  uint8_t t[8];
  for (int i = 0; i < 8; i++) t[i] = (uint8_t)(v >> (8 * i));
  return put(b, t, 8);
}

static int put_sized(slpy_buf *b, uint8_t tag, const void *p, size_t n) {
  if (put_byte(b, tag) || slpy_buf_put_varint(b, n)) return -1;
  return put(b, p, n);
}

static int encode_int(slpy_buf *b, PyObject *obj) {
  int overflow = 0;
  long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
  if (v == -1 && PyErr_Occurred()) return -1;
  if (!overflow) return put_byte(b, SLPY_T_INT) ? -1 : put_le64(b, (uint64_t)v);
  /* two's complement, minimal: bits + sign bit, rounded up to bytes */
  size_t bits = _PyLong_NumBits(obj);
  if (bits == (size_t)-1 && PyErr_Occurred()) return -1;
  size_t n = bits / 8 + 1;
  if (put_byte(b, SLPY_T_BIGINT) || slpy_buf_put_varint(b, n) || slpy_buf_reserve(b, n))
    return -1;
  if (_PyLong_AsByteArray((PyLongObject *)obj, b->p + b->len, n, 1, 1)) return -1;
  b->len += n;
  return 0;
}

static int encode_item(slpy_buf *b, PyObject *obj, int key);

static int encode_seq(slpy_buf *b, uint8_t tag, PyObject *seq, int key) {
  Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
  PyObject **items = PySequence_Fast_ITEMS(seq);
  if (put_byte(b, tag) || slpy_buf_put_varint(b, (uint64_t)n)) return -1;
  for (Py_ssize_t i = 0; i < n; i++)
    if (encode_item(b, items[i], key)) return -1;
  return 0;
}

/* Row: its _fields (a tuple of names or None) and _values (a list). */
static int encode_row(slpy_buf *b, PyObject *obj, int key) {
  PyObject *fields = PyObject_GetAttrString(obj, "_fields");
  PyObject *values = fields ? PyObject_GetAttrString(obj, "_values") : NULL;
  PyObject *vals = values ? PySequence_Fast(values, "Row._values must be a sequence") : NULL;
  PyObject *names = NULL;
  int rc = -1;
  if (!vals) goto out;
  Py_ssize_t n = PySequence_Fast_GET_SIZE(vals);
  int named = fields != Py_None;
  if (named) {
    names = PySequence_Fast(fields, "Row._fields must be a sequence");
    if (!names) goto out;
    if (PySequence_Fast_GET_SIZE(names) != n) {
      PyErr_SetString(PyExc_ValueError, "Row has a different number of names and values");
      goto out;
    }
  }
  long kind = 0; /* RowKind's value, 0..3, in the flag byte (not in a key) */
  if (!key) {
    PyObject *k = PyObject_GetAttrString(obj, "_row_kind");
    PyObject *kv = k ? PyObject_GetAttrString(k, "value") : NULL;
    kind = kv ? PyLong_AsLong(kv) : -1;
    Py_XDECREF(kv);
    Py_XDECREF(k);
    if (kind < 0 || kind > 3) {
      if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "Row._row_kind must be a RowKind");
      goto out;
    }
  }
  if (put_byte(b, SLPY_T_ROW) || slpy_buf_put_varint(b, (uint64_t)n) ||
      put_byte(b, (uint8_t)(named | kind << 1)))
    goto out;
  for (Py_ssize_t i = 0; named && i < n; i++) {
    PyObject *nm = PySequence_Fast_GET_ITEM(names, i);
    Py_ssize_t len;
    const char *s = PyUnicode_Check(nm) ? PyUnicode_AsUTF8AndSize(nm, &len) : NULL;
    if (!s) {
      if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "Row field names must be str");
      goto out;
    }
    if (slpy_buf_put_varint(b, (uint64_t)len) || put(b, s, (size_t)len)) goto out;
  }
  for (Py_ssize_t i = 0; i < n; i++)
    if (encode_item(b, PySequence_Fast_GET_ITEM(vals, i), key)) goto out;
  rc = 0;
out:
  Py_XDECREF(names);
  Py_XDECREF(vals);
  Py_XDECREF(values);
  Py_XDECREF(fields);
  return rc;
}

static int encode_pickle(slpy_buf *b, PyObject *obj) {
  if (!g_dumps) {
    PyErr_SetString(PyExc_RuntimeError, "sluice codec: pickle is not set up (import sluice)");
    return -1;
  }
  PyObject *data = PyObject_CallOneArg(g_dumps, obj);
  if (!data) {
    /* say which value: pickle's message often names only a member */
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    PyErr_NormalizeException(&et, &ev, &etb);
    PyErr_Format(PyExc_TypeError,
                 "a value of type %.100s cannot be serialised (neither a str, bytes, int, float, "
                 "bool, None, tuple, list, dict or Row, nor picklable: %S)",
                 Py_TYPE(obj)->tp_name, ev ? ev : Py_None);
    PyObject *nt, *nv, *ntb;
    PyErr_Fetch(&nt, &nv, &ntb);
    PyErr_NormalizeException(&nt, &nv, &ntb);
    if (ev) PyException_SetCause(nv, ev); /* steals ev */
    else Py_XDECREF(ev);
    PyErr_Restore(nt, nv, ntb);
    Py_XDECREF(et);
    Py_XDECREF(etb);
    return -1;
  }
  char *p;
  Py_ssize_t n;
  int rc = PyBytes_AsStringAndSize(data, &p, &n) ? -1 : put_sized(b, SLPY_T_PICKLE, p, (size_t)n);
  Py_DECREF(data);
  return rc;
}

static int encode_item(slpy_buf *b, PyObject *obj, int key) {
  PyTypeObject *t = Py_TYPE(obj);
  if (obj == Py_None) return put_byte(b, SLPY_T_NONE);
  if (obj == Py_True) return put_byte(b, SLPY_T_TRUE);
  if (obj == Py_False) return put_byte(b, SLPY_T_FALSE);
  if (t == &PyUnicode_Type) {
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(obj, &n);
    if (!s) return -1;
    return put_sized(b, SLPY_T_STR, s, (size_t)n);
  }
  if (t == &PyLong_Type) return encode_int(b, obj);
  if (t == &PyFloat_Type) {
    double d = PyFloat_AS_DOUBLE(obj);
    if (key && d == 0.0) d = 0.0;        /* -0.0 == 0.0: one key */
    if (key && d != d) d = __builtin_nan(""); /* every NaN: one key */
    uint64_t u;
    memcpy(&u, &d, 8);
    return put_byte(b, SLPY_T_FLOAT) ? -1 : put_le64(b, u);
  }
  if (t == &PyBytes_Type)
    return put_sized(b, SLPY_T_BYTES, PyBytes_AS_STRING(obj), (size_t)PyBytes_GET_SIZE(obj));
  int rc;
  if (t == &PyTuple_Type || (!key && t == &PyList_Type) || (!key && t == &PyDict_Type) ||
      (g_row_type && t == (PyTypeObject *)g_row_type)) {
    if (Py_EnterRecursiveCall(" while encoding a record")) return -1;
    if (t == &PyTuple_Type) {
      rc = encode_seq(b, SLPY_T_TUPLE, obj, key);
    } else if (t == &PyList_Type) {
      rc = encode_seq(b, SLPY_T_LIST, obj, key);
    } else if (t == &PyDict_Type) {
      Py_ssize_t pos = 0;
      PyObject *k, *v;
      rc = put_byte(b, SLPY_T_DICT) || slpy_buf_put_varint(b, (uint64_t)PyDict_GET_SIZE(obj));
      while (!rc && PyDict_Next(obj, &pos, &k, &v))
        rc = encode_item(b, k, 0) || encode_item(b, v, 0);
      rc = rc ? -1 : 0;
    } else {
      rc = encode_row(b, obj, key);
    }
    Py_LeaveRecursiveCall();
    return rc;
  }
  if (key) {
    PyErr_Format(PyExc_TypeError,
                 "a value of type %.100s cannot be part of a key: a key must be None, a bool, "
                 "an int, a float, a str, bytes, or a tuple or Row of those (its bytes must be "
                 "the same in every run); key by a str or tuple derived from it",
                 t->tp_name);
    return -1;
  }
  return encode_pickle(b, obj);
}

int slpy_encode(slpy_buf *b, PyObject *obj) { return encode_item(b, obj, 0); }
int slpy_encode_key(slpy_buf *b, PyObject *obj) { return encode_item(b, obj, 1); }

/* ---- decoding --------------------------------------------------------------------- */

int slpy_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64 && *p < end; shift += 7) {
    uint8_t c = *(*p)++;
    r |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) {
      *v = r;
      return 0;
    }
  }
  return -1;
}

static PyObject *malformed(const char *what) {
  PyErr_Format(PyExc_ValueError, "malformed record bytes: %s (not written by this codec?)", what);
  return NULL;
}

static PyObject *decode_item(const uint8_t **pp, const uint8_t *end);

static int get_len(const uint8_t **p, const uint8_t *end, uint64_t *n) {
  if (slpy_get_varint(p, end, n) || *n > (uint64_t)(end - *p)) {
    malformed("a length runs past the end");
    return -1;
  }
  return 0;
}

static PyObject *decode_row(const uint8_t **p, const uint8_t *end) {
  uint64_t n;
  if (slpy_get_varint(p, end, &n) || n > (uint64_t)(end - *p) || *p >= end)
    return malformed("a Row's size");
  int flags = *(*p)++, named = flags & 1, kind = flags >> 1;
  if (kind > 3) return malformed("a Row's kind");
  PyObject *names = Py_None, *vals = NULL, *row = NULL;
  Py_INCREF(Py_None);
  if (named) {
    Py_DECREF(names);
    if (!(names = PyTuple_New((Py_ssize_t)n))) return NULL;
    for (uint64_t i = 0; i < n; i++) {
      uint64_t len;
      if (get_len(p, end, &len)) goto out;
      PyObject *s = PyUnicode_DecodeUTF8((const char *)*p, (Py_ssize_t)len, "replace");
      if (!s) goto out;
      PyTuple_SET_ITEM(names, (Py_ssize_t)i, s);
      *p += len;
    }
  }
  if (!(vals = PyList_New((Py_ssize_t)n))) goto out;
  for (uint64_t i = 0; i < n; i++) {
    PyObject *v = decode_item(p, end);
    if (!v) goto out;
    PyList_SET_ITEM(vals, (Py_ssize_t)i, v);
  }
  if (!g_row_type) {
    PyErr_SetString(PyExc_RuntimeError, "sluice codec: Row is not set up (import sluice)");
    goto out;
  }
  row = kind ? PyObject_CallMethod(g_row_type, "_from_codec", "OOi", names, vals, kind)
             : PyObject_CallMethod(g_row_type, "_from_codec", "OO", names, vals);
out:
  Py_XDECREF(names);
  Py_XDECREF(vals);
  return row;
}

static PyObject *decode_item(const uint8_t **pp, const uint8_t *end) {
  const uint8_t *p = *pp;
  if (p >= end) return malformed("it ends inside a value");
  uint8_t tag = *p++;
  uint64_t n;
  PyObject *r = NULL;
  switch (tag) {
    case SLPY_T_NONE: Py_INCREF(Py_None); r = Py_None; break;
    case SLPY_T_FALSE: Py_INCREF(Py_False); r = Py_False; break;
    case SLPY_T_TRUE: Py_INCREF(Py_True); r = Py_True; break;
    case SLPY_T_INT:
    case SLPY_T_FLOAT: {
      if (end - p < 8) return malformed("a number runs past the end");
      uint64_t u = 0;
      for (int i = 0; i < 8; i++) u |= (uint64_t)p[i] << (8 * i);
      p += 8;
      if (tag == SLPY_T_INT) {
        r = PyLong_FromLongLong((long long)u);
      } else {
        double d;
        memcpy(&d, &u, 8);
        r = PyFloat_FromDouble(d);
      }
      break;
    }
    case SLPY_T_BIGINT:
      if (get_len(&p, end, &n)) return NULL;
      r = _PyLong_FromByteArray(p, n, 1, 1);
      p += n;
      break;
    case SLPY_T_STR:
      if (get_len(&p, end, &n)) return NULL;
      r = PyUnicode_DecodeUTF8((const char *)p, (Py_ssize_t)n, "replace");
      p += n;
      break;
    case SLPY_T_BYTES:
      if (get_len(&p, end, &n)) return NULL;
      r = PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)n);
      p += n;
      break;
    case SLPY_T_PICKLE:
      if (get_len(&p, end, &n)) return NULL;
      if (!g_loads) {
        PyErr_SetString(PyExc_RuntimeError, "sluice codec: pickle is not set up (import sluice)");
        return NULL;
      }
      {
        PyObject *data = PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)n);
        if (!data) return NULL;
        r = PyObject_CallOneArg(g_loads, data);
        Py_DECREF(data);
      }
      p += n;
      break;
    case SLPY_T_TUPLE:
    case SLPY_T_LIST:
    case SLPY_T_DICT:
    case SLPY_T_ROW: {
      if (Py_EnterRecursiveCall(" while decoding a record")) return NULL;
      if (tag == SLPY_T_ROW) {
        r = decode_row(&p, end);
        Py_LeaveRecursiveCall();
        break;
      }
      /* every item takes at least one byte: n is bounded by what is left */
      if (slpy_get_varint(&p, end, &n) || n > (uint64_t)(end - p)) {
        Py_LeaveRecursiveCall();
        return malformed("a container's size");
      }
      if (tag == SLPY_T_DICT) {
        r = PyDict_New();
        for (uint64_t i = 0; r && i < n; i++) {
          PyObject *k = decode_item(&p, end);
          PyObject *v = k ? decode_item(&p, end) : NULL;
          if (!v || PyDict_SetItem(r, k, v)) Py_CLEAR(r);
          Py_XDECREF(k);
          Py_XDECREF(v);
        }
      } else {
        r = tag == SLPY_T_TUPLE ? PyTuple_New((Py_ssize_t)n) : PyList_New((Py_ssize_t)n);
        for (uint64_t i = 0; r && i < n; i++) {
          PyObject *v = decode_item(&p, end);
          if (!v) {
            Py_CLEAR(r);
            break;
          }
          if (tag == SLPY_T_TUPLE)
            PyTuple_SET_ITEM(r, (Py_ssize_t)i, v);
          else
            PyList_SET_ITEM(r, (Py_ssize_t)i, v);
        }
      }
      Py_LeaveRecursiveCall();
      break;
    }
    default:
      return malformed("an unknown type tag");
  }
  *pp = p;
  return r;
}

PyObject *slpy_decode(const uint8_t *p, size_t n) {
  const uint8_t *end = p + n;
  PyObject *r = decode_item(&p, end);
  if (r && p != end) {
    Py_DECREF(r);
    return malformed("bytes left after the value");
  }
  return r;
}
