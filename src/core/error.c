/*
 * error.c -- error codes to names and messages, from the one SL_ERRNO_MAP
 * list in sluice.h, and the library version.
 */
#include "core/core.h"

const char *sl_strerror(int rc) {
  if (rc < 0) rc = -rc;
  switch (rc) {
    case 0: return "success";
#define XX(name, code, msg) case code: return msg;
    SL_ERRNO_MAP(XX)
#undef XX
    default: return "unknown error";
  }
}

const char *sl_err_name(int rc) {
  if (rc < 0) rc = -rc;
  switch (rc) {
    case 0: return "SL_OK";
#define XX(name, code, msg) case code: return "SL_" #name;
    SL_ERRNO_MAP(XX)
#undef XX
    default: return "SL_EUNKNOWN";
  }
}

const char *sl_version(void) { return SL_VERSION_STRING; }
