/*
 * module.c -- _sluice, the CPython extension under the `sluice` package:
 * builds a libsluice graph whose operators call Python functions, and runs
 * it.  Public libsluice API only (sluice.h).
 *
 * The Python package keeps the job as a graph of its own and builds it
 * here at execute() (a new Env per run: an sl_env runs once).  Records are
 * Python objects in the codec's bytes (codec.h): a text source's lines are
 * turned into codec strings by a C map, text sinks get str(value) from a C
 * operator that needs no interpreter for str, int, bool and None.
 *
 * Calling Python from the workers
 *   1. Every function runs on runs of up to 64 records with one
 *      interpreter lock (GIL) per run: stateless ones (map, flat_map,
 *      filter, key selectors, process, Python sinks) in an
 *      sl_flat_map_batch operator, keyed ones (reduce, keyed process) in an
 *      sl_keyed_process_batch operator, which binds keyed state and timers
 *      to each record's key in turn (sl_ctx_run_key).  Timers: one GIL
 *      each.
 *   2. Nothing is emitted while the GIL is held: results are encoded into
 *      the instance's output buffer and emitted after the GIL is released.
 *      An emit can wait for a full channel to drain, and the worker that
 *      drains it may itself be waiting for the GIL.
 *   3. A worker thread gets one Python thread state, created at its first
 *      call and kept (so taking the GIL costs no allocation); execute()
 *      deletes them after the workers joined.  The thread that calls
 *      execute() (which runs the functions' open/close) uses its own.
 *   4. Each subtask gets its own copy of the user's function object (the
 *      package's factory deep-copies it and calls open with the subtask's
 *      RuntimeContext), as PyFlink gives each subtask a deserialised copy.
 *   5. A Python exception fails the job: the operator gets a short message
 *      (exception, record) for the engine's error, and the first exception
 *      is kept with its traceback for execute() to raise.
 *   6. Event time: a Python timestamp assigner is a batch operator (one
 *      GIL per run) that stamps records; the engine's sl_assign_timestamps
 *      behind it keeps those timestamps and makes the watermarks in C.
 *   7. Windows are the engine's sl_window_process: each window's values
 *      are buffered serialised in keyed list state (checkpointed like any
 *      state; window bookkeeping, triggers, lateness and the late side
 *      output run in C without the GIL), and the Python function (reduce,
 *      aggregate, process, apply, composed by the package) runs once per
 *      firing with one GIL over the window's values.
 *   8. Side outputs: a function's item (OutputTag, value) is emitted with
 *      sl_emit_side under the tag's name, interned in the Env (the
 *      buffered output points at it without the GIL).
 *   9. connect: each input's records get a tag byte (0 or 1) in C, the
 *      two are unioned into one batch operator (keyed, with state and
 *      timers, when both inputs are keyed) that calls the function of
 *      each record's input: one GIL per run here too.
 *  10. SQL (sluice.table): Env.sql(text, validate) runs sl_sql_execute with
 *      the GIL released; SHOW / EXPLAIN text is gathered into a buffer (no
 *      Python object touched without the GIL).  With validate, each
 *      INSERT's sink callback refuses its stream: every statement is parsed
 *      and planned, and no job runs (the table environment checks an
 *      INSERT that way before running it on a thread).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "sluice.h"
#include "sluice_sql.h"

/* ---- the GIL on worker threads (invariant 3) -------------------------------------- */

static PyInterpreterState *g_interp;
static __thread PyThreadState *t_ts;   /* this worker's thread state */
static __thread int t_depth;           /* GIL holds nested on this thread */

/* The thread states gil_take created for one job's workers (an Env's),
 * deleted by execute() once they joined: jobs run concurrently
 * (execute_async) each clean up their own. */
typedef struct ts_list {
  pthread_mutex_t mu;
  PyThreadState **v;
  size_t n, cap;
} ts_list;

typedef struct gil {
  int kind; /* 0 nested, 1 own thread state, 2 PyGILState */
  PyGILState_STATE st;
} gil;

static void gil_take(gil *g, ts_list *l) {
  if (t_depth++) {
    g->kind = 0;
    return;
  }
  if (t_ts) {
    PyEval_RestoreThread(t_ts);
    g->kind = 1;
  } else if (PyGILState_GetThisThreadState()) {
    g->st = PyGILState_Ensure();
    g->kind = 2;
  } else {
    PyThreadState *ts = PyThreadState_New(g_interp);
    pthread_mutex_lock(&l->mu);
    if (l->n == l->cap) {
      size_t cap = l->cap ? 2 * l->cap : 16;
      PyThreadState **v = PyMem_RawRealloc(l->v, cap * sizeof *v);
      if (v) l->v = v, l->cap = cap;
    }
    if (l->n < l->cap) l->v[l->n++] = ts; /* else leaked: memory ran out */
    pthread_mutex_unlock(&l->mu);
    PyEval_RestoreThread(ts);
    t_ts = ts;
    g->kind = 1;
  }
}

static void gil_drop(gil *g) {
  t_depth--;
  if (g->kind == 1)
    PyEval_SaveThread();
  else if (g->kind == 2)
    PyGILState_Release(g->st);
}

/* After the job's workers joined (GIL held): their thread states go. */
static void gil_cleanup(ts_list *l) {
  pthread_mutex_lock(&l->mu);
  for (size_t i = 0; i < l->n; i++) {
    PyThreadState_Clear(l->v[i]);
    PyThreadState_Delete(l->v[i]);
  }
  l->n = 0;
  pthread_mutex_unlock(&l->mu);
}

/* ---- operators -------------------------------------------------------------------- */

enum {
  M_MAP,
  M_FLAT_MAP,
  M_FILTER,
  M_KEY,      /* key selector: the record gets the key's bytes */
  M_PROCESS,  /* ProcessFunction: call(value, ts) -> iterable */
  M_SINK,     /* a Python sink: call(value), nothing out */
  M_REDUCE,   /* call(acc, value) -> acc (keyed) */
  M_KPROCESS, /* KeyedProcessFunction: call(value, ts) -> iterable (keyed) */
  M_TO_TEXT,  /* str(value) for text sinks, in C where it can */
  M_TIMESTAMP, /* TimestampAssigner: call(value, record_ts) -> int (the record's new ts) */
  M_WINDOW,   /* window function: call(key, start, end, [values]) -> iterable (keyed) */
  M_CO,       /* connect: call is (call1, call2), each call(value) -> iterable */
  M__N
};
static const char *const g_mode_names[M__N] = {"map", "flat_map", "filter", "key selector",
                                               "process", "sink", "reduce", "process",
                                               "to-text", "timestamp assigner", "window",
                                               "connect"};

typedef struct EnvObject EnvObject;

typedef struct pyop {
  EnvObject *env; /* borrowed: the Env outlives its job */
  int mode;
  PyObject *factory; /* callable(RuntimeContext) -> (call, on_timer, close) */
  sl_state_desc **descs; /* keyed states declared by the functions */
  int n_descs;
} pyop;

/* A record the function produced, in the instance's output buffer. */
typedef struct outrec {
  const char *tag; /* side output (an Env's interned name), NULL: the main output */
  int64_t ts;
  size_t koff, voff;
  uint32_t klen, vlen;
} outrec;

/* Per subtask of an operator (sl_ctx_local). */
typedef struct pysub {
  PyObject *call, *on_timer, *close, *rctx;
  slpy_buf obuf; /* keys and values of recs */
  outrec *recs;
  size_t n_recs, cap_recs;
  slpy_buf kbuf; /* a key being encoded */
} pysub;

struct EnvObject {
  PyObject_HEAD
  sl_env *env;
  sl_stream **streams;
  int n_streams, cap_streams;
  pyop **ops;
  int n_ops, cap_ops;
  sl_collect **colls;
  int n_colls, cap_colls;
  PyObject *error; /* the first exception a user function raised */
  char **tags;     /* side output names (interned: the strings never move) */
  int n_tags, cap_tags;
  int running;
  ts_list tss; /* thread states of this job's workers */
};

/* The subtask's RuntimeContext (sl_ctx of one operator instance). */
typedef struct CtxObject {
  PyObject_HEAD
  sl_ctx *ctx; /* NULL once the subtask closed */
  pyop *op;
  int64_t ts;  /* timestamp of the record being processed */
} CtxObject;
static PyTypeObject CtxType;

typedef struct StateObject {
  PyObject_HEAD
  CtxObject *c;
  sl_state_desc *desc;
  /* the encoded user key and value of the call being made, reused from
   * call to call (a state object serves one subtask, under the GIL): no
   * allocation per state access */
  slpy_buf kb, vb;
} StateObject;
static PyTypeObject ValueStateType;

/* Record the Python exception of a user function: the first one is kept
 * for execute(); the operator's message names the exception and the record
 * (repr, truncated).  GIL held.  Returns -SL_EUSER. */
static int py_fail(pyop *op, sl_ctx *ctx, PyObject *value, const char *what) {
  PyObject *et, *ev, *etb;
  PyErr_Fetch(&et, &ev, &etb);
  PyErr_NormalizeException(&et, &ev, &etb);
  if (etb && ev) PyException_SetTraceback(ev, etb);
  char exc[400] = "unknown error", rec[240] = "";
  if (ev) {
    PyObject *s = PyObject_Str(ev);
    const char *m = s ? PyUnicode_AsUTF8(s) : NULL;
    snprintf(exc, sizeof exc, "%s%s%.300s", Py_TYPE(ev)->tp_name, m && *m ? ": " : "", m ? m : "");
    Py_XDECREF(s);
    PyErr_Clear();
  }
  if (value) {
    PyObject *r = PyObject_Repr(value);
    const char *m = r ? PyUnicode_AsUTF8(r) : NULL;
    if (m) snprintf(rec, sizeof rec, " on record %.200s%s", m, strlen(m) > 200 ? "..." : "");
    Py_XDECREF(r);
    PyErr_Clear();
  }
  if (ev && !op->env->error) {
    op->env->error = ev;
    Py_INCREF(ev);
  }
  Py_XDECREF(et);
  Py_XDECREF(ev);
  Py_XDECREF(etb);
  return sl_ctx_fail(ctx, "Python %s %s %s%s (traceback: see the exception execute() raised)",
                     g_mode_names[op->mode], what, exc, rec);
}

static int out_add(pysub *sub, int64_t ts, const void *key, uint32_t klen, size_t voff,
                   size_t vlen) {
  if (sub->n_recs == sub->cap_recs) {
    size_t cap = sub->cap_recs ? 2 * sub->cap_recs : 128;
    outrec *r = PyMem_RawRealloc(sub->recs, cap * sizeof *r);
    if (!r) {
      if (t_depth) PyErr_NoMemory(); /* only with the GIL */
      return -1;
    }
    sub->recs = r;
    sub->cap_recs = cap;
  }
  size_t koff = sub->obuf.len;
  if (klen) {
    if (slpy_buf_grow(&sub->obuf, klen)) {
      if (t_depth) PyErr_NoMemory();
      return -1;
    }
    memcpy(sub->obuf.p + koff, key, klen);
    sub->obuf.len += klen;
  }
  if (vlen > UINT32_MAX) {
    if (t_depth) PyErr_SetString(PyExc_ValueError, "a record value is larger than 4 GB");
    return -1;
  }
  sub->recs[sub->n_recs++] = (outrec){NULL, ts, koff, voff, klen, (uint32_t)vlen};
  return 0;
}

/* Encode obj as an output record (value appended to obuf first). */
static int out_obj(pysub *sub, int64_t ts, PyObject *obj, const void *key, uint32_t klen) {
  size_t voff = sub->obuf.len;
  if (slpy_encode(&sub->obuf, obj)) return -1;
  return out_add(sub, ts, key, klen, voff, sub->obuf.len - voff);
}

/* The interned copy of side output name `name` (GIL held): it lives as
 * long as the Env, so records in flight can point at it without the GIL. */
static PyObject *g_output_tag_type; /* sluice's OutputTag class (setup_tags) */

static const char *env_tag(EnvObject *e, const char *name) {
  for (int i = 0; i < e->n_tags; i++)
    if (!strcmp(e->tags[i], name)) return e->tags[i];
  if (e->n_tags == e->cap_tags) {
    int cap = e->cap_tags ? 2 * e->cap_tags : 8;
    char **l = PyMem_RawRealloc(e->tags, (size_t)cap * sizeof *l);
    if (!l) return (const char *)PyErr_NoMemory();
    e->tags = l;
    e->cap_tags = cap;
  }
  char *t = PyMem_RawMalloc(strlen(name) + 1);
  if (!t) return (const char *)PyErr_NoMemory();
  strcpy(t, name);
  e->tags[e->n_tags++] = t;
  return t;
}

/* (OutputTag, value), PyFlink's way of emitting to a side output: the
 * tag's name, NULL when item is a plain record, or NULL with an exception. */
static const char *item_tag(EnvObject *e, PyObject *item) {
  if (!g_output_tag_type || !PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 2 ||
      !PyObject_TypeCheck(PyTuple_GET_ITEM(item, 0), (PyTypeObject *)g_output_tag_type))
    return NULL;
  PyObject *id = PyObject_GetAttrString(PyTuple_GET_ITEM(item, 0), "tag_id");
  const char *name = id && PyUnicode_Check(id) ? PyUnicode_AsUTF8(id) : NULL;
  const char *t = name ? env_tag(e, name) : NULL;
  if (id && !PyUnicode_Check(id)) PyErr_SetString(PyExc_TypeError, "an OutputTag's tag_id must be a str");
  Py_XDECREF(id);
  return t;
}

/* Every item of the iterable a flat_map / process returned (None: none):
 * 0, -1 when iterating raised (the user's code: a generator runs here), -2
 * when an item could not be serialised.  An item (OutputTag, value) goes
 * to that side output. */
static int out_iter(pysub *sub, EnvObject *e, int64_t ts, PyObject *res) {
  if (res == Py_None) return 0;
  PyObject *it = PyObject_GetIter(res);
  if (!it) return -1;
  PyObject *item;
  int rc = 0;
  while (!rc && (item = PyIter_Next(it))) {
    const char *tag = item_tag(e, item);
    if (tag) {
      rc = out_obj(sub, ts, PyTuple_GET_ITEM(item, 1), NULL, 0) ? -2 : 0;
      if (!rc) sub->recs[sub->n_recs - 1].tag = tag;
    } else {
      rc = PyErr_Occurred() ? -2 : out_obj(sub, ts, item, NULL, 0) ? -2 : 0;
    }
    Py_DECREF(item);
  }
  Py_DECREF(it);
  return rc ? rc : PyErr_Occurred() ? -1 : 0;
}

static const char *iter_what(PyObject *res, int rc, const char *fn) {
  return !res || rc == -1 ? fn : "function's results could not be serialised:";
}

/* Emit what the function produced (GIL released: invariant 2). */
static int out_flush(pysub *sub, sl_collector *out) {
  int rc = 0;
  for (size_t i = 0; i < sub->n_recs && !rc; i++) {
    outrec *o = &sub->recs[i];
    sl_record r = {o->ts, o->klen ? sub->obuf.p + o->koff : NULL, o->klen,
                   sub->obuf.p + o->voff, o->vlen};
    rc = o->tag ? sl_emit_side(out, o->tag, &r) : sl_emit(out, &r);
  }
  sub->n_recs = 0;
  sub->obuf.len = 0;
  return rc;
}

static PyObject *ctx_new(sl_ctx *ctx, pyop *op) {
  CtxObject *c = PyObject_New(CtxObject, &CtxType);
  if (!c) return NULL;
  c->ctx = ctx;
  c->op = op;
  c->ts = SL_NO_TIMESTAMP;
  return (PyObject *)c;
}

static void sub_free(pysub *sub) {
  if (sub->rctx) ((CtxObject *)sub->rctx)->ctx = NULL;
  Py_XDECREF(sub->call);
  Py_XDECREF(sub->on_timer);
  Py_XDECREF(sub->close);
  Py_XDECREF(sub->rctx);
  slpy_buf_free(&sub->obuf);
  slpy_buf_free(&sub->kbuf);
  PyMem_RawFree(sub->recs);
  PyMem_RawFree(sub);
}

/* sl_rich open: the subtask's own function object (invariant 4).  On
 * failure nothing is kept (close is not called then). */
static int op_open(void *ud, sl_ctx *ctx) {
  pyop *op = ud;
  gil g;
  gil_take(&g, &op->env->tss);
  int rc = 0;
  pysub *sub = PyMem_RawCalloc(1, sizeof *sub);
  PyObject *res = NULL;
  if (!sub) {
    PyErr_NoMemory();
    rc = py_fail(op, ctx, NULL, "could not start:");
    goto out;
  }
  if (!(sub->rctx = ctx_new(ctx, op))) {
    rc = py_fail(op, ctx, NULL, "could not start:");
    goto out;
  }
  res = PyObject_CallOneArg(op->factory, sub->rctx);
  if (!res || !PyTuple_Check(res) || PyTuple_GET_SIZE(res) != 3) {
    if (res) PyErr_SetString(PyExc_TypeError, "sluice: the operator factory must return 3 items");
    rc = py_fail(op, ctx, NULL, "function's open() raised");
    goto out;
  }
  if (op->mode == M_CO && !(PyTuple_Check(PyTuple_GET_ITEM(res, 0)) &&
                            PyTuple_GET_SIZE(PyTuple_GET_ITEM(res, 0)) == 2)) {
    PyErr_SetString(PyExc_TypeError, "sluice: a co-function's factory must return 2 calls");
    rc = py_fail(op, ctx, NULL, "function's open() raised");
    goto out;
  }
  sub->call = PyTuple_GET_ITEM(res, 0);
  sub->on_timer = PyTuple_GET_ITEM(res, 1);
  sub->close = PyTuple_GET_ITEM(res, 2);
  Py_INCREF(sub->call);
  Py_INCREF(sub->on_timer);
  Py_INCREF(sub->close);
  sl_ctx_set_local(ctx, sub);
out:
  if (rc && sub) sub_free(sub);
  Py_XDECREF(res);
  gil_drop(&g);
  return rc;
}

static void op_close(void *ud, sl_ctx *ctx) {
  pyop *op = ud;
  pysub *sub = sl_ctx_local(ctx);
  if (!sub) return;
  gil g;
  gil_take(&g, &op->env->tss);
  if (sub->close && sub->close != Py_None) {
    PyObject *r = PyObject_CallNoArgs(sub->close);
    if (!r) {
      int rc = py_fail(op, ctx, NULL, "function's close() raised");
      (void)rc; /* the job already ended: the exception is kept for execute() */
    }
    Py_XDECREF(r);
  }
  sub_free(sub);
  sl_ctx_set_local(ctx, NULL);
  gil_drop(&g);
}

/* A record's value as the Python object its encoding holds (after the
 * connect tag byte in M_CO), or NULL with the exception set: every record
 * between Python operators carries an encoded value, so an empty one came
 * from a C operator or source that left it out. */
static PyObject *input_value(const pyop *op, const sl_record *r) {
  uint32_t skip = op->mode == M_CO;
  if (r->value_len > skip) return slpy_decode((const uint8_t *)r->value + skip, r->value_len - skip);
  PyErr_SetString(PyExc_ValueError,
                  "a record without a value reached a Python function (its producer wrote no "
                  "encoded value: records between Python operators carry one)");
  return NULL;
}

/* The stateless modes: one GIL per run (invariant 1). */
static int batch_fn(void *ud, sl_ctx *ctx, const sl_record *in, size_t n, sl_collector *out) {
  pyop *op = ud;
  pysub *sub = sl_ctx_local(ctx);
  CtxObject *c = (CtxObject *)sub->rctx;
  gil g;
  gil_take(&g, &op->env->tss);
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    const sl_record *r = &in[i];
    PyObject *v = input_value(op, r), *res = NULL;
    if (!v) {
      rc = py_fail(op, ctx, NULL, "could not read its input:");
      break;
    }
    switch (op->mode) {
      case M_CO: /* connect: the input's tag byte picks the function (co_tag) */
        c->ts = r->ts;
        res = PyObject_CallOneArg(PyTuple_GET_ITEM(sub->call, ((const uint8_t *)r->value)[0] & 1), v);
        if (!res || (rc = out_iter(sub, op->env, r->ts, res)))
          rc = py_fail(op, ctx, v, iter_what(res, rc, "function raised"));
        break;
      case M_MAP:
        res = PyObject_CallOneArg(sub->call, v);
        if (!res) {
          rc = py_fail(op, ctx, v, "function raised");
        } else if (out_obj(sub, r->ts, res, r->key, r->key_len)) {
          rc = py_fail(op, ctx, v, "function's result could not be serialised:");
        }
        break;
      case M_FILTER: {
        res = PyObject_CallOneArg(sub->call, v);
        int keep = res ? PyObject_IsTrue(res) : -1;
        if (keep < 0) {
          rc = py_fail(op, ctx, v, "function raised");
        } else if (keep) {
          if (slpy_buf_reserve(&sub->obuf, r->value_len)) {
            rc = py_fail(op, ctx, v, "failed:");
            break;
          }
          size_t voff = sub->obuf.len;
          memcpy(sub->obuf.p + voff, r->value, r->value_len);
          sub->obuf.len += r->value_len;
          if (out_add(sub, r->ts, r->key, r->key_len, voff, r->value_len))
            rc = py_fail(op, ctx, v, "failed:");
        }
        break;
      }
      case M_FLAT_MAP:
      case M_PROCESS:
        c->ts = r->ts;
        res = op->mode == M_FLAT_MAP ? PyObject_CallOneArg(sub->call, v)
                                     : PyObject_CallFunctionObjArgs(sub->call, v, NULL);
        if (!res || (rc = out_iter(sub, op->env, r->ts, res)))
          rc = py_fail(op, ctx, v, iter_what(res, rc, "function raised"));
        break;
      case M_KEY: {
        res = PyObject_CallOneArg(sub->call, v);
        if (!res) {
          rc = py_fail(op, ctx, v, "function raised");
          break;
        }
        if (PyObject_Hash(res) == -1 && PyErr_Occurred()) {
          PyErr_Clear();
          PyObject *rr = PyObject_Repr(res);
          PyErr_Format(PyExc_TypeError,
                       "the key selector returned an unhashable value of type %.100s (%.100S): "
                       "a key must be hashable -- use a tuple instead of a list",
                       Py_TYPE(res)->tp_name, rr ? rr : Py_None);
          Py_XDECREF(rr);
          rc = py_fail(op, ctx, v, "returned a bad key:");
          break;
        }
        sub->kbuf.len = 0;
        if (slpy_encode_key(&sub->kbuf, res)) {
          rc = py_fail(op, ctx, v, "returned a bad key:");
          break;
        }
        if (sub->kbuf.len > UINT32_MAX) {
          PyErr_SetString(PyExc_ValueError, "a key is larger than 4 GB");
          rc = py_fail(op, ctx, v, "returned a bad key:");
          break;
        }
        if (slpy_buf_reserve(&sub->obuf, r->value_len)) {
          rc = py_fail(op, ctx, v, "failed:");
          break;
        }
        size_t voff = sub->obuf.len;
        memcpy(sub->obuf.p + voff, r->value, r->value_len);
        sub->obuf.len += r->value_len;
        if (out_add(sub, r->ts, sub->kbuf.p, (uint32_t)sub->kbuf.len, voff, r->value_len))
          rc = py_fail(op, ctx, v, "failed:");
        break;
      }
      case M_SINK:
        res = PyObject_CallOneArg(sub->call, v);
        if (!res) rc = py_fail(op, ctx, v, "function raised");
        break;
      case M_TIMESTAMP: {
        /* the record as it is, with the timestamp the assigner returns; no
         * timestamp is passed as SL_NO_TIMESTAMP, Flink's NO_TIMESTAMP
         * (Long.MIN_VALUE) too */
        PyObject *rts = PyLong_FromLongLong(r->ts);
        res = rts ? PyObject_CallFunctionObjArgs(sub->call, v, rts, NULL) : NULL;
        Py_XDECREF(rts);
        long long ts = res ? PyLong_AsLongLong(res) : -1;
        if (!res || (ts == -1 && PyErr_Occurred())) {
          if (res && PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "extract_timestamp must return an int (milliseconds), "
                         "got %.100s", Py_TYPE(res)->tp_name);
          }
          rc = py_fail(op, ctx, v, res ? "returned a bad timestamp:" : "function raised");
          break;
        }
        if (slpy_buf_reserve(&sub->obuf, r->value_len)) {
          rc = py_fail(op, ctx, v, "failed:");
          break;
        }
        size_t voff = sub->obuf.len;
        memcpy(sub->obuf.p + voff, r->value, r->value_len);
        sub->obuf.len += r->value_len;
        if (out_add(sub, (int64_t)ts, r->key, r->key_len, voff, r->value_len))
          rc = py_fail(op, ctx, v, "failed:");
        break;
      }
      default:
        PyErr_SetString(PyExc_SystemError, "sluice: bad operator mode");
        rc = py_fail(op, ctx, v, "failed:");
    }
    Py_XDECREF(res);
    Py_DECREF(v);
  }
  gil_drop(&g);
  if (rc) {
    sub->n_recs = 0;
    sub->obuf.len = 0;
    return rc;
  }
  return out_flush(sub, out);
}

/* The engine's keyed state of a Python reduce: the accumulator per key. */
static const sl_state_desc g_reduce_desc = {.name = "__sluice_reduce", .kind = SL_STATE_VALUE};

/* One keyed record of a run (GIL held, key bound): reduce or process. */
static int keyed_one(pyop *op, sl_ctx *ctx, pysub *sub, const sl_record *r) {
  int co = op->mode == M_CO;
  PyObject *v = input_value(op, r), *res = NULL, *a = NULL;
  int rc = 0;
  if (!v) return py_fail(op, ctx, NULL, "could not read its input:");
  if (op->mode == M_KPROCESS || co) {
    ((CtxObject *)sub->rctx)->ts = r->ts;
    res = PyObject_CallOneArg(co ? PyTuple_GET_ITEM(sub->call, ((const uint8_t *)r->value)[0] & 1)
                                 : sub->call, v);
    if (!res || (rc = out_iter(sub, op->env, r->ts, res)))
      rc = py_fail(op, ctx, v, iter_what(res, rc, "function raised"));
    goto out;
  }
  /* reduce: the first record of a key is the accumulator as it is */
  sl_state *st;
  sl_bytes b;
  size_t voff = sub->obuf.len;
  if ((rc = sl_state_get(ctx, &g_reduce_desc, &st)) || (rc = sl_value_get(st, &b)) < 0) {
    PyErr_Format(PyExc_RuntimeError, "reduce state: %s", sl_strerror(rc));
    rc = py_fail(op, ctx, v, "failed:");
    goto out;
  }
  if (rc == SL_EMPTY) {
    rc = 0;
    if (slpy_buf_reserve(&sub->obuf, r->value_len)) {
      rc = py_fail(op, ctx, v, "failed:");
      goto out;
    }
    memcpy(sub->obuf.p + voff, r->value, r->value_len);
    sub->obuf.len += r->value_len;
  } else {
    if (!(a = slpy_decode(b.data, b.len))) {
      rc = py_fail(op, ctx, v, "could not read its state:");
      goto out;
    }
    res = PyObject_CallFunctionObjArgs(sub->call, a, v, NULL);
    if (!res) {
      rc = py_fail(op, ctx, v, "function raised");
      goto out;
    }
    if (slpy_encode(&sub->obuf, res)) {
      rc = py_fail(op, ctx, v, "function's result could not be serialised:");
      goto out;
    }
  }
  size_t vlen = sub->obuf.len - voff;
  if ((rc = sl_value_set(st, sub->obuf.p + voff, (uint32_t)vlen))) {
    PyErr_Format(PyExc_RuntimeError, "reduce state: %s", sl_strerror(rc));
    rc = py_fail(op, ctx, v, "failed:");
    goto out;
  }
  if (out_add(sub, r->ts, r->key, r->key_len, voff, vlen)) rc = py_fail(op, ctx, v, "failed:");
out:
  Py_XDECREF(a);
  Py_XDECREF(res);
  Py_DECREF(v);
  return rc;
}

/* Keyed reduce and keyed process: one GIL per run too (invariant 1); the
 * engine's keyed state and timers follow each record's key
 * (sl_ctx_run_key). */
static int kbatch_fn(void *ud, sl_ctx *ctx, const sl_record *in, size_t n, sl_collector *out) {
  pyop *op = ud;
  pysub *sub = sl_ctx_local(ctx);
  gil g;
  gil_take(&g, &op->env->tss);
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++)
    if (!(rc = sl_ctx_run_key(ctx, i))) rc = keyed_one(op, ctx, sub, &in[i]);
  gil_drop(&g);
  if (rc) {
    sub->n_recs = 0;
    sub->obuf.len = 0;
    return rc;
  }
  return out_flush(sub, out);
}

static int ktimer_fn(void *ud, sl_ctx *ctx, int64_t ts, sl_time_domain domain,
                     sl_collector *out) {
  pyop *op = ud;
  pysub *sub = sl_ctx_local(ctx);
  if (!sub || sub->on_timer == Py_None) return 0;
  CtxObject *c = (CtxObject *)sub->rctx;
  gil g;
  gil_take(&g, &op->env->tss);
  int rc = 0;
  c->ts = ts;
  PyObject *res = PyObject_CallFunction(sub->on_timer, "Li", (long long)ts, (int)domain);
  if (!res || (rc = out_iter(sub, op->env, ts, res)))
    rc = py_fail(op, ctx, NULL, !res || rc == -1 ? "function's on_timer raised"
                                                 : "on_timer's results could not be serialised:");
  Py_XDECREF(res);
  gil_drop(&g);
  if (rc) {
    sub->n_recs = 0;
    sub->obuf.len = 0;
    return rc;
  }
  return out_flush(sub, out);
}

/* A window firing: one GIL per firing (the elements were buffered in the
 * engine's list state, serialised, without the GIL): call(key, start, end,
 * [values]) yields the results, stamped end - 1. */
static int window_fn(void *ud, sl_ctx *ctx, const sl_window *w, sl_window_elems *elems,
                     sl_collector *out) {
  pyop *op = ud;
  pysub *sub = sl_ctx_local(ctx);
  gil g;
  gil_take(&g, &op->env->tss);
  int rc = 0;
  sl_bytes k;
  sl_record r;
  PyObject *key = NULL, *l = PyList_New(0), *res = NULL;
  if (!l) {
    rc = py_fail(op, ctx, NULL, "failed:");
    goto out;
  }
  if (sl_ctx_key(ctx, &k) == 0) key = slpy_decode(k.data, k.len);
  else key = Py_None, Py_INCREF(key);
  if (!key) {
    rc = py_fail(op, ctx, NULL, "could not read its key:");
    goto out;
  }
  while (sl_window_next(elems, &r)) {
    PyObject *v = slpy_decode(r.value, r.value_len);
    if (!v || PyList_Append(l, v)) {
      Py_XDECREF(v);
      rc = py_fail(op, ctx, NULL, "could not read its window's elements:");
      goto out;
    }
    Py_DECREF(v);
  }
  int64_t ts = w->end - 1;
  ((CtxObject *)sub->rctx)->ts = ts;
  res = PyObject_CallFunction(sub->call, "OLLO", key, (long long)w->start, (long long)w->end, l);
  if (!res || (rc = out_iter(sub, op->env, ts, res))) {
    PyObject *first = PyList_GET_SIZE(l) ? PyList_GET_ITEM(l, 0) : NULL;
    rc = py_fail(op, ctx, first, iter_what(res, rc, "function raised"));
  }
out:
  Py_XDECREF(key);
  Py_XDECREF(l);
  Py_XDECREF(res);
  gil_drop(&g);
  if (rc) {
    sub->n_recs = 0;
    sub->obuf.len = 0;
    return rc;
  }
  return out_flush(sub, out);
}

/* connect: each input's records get a tag byte in front of the value
 * (0: first input, 1: second; no GIL), so that the two inputs, unioned,
 * reach one batch operator that calls the function of each record's
 * input: one GIL per run as everywhere (sl_connect calls per record). */
static int co_tag(sl_ctx *ctx, const sl_record *in, sl_record *out, uint8_t tag) {
  uint8_t *p = sl_ctx_scratch(ctx, (size_t)in->value_len + 1);
  if (!p) return sl_ctx_fail(ctx, "out of memory");
  p[0] = tag;
  if (in->value_len) memcpy(p + 1, in->value, in->value_len);
  out->value = p;
  out->value_len = in->value_len + 1;
  return 0;
}
static int co_tag0(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  return co_tag(ctx, in, out, 0);
}
static int co_tag1(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  return co_tag(ctx, in, out, 1);
}

/* Text lines -> codec strings (no GIL). */
static int text_to_codec(void *ud, sl_ctx *ctx, const sl_record *in, sl_record *out) {
  uint8_t *p = sl_ctx_scratch(ctx, (size_t)in->value_len + 11);
  if (!p) return sl_ctx_fail(ctx, "out of memory");
  size_t n = 0;
  p[n++] = SLPY_T_STR;
  uint64_t len = in->value_len;
  do {
    uint8_t b = len & 0x7f;
    len >>= 7;
    p[n++] = b | (len ? 0x80 : 0);
  } while (len);
  if (in->value_len) memcpy(p + n, in->value, in->value_len);
  out->value = p;
  out->value_len = (uint32_t)(n + in->value_len);
  return 0;
}

/* str(value) for text sinks: str, int, bool and None in C; the rest
 * through Python, with one GIL for the run. */
static int to_text_fn(void *ud, sl_ctx *ctx, const sl_record *in, size_t n, sl_collector *out) {
  pyop *op = ud;
  pysub *sub = sl_ctx_local(ctx);
  gil g;
  int held = 0, rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    const uint8_t *p = in[i].value, *end = p + in[i].value_len;
    uint64_t len;
    size_t voff = sub->obuf.len;
    if (in[i].value_len >= 1 && (p[0] == SLPY_T_STR || p[0] == SLPY_T_NONE ||
                                 p[0] == SLPY_T_TRUE || p[0] == SLPY_T_FALSE ||
                                 (p[0] == SLPY_T_INT && in[i].value_len == 9))) {
      const char *txt = NULL;
      char num[24];
      size_t tn = 0;
      const uint8_t *q = p + 1;
      if (p[0] == SLPY_T_STR) {
        if (slpy_get_varint(&q, end, &len) || len != (uint64_t)(end - q))
          goto slow; /* not a whole string: the slow path reports it */
        txt = (const char *)q;
        tn = (size_t)len;
      } else if (p[0] == SLPY_T_INT) {
        uint64_t u = 0;
        for (int k = 0; k < 8; k++) u |= (uint64_t)q[k] << (8 * k);
        tn = (size_t)snprintf(num, sizeof num, "%lld", (long long)u);
        txt = num;
      } else {
        txt = p[0] == SLPY_T_NONE ? "None" : p[0] == SLPY_T_TRUE ? "True" : "False";
        tn = strlen(txt);
      }
      /* without the GIL: PyMem_Raw is thread-safe, no exception is set */
      if (slpy_buf_grow(&sub->obuf, tn)) {
        rc = sl_ctx_fail(ctx, "out of memory");
        break;
      }
      memcpy(sub->obuf.p + voff, txt, tn);
      sub->obuf.len += tn;
      if (out_add(sub, in[i].ts, in[i].key, in[i].key_len, voff, tn))
        rc = sl_ctx_fail(ctx, "out of memory");
      continue;
    }
  slow:
    if (!held) {
      gil_take(&g, &op->env->tss);
      held = 1;
    }
    {
      PyObject *v = slpy_decode(p, in[i].value_len);
      PyObject *s = v ? PyObject_Str(v) : NULL;
      Py_ssize_t sn;
      const char *t = s ? PyUnicode_AsUTF8AndSize(s, &sn) : NULL;
      if (!t) {
        rc = py_fail(op, ctx, v, "(str() for a text sink) failed:");
      } else if (slpy_buf_reserve(&sub->obuf, (size_t)sn)) {
        rc = py_fail(op, ctx, v, "failed:");
      } else {
        memcpy(sub->obuf.p + voff, t, (size_t)sn);
        sub->obuf.len += (size_t)sn;
        if (out_add(sub, in[i].ts, in[i].key, in[i].key_len, voff, (size_t)sn))
          rc = py_fail(op, ctx, v, "failed:");
      }
      Py_XDECREF(v);
      Py_XDECREF(s);
    }
  }
  if (held) gil_drop(&g);
  if (rc) {
    sub->n_recs = 0;
    sub->obuf.len = 0;
    return rc;
  }
  return out_flush(sub, out);
}

/* to-text needs only the buffers of a pysub, no Python objects */
static int plain_open(void *ud, sl_ctx *ctx) {
  pysub *sub = PyMem_RawCalloc(1, sizeof *sub);
  if (!sub) return sl_ctx_fail(ctx, "out of memory");
  sl_ctx_set_local(ctx, sub);
  return 0;
}

static void plain_close(void *ud, sl_ctx *ctx) {
  pysub *sub = sl_ctx_local(ctx);
  if (!sub) return;
  slpy_buf_free(&sub->obuf);
  PyMem_RawFree(sub->recs);
  PyMem_RawFree(sub);
  sl_ctx_set_local(ctx, NULL);
}

/* ---- RuntimeContext ---------------------------------------------------------------- */

static int ctx_live(CtxObject *c) {
  if (c->ctx) return 1;
  PyErr_SetString(PyExc_RuntimeError,
                  "this RuntimeContext belongs to a subtask that has ended");
  return 0;
}

static PyObject *ctx_subtask(CtxObject *c, PyObject *unused) {
  return ctx_live(c) ? PyLong_FromLong(sl_ctx_subtask(c->ctx)) : NULL;
}
static PyObject *ctx_parallelism(CtxObject *c, PyObject *unused) {
  return ctx_live(c) ? PyLong_FromLong(sl_ctx_parallelism(c->ctx)) : NULL;
}
static PyObject *ctx_operator(CtxObject *c, PyObject *unused) {
  return ctx_live(c) ? PyUnicode_FromString(sl_ctx_operator(c->ctx)) : NULL;
}
static PyObject *ctx_timestamp(CtxObject *c, PyObject *unused) {
  if (c->ts == SL_NO_TIMESTAMP) Py_RETURN_NONE;
  return PyLong_FromLongLong(c->ts);
}
static PyObject *ctx_watermark(CtxObject *c, PyObject *unused) {
  return ctx_live(c) ? PyLong_FromLongLong(sl_ctx_watermark(c->ctx)) : NULL;
}
static PyObject *ctx_now(CtxObject *c, PyObject *unused) {
  return ctx_live(c) ? PyLong_FromLongLong(sl_ctx_now(c->ctx)) : NULL;
}
static PyObject *ctx_current_key(CtxObject *c, PyObject *unused) {
  if (!ctx_live(c)) return NULL;
  sl_bytes k;
  if (sl_ctx_key(c->ctx, &k) != 0) Py_RETURN_NONE;
  return slpy_decode(k.data, k.len);
}

static PyObject *ctx_timer(CtxObject *c, PyObject *args, int del) {
  int domain;
  long long ts;
  if (!PyArg_ParseTuple(args, "iL", &domain, &ts) || !ctx_live(c)) return NULL;
  int rc = del ? sl_timer_delete(c->ctx, (sl_time_domain)domain, ts)
               : sl_timer_register(c->ctx, (sl_time_domain)domain, ts);
  if (rc) {
    PyErr_Format(PyExc_RuntimeError, "cannot %s a timer in operator '%s': %s (timers need a "
                 "KeyedProcessFunction on a keyed stream)", del ? "delete" : "register",
                 sl_ctx_operator(c->ctx), sl_strerror(rc));
    return NULL;
  }
  Py_RETURN_NONE;
}
static PyObject *ctx_register_timer(CtxObject *c, PyObject *args) { return ctx_timer(c, args, 0); }
static PyObject *ctx_delete_timer(CtxObject *c, PyObject *args) { return ctx_timer(c, args, 1); }

/* The operator's descriptor for keyed state `name` (one per name: the
 * engine's descriptors live as long as the job). */
static sl_state_desc *op_desc(pyop *op, const char *name, sl_state_kind kind, int64_t ttl_ms,
                              int ttl_update) {
  for (int i = 0; i < op->n_descs; i++)
    if (!strcmp(op->descs[i]->name, name)) {
      if (op->descs[i]->kind != kind) {
        PyErr_Format(PyExc_ValueError, "state '%s' was declared before with another kind", name);
        return NULL;
      }
      return op->descs[i];
    }
  sl_state_desc **l = PyMem_RawRealloc(op->descs, (size_t)(op->n_descs + 1) * sizeof *l);
  sl_state_desc *d = PyMem_RawCalloc(1, sizeof *d);
  char *nm = PyMem_RawMalloc(strlen(name) + 1);
  if (l) op->descs = l;
  if (!l || !d || !nm) {
    PyMem_RawFree(d);
    PyMem_RawFree(nm);
    PyErr_NoMemory();
    return NULL;
  }
  strcpy(nm, name);
  d->name = nm;
  d->kind = kind;
  d->ttl_ms = ttl_ms > 0 ? ttl_ms : 0;
  d->ttl_update = ttl_update ? SL_TTL_ON_READ_AND_WRITE : SL_TTL_ON_CREATE_AND_WRITE;
  op->descs[op->n_descs++] = d;
  return d;
}

static PyTypeObject ListStateType, MapStateType;

/* value_state / list_state / map_state(name, ttl_ms=0, ttl_update=0): a
 * handle on the engine's keyed state of this operator, bound to the key
 * being processed at each call. */
static PyObject *ctx_state(CtxObject *c, PyObject *args, sl_state_kind kind, PyTypeObject *type) {
  const char *name;
  long long ttl = 0;
  int upd = 0;
  if (!PyArg_ParseTuple(args, "s|Li", &name, &ttl, &upd) || !ctx_live(c)) return NULL;
  int m = c->op->mode;
  if (m != M_REDUCE && m != M_KPROCESS && m != M_CO && m != M_WINDOW) {
    PyErr_Format(PyExc_RuntimeError,
                 "keyed state '%s' is only available in functions of a keyed stream "
                 "(KeyedStream.process / reduce / window, keyed connect): operator '%s' is not keyed",
                 name, sl_ctx_operator(c->ctx));
    return NULL;
  }
  sl_state_desc *d = op_desc(c->op, name, kind, ttl, upd);
  if (!d) return NULL;
  StateObject *s = PyObject_New(StateObject, type);
  if (!s) return NULL;
  Py_INCREF(c);
  s->c = c;
  s->desc = d;
  s->kb = s->vb = (slpy_buf){0};
  return (PyObject *)s;
}

static PyObject *ctx_value_state(CtxObject *c, PyObject *args) {
  return ctx_state(c, args, SL_STATE_VALUE, &ValueStateType);
}
static PyObject *ctx_list_state(CtxObject *c, PyObject *args) {
  return ctx_state(c, args, SL_STATE_LIST, &ListStateType);
}
static PyObject *ctx_map_state(CtxObject *c, PyObject *args) {
  return ctx_state(c, args, SL_STATE_MAP, &MapStateType);
}

static PyMethodDef ctx_methods[] = {
    {"subtask", (PyCFunction)ctx_subtask, METH_NOARGS, "index of this subtask"},
    {"parallelism", (PyCFunction)ctx_parallelism, METH_NOARGS, "number of subtasks"},
    {"operator", (PyCFunction)ctx_operator, METH_NOARGS, "the operator's name"},
    {"timestamp", (PyCFunction)ctx_timestamp, METH_NOARGS, "the current record's timestamp"},
    {"watermark", (PyCFunction)ctx_watermark, METH_NOARGS, "the current watermark"},
    {"now", (PyCFunction)ctx_now, METH_NOARGS, "processing time (ms)"},
    {"current_key", (PyCFunction)ctx_current_key, METH_NOARGS, "the current key"},
    {"register_timer", (PyCFunction)ctx_register_timer, METH_VARARGS, "(domain, ts)"},
    {"delete_timer", (PyCFunction)ctx_delete_timer, METH_VARARGS, "(domain, ts)"},
    {"value_state", (PyCFunction)ctx_value_state, METH_VARARGS, "ValueState by name"},
    {"list_state", (PyCFunction)ctx_list_state, METH_VARARGS, "ListState by name"},
    {"map_state", (PyCFunction)ctx_map_state, METH_VARARGS, "MapState by name"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject CtxType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_sluice.Context",
    .tp_basicsize = sizeof(CtxObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_methods = ctx_methods,
    .tp_doc = "the engine's context of one operator subtask",
};

/* ---- ValueState --------------------------------------------------------------------- */

static sl_state *state_handle(StateObject *s) {
  if (!ctx_live(s->c)) return NULL;
  sl_state *st;
  int rc = sl_state_get(s->c->ctx, s->desc, &st);
  if (rc) {
    PyErr_Format(PyExc_RuntimeError, "state '%s' in operator '%s': %s", s->desc->name,
                 sl_ctx_operator(s->c->ctx), sl_strerror(rc));
    return NULL;
  }
  return st;
}

static PyObject *state_value(StateObject *s, PyObject *unused) {
  sl_state *st = state_handle(s);
  if (!st) return NULL;
  sl_bytes b;
  int rc = sl_value_get(st, &b);
  if (rc == SL_EMPTY) Py_RETURN_NONE;
  if (rc) return PyErr_Format(PyExc_RuntimeError, "state '%s': %s", s->desc->name, sl_strerror(rc));
  return slpy_decode(b.data, b.len);
}

/* One of a state object's reused buffers, emptied for the call. */
static slpy_buf *state_buf(slpy_buf *b) {
  b->len = 0;
  return b;
}

static PyObject *state_update(StateObject *s, PyObject *v) {
  sl_state *st = state_handle(s);
  if (!st) return NULL;
  int rc;
  if (v == Py_None) {
    rc = sl_state_clear(st);
  } else {
    slpy_buf *b = state_buf(&s->vb);
    if (slpy_encode(b, v)) return NULL;
    rc = sl_value_set(st, b->p, (uint32_t)b->len);
  }
  if (rc) return PyErr_Format(PyExc_RuntimeError, "state '%s': %s", s->desc->name, sl_strerror(rc));
  Py_RETURN_NONE;
}

static PyObject *state_clear(StateObject *s, PyObject *unused) {
  sl_state *st = state_handle(s);
  if (!st) return NULL;
  int rc = sl_state_clear(st);
  if (rc) return PyErr_Format(PyExc_RuntimeError, "state '%s': %s", s->desc->name, sl_strerror(rc));
  Py_RETURN_NONE;
}

static void state_dealloc(StateObject *s) {
  slpy_buf_free(&s->kb);
  slpy_buf_free(&s->vb);
  Py_XDECREF(s->c);
  PyObject_Free(s);
}

static PyMethodDef state_methods[] = {
    {"value", (PyCFunction)state_value, METH_NOARGS, "the current key's value (None: none)"},
    {"update", (PyCFunction)state_update, METH_O, "set the current key's value"},
    {"clear", (PyCFunction)state_clear, METH_NOARGS, "remove the current key's value"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject ValueStateType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_sluice.ValueState",
    .tp_basicsize = sizeof(StateObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)state_dealloc,
    .tp_methods = state_methods,
    .tp_doc = "keyed value state in the engine's state backend",
};

/* ---- ListState and MapState ---------------------------------------------------------- */

static PyObject *state_err(StateObject *s, int rc) {
  return PyErr_Format(PyExc_RuntimeError, "state '%s': %s", s->desc->name, sl_strerror(rc));
}

/* get() -> [values] of the current key */
static PyObject *list_get(StateObject *s, PyObject *unused) {
  sl_state *st = state_handle(s);
  if (!st) return NULL;
  sl_list_iter it;
  memset(&it, 0, sizeof it);
  int rc = sl_list_get(st, &it);
  PyObject *l = PyList_New(0);
  if (!l) return NULL;
  if (rc == SL_EMPTY) return l;
  if (rc) {
    Py_DECREF(l);
    return state_err(s, rc);
  }
  sl_bytes b;
  while (sl_list_next(&it, &b)) {
    PyObject *v = slpy_decode(b.data, b.len);
    if (!v || PyList_Append(l, v)) {
      Py_XDECREF(v);
      Py_DECREF(l);
      return NULL;
    }
    Py_DECREF(v);
  }
  return l;
}

static PyObject *list_add(StateObject *s, PyObject *v) {
  sl_state *st = state_handle(s);
  if (!st) return NULL;
  slpy_buf *b = state_buf(&s->vb);
  if (slpy_encode(b, v)) return NULL;
  int rc = sl_list_add(st, b->p, (uint32_t)b->len);
  if (rc) return state_err(s, rc);
  Py_RETURN_NONE;
}

/* update([values]): the current key's list becomes values */
static PyObject *list_update(StateObject *s, PyObject *values) {
  sl_state *st = state_handle(s);
  if (!st) return NULL;
  PyObject *seq = PySequence_Fast(values, "ListState.update needs a list");
  if (!seq) return NULL;
  Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
  slpy_buf b = {0};
  size_t *offs = PyMem_RawMalloc((size_t)(n + 1) * sizeof *offs);
  sl_bytes *items = PyMem_RawMalloc((size_t)(n ? n : 1) * sizeof *items);
  PyObject *r = NULL;
  if (!offs || !items) {
    PyErr_NoMemory();
    goto out;
  }
  for (Py_ssize_t i = 0; i < n; i++) {
    offs[i] = b.len;
    if (slpy_encode(&b, PySequence_Fast_GET_ITEM(seq, i))) goto out;
  }
  offs[n] = b.len;
  for (Py_ssize_t i = 0; i < n; i++)
    items[i] = (sl_bytes){b.p + offs[i], (uint32_t)(offs[i + 1] - offs[i])};
  int rc = n ? sl_list_update(st, items, (size_t)n) : sl_state_clear(st);
  if (rc) {
    state_err(s, rc);
    goto out;
  }
  r = Py_None;
  Py_INCREF(r);
out:
  slpy_buf_free(&b);
  PyMem_RawFree(offs);
  PyMem_RawFree(items);
  Py_DECREF(seq);
  return r;
}

static PyMethodDef list_methods[] = {
    {"get", (PyCFunction)list_get, METH_NOARGS, "the current key's elements"},
    {"add", (PyCFunction)list_add, METH_O, "append an element"},
    {"update", (PyCFunction)list_update, METH_O, "replace the elements"},
    {"clear", (PyCFunction)state_clear, METH_NOARGS, "remove the current key's elements"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject ListStateType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_sluice.ListState",
    .tp_basicsize = sizeof(StateObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)state_dealloc,
    .tp_methods = list_methods,
    .tp_doc = "keyed list state in the engine's state backend",
};

/* A map's user keys are encoded canonically (as record keys are). */
static PyObject *map_get(StateObject *s, PyObject *k) {
  sl_state *st = state_handle(s);
  if (!st) return NULL;
  slpy_buf *kb = state_buf(&s->kb);
  if (slpy_encode_key(kb, k)) return NULL;
  sl_bytes b;
  int rc = sl_map_get(st, kb->p, (uint32_t)kb->len, &b);
  if (rc == SL_EMPTY) Py_RETURN_NONE;
  if (rc) return state_err(s, rc);
  return slpy_decode(b.data, b.len);
}

static PyObject *map_put(StateObject *s, PyObject *args) {
  PyObject *k, *v;
  if (!PyArg_ParseTuple(args, "OO", &k, &v)) return NULL;
  sl_state *st = state_handle(s);
  if (!st) return NULL;
  slpy_buf *kb = state_buf(&s->kb), *vb = state_buf(&s->vb);
  if (slpy_encode_key(kb, k) || slpy_encode(vb, v)) return NULL;
  int rc = sl_map_put(st, kb->p, (uint32_t)kb->len, vb->p, (uint32_t)vb->len);
  if (rc) return state_err(s, rc);
  Py_RETURN_NONE;
}

static PyObject *map_remove(StateObject *s, PyObject *k) {
  sl_state *st = state_handle(s);
  if (!st) return NULL;
  slpy_buf *kb = state_buf(&s->kb);
  if (slpy_encode_key(kb, k)) return NULL;
  int rc = sl_map_remove(st, kb->p, (uint32_t)kb->len);
  if (rc < 0) return state_err(s, rc);
  Py_RETURN_NONE;
}

static int map_visit(void *ud, sl_bytes k, sl_bytes v) {
  PyObject *l = ud, *kk = slpy_decode(k.data, k.len), *vv = kk ? slpy_decode(v.data, v.len) : NULL;
  PyObject *t = vv ? PyTuple_Pack(2, kk, vv) : NULL;
  int rc = t && !PyList_Append(l, t) ? 0 : -1;
  Py_XDECREF(kk);
  Py_XDECREF(vv);
  Py_XDECREF(t);
  return rc;
}

/* items() -> [(key, value)] of the current key's map (a copy) */
static PyObject *map_items(StateObject *s, PyObject *unused) {
  sl_state *st = state_handle(s);
  if (!st) return NULL;
  PyObject *l = PyList_New(0);
  if (!l) return NULL;
  int rc = sl_map_foreach(st, map_visit, l);
  if (PyErr_Occurred()) {
    Py_DECREF(l);
    return NULL;
  }
  if (rc < 0) {
    Py_DECREF(l);
    return state_err(s, rc);
  }
  return l;
}

static PyMethodDef map_methods[] = {
    {"get", (PyCFunction)map_get, METH_O, "the value of a user key (None: none)"},
    {"put", (PyCFunction)map_put, METH_VARARGS, "put(key, value)"},
    {"remove", (PyCFunction)map_remove, METH_O, "remove a user key"},
    {"items", (PyCFunction)map_items, METH_NOARGS, "[(key, value)] of the current key"},
    {"clear", (PyCFunction)state_clear, METH_NOARGS, "remove the current key's entries"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject MapStateType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_sluice.MapState",
    .tp_basicsize = sizeof(StateObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)state_dealloc,
    .tp_methods = map_methods,
    .tp_doc = "keyed map state in the engine's state backend",
};

/* ---- Env ---------------------------------------------------------------------------- */

static int env_ok(EnvObject *e) {
  if (e->env) return 1;
  PyErr_SetString(PyExc_RuntimeError, "sluice: the environment is closed");
  return 0;
}

static PyObject *graph_error(EnvObject *e, const char *what) {
  const char *m = sl_env_last_error(e->env);
  PyErr_Format(PyExc_ValueError, "%s: %s", what, m && *m ? m : "failed");
  return NULL;
}

/* Register stream s; returns its handle (or NULL with an exception). */
static PyObject *add_stream(EnvObject *e, sl_stream *s, const char *what) {
  if (!s) return graph_error(e, what);
  if (e->n_streams == e->cap_streams) {
    int cap = e->cap_streams ? 2 * e->cap_streams : 16;
    sl_stream **l = PyMem_RawRealloc(e->streams, (size_t)cap * sizeof *l);
    if (!l) return PyErr_NoMemory();
    e->streams = l;
    e->cap_streams = cap;
  }
  e->streams[e->n_streams] = s;
  return PyLong_FromLong(e->n_streams++);
}

static sl_stream *get_stream(EnvObject *e, int h) {
  if (h < 0 || h >= e->n_streams) {
    PyErr_SetString(PyExc_ValueError, "sluice: bad stream handle");
    return NULL;
  }
  return e->streams[h];
}

static pyop *new_op(EnvObject *e, int mode, PyObject *factory) {
  if (e->n_ops == e->cap_ops) {
    int cap = e->cap_ops ? 2 * e->cap_ops : 16;
    pyop **l = PyMem_RawRealloc(e->ops, (size_t)cap * sizeof *l);
    if (!l) return (pyop *)PyErr_NoMemory();
    e->ops = l;
    e->cap_ops = cap;
  }
  pyop *op = PyMem_RawCalloc(1, sizeof *op);
  if (!op) return (pyop *)PyErr_NoMemory();
  op->env = e;
  op->mode = mode;
  Py_XINCREF(factory);
  op->factory = factory;
  e->ops[e->n_ops++] = op;
  return op;
}

static int env_init(EnvObject *e, PyObject *args, PyObject *kw) {
  if (e->env) return 0;
  pthread_mutex_init(&e->tss.mu, NULL);
  if (!(e->env = sl_env_new())) {
    PyErr_NoMemory();
    return -1;
  }
  return 0;
}

static void env_release(EnvObject *e) {
  if (e->env) sl_env_free(e->env);
  e->env = NULL;
  for (int i = 0; i < e->n_ops; i++) {
    pyop *op = e->ops[i];
    Py_XDECREF(op->factory);
    for (int k = 0; k < op->n_descs; k++) {
      PyMem_RawFree((void *)op->descs[k]->name);
      PyMem_RawFree(op->descs[k]);
    }
    PyMem_RawFree(op->descs);
    PyMem_RawFree(op);
  }
  PyMem_RawFree(e->ops);
  e->ops = NULL;
  e->n_ops = e->cap_ops = 0;
  for (int i = 0; i < e->n_colls; i++) sl_collect_free(e->colls[i]);
  PyMem_RawFree(e->colls);
  e->colls = NULL;
  e->n_colls = e->cap_colls = 0;
  for (int i = 0; i < e->n_tags; i++) PyMem_RawFree(e->tags[i]);
  PyMem_RawFree(e->tags);
  e->tags = NULL;
  e->n_tags = e->cap_tags = 0;
  PyMem_RawFree(e->streams);
  e->streams = NULL;
  e->n_streams = e->cap_streams = 0;
}

static void env_dealloc(EnvObject *e) {
  if (!e->running) { /* else leak rather than free under a job */
    env_release(e);
    PyMem_RawFree(e->tss.v);
  }
  Py_XDECREF(e->error);
  Py_TYPE(e)->tp_free((PyObject *)e);
}

static PyObject *env_set(EnvObject *e, PyObject *args) {
  const char *k, *v;
  if (!PyArg_ParseTuple(args, "ss", &k, &v) || !env_ok(e)) return NULL;
  if (sl_env_set(e->env, k, v)) return graph_error(e, "configuration");
  Py_RETURN_NONE;
}

static PyObject *env_get(EnvObject *e, PyObject *args) {
  const char *k;
  if (!PyArg_ParseTuple(args, "s", &k) || !env_ok(e)) return NULL;
  const char *v = sl_env_get(e->env, k);
  if (!v) Py_RETURN_NONE;
  return PyUnicode_FromString(v);
}

static PyObject *env_file_source(EnvObject *e, PyObject *args) {
  const char *path;
  if (!PyArg_ParseTuple(args, "s", &path) || !env_ok(e)) return NULL;
  sl_stream *s = sl_source_stream(e->env, sl_file_source(path));
  s = sl_map(s, text_to_codec, NULL);
  return add_stream(e, s, "file source");
}

static PyObject *env_socket_source(EnvObject *e, PyObject *args) {
  const char *host;
  int port;
  if (!PyArg_ParseTuple(args, "si", &host, &port) || !env_ok(e)) return NULL;
  sl_stream *s = sl_source_stream(e->env, sl_socket_source(host, port));
  s = sl_map(s, text_to_codec, NULL);
  return add_stream(e, s, "socket source");
}

static PyObject *env_collection_source(EnvObject *e, PyObject *args) {
  PyObject *items;
  if (!PyArg_ParseTuple(args, "O", &items) || !env_ok(e)) return NULL;
  PyObject *seq = PySequence_Fast(items, "from_collection needs a sequence");
  if (!seq) return NULL;
  Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
  slpy_buf b = {0};
  size_t *offs = PyMem_RawMalloc((size_t)(n + 1) * sizeof *offs);
  sl_record *recs = PyMem_RawCalloc((size_t)(n ? n : 1), sizeof *recs);
  PyObject *r = NULL;
  if (!offs || !recs) {
    PyErr_NoMemory();
    goto out;
  }
  for (Py_ssize_t i = 0; i < n; i++) {
    offs[i] = b.len;
    if (slpy_encode(&b, PySequence_Fast_GET_ITEM(seq, i))) goto out;
  }
  offs[n] = b.len;
  for (Py_ssize_t i = 0; i < n; i++)
    recs[i] = (sl_record){SL_NO_TIMESTAMP, NULL, 0, b.p + offs[i],
                          (uint32_t)(offs[i + 1] - offs[i])};
  r = add_stream(e, sl_source_stream(e->env, sl_collection_source(recs, (size_t)n)),
                 "collection source");
out:
  slpy_buf_free(&b);
  PyMem_RawFree(offs);
  PyMem_RawFree(recs);
  Py_DECREF(seq);
  return r;
}

/* [(key, value)] -> sl_option array (views into the list's str objects:
 * valid while opts lives); NULL with an exception. */
static sl_option *options_of(PyObject *seq, size_t *n) {
  Py_ssize_t k = PySequence_Fast_GET_SIZE(seq);
  sl_option *o = PyMem_RawCalloc((size_t)(k ? k : 1), sizeof *o);
  if (!o) return (sl_option *)PyErr_NoMemory();
  for (Py_ssize_t i = 0; i < k; i++) {
    PyObject *t = PySequence_Fast_GET_ITEM(seq, i);
    if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 2 ||
        !(o[i].key = PyUnicode_AsUTF8(PyTuple_GET_ITEM(t, 0))) ||
        !(o[i].value = PyUnicode_AsUTF8(PyTuple_GET_ITEM(t, 1)))) {
      if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "options: (str, str) pairs");
      PyMem_RawFree(o);
      return NULL;
    }
  }
  *n = (size_t)k;
  return o;
}

/* kafka_source([(option, value)], wm_kind (-1: none), bound_ms, idle_ms) ->
 * h: message values as str (SimpleStringSchema), per-partition watermarks
 * from the messages' timestamps when wm_kind >= 0. */
static PyObject *env_kafka_source(EnvObject *e, PyObject *args) {
  PyObject *opts;
  int kind;
  long long bound, idle;
  if (!PyArg_ParseTuple(args, "OiLL", &opts, &kind, &bound, &idle) || !env_ok(e)) return NULL;
  PyObject *seq = PySequence_Fast(opts, "kafka_source needs a list of options");
  if (!seq) return NULL;
  size_t n = 0;
  sl_option *o = options_of(seq, &n);
  PyObject *r = NULL;
  if (o) {
    sl_source *src = sl_kafka_source(o, n);
    if (src && kind >= 0) {
      sl_watermark_strategy ws = {.kind = (sl_wm_kind)kind, .out_of_orderness_ms = bound,
                                  .idle_timeout_ms = idle};
      if (sl_kafka_source_set_watermarks(src, &ws))
        PyErr_Format(PyExc_ValueError,
                     "KafkaSource: watermark strategy refused (out-of-orderness %lld ms, idleness "
                     "%lld ms): a Kafka source takes bounded out-of-orderness or monotonous "
                     "timestamps, with durations >= 0",
                     bound, idle);
    }
    if (!PyErr_Occurred()) {
      sl_stream *s = src ? sl_source_stream(e->env, src) : NULL;
      r = add_stream(e, s ? sl_map(s, text_to_codec, NULL) : NULL, "Kafka source");
    }
  }
  PyMem_RawFree(o);
  Py_DECREF(seq);
  return r;
}

/* op(handle, mode, factory) -> handle */
static PyObject *env_op(EnvObject *e, PyObject *args) {
  int h, mode;
  PyObject *factory;
  if (!PyArg_ParseTuple(args, "iiO", &h, &mode, &factory) || !env_ok(e)) return NULL;
  sl_stream *in = get_stream(e, h);
  if (!in) return NULL;
  if (mode < 0 || mode >= M__N || mode == M_TO_TEXT || !PyCallable_Check(factory))
    return PyErr_Format(PyExc_ValueError, "sluice: bad operator (mode %d)", mode);
  pyop *op = new_op(e, mode, factory);
  if (!op) return NULL;
  /* a key selector runs where its input is (Flink computes the key in the
   * producer, on the edge): no rebalance in between, which would reorder
   * the records of one key (a non-parallel source's output, say) */
  if (mode == M_KEY) in = sl_forward(in);
  sl_stream *s;
  if (mode == M_REDUCE || mode == M_KPROCESS)
    s = sl_keyed_process_batch(in, kbatch_fn, ktimer_fn, op);
  else
    s = sl_flat_map_batch(in, batch_fn, op);
  s = sl_rich(s, op_open, op_close, op);
  if (mode == M_KEY) s = sl_key_by(s, NULL, NULL); /* keeps the key the batch op set */
  return add_stream(e, s, g_mode_names[mode]);
}

/* assign_timestamps(h, factory or None, forward, kind, bound_ms, idle_ms) -> h:
 * the Python assigner runs in a batch operator (one GIL per run) that
 * stamps each record; the engine's sl_assign_timestamps then keeps those
 * timestamps (ts_fn NULL) and generates the watermarks.  forward: the
 * assigner runs where its input is (after a non-parallel source: in its
 * subtask, so watermarks follow the source's order). */
static PyObject *env_assign_timestamps(EnvObject *e, PyObject *args) {
  int h, forward, kind;
  long long bound, idle;
  PyObject *factory;
  if (!PyArg_ParseTuple(args, "iOpiLL", &h, &factory, &forward, &kind, &bound, &idle) ||
      !env_ok(e))
    return NULL;
  sl_stream *s = get_stream(e, h);
  if (!s) return NULL;
  if (kind != SL_WM_BOUNDED_OUT_OF_ORDERNESS && kind != SL_WM_MONOTONOUS)
    return PyErr_Format(PyExc_ValueError, "sluice: bad watermark kind %d", kind);
  if (forward) s = sl_forward(s);
  if (factory != Py_None) {
    pyop *op = new_op(e, M_TIMESTAMP, factory);
    if (!op) return NULL;
    s = sl_rich(sl_flat_map_batch(s, batch_fn, op), op_open, op_close, op);
    if (!s) return graph_error(e, "timestamp assigner");
    sl_name(s, "timestamp assigner");
  }
  sl_watermark_strategy ws = {.kind = (sl_wm_kind)kind, .out_of_orderness_ms = bound,
                              .idle_timeout_ms = idle};
  return add_stream(e, sl_assign_timestamps(s, NULL, NULL, &ws), "watermarks");
}

/* window(h, factory, kind, time, size, slide, gap, offset, trigger, count,
 * purge, lateness, late_tag or None) -> h: the engine's window operator
 * buffering each window's serialised values (sl_window_process), the
 * Python function called once per firing. */
static PyObject *env_window(EnvObject *e, PyObject *args) {
  int h, kind, time, trigger, purge;
  long long size, slide, gap, offset, lateness;
  unsigned long long count;
  PyObject *factory;
  const char *late_tag;
  if (!PyArg_ParseTuple(args, "iOiiLLLLiKpLz", &h, &factory, &kind, &time, &size, &slide, &gap,
                        &offset, &trigger, &count, &purge, &lateness, &late_tag) ||
      !env_ok(e))
    return NULL;
  sl_stream *s = get_stream(e, h);
  if (!s) return NULL;
  sl_window_spec w = {.kind = (sl_window_kind)kind, .time = (sl_time_domain)time,
                      .size_ms = size, .slide_ms = slide, .gap_ms = gap, .offset_ms = offset,
                      .trigger = (sl_trigger_kind)trigger, .count = count, .purge = purge,
                      .allowed_lateness_ms = lateness};
  if (late_tag && !(w.late_tag = env_tag(e, late_tag))) return NULL;
  pyop *op = new_op(e, M_WINDOW, factory);
  if (!op) return NULL;
  s = sl_window_process(s, &w, window_fn, op);
  if (!s) return graph_error(e, "window");
  return add_stream(e, sl_rich(s, op_open, op_close, op), "window");
}

/* connect(h1, h2, factory, keyed) -> h: both inputs tagged (co_tag),
 * unioned, into one batch operator; keyed (both inputs keyed): a keyed
 * batch operator with keyed state and timers, the records keeping the
 * keys their key selectors gave them. */
static PyObject *env_connect(EnvObject *e, PyObject *args) {
  int h1, h2, keyed;
  PyObject *factory;
  if (!PyArg_ParseTuple(args, "iiOp", &h1, &h2, &factory, &keyed) || !env_ok(e)) return NULL;
  sl_stream *a = get_stream(e, h1), *b = a ? get_stream(e, h2) : NULL;
  if (!b) return NULL;
  pyop *op = new_op(e, M_CO, factory);
  if (!op) return NULL;
  sl_stream *ins[2] = {sl_map(a, co_tag0, NULL), sl_map(b, co_tag1, NULL)};
  if (!ins[0] || !ins[1]) return graph_error(e, "connect");
  sl_stream *s = sl_union(ins, 2);
  if (s && keyed) s = sl_keyed_process_batch(sl_key_by(s, NULL, NULL), kbatch_fn, ktimer_fn, op);
  else if (s) s = sl_flat_map_batch(s, batch_fn, op);
  if (!s) return graph_error(e, "connect");
  return add_stream(e, sl_rich(s, op_open, op_close, op), "connect");
}

/* side_output(h, tag) -> h */
static PyObject *env_side_output(EnvObject *e, PyObject *args) {
  int h;
  const char *tag;
  if (!PyArg_ParseTuple(args, "is", &h, &tag) || !env_ok(e)) return NULL;
  sl_stream *s = get_stream(e, h);
  if (!s) return NULL;
  const char *t = env_tag(e, tag);
  if (!t) return NULL;
  return add_stream(e, sl_side_output(s, t), "side output");
}

static PyObject *env_union(EnvObject *e, PyObject *args) {
  PyObject *hs;
  if (!PyArg_ParseTuple(args, "O", &hs) || !env_ok(e)) return NULL;
  PyObject *seq = PySequence_Fast(hs, "union needs a sequence of handles");
  if (!seq) return NULL;
  Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
  sl_stream **ins = PyMem_RawCalloc((size_t)(n ? n : 1), sizeof *ins);
  PyObject *r = NULL;
  if (!ins) {
    PyErr_NoMemory();
    goto out;
  }
  for (Py_ssize_t i = 0; i < n; i++) {
    long h = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, i));
    if ((h == -1 && PyErr_Occurred()) || !(ins[i] = get_stream(e, (int)h))) goto out;
  }
  r = add_stream(e, sl_union(ins, (size_t)n), "union");
out:
  PyMem_RawFree(ins);
  Py_DECREF(seq);
  return r;
}

static PyObject *env_name(EnvObject *e, PyObject *args) {
  int h;
  const char *name;
  if (!PyArg_ParseTuple(args, "is", &h, &name) || !env_ok(e)) return NULL;
  sl_stream *s = get_stream(e, h);
  if (!s) return NULL;
  if (!sl_name(s, name)) return graph_error(e, "name");
  Py_RETURN_NONE;
}

static PyObject *env_partition(EnvObject *e, PyObject *args) {
  int h;
  const char *how;
  if (!PyArg_ParseTuple(args, "is", &h, &how) || !env_ok(e)) return NULL;
  sl_stream *s = get_stream(e, h);
  if (!s) return NULL;
  if (!strcmp(how, "rebalance")) s = sl_rebalance(s);
  else if (!strcmp(how, "broadcast")) s = sl_broadcast(s);
  else if (!strcmp(how, "global")) s = sl_global(s);
  else if (!strcmp(how, "forward")) s = sl_forward(s);
  else return PyErr_Format(PyExc_ValueError, "unknown partitioning '%s'", how);
  return add_stream(e, s, how);
}

/* sink(handle, kind, path or None, [(option, value)] for "kafka") -> collect
 * index for "collect", else None */
static PyObject *env_sink(EnvObject *e, PyObject *args) {
  int h;
  const char *kind, *path = NULL;
  PyObject *opts = NULL;
  if (!PyArg_ParseTuple(args, "is|zO", &h, &kind, &path, &opts) || !env_ok(e)) return NULL;
  sl_stream *s = get_stream(e, h);
  if (!s) return NULL;
  if (!strcmp(kind, "collect")) {
    if (e->n_colls == e->cap_colls) {
      int cap = e->cap_colls ? 2 * e->cap_colls : 4;
      sl_collect **l = PyMem_RawRealloc(e->colls, (size_t)cap * sizeof *l);
      if (!l) return PyErr_NoMemory();
      e->colls = l;
      e->cap_colls = cap;
    }
    sl_collect *c = sl_collect_new();
    if (!c) return PyErr_NoMemory();
    e->colls[e->n_colls] = c;
    if (sl_sink_to(s, sl_collect_sink(c))) {
      sl_collect_free(c);
      return graph_error(e, "collect sink");
    }
    return PyLong_FromLong(e->n_colls++);
  }
  sl_sink *sink;
  if (!strcmp(kind, "file") && path)
    sink = sl_file_sink(path);
  else if (!strcmp(kind, "print"))
    sink = sl_print_sink();
  else if (!strcmp(kind, "stdout"))
    sink = sl_stdout_sink();
  else if (!strcmp(kind, "discard"))
    sink = sl_discard_sink();
  else if (!strcmp(kind, "kafka") && opts) {
    PyObject *seq = PySequence_Fast(opts, "a Kafka sink needs a list of options");
    if (!seq) return NULL;
    size_t n = 0;
    sl_option *o = options_of(seq, &n);
    sink = o ? sl_kafka_sink(o, n) : NULL;
    PyMem_RawFree(o);
    Py_DECREF(seq);
    if (!o) return NULL;
  } else
    return PyErr_Format(PyExc_ValueError, "unknown sink '%s'", kind);
  if (strcmp(kind, "discard")) { /* text sinks: str(value) */
    pyop *op = new_op(e, M_TO_TEXT, NULL);
    if (!op) return NULL;
    s = sl_rich(sl_flat_map_batch(s, to_text_fn, op), plain_open, plain_close, op);
    if (s) sl_name(s, "to-text");
  }
  if (!s || sl_sink_to(s, sink)) return graph_error(e, kind);
  Py_RETURN_NONE;
}

static PyObject *env_execute(EnvObject *e, PyObject *args) {
  const char *name;
  if (!PyArg_ParseTuple(args, "s", &name) || !env_ok(e)) return NULL;
  if (e->running) {
    PyErr_SetString(PyExc_RuntimeError, "sluice: this job is already running");
    return NULL;
  }
  Py_CLEAR(e->error);
  e->running = 1;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = sl_execute(e->env, name);
  Py_END_ALLOW_THREADS
  e->running = 0;
  gil_cleanup(&e->tss);
  sl_job_stats st;
  sl_job_stats_get(e->env, &st);
  return Py_BuildValue("{s:i,s:s,s:s,s:K,s:K,s:d,s:K,s:i}", "rc", rc, "error",
                       rc ? sl_env_last_error(e->env) : "", "code", rc ? sl_err_name(rc) : "",
                       "records_in", (unsigned long long)st.records_in, "records_out",
                       (unsigned long long)st.records_out, "seconds", st.seconds,
                       "checkpoints", (unsigned long long)st.checkpoints, "parallelism",
                       st.parallelism);
}

static PyObject *env_take_error(EnvObject *e, PyObject *unused) {
  PyObject *r = e->error ? e->error : Py_None;
  Py_INCREF(r);
  Py_CLEAR(e->error);
  return r;
}

static PyObject *env_cancel(EnvObject *e, PyObject *unused) {
  if (e->env) sl_cancel(e->env); /* any thread, also while running */
  Py_RETURN_NONE;
}

static PyObject *env_job_id(EnvObject *e, PyObject *unused) {
  return env_ok(e) ? PyUnicode_FromString(sl_job_id(e->env)) : NULL;
}

static PyObject *env_collected(EnvObject *e, PyObject *args) {
  int i;
  if (!PyArg_ParseTuple(args, "i", &i)) return NULL;
  if (i < 0 || i >= e->n_colls) return PyErr_Format(PyExc_ValueError, "bad collect index");
  sl_collect *c = e->colls[i];
  size_t n = sl_collect_count(c);
  PyObject *l = PyList_New((Py_ssize_t)n);
  for (size_t k = 0; l && k < n; k++) {
    sl_record r;
    sl_collect_get(c, k, &r);
    PyObject *v = slpy_decode(r.value, r.value_len);
    if (!v) Py_CLEAR(l);
    else PyList_SET_ITEM(l, (Py_ssize_t)k, v);
  }
  return l;
}

static PyObject *env_close(EnvObject *e, PyObject *unused) {
  if (e->running) {
    PyErr_SetString(PyExc_RuntimeError, "sluice: cannot close while the job runs");
    return NULL;
  }
  env_release(e);
  Py_RETURN_NONE;
}


/* ---- SQL (sluice.table) --------------------------------------------------------------- */

typedef struct {
  char *buf;
  size_t len, cap;
  int failed;
} sql_out;

static void sql_output(void *ud, const char *text) { /* without the GIL: raw memory only */
  sql_out *o = ud;
  size_t n = strlen(text);
  if (o->failed) return;
  if (o->len + n + 1 > o->cap) {
    size_t cap = o->cap ? 2 * o->cap : 256;
    while (cap < o->len + n + 1) cap *= 2;
    char *b = PyMem_RawRealloc(o->buf, cap);
    if (!b) {
      o->failed = 1;
      return;
    }
    o->buf = b;
    o->cap = cap;
  }
  memcpy(o->buf + o->len, text, n + 1);
  o->len += n;
}

#define SQL_VALIDATED (-SL_ECANCELED)
static int sql_validate_sink(void *ud, const char *table, sl_stream *rows, int changelog) {
  (void)table;
  (void)rows;
  (void)changelog;
  *(int *)ud = 1; /* planned: every statement parsed, every name resolved */
  return SQL_VALIDATED;
}

static PyObject *env_sql(EnvObject *e, PyObject *args) {
  const char *text;
  int validate = 0;
  if (!PyArg_ParseTuple(args, "s|p", &text, &validate) || !env_ok(e)) return NULL;
  if (e->running) {
    PyErr_SetString(PyExc_RuntimeError, "sluice: this job is already running");
    return NULL;
  }
  sql_out out = {0};
  int planned = 0, rc;
  sl_sql_set_output(e->env, sql_output, &out);
  if (validate) sl_sql_set_sink(e->env, sql_validate_sink, &planned);
  Py_CLEAR(e->error);
  e->running = 1;
  Py_BEGIN_ALLOW_THREADS
  rc = sl_sql_execute(e->env, text);
  Py_END_ALLOW_THREADS
  e->running = 0;
  gil_cleanup(&e->tss);
  sl_sql_set_output(e->env, NULL, NULL);
  if (validate) {
    sl_sql_set_sink(e->env, NULL, NULL);
    if (planned) rc = 0; /* the first sink refused: whatever rc says is that */
  }
  PyObject *r = Py_BuildValue("{s:i,s:s,s:s,s:s}", "rc", rc, "error", rc ? sl_env_last_error(e->env) : "",
                              "code", rc ? sl_err_name(rc) : "", "output", out.buf ? out.buf : "");
  PyMem_RawFree(out.buf);
  if (!r || out.failed) {
    Py_XDECREF(r);
    return out.failed ? PyErr_NoMemory() : NULL;
  }
  return r;
}

/* ---- PostgreSQL (sluice.datastream.connectors.jdbc / .postgres) ---------------------
 * pg_source: every row, of every change kind, as bytes for the package's
 * decoder (jdbc.py _decode_row): "<kind 0..3>\0" then per column
 * "<flag n|u|v><type oid>\0<name>\0<text>\0" (flag: NULL, unknown -- not
 * sent by the server --, or a value; PostgreSQL's text output never holds a
 * NUL).  The key stays the primary key's text. */
static int pg_row_to_bytes(void *ud, sl_ctx *ctx, const sl_pg_row *row, sl_record *out) {
  size_t need = 2;
  for (int i = 0; i < row->n_cols; i++) {
    const sl_pg_column *c = &row->cols[i];
    need += 4 + (size_t)snprintf(NULL, 0, "%u", (unsigned)c->type) + strlen(c->name) +
            (c->is_null || c->unknown ? 0 : c->len);
  }
  uint8_t *p = sl_ctx_scratch(ctx, need + 11);
  if (!p) return sl_ctx_fail(ctx, "PostgreSQL source: out of memory");
  size_t hdr = 1, len = need, n; /* n == need at the end */
  while (len >>= 7) hdr++; /* the codec's varint of the length, filled in below */
  char *b = (char *)p + 1 + hdr;
  n = 0;
  b[n++] = (char)('0' + (int)row->kind);
  b[n++] = 0;
  for (int i = 0; i < row->n_cols; i++) {
    const sl_pg_column *c = &row->cols[i];
    b[n++] = c->unknown ? 'u' : c->is_null ? 'n' : 'v';
    n += (size_t)snprintf(b + n, 12, "%u", (unsigned)c->type); /* 10 digits at most */
    b[n++] = 0;
    size_t nl = strlen(c->name);
    memcpy(b + n, c->name, nl);
    n += nl;
    b[n++] = 0;
    if (!c->is_null && !c->unknown && c->len) memcpy(b + n, c->text, c->len), n += c->len;
    b[n++] = 0;
  }
  p[0] = SLPY_T_BYTES;
  len = need;
  for (size_t k = 0; k < hdr; k++, len >>= 7) p[1 + k] = (uint8_t)((len & 0x7f) | (k + 1 < hdr ? 0x80 : 0));
  out->value = p;
  out->value_len = (uint32_t)(1 + hdr + need);
  (void)ud;
  return 0;
}

/* postgres_source(conninfo, [(option, value)]) -> h: bytes per row (above) */
static PyObject *env_postgres_source(EnvObject *e, PyObject *args) {
  const char *conninfo;
  PyObject *opts;
  if (!PyArg_ParseTuple(args, "sO", &conninfo, &opts) || !env_ok(e)) return NULL;
  PyObject *seq = PySequence_Fast(opts, "postgres_source needs a list of options");
  if (!seq) return NULL;
  size_t n = 0;
  sl_option *o = options_of(seq, &n);
  PyObject *r = NULL;
  if (o) {
    sl_source *src = sl_postgres_source(conninfo, o, n);
    if (src && sl_postgres_source_set_deserializer(src, pg_row_to_bytes, NULL))
      PyErr_SetString(PyExc_ValueError, "PostgresSource: the deserializer was refused");
    if (!PyErr_Occurred()) r = add_stream(e, src ? sl_source_stream(e->env, src) : NULL, "PostgreSQL source");
  }
  PyMem_RawFree(o);
  Py_DECREF(seq);
  return r;
}

/* postgres_sink(h, conninfo, [(option, value)]): str records (CSV lines made
 * by jdbc.py) into sl_postgres_sink */
static PyObject *env_postgres_sink(EnvObject *e, PyObject *args) {
  int h;
  const char *conninfo;
  PyObject *opts;
  if (!PyArg_ParseTuple(args, "isO", &h, &conninfo, &opts) || !env_ok(e)) return NULL;
  sl_stream *s = get_stream(e, h);
  if (!s) return NULL;
  PyObject *seq = PySequence_Fast(opts, "postgres_sink needs a list of options");
  if (!seq) return NULL;
  size_t n = 0;
  sl_option *o = options_of(seq, &n);
  sl_sink *sink = o ? sl_postgres_sink(conninfo, o, n) : NULL;
  PyMem_RawFree(o);
  Py_DECREF(seq);
  if (!o) return NULL;
  pyop *op = new_op(e, M_TO_TEXT, NULL);
  if (!op) return NULL;
  s = sl_rich(sl_flat_map_batch(s, to_text_fn, op), plain_open, plain_close, op);
  if (s) sl_name(s, "to-text");
  if (!s || sl_sink_to(s, sink)) return graph_error(e, "PostgreSQL sink");
  Py_RETURN_NONE;
}

static PyMethodDef env_methods[] = {
    {"set", (PyCFunction)env_set, METH_VARARGS, "set(key, value): configuration"},
    {"get", (PyCFunction)env_get, METH_VARARGS, "get(key) -> value"},
    {"file_source", (PyCFunction)env_file_source, METH_VARARGS, "text lines of files"},
    {"collection_source", (PyCFunction)env_collection_source, METH_VARARGS, "values"},
    {"socket_source", (PyCFunction)env_socket_source, METH_VARARGS, "text lines of a TCP server"},
    {"kafka_source", (PyCFunction)env_kafka_source, METH_VARARGS, "message values of Kafka topics"},
    {"op", (PyCFunction)env_op, METH_VARARGS, "op(h, mode, factory) -> h"},
    {"union", (PyCFunction)env_union, METH_VARARGS, "union([h...]) -> h"},
    {"assign_timestamps", (PyCFunction)env_assign_timestamps, METH_VARARGS, "timestamps, watermarks"},
    {"window", (PyCFunction)env_window, METH_VARARGS, "a window operator -> h"},
    {"connect", (PyCFunction)env_connect, METH_VARARGS, "connect(h1, h2, factory) -> h"},
    {"side_output", (PyCFunction)env_side_output, METH_VARARGS, "side_output(h, tag) -> h"},
    {"name", (PyCFunction)env_name, METH_VARARGS, "name(h, name)"},
    {"partition", (PyCFunction)env_partition, METH_VARARGS, "partition(h, how) -> h"},
    {"sink", (PyCFunction)env_sink, METH_VARARGS, "sink(h, kind, path=None)"},
    {"execute", (PyCFunction)env_execute, METH_VARARGS, "execute(name) -> result dict"},
    {"take_error", (PyCFunction)env_take_error, METH_NOARGS, "the user function's exception"},
    {"cancel", (PyCFunction)env_cancel, METH_NOARGS, "stop the running job"},
    {"job_id", (PyCFunction)env_job_id, METH_NOARGS, "the job's id"},
    {"collected", (PyCFunction)env_collected, METH_VARARGS, "values of a collect sink"},
    {"close", (PyCFunction)env_close, METH_NOARGS, "free the engine's environment"},
    {"sql", (PyCFunction)env_sql, METH_VARARGS, "sql(text, validate=False) -> result dict"},
    {"postgres_source", (PyCFunction)env_postgres_source, METH_VARARGS, "rows of a PostgreSQL table"},
    {"postgres_sink", (PyCFunction)env_postgres_sink, METH_VARARGS, "CSV lines into a PostgreSQL table"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject EnvType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_sluice.Env",
    .tp_basicsize = sizeof(EnvObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)env_init,
    .tp_dealloc = (destructor)env_dealloc,
    .tp_methods = env_methods,
    .tp_doc = "one libsluice environment: a graph, run once",
};

/* ---- module --------------------------------------------------------------------- */

static PyObject *mod_setup(PyObject *m, PyObject *args) {
  PyObject *row, *dumps, *loads;
  if (!PyArg_ParseTuple(args, "OOO", &row, &dumps, &loads)) return NULL;
  slpy_codec_setup(row, dumps, loads);
  Py_RETURN_NONE;
}

static PyObject *mod_setup_tags(PyObject *m, PyObject *cls) {
  if (!PyType_Check(cls)) return PyErr_Format(PyExc_TypeError, "setup_tags needs a class");
  Py_XDECREF(g_output_tag_type);
  Py_INCREF(cls);
  g_output_tag_type = cls;
  Py_RETURN_NONE;
}

static PyObject *mod_encode(PyObject *m, PyObject *obj) {
  slpy_buf b = {0};
  PyObject *r = slpy_encode(&b, obj) ? NULL : PyBytes_FromStringAndSize((char *)b.p, (Py_ssize_t)b.len);
  slpy_buf_free(&b);
  return r;
}

static PyObject *mod_encode_key(PyObject *m, PyObject *obj) {
  slpy_buf b = {0};
  PyObject *r =
      slpy_encode_key(&b, obj) ? NULL : PyBytes_FromStringAndSize((char *)b.p, (Py_ssize_t)b.len);
  slpy_buf_free(&b);
  return r;
}

static PyObject *mod_decode(PyObject *m, PyObject *obj) {
  Py_buffer v;
  if (PyObject_GetBuffer(obj, &v, PyBUF_SIMPLE)) return NULL;
  PyObject *r = slpy_decode(v.buf, (size_t)v.len);
  PyBuffer_Release(&v);
  return r;
}

static PyObject *mod_version(PyObject *m, PyObject *unused) {
  return PyUnicode_FromString(sl_version());
}

static PyObject *mod_config_keys(PyObject *m, PyObject *unused) {
  PyObject *l = PyList_New(0);
  const sl_config_key *k;
  for (size_t i = 0; l && (k = sl_config_key_at(i)); i++) {
    PyObject *t = Py_BuildValue("(ssss)", k->key, k->type, k->deflt, k->doc);
    if (!t || PyList_Append(l, t)) Py_CLEAR(l);
    Py_XDECREF(t);
  }
  return l;
}

static PyMethodDef mod_methods[] = {
    {"setup", mod_setup, METH_VARARGS, "setup(Row, pickle.dumps, pickle.loads)"},
    {"setup_tags", mod_setup_tags, METH_O, "setup_tags(OutputTag)"},
    {"encode", mod_encode, METH_O, "a value's record bytes"},
    {"encode_key", mod_encode_key, METH_O, "a key's record bytes (canonical)"},
    {"decode", mod_decode, METH_O, "the value of record bytes"},
    {"version", mod_version, METH_NOARGS, "libsluice's version"},
    {"config_keys", mod_config_keys, METH_NOARGS, "[(key, type, default, doc)]"},
    {NULL, NULL, 0, NULL}};

static void mod_free(void *m) { slpy_codec_clear(); }

static struct PyModuleDef g_module = {PyModuleDef_HEAD_INIT, "_sluice",
                                      "libsluice for the sluice Python package", -1, mod_methods,
                                      NULL, NULL, NULL, mod_free};

PyMODINIT_FUNC PyInit__sluice(void) {
  g_interp = PyInterpreterState_Get();
  if (PyType_Ready(&EnvType) < 0 || PyType_Ready(&CtxType) < 0 ||
      PyType_Ready(&ValueStateType) < 0 || PyType_Ready(&ListStateType) < 0 ||
      PyType_Ready(&MapStateType) < 0)
    return NULL;
  PyObject *m = PyModule_Create(&g_module);
  if (!m) return NULL;
  Py_INCREF(&EnvType);
  if (PyModule_AddObject(m, "Env", (PyObject *)&EnvType)) return NULL;
  PyModule_AddIntConstant(m, "MAP", M_MAP);
  PyModule_AddIntConstant(m, "FLAT_MAP", M_FLAT_MAP);
  PyModule_AddIntConstant(m, "FILTER", M_FILTER);
  PyModule_AddIntConstant(m, "KEY", M_KEY);
  PyModule_AddIntConstant(m, "PROCESS", M_PROCESS);
  PyModule_AddIntConstant(m, "SINK", M_SINK);
  PyModule_AddIntConstant(m, "REDUCE", M_REDUCE);
  PyModule_AddIntConstant(m, "KEYED_PROCESS", M_KPROCESS);
  PyModule_AddIntConstant(m, "TIMESTAMP", M_TIMESTAMP);
  PyModule_AddIntConstant(m, "WINDOW", M_WINDOW);
  PyModule_AddIntConstant(m, "CO", M_CO);
  PyModule_AddIntConstant(m, "WM_BOUNDED", SL_WM_BOUNDED_OUT_OF_ORDERNESS);
  PyModule_AddIntConstant(m, "WM_MONOTONOUS", SL_WM_MONOTONOUS);
  PyModule_AddIntConstant(m, "WINDOW_TUMBLING", SL_WINDOW_TUMBLING);
  PyModule_AddIntConstant(m, "WINDOW_SLIDING", SL_WINDOW_SLIDING);
  PyModule_AddIntConstant(m, "WINDOW_SESSION", SL_WINDOW_SESSION);
  PyModule_AddIntConstant(m, "WINDOW_GLOBAL", SL_WINDOW_GLOBAL);
  PyModule_AddIntConstant(m, "TRIGGER_DEFAULT", SL_TRIGGER_DEFAULT);
  PyModule_AddIntConstant(m, "TRIGGER_EVENT_TIME", SL_TRIGGER_EVENT_TIME);
  PyModule_AddIntConstant(m, "TRIGGER_PROCESSING_TIME", SL_TRIGGER_PROCESSING_TIME);
  PyModule_AddIntConstant(m, "TRIGGER_COUNT", SL_TRIGGER_COUNT);
  PyModule_AddIntConstant(m, "TTL_ON_CREATE_AND_WRITE", SL_TTL_ON_CREATE_AND_WRITE);
  PyModule_AddIntConstant(m, "TTL_ON_READ_AND_WRITE", SL_TTL_ON_READ_AND_WRITE);
  PyModule_AddIntConstant(m, "EVENT_TIME", SL_TIME_EVENT);
  PyModule_AddIntConstant(m, "PROCESSING_TIME", SL_TIME_PROCESSING);
  PyModule_AddObject(m, "WATERMARK_MIN", PyLong_FromLongLong(SL_WATERMARK_MIN));
  return m;
}
