/*
 * rocksdb_backend.h -- the RocksDB keyed-state backend's entry point
 * (internal).  Only the backend factory (backend.c) and RocksDB's own
 * tests open it by name; everything else goes through backend.h's vtable,
 * native checkpoints included.  Compiled only with -DSLUICE_WITH_ROCKSDB=ON
 * (the default when pkg-config finds librocksdb).
 */
#ifndef SL_STATE_ROCKSDB_BACKEND_H
#define SL_STATE_ROCKSDB_BACKEND_H

#include "state/backend.h"

/* Its vtable (native checkpoint slots filled). */
extern const sl__backend_vt sl__rocksdb_vt;

/* A RocksDB backend for key groups [kg_lo, kg_hi], its files in
 * state.backend.rocksdb.dir/<instance> (see sl__backend_open). */
int sl__rocksdb_backend_open(const sl__conf *conf, const char *instance,
                             int kg_lo, int kg_hi, int max_parallelism,
                             sl__backend **out, char *err, size_t errcap);

#endif
