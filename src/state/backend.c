/*
 * backend.c -- what every backend shares: choosing one by configuration
 * (the only place above the backends that names them; RocksDB is there
 * when the build has it, -DSLUICE_WITH_ROCKSDB), and the registry of state
 * names and kinds (a descriptor reused under the same name with another
 * kind is an error, never a silent reinterpretation).
 */
#include <stdio.h>

#include "state/backend.h"
#ifdef SLUICE_WITH_ROCKSDB
#include "state/rocksdb_backend.h"
#endif

int sl__backend_open(const sl__conf *conf, const char *instance, int kg_lo,
                     int kg_hi, int max_parallelism, sl__backend **out,
                     char *err, size_t errcap) {
  *out = NULL;
  const char *type = SL__CONF_S(conf, STATE_BACKEND);
  if (!strcmp(type, "rocksdb")) {
#ifdef SLUICE_WITH_ROCKSDB
    return sl__rocksdb_backend_open(conf, instance, kg_lo, kg_hi,
                                    max_parallelism, out, err, errcap);
#else
    sl__fmt(err, errcap, "state.backend.type 'rocksdb': %s", SL__NO_ROCKSDB);
    return -SL_ECONFIG;
#endif
  }
  return sl__heap_backend_open(conf, kg_lo, kg_hi, max_parallelism, out, err,
                               errcap);
}

const sl__backend_vt *sl__backend_native(char *err, size_t errcap) {
#ifdef SLUICE_WITH_ROCKSDB
  (void)err, (void)errcap;
  return &sl__rocksdb_vt;
#else
  if (err)
    sl__fmt(err, errcap,
            "its keyed state is a native RocksDB checkpoint (incremental), and %s; "
            "restore it with a build that has RocksDB (run there with "
            "execution.checkpointing.incremental=false, later checkpoints are images "
            "that any build reads)",
            SL__NO_ROCKSDB);
  return NULL;
#endif
}

static const char *kind_name(sl__state_kind k) {
  switch (k) {
    case SL__STATE_VALUE: return "value";
    case SL__STATE_LIST: return "list";
    case SL__STATE_MAP: return "map";
    case SL__STATE_REDUCING: return "reducing";
    case SL__STATE_AGGREGATING: return "aggregating";
    case SL__STATE_UNION_LIST: return "union list";
  }
  return "unknown";
}

int sl__backend_register(sl__backend *be, const char *name,
                         sl__state_kind kind, uint32_t *sid, int *is_new) {
  *is_new = 0;
  if (kind < SL__STATE_VALUE || kind > SL__STATE_UNION_LIST) { /* read from a damaged file */
    sl__fmt(be->err, sizeof be->err, "state '%s' has unknown kind %d", name, (int)kind);
    return -SL_ESTATE;
  }
  for (uint32_t i = 0; i < be->n_states; i++) {
    if (strcmp(be->states[i].name, name)) continue;
    if (be->states[i].kind != kind) {
      sl__fmt(be->err, sizeof be->err,
              "state '%s' is declared as %s state but was registered as %s "
              "state (use another name)",
              name, kind_name(kind), kind_name(be->states[i].kind));
      return -SL_ESTATE;
    }
    *sid = i;
    return 0;
  }
  if (be->n_states >= 65535) {
    sl__fmt(be->err, sizeof be->err, "too many states (65535)");
    return -SL_ESTATE;
  }
  sl__state_meta *m = sl__realloc(be->states, (be->n_states + 1) * sizeof *m);
  char *copy = sl__strdup(name);
  if (!m || !copy) {
    if (m) be->states = m;
    sl__free(copy);
    sl__fmt(be->err, sizeof be->err, "out of memory registering state '%s'", name);
    return -SL_ENOMEM;
  }
  be->states = m;
  m[be->n_states] = (sl__state_meta){copy, kind};
  *sid = be->n_states++;
  *is_new = 1;
  return 0;
}

int sl__backend_snap_meta(sl__backend *be) {
  sl__free(be->snap_states);
  be->snap_states = be->n_states ? sl__memdup(be->states, be->n_states * sizeof *be->states) : NULL;
  be->snap_n_states = be->snap_states ? be->n_states : 0;
  return be->n_states && !be->snap_states ? -SL_ENOMEM : 0;
}

void sl__backend_snap_meta_free(sl__backend *be) {
  sl__free(be->snap_states);
  be->snap_states = NULL;
  be->snap_n_states = 0;
}

void sl__backend_meta_free(sl__backend *be) {
  sl__backend_snap_meta_free(be);
  for (uint32_t i = 0; i < be->n_states; i++) sl__free(be->states[i].name);
  sl__free(be->states);
  be->states = NULL;
  be->n_states = 0;
}
