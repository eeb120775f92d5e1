/*
 * scratch.c -- memory a callback borrows from its operator instance:
 * sl_ctx_scratch's bump arena (every call its own piece, all freed when
 * the next callback on the instance begins: sl__user_call in runtime.h)
 * and sl__ctx_buf, the runtime's and operators' own growable buffer.
 */
#include "runtime/runtime.h"

void *sl__ctx_buf(sl_ctx *ctx, size_t size) {
  if (size > ctx->scratch_cap) {
    size_t cap = SL__MAX(size, 2 * ctx->scratch_cap);
    void *p = sl__realloc(ctx->scratch, cap);
    if (!p) return NULL;
    ctx->scratch = p;
    ctx->scratch_cap = cap;
  }
  return ctx->scratch;
}

/* sl_ctx_scratch's arena: each call bumps a 16-byte aligned piece off the
 * current block; a block too small for the request is kept (its pieces
 * stay valid) on arena_old, chained through its first word, and a bigger
 * one takes its place.  sl__user_call frees the old ones and starts over. */
/* The slow path: a new block (the full one kept until the call ends). */
static __attribute__((noinline)) void *scratch_grow(sl_ctx *ctx, size_t size) {
  size_t need = (size + 15) & ~(size_t)15;
  if (need < size) return NULL; /* overflow */
  if (!need) need = 16; /* size 0: still a piece of its own */
  if (need <= ctx->arena_cap - ctx->arena_used) {
    void *p = ctx->arena + ctx->arena_used;
    ctx->arena_used += need;
    return p;
  }
  size_t cap = SL__MAX(SL__MAX(need, 2 * ctx->arena_cap), (size_t)256);
  uint8_t *b = sl__malloc(cap + 16);
  if (!b) return NULL;
  if (ctx->arena) { /* keep the full block until the call ends */
    memcpy(ctx->arena - 16, &ctx->arena_old, sizeof ctx->arena_old);
    ctx->arena_old = ctx->arena - 16;
  }
  ctx->arena = b + 16;
  ctx->arena_cap = cap;
  ctx->arena_used = need;
  return ctx->arena;
}

void *sl_ctx_scratch(sl_ctx *ctx, size_t size) {
  if (!ctx) return NULL;
  size_t used = ctx->arena_used, need = (size + 15) & ~(size_t)15;
  if (SL__LIKELY(need - 1 < ctx->arena_cap - used)) { /* 0 < need <= room: a bump */
    ctx->arena_used = used + need;
    return ctx->arena + used;
  }
  return scratch_grow(ctx, size);
}

void sl__arena_trim(sl_ctx *ctx) {
  while (ctx->arena_old) {
    void *next;
    memcpy(&next, ctx->arena_old, sizeof next);
    sl__free(ctx->arena_old);
    ctx->arena_old = next;
  }
}
