#ifndef NEOSC_CMONGOC_SHIM_H
#define NEOSC_CMONGOC_SHIM_H
// The MongoDB C driver (Debian: libmongoc-dev), located through pkg-config `libmongoc-1.0`.
#include <mongoc/mongoc.h>

// bson_iter_t is 128-byte aligned, so Swift sees it as opaque and cannot allocate one itself.
static inline bson_iter_t *neosc_bson_iter_new(void) {
    return (bson_iter_t *) bson_aligned_alloc(BSON_ALIGNOF(bson_iter_t), sizeof(bson_iter_t));
}

static inline void neosc_bson_iter_free(bson_iter_t *iter) {
    bson_free(iter);
}

// Storage for a reply the driver initialises itself ("overwritable storage"); free with
// neosc_bson_reply_free, which destroys the document and then releases the storage.
static inline bson_t *neosc_bson_reply_new(void) {
    return (bson_t *) bson_aligned_alloc0(BSON_ALIGNOF(bson_t), sizeof(bson_t));
}

static inline void neosc_bson_reply_free(bson_t *reply) {
    bson_destroy(reply);
    bson_free(reply);
}
#endif
