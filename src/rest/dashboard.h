/*
 * dashboard.h -- the web dashboard's page (one HTML file, scripts and
 * styles inline), generated at build time by cmake/dashboard.cmake from
 * web/ (or a placeholder page when web/ was not bundled).
 */
#ifndef SL_REST_DASHBOARD_H
#define SL_REST_DASHBOARD_H

#include <stddef.h>

extern const unsigned char sl__dashboard_html[];
extern const size_t sl__dashboard_html_len;

#endif
