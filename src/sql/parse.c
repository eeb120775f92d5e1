/*
 * parse.c -- SQL text to a parse tree, and messages that point into the
 * text.
 *
 * libpg_query (PostgreSQL's own grammar) parses; its JSON output is read
 * with cJSON (already linked for the REST API): simpler to walk than the
 * protobuf form, and planning is not on any hot path.  Before parsing,
 * Flink's spelling of option keys as string literals -- WITH ('connector'
 * = 'kafka') and SET 'key' = 'value' -- is rewritten to PostgreSQL's
 * quoted identifiers ("connector" = 'kafka'), which have the same length,
 * so every location in the tree and every cursor position of a syntax
 * error still points at the user's own text.  Only a string literal that
 * directly follows '(' or ',' inside the parentheses right after WITH,
 * or directly follows SET, and is directly followed by '=', is rewritten;
 * a literal in a WHERE clause never is.
 */
#include <ctype.h>
#include <pg_query.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "sql/sql.h"

/* ---- arena ------------------------------------------------------------------ */

struct sql_block {
  struct sql_block *next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
};

void *sl__sql_alloc(sql_arena *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  struct sql_block *b = a->head;
  if (!b || b->used + n > b->cap) {
    size_t cap = n > 16384 ? n : 16384;
    b = sl__malloc(sizeof *b + cap);
    if (!b) return NULL;
    b->next = a->head, b->used = 0, b->cap = cap;
    a->head = b;
  }
  void *p = b->data + b->used;
  b->used += n;
  memset(p, 0, n);
  return p;
}

char *sl__sql_strndup(sql_arena *a, const char *s, size_t n) {
  char *d = sl__sql_alloc(a, n + 1);
  if (d) memcpy(d, s, n), d[n] = 0;
  return d;
}

void sl__sql_arena_free(sql_arena *a) {
  while (a->head) {
    struct sql_block *n = a->head->next;
    sl__free(a->head);
    a->head = n;
  }
}

void sl__sql_appendf(char **buf, size_t *len, size_t *cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (*len + (size_t)n + 1 > *cap) {
    size_t nc = (*cap ? *cap * 2 : 256);
    while (nc < *len + (size_t)n + 1) nc *= 2;
    char *b = sl__realloc(*buf, nc);
    if (!b) return;
    *buf = b, *cap = nc;
  }
  va_start(ap, fmt);
  vsnprintf(*buf + *len, *cap - *len, fmt, ap);
  va_end(ap);
  *len += (size_t)n;
}

/* ---- messages ------------------------------------------------------------------ */

int sl__sql_error(sql_ctx *c, int loc, const char *fmt, ...) {
  char m[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m, sizeof m, fmt, ap);
  va_end(ap);
  c->failed = 1;
  const char *t = c->text;
  if (loc < 0 || !t || (size_t)loc > strlen(t)) {
    snprintf(c->msg, sizeof c->msg, "%s", m);
    return -SL_EINVAL;
  }
  int line = 1;
  const char *ls = t;
  for (const char *p = t; p < t + loc; p++)
    if (*p == '\n') line++, ls = p + 1;
  const char *le = strchr(ls, '\n');
  if (!le) le = ls + strlen(ls);
  int col = 1; /* in characters: UTF-8 continuation bytes do not count */
  for (const char *p = ls; p < t + loc; p++)
    if (((unsigned char)*p & 0xC0) != 0x80) col++;
  /* the line, cut to 160 bytes around the caret */
  const char *from = ls;
  if (t + loc - from > 120) from = t + loc - 100;
  const char *to = le - from > 160 ? from + 160 : le;
  char caret[200];
  int cn = 0;
  for (const char *p = from; p < t + loc && cn < (int)sizeof caret - 2; p++)
    if (((unsigned char)*p & 0xC0) != 0x80) caret[cn++] = *p == '\t' ? '\t' : ' ';
  caret[cn++] = '^';
  caret[cn] = 0;
  snprintf(c->msg, sizeof c->msg, "line %d, column %d: %s\n  %.*s\n  %s", line, col, m,
           (int)(to - from), from, caret);
  return -SL_EINVAL;
}

int sl__sql_oom(sql_ctx *c) {
  c->failed = 1;
  snprintf(c->msg, sizeof c->msg, "out of memory");
  return -SL_ENOMEM;
}

/* ---- Flink's quoted option keys ------------------------------------------------ */

static const char *skip_ws(const char *p) {
  for (;;) {
    while (*p && isspace((unsigned char)*p)) p++;
    if (p[0] == '-' && p[1] == '-') {
      while (*p && *p != '\n') p++;
    } else if (p[0] == '/' && p[1] == '*') {
      const char *e = strstr(p + 2, "*/");
      p = e ? e + 2 : p + strlen(p);
    } else {
      return p;
    }
  }
}

/* End of the string literal starting at p (a quote); '' inside. */
static const char *lit_end(const char *p) {
  for (p++; *p; p++)
    if (*p == '\'') {
      if (p[1] == '\'') p++;
      else return p + 1;
    }
  return p;
}

static int kw(const char *p, const char *word) {
  size_t n = strlen(word);
  return !strncasecmp(p, word, n) && !isalnum((unsigned char)p[n]) && p[n] != '_';
}

static int has_doubled_quote(const char *p, const char *end) {
  for (; p + 1 < end; p++)
    if (p[0] == '\'' && p[1] == '\'') return 1;
  return 0;
}

static void rewrite_keys(char *s) {
  int depth = 0, with_depth = -1; /* paren depth of the WITH ( ... ) list */
  const char *prev = "";             /* the previous significant token's start */
  int prev_set = 0;                  /* ... was the keyword SET */
  char prev_c = 0;                   /* ... was this punctuation */
  for (char *p = s; *(p = (char *)skip_ws(p));) {
    if (*p == '\'' || ((*p == 'E' || *p == 'e') && p[1] == '\'')) {
      char *q = *p == '\'' ? p : p + 1;
      char *e = (char *)lit_end(q);
      int key_pos = (with_depth >= 0 && depth == with_depth && (prev_c == '(' || prev_c == ',')) ||
                    prev_set;
      if (q == p && key_pos && e[-1] == '\'' && *skip_ws(e) == '=' && skip_ws(e)[1] != '=' &&
          !memchr(q + 1, '"', (size_t)(e - q - 2)) && !has_doubled_quote(q + 1, e - 1)) {
        *q = '"';
        e[-1] = '"';
      }
      prev_set = 0, prev_c = 0;
      p = e;
      continue;
    }
    if (*p == '"') {
      char *e = strchr(p + 1, '"');
      p = e ? e + 1 : p + strlen(p);
      prev_set = 0, prev_c = 0;
      continue;
    }
    if (*p == '$') { /* dollar quoting: $tag$ ... $tag$ */
      char *t = p + 1;
      while (isalnum((unsigned char)*t) || *t == '_') t++;
      if (*t == '$') {
        size_t tl = (size_t)(t - p + 1);
        char tag[64];
        if (tl < sizeof tag) {
          memcpy(tag, p, tl), tag[tl] = 0;
          char *e = strstr(t + 1, tag);
          p = e ? e + tl : p + strlen(p);
          prev_set = 0, prev_c = 0;
          continue;
        }
      }
    }
    if (*p == '(' || *p == ')' || *p == ',' || *p == ';') {
      if (*p == '(') {
        if (!strncasecmp(prev, "with", 4) && kw(prev, "with") && with_depth < 0) with_depth = depth + 1;
        depth++;
      } else if (*p == ')') {
        if (depth == with_depth) with_depth = -1;
        depth--;
      } else if (*p == ';') {
        depth = 0, with_depth = -1;
      }
      prev_c = *p, prev_set = 0, prev = p;
      p++;
      continue;
    }
    /* Flink's PRIMARY KEY (...) NOT ENFORCED (sluice keeps no constraint
     * either): blanked, so PostgreSQL's grammar takes the key */
    if (kw(p, "not") && (prev_c == ')' || kw(prev, "key")) && kw(skip_ws(p + 3), "enforced")) {
      char *e = (char *)skip_ws(p + 3) + 8;
      memset(p, ' ', (size_t)(e - p));
      p = e;
      continue;
    }
    prev = p;
    prev_c = 0;
    prev_set = kw(p, "set");
    if (isalnum((unsigned char)*p) || *p == '_')
      while (isalnum((unsigned char)*p) || *p == '_' || (unsigned char)*p >= 0x80) p++;
    else
      p++;
  }
}

cJSON *sl__sql_parse(sql_ctx *c, const char *text) {
  char *t = sl__strdup(text);
  if (!t) return sl__sql_oom(c), NULL;
  rewrite_keys(t);
  PgQueryParseResult r = pg_query_parse(t);
  sl__free(t);
  cJSON *root = NULL;
  if (r.error) {
    /* cursorpos: 1-based, in characters */
    int loc = -1;
    if (r.error->cursorpos > 0) {
      int chars = 0;
      loc = 0;
      for (const char *p = text; *p; p++, loc++) {
        if (((unsigned char)*p & 0xC0) != 0x80 && ++chars == r.error->cursorpos) break;
      }
    }
    sl__sql_error(c, loc, "%s", r.error->message);
  } else {
    root = cJSON_Parse(r.parse_tree);
    if (!root) sl__sql_oom(c);
  }
  pg_query_free_parse_result(r);
  return root;
}

/* ---- the tree ------------------------------------------------------------------ */

cJSON *sl__sql_j(const cJSON *o, const char *key) {
  return o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

const char *sl__sql_js(const cJSON *o, const char *key) {
  cJSON *v = sl__sql_j(o, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *sl__sql_node_kind(const cJSON *node, cJSON **body) {
  cJSON *k = node ? node->child : NULL;
  if (body) *body = k;
  return k ? k->string : "";
}

int sl__sql_jloc(const cJSON *node) {
  cJSON *b;
  sl__sql_node_kind(node, &b);
  cJSON *l = sl__sql_j(b, "location");
  return cJSON_IsNumber(l) ? l->valueint : -1;
}

const char *sl__sql_last_name(const cJSON *names) {
  const cJSON *last = NULL, *it;
  cJSON_ArrayForEach(it, names) last = it;
  cJSON *b;
  if (!last || strcmp(sl__sql_node_kind(last, &b), "String")) return NULL;
  return sl__sql_js(b, "sval");
}

int sl__sql_type_of(sql_ctx *c, const cJSON *tn, sl__row_type *t) {
  const char *name = sl__sql_last_name(sl__sql_j(tn, "names"));
  int loc = cJSON_IsNumber(sl__sql_j(tn, "location")) ? sl__sql_j(tn, "location")->valueint : -1;
  cJSON *mods = sl__sql_j(tn, "typmods");
  int nmods = cJSON_GetArraySize(mods);
  *t = (sl__row_type){0};
  if (!name) return sl__sql_error(c, loc, "a type name was expected");
  if (cJSON_GetArraySize(sl__sql_j(tn, "arrayBounds")))
    return sl__sql_error(c, loc, "array types are not supported");
  static const struct {
    const char *n;
    int kind;
  } names[] = {{"bool", SL__T_BOOL},       {"boolean", SL__T_BOOL},     {"int4", SL__T_INT},
               {"int", SL__T_INT},         {"integer", SL__T_INT},      {"int2", SL__T_INT},
               {"smallint", SL__T_INT},    {"int8", SL__T_BIGINT},      {"bigint", SL__T_BIGINT},
               {"float8", SL__T_DOUBLE},   {"double", SL__T_DOUBLE},    {"float4", SL__T_DOUBLE},
               {"real", SL__T_DOUBLE},     {"float", SL__T_DOUBLE},     {"numeric", SL__T_DECIMAL},
               {"decimal", SL__T_DECIMAL}, {"varchar", SL__T_VARCHAR},  {"text", SL__T_VARCHAR},
               {"string", SL__T_VARCHAR},  {"bpchar", SL__T_VARCHAR},   {"timestamp", SL__T_TIMESTAMP},
               {"interval", SL__T_INTERVAL}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!strcasecmp(name, names[i].n)) t->kind = (uint8_t)names[i].kind;
  if (!t->kind)
    return sl__sql_error(c, loc,
                     "unknown type '%s' (types: BOOLEAN, INT, BIGINT, DOUBLE, DECIMAL(p, s), "
                     "VARCHAR, TEXT, TIMESTAMP)",
                     name);
  if (t->kind == SL__T_DECIMAL) {
    int v[2] = {18, 0};
    cJSON *m;
    int i = 0;
    cJSON_ArrayForEach(m, mods) {
      cJSON *b;
      sl__sql_node_kind(m, &b);
      cJSON *iv = sl__sql_j(sl__sql_j(b, "ival"), "ival");
      if (i < 2) v[i++] = cJSON_IsNumber(iv) ? iv->valueint : 0;
    }
    if (nmods > 2 || v[0] < 1 || v[0] > 18 || v[1] < 0 || v[1] > v[0])
      return sl__sql_error(c, loc, "DECIMAL(p, s) needs 1 <= p <= 18 and 0 <= s <= p (got p = %d, s = %d)",
                       v[0], v[1]);
    t->precision = (uint8_t)v[0], t->scale = (uint8_t)v[1];
  }
  return 0;
}
