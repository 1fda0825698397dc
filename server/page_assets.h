/* page_assets.h - the web page's files, compiled into the binary.
 *
 * server/CMakeLists.txt turns every file of server/page/ into page_assets.c in the build
 * tree, so `qrank serve` needs no files beside it and loads nothing from the
 * internet. */
#ifndef QRANK_PAGE_ASSETS_H
#define QRANK_PAGE_ASSETS_H

#include <stddef.h>

typedef struct page_asset {
    const char *path;         /* URL path: "/" for index.html, "/app.js", ... */
    const char *content_type;
    const unsigned char *data;
    size_t len;
} page_asset;

extern const page_asset PAGE_ASSETS[];
extern const size_t PAGE_ASSETS_COUNT;

#endif
