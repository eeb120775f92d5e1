# dashboard.cmake -- the web dashboard served at GET / (src/rest).
#
# Sets SLUICE_DASHBOARD_SRC: a generated C file defining
#   const unsigned char sl__dashboard_html[]; const size_t sl__dashboard_html_len;
# (src/rest/dashboard.h), and SLUICE_DASHBOARD_BUNDLED (ON or OFF).
#
# With web/'s npm packages installed (`npm ci --prefix web`: esbuild in
# web/node_modules) and node on the PATH, the page is bundled at build time
# (web/build.mjs: one HTML file, script and styles inline) into
# <build>/generated/dashboard.html and embedded by embed_dashboard.cmake;
# it is rebuilt when anything under web/src, web/build.mjs or
# web/package*.json changes.  Without them the library serves a page that
# says the dashboard was not built, and the build needs neither node nor npm.
# The choice is made when CMake configures: after `npm ci --prefix web`,
# configure again (`cmake -S . -B build`); -DSLUICE_NODE=OFF builds the
# placeholder whatever is installed.
set(SL_DASH_OUT ${PROJECT_BINARY_DIR}/generated/dashboard_page.c)
set(SL_WEB ${PROJECT_SOURCE_DIR}/web)
find_program(SLUICE_NODE node)
if(SLUICE_NODE AND EXISTS ${SL_WEB}/node_modules/.bin/esbuild)
  set(SLUICE_DASHBOARD_BUNDLED ON)
  set(SL_DASH_HTML ${PROJECT_BINARY_DIR}/generated/dashboard.html)
  file(GLOB_RECURSE SL_WEB_SOURCES CONFIGURE_DEPENDS ${SL_WEB}/src/*)
  add_custom_command(OUTPUT ${SL_DASH_OUT}
    COMMAND ${SLUICE_NODE} ${SL_WEB}/build.mjs ${SL_DASH_HTML}
    COMMAND ${CMAKE_COMMAND} -DIN=${SL_DASH_HTML} -DOUT=${SL_DASH_OUT}
            "-DWHAT=the web dashboard, bundled from web/" -P ${PROJECT_SOURCE_DIR}/cmake/embed_dashboard.cmake
    DEPENDS ${SL_WEB_SOURCES} ${SL_WEB}/build.mjs ${SL_WEB}/package.json ${SL_WEB}/package-lock.json
            ${PROJECT_SOURCE_DIR}/cmake/embed_dashboard.cmake
    WORKING_DIRECTORY ${SL_WEB}
    COMMENT "Bundling the web dashboard (web/) into the library"
    VERBATIM)
  message(STATUS "Web dashboard: bundled from web/ at build time (${SLUICE_NODE})")
else()
  set(SLUICE_DASHBOARD_BUNDLED OFF)
  set(SL_DASH_HTML ${PROJECT_BINARY_DIR}/generated/dashboard_placeholder.html)
  file(WRITE ${SL_DASH_HTML} "<!doctype html><html><head><meta charset=\"utf-8\"><title>sluice</title></head><body><h1>sluice</h1><p>The dashboard was not built (npm packages of web/ not installed: run <code>npm ci --prefix web</code> and configure and build again). The REST API answers at <a href=\"/jobs\">/jobs</a> and <a href=\"/metrics\">/metrics</a>.</p></body></html>")
  set(IN ${SL_DASH_HTML})
  set(OUT ${SL_DASH_OUT})
  set(WHAT "a placeholder: the dashboard was not built")
  include(${PROJECT_SOURCE_DIR}/cmake/embed_dashboard.cmake)
  unset(IN)
  unset(OUT)
  unset(WHAT)
  message(STATUS "Web dashboard: not built (no node, or web/node_modules missing: "
                 "npm ci --prefix web); a placeholder page is served")
endif()
set(SLUICE_DASHBOARD_SRC ${SL_DASH_OUT})
