/* placeholder.c -- (temporary) keeps src/rest non-empty until rest.c lands. */
#include "rest/dashboard.h"
const unsigned char *sl__dashboard_page(size_t *len) {
  *len = sl__dashboard_html_len;
  return sl__dashboard_html;
}
