/*
 * restore.c -- loading a checkpoint (or savepoint, or "latest": the newest
 * complete one, damaged ones skipped) into a new job at any parallelism:
 * keyed images keep their key groups (native RocksDB checkpoints are
 * adopted when the range is the same), operator lists are redistributed,
 * broadcast state is copied, sources seek past what was emitted, timers are
 * rebuilt, watermarks resume, and two-phase-commit sinks recover.  One
 * thread per subtask.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/ckpt_int.h"
#include "runtime/source_sink.h"
#include "time/timers.h"

/* ---- restore ------------------------------------------------------------------------ */


typedef struct old_meta {
  uint8_t **blob; /* per old subtask: the operator's bytes (after the wm) */
  size_t *len;
  int64_t *wm;
  int n;
} old_meta;

static void old_meta_free(old_meta *o) {
  for (int i = 0; i < o->n; i++) sl__free(o->blob ? o->blob[i] : NULL);
  sl__free(o->blob);
  sl__free(o->len);
  sl__free(o->wm);
}

/* the .meta files of op from every old subtask (raw frames are kept in
 * blob[i] with the 8-byte watermark in front; blob[i] + 8 is the payload) */
static int load_old_meta(const char *chk, const sl__ckpt_meta *m, int op, old_meta *o,
                         char *err, size_t errcap) {
  o->n = m->P;
  o->blob = sl__calloc((size_t)m->P, sizeof *o->blob);
  o->len = sl__calloc((size_t)m->P, sizeof *o->len);
  o->wm = sl__calloc((size_t)m->P, sizeof *o->wm);
  if (!o->blob || !o->len || !o->wm) return -SL_ENOMEM;
  for (int s = 0; s < m->P; s++) {
    o->wm[s] = SL_WATERMARK_MIN;
    if (!(m->inst[op * m->P + s].flags & SL__F_META)) continue;
    char path[4200];
    sl__ckpt_file(path, sizeof path, chk, op, s, "meta");
    int rc = sl__frame_read(path, SL__MAGIC_OPMETA, &o->blob[s], &o->len[s], err, errcap);
    if (rc) return rc;
    if (o->len[s] >= 8) memcpy(&o->wm[s], o->blob[s], 8);
  }
  return 0;
}

static int restore_inst(sl__job *job, const char *chk, const sl__ckpt_meta *m, sl__inst *inst,
                        const old_meta *om, char *err, size_t errcap) {
  int op = inst->op->id, P_old = m->P, rc = 0;
  char path[4200];
  /* keyed state: every old subtask's image; each keeps our key groups */
  for (int s = 0; !rc && inst->ks && s < P_old; s++) {
    if (!(m->inst[op * P_old + s].flags & SL__F_KEYED)) continue;
    sl__backend *be = sl__kstate_backend(inst->ks);
    int lo, hi; /* old subtask s held these key groups: skip it if none is ours */
    sl__key_group_range(m->max_parallelism, P_old, s, &lo, &hi);
    if (hi < be->kg_lo || lo > be->kg_hi) continue;
    sl__ckpt_file(path, sizeof path, chk, op, s, "keyed");
    if ((rc = sl__image_read_file(be, path))) sl__fmt(err, errcap, "%s", be->err);
  }
  for (int s = 0; !rc && inst->ks && s < P_old; s++) {
    if (!(m->inst[op * P_old + s].flags & SL__F_NATIVE)) continue;
    sl__backend *be = sl__kstate_backend(inst->ks);
    int lo, hi;
    sl__key_group_range(m->max_parallelism, P_old, s, &lo, &hi);
    if (hi < be->kg_lo || lo > be->kg_hi) continue;
    char why[512];
    const sl__backend_vt *nv = sl__backend_native(why, sizeof why);
    if (!nv) {
      sl__fmt(err, errcap, "operator '%s', subtask %d of %d: %s", inst->op->name, s, P_old,
              why);
      rc = -SL_ECONFIG;
      break;
    }
    sl__ckpt_file(path, sizeof path, chk, op, s, nv->name);
    /* the same key groups into an empty backend of the same kind: take its
     * files; else copy our key groups out of it */
    rc = be->vt == nv ? nv->native_adopt(be, job->conf, path) : 1;
    if (rc == 1) rc = nv->native_restore(be, job->conf, path);
    if (rc) sl__fmt(err, errcap, "%s", be->err);
  }
  /* operator state: redistributed (paths of every old subtask's image) */
  char **paths = rc ? NULL : sl__calloc((size_t)P_old, sizeof *paths);
  int n = 0;
  if (!rc && !paths) rc = -SL_ENOMEM;
  for (int s = 0; !rc && s < P_old; s++)
    if (m->inst[op * P_old + s].flags & SL__F_OPSTATE) {
      sl__ckpt_file(path, sizeof path, chk, op, s, "opstate");
      if (!(paths[n++] = sl__strdup(path))) rc = -SL_ENOMEM;
    }
  if (!rc && n) {
    struct sl__kstate *os;
    if (!(rc = sl__ctx_ostate(&inst->ctx, &os)))
      rc = sl__opstate_restore(sl__kstate_backend(os), (const char *const *)paths, n, job->P,
                               inst->ctx.subtask, err, errcap);
  }
  for (int i = 0; paths && i < n; i++) sl__free(paths[i]);
  sl__free(paths);
  /* broadcast state: the same everywhere, take subtask 0's */
  if (!rc && inst->bs && (m->inst[op * P_old].flags & SL__F_BSTATE)) {
    sl__backend *be = sl__kstate_backend(inst->bs);
    sl__ckpt_file(path, sizeof path, chk, op, 0, "bstate");
    if ((rc = sl__image_read_file(be, path))) sl__fmt(err, errcap, "%s", be->err);
  }
  if (rc) return rc;
  /* watermark: this subtask's own at the same parallelism, else the
   * smallest (never ahead of what every old subtask had seen) */
  int64_t wm = SL_WATERMARK_MAX;
  if (P_old == job->P)
    wm = om->wm[inst->ctx.subtask];
  else
    for (int s = 0; s < P_old; s++) wm = SL__MIN(wm, om->wm[s]);
  if (wm != SL_WATERMARK_MAX && wm > inst->wm) {
    inst->wm = wm;
    for (int c = 0; c < inst->n_inputs; c++) inst->wm_in[c] = wm;
  }
  /* the operator's own bytes, in old subtask order */
  const uint8_t **blobs = sl__calloc((size_t)P_old, sizeof *blobs);
  size_t *lens = sl__calloc((size_t)P_old, sizeof *lens);
  int nb = P_old;
  if (!blobs || !lens) {
    sl__free(blobs);
    sl__free(lens);
    return -SL_ENOMEM;
  }
  for (int s = 0; s < P_old; s++) {
    blobs[s] = om->blob[s] ? om->blob[s] + 8 : (const uint8_t *)"";
    lens[s] = om->len[s] >= 8 ? om->len[s] - 8 : 0;
  }
  if (inst->op->kind == SL__OP_SOURCE) {
    const sl_source_ops *ops = inst->op->source->ops;
    if (inst->impl && ops->seek) {
      inst->ctx.msg[0] = 0;
      rc = ops->seek(inst->impl, &inst->ctx, blobs, lens, nb);
      /* the connector's own words: left with sl_ctx_fail, or recorded as
       * the job's error by sl_ctx_error */
      char why[1100];
      if (inst->ctx.msg[0])
        sl__fmt(why, sizeof why, "%s", inst->ctx.msg);
      else if (rc && sl__failed(inst->job)) /* (this or another subtask's seek) */
        sl__job_error_copy(inst->job, why, sizeof why);
      else
        sl__fmt(why, sizeof why, "%s", sl_strerror(rc));
      if (rc)
        sl__fmt(err, errcap,
                "operator '%s': cannot resume the source from this checkpoint: %s (was "
                "the checkpoint taken with another configuration of the source%s?)",
                inst->op->name, why,
                ops->kind && !strcmp(ops->kind, "file")
                    ? ": other input files, split size or source mode"
                    : "");
    } else if (inst->impl && inst->ctx.subtask == 0) {
      sl__job_log(inst->job, SL_LOG_WARN,
                  "source '%s' cannot resume from a checkpoint; it starts from the beginning "
                  "(at-least-once for its records)", inst->op->name);
    }
  } else if (inst->vt->load) {
    rc = inst->vt->load(inst, blobs, lens, nb);
  }
  sl__free(blobs);
  sl__free(lens);
  if (!rc && inst->timers) rc = sl__timers_restore(inst->timers);
  if (!rc && inst->vt->restored && (rc = inst->vt->restored(inst))) {
    if (sl__failed(inst->job))
      sl__job_error_copy(inst->job, err, errcap);
    else
      sl__fmt(err, errcap, "operator '%s': %s", inst->op->name, sl_strerror(rc));
  }
  return rc;
}

/* Restores operator op's instances, one thread per subtask (each fills
 * its own backend from the images). */
typedef struct restore_arg {
  sl__job *job;
  const char *chk;
  const sl__ckpt_meta *m;
  sl__inst *inst;
  const old_meta *om;
  int rc, threaded;
  char err[1024];
} restore_arg;

static void *restore_main(void *p) {
  restore_arg *a = p;
  a->rc = restore_inst(a->job, a->chk, a->m, a->inst, a->om, a->err, sizeof a->err);
  return NULL;
}

static int restore_op(sl__job *job, const char *chk, const sl__ckpt_meta *m, int op,
                      const old_meta *om, char *err, size_t errcap) {
  restore_arg *a = sl__calloc((size_t)job->P, sizeof *a);
  pthread_t *t = sl__calloc((size_t)job->P, sizeof *t);
  int rc = a && t ? 0 : -SL_ENOMEM;
  int started = 0;
  for (int w = 0; !rc && w < job->P; w++, started++) {
    a[w] = (restore_arg){job, chk, m, &job->workers[w].insts[op], om, 0, 0, ""};
    a[w].threaded = job->P > 1 && !pthread_create(&t[w], NULL, restore_main, &a[w]);
    if (!a[w].threaded) restore_main(&a[w]); /* one subtask, or no thread: here */
  }
  for (int w = 0; w < started; w++) {
    if (a[w].threaded) pthread_join(t[w], NULL);
    if (a[w].rc && !rc) {
      rc = a[w].rc;
      sl__fmt(err, errcap, "%s", a[w].err);
    }
  }
  sl__free(a);
  sl__free(t);
  return rc;
}

/* A two-phase-commit sink re-commits what the checkpoint chk pre-committed
 * (om: every old subtask's bytes; NULL: no checkpoint) and aborts the
 * rest.  Errors go to out. */
static int recover_sink(sl__job *job, sl__op *op, const char *chk, const old_meta *om, char *out,
                        size_t outcap) {
  if (op->kind != SL__OP_SINK || !op->sink->ops->recover) return 0;
  int n = om ? om->n : 0, rc = 0;
  const uint8_t **blobs = sl__calloc((size_t)n + 1, sizeof *blobs);
  size_t *lens = sl__calloc((size_t)n + 1, sizeof *lens);
  char **names = sl__calloc((size_t)n + 1, sizeof *names);
  char path[4200];
  if (!blobs || !lens || !names) rc = -SL_ENOMEM;
  for (int s = 0; !rc && s < n; s++) {
    blobs[s] = om->len[s] > 8 ? om->blob[s] + 8 : (const uint8_t *)"";
    lens[s] = om->len[s] > 8 ? om->len[s] - 8 : 0;
    sl__ckpt_file(path, sizeof path, chk, op->id, s, "meta");
    if (!(names[s] = sl__strdup(path))) rc = -SL_ENOMEM;
  }
  sl_ctx ctx;
  sl__ctx_main(&ctx, job->conf, job->log_scope, op->name, job->P);
  if (!rc)
    rc = op->sink->ops->recover(op->sink->ud, &ctx, blobs, lens, n,
                                n ? (const char *const *)names : NULL);
  if (rc)
    sl__fmt(out, outcap, "operator '%s': cannot recover the sink: %s", op->name,
            ctx.msg[0] ? ctx.msg : sl_strerror(rc < 0 ? rc : -SL_EINTERNAL));
  if (rc > 0) rc = -SL_EINTERNAL;
  for (int s = 0; names && s < n; s++) sl__free(names[s]);
  sl__free(names);
  sl__free(blobs);
  sl__free(lens);
  return rc;
}

static int restore(sl__job *job);

static void no_log(void *ud, sl_log_level level, const char *scope, const char *msg) {
  (void)ud, (void)level, (void)scope, (void)msg;
}

int sl__ckpt_will_restore(const sl__conf *conf) {
  const char *want = SL__CONF_S(conf, CKPT_RESTORE);
  if (!want || !*want) return 0;
  const char *dir = SL__CONF_S(conf, CKPT_DIR);
  if (strcmp(want, "latest") || !dir || !*dir) return 1; /* (the restore says what is wrong) */
  char chk[4096], err[256];
  sl__ckpt_meta m;
  sl__logger quiet = {.fn = no_log};
  int rc = sl__ckpt_latest(dir, chk, sizeof chk, &m, &quiet, NULL, err, sizeof err);
  if (!rc) sl__ckpt_meta_free(&m);
  return rc != -SL_ENOENT;
}

int sl__ckpt_restore(sl__job *job) {
  int64_t t0 = sl__now_ns();
  int rc = restore(job);
  job->restore_ms = (double)(sl__now_ns() - t0) / 1e6;
  return rc;
}

static int restore(sl__job *job) {
  const char *want = SL__CONF_S(job->conf, CKPT_RESTORE);
  if (!want || !*want) return 0;
  char chk[4096], err[1024] = "";
  sl__ckpt_meta m;
  int rc;
  if (!strcmp(want, "latest")) {
    const char *dir = SL__CONF_S(job->conf, CKPT_DIR);
    if (!dir || !*dir) {
      sl__fmt(job->err, sizeof job->err,
              "execution.checkpointing.restore=latest needs state.checkpoints.dir");
      return -SL_ECONFIG;
    }
    rc = sl__ckpt_latest(dir, chk, sizeof chk, &m, &job->conf->log, job->log_scope, err,
                         sizeof err);
    if (rc == -SL_ENOENT) {
      sl__job_log(job, SL_LOG_INFO, "no complete checkpoint in '%s'; starting from the beginning",
                  dir);
      rc = 0;
      for (int i = 0; !rc && i < job->n_ops; i++)
        rc = recover_sink(job, job->ops[i], NULL, NULL, job->err, sizeof job->err);
      return rc;
    }
  } else {
    sl__fmt(chk, sizeof chk, "%s", want);
    rc = sl__ckpt_verify(chk, &m, err, sizeof err);
  }
  if (rc) {
    sl__fmt(job->err, sizeof job->err, "cannot restore from checkpoint '%s': %s", chk, err);
    return rc;
  }
  if (m.n_ops != job->n_ops || m.max_parallelism != job->max_parallelism) {
    sl__fmt(job->err, sizeof job->err,
            "checkpoint '%s' was taken by another job (%d operators, max parallelism %d; this "
            "job has %d and %d)",
            chk, m.n_ops, m.max_parallelism, job->n_ops, job->max_parallelism);
    sl__ckpt_meta_free(&m);
    return -SL_ESTATE;
  }
  for (int i = 0; i < job->n_ops; i++)
    if (m.op_kind[i] != (uint8_t)job->ops[i]->kind) {
      sl__fmt(job->err, sizeof job->err,
              "checkpoint '%s': operator %d is '%s' there but '%s' here (another job graph)", chk,
              i, m.op_name[i], job->ops[i]->name);
      sl__ckpt_meta_free(&m);
      return -SL_ESTATE;
    }
  for (int i = 0; !rc && i < job->n_ops; i++) {
    old_meta om = {0};
    rc = load_old_meta(chk, &m, i, &om, err, sizeof err);
    if (!rc) rc = restore_op(job, chk, &m, i, &om, err, sizeof err);
    if (!rc) rc = recover_sink(job, job->ops[i], chk, &om, err, sizeof err);
    old_meta_free(&om);
  }
  if (rc)
    sl__fmt(job->err, sizeof job->err, "cannot restore from checkpoint '%s': %s", chk,
            err[0] ? err : sl_strerror(rc));
  else
  {
    sl__job_log(job, SL_LOG_INFO, "restored checkpoint %lld from '%s' (parallelism %d -> %d)",
                (long long)m.id, chk, m.P, job->P);
    const char *base = strrchr(chk, '/');
    sl__ckstats_restored(job, m.id, chk, !strncmp(base ? base + 1 : chk, "savepoint", 9));
  }
  sl__ckpt_meta_free(&m);
  return rc;
}
