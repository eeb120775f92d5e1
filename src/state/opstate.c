/*
 * opstate.c -- restoring operator state (per-subtask lists) at any
 * parallelism, Flink's redistribution:
 *   list state        the elements of all old subtasks, in subtask order, are
 *                     cut into P contiguous, even chunks; subtask i takes
 *                     chunk i (every element lands exactly once);
 *   union list state  every subtask gets all elements.
 * Operator state lives in a one-key-group heap store (key group 0, empty key
 * and namespace), so each old subtask's image holds one list value per state.
 */
#include <stdio.h>

#include "state/state.h"

/* The elements of one state: views into copies of the list values (one
 * copy per value read, so a list of many tiny elements costs 12 bytes per
 * element, not an allocation each). */
typedef struct elems {
  const uint8_t **p;
  uint32_t *len;
  size_t n, cap;
  uint8_t **chunks;
  size_t n_chunks;
} elems;

static int elems_add(elems *e, const uint8_t *data, uint32_t len) {
  if (e->n == e->cap) {
    size_t ncap = e->cap ? 2 * e->cap : 64;
    const uint8_t **p = sl__realloc(e->p, ncap * sizeof *p);
    if (!p) return -SL_ENOMEM;
    e->p = p;
    uint32_t *l = sl__realloc(e->len, ncap * sizeof *l);
    if (!l) return -SL_ENOMEM;
    e->len = l;
    e->cap = ncap;
  }
  e->p[e->n] = data;
  e->len[e->n++] = len;
  return 0;
}

/* A copy of a list value that the elements added next point into. */
static const uint8_t *elems_chunk(elems *e, const void *value, uint32_t len) {
  uint8_t **c = sl__realloc(e->chunks, (e->n_chunks + 1) * sizeof *c);
  if (!c) return NULL;
  e->chunks = c;
  uint8_t *copy = sl__malloc(len ? len : 1);
  if (!copy) return NULL;
  if (len) memcpy(copy, value, len);
  return e->chunks[e->n_chunks++] = copy;
}

static void elems_free(elems *e) {
  for (size_t i = 0; i < e->n_chunks; i++) sl__free(e->chunks[i]);
  sl__free(e->chunks);
  sl__free(e->p);
  sl__free(e->len);
}

/* The states found in the images, with all their elements in order. */
typedef struct found {
  char *name;
  sl__state_kind kind;
  elems el;
} found;

static const uint8_t EMPTY_CK[2] = {0, 0}; /* varint(0) key, varint(0) namespace */

int sl__opstate_restore(sl__backend *be, const char *const *paths, int n, int P,
                        int subtask, char *err, size_t errcap) {
  found *fs = NULL;
  size_t nf = 0;
  int rc = 0;
  for (int i = 0; i < n && !rc; i++) {
    sl__backend *tmp;
    rc = sl__heap_backend_open(NULL, 0, 0, be->max_parallelism, &tmp, err, errcap);
    if (rc) break;
    rc = sl__image_read_file(tmp, paths[i]);
    if (rc) sl__fmt(err, errcap, "%s", tmp->err);
    for (uint32_t sid = 0; !rc && sid < tmp->n_states; sid++) {
      size_t f;
      for (f = 0; f < nf && strcmp(fs[f].name, tmp->states[sid].name); f++) {
      }
      if (f == nf) {
        found *nfs = sl__realloc(fs, (nf + 1) * sizeof *fs);
        if (!nfs) {
          rc = -SL_ENOMEM;
          break;
        }
        fs = nfs;
        fs[nf] = (found){sl__strdup(tmp->states[sid].name), tmp->states[sid].kind, {0}};
        nf++;
      }
      const void *v;
      uint32_t vlen;
      if (tmp->vt->get(tmp, 0, sid, EMPTY_CK, 2, sl__ck_hash(EMPTY_CK, 2), &v, &vlen)) continue;
      if (!(v = elems_chunk(&fs[f].el, v, vlen))) {
        rc = -SL_ENOMEM;
        break;
      }
      for (const uint8_t *p = v, *end = p + vlen; !rc && end - p >= 4;) {
        uint32_t len;
        memcpy(&len, p, 4);
        if (len > (size_t)(end - p) - 4) {
          sl__fmt(err, errcap, "operator state image '%s': malformed list", paths[i]);
          rc = -SL_EIO;
          break;
        }
        rc = elems_add(&fs[f].el, p + 4, len);
        p += 4 + len;
      }
    }
    sl__backend_free(tmp);
  }
  for (size_t f = 0; f < nf && !rc; f++) {
    uint32_t sid;
    rc = be->vt->add_state(be, fs[f].name, fs[f].kind, &sid);
    if (rc) {
      sl__fmt(err, errcap, "%s", be->err);
      break;
    }
    size_t total = fs[f].el.n, from = 0, to = total;
    if (fs[f].kind != SL__STATE_UNION_LIST) {
      from = total * (size_t)subtask / (size_t)P;
      to = total * (size_t)(subtask + 1) / (size_t)P;
    }
    for (size_t k = from; k < to && !rc; k++) {
      uint32_t len = fs[f].el.len[k];
      uint8_t *buf = sl__malloc((size_t)len + 4);
      if (!buf) {
        rc = -SL_ENOMEM;
        break;
      }
      memcpy(buf, &len, 4);
      memcpy(buf + 4, fs[f].el.p[k], len);
      rc = be->vt->append(be, 0, sid, EMPTY_CK, 2, sl__ck_hash(EMPTY_CK, 2), buf, len + 4);
      sl__free(buf);
    }
  }
  for (size_t f = 0; f < nf; f++) {
    sl__free(fs[f].name);
    elems_free(&fs[f].el);
  }
  sl__free(fs);
  return rc;
}
