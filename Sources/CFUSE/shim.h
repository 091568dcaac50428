#ifndef EDFS_CFUSE_SHIM_H
#define EDFS_CFUSE_SHIM_H
// libfuse3's high-level API as Swift sees it (apt: libfuse3-dev). FUSE_USE_VERSION selects the 3.1 API before the
// header is read. fuse_new and fuse_loop_mt are function-like macros in some builds of the header, which do not
// import into Swift, so they are wrapped here as static inline functions.
#define FUSE_USE_VERSION 31
#include <fuse.h>
#include <sys/statvfs.h>
#include <sys/mount.h>
#include <fcntl.h>

static inline struct fuse *edfs_fuse_new(struct fuse_args *args, const struct fuse_operations *op, void *private_data) {
    return fuse_new(args, op, sizeof(struct fuse_operations), private_data);
}

/// The multi-threaded loop with at most `max_threads` workers (libfuse ≥ 3.12's loop config).
static inline int edfs_fuse_loop_mt(struct fuse *f, unsigned int max_threads, unsigned int max_idle) {
    struct fuse_loop_config *config = fuse_loop_cfg_create();
    if (config == NULL) return -1;
    fuse_loop_cfg_set_clone_fd(config, 0);
    fuse_loop_cfg_set_max_threads(config, max_threads);
    fuse_loop_cfg_set_idle_threads(config, max_idle);
    int result = fuse_loop_mt(f, config);
    fuse_loop_cfg_destroy(config);
    return result;
}

/// O_TMPFILE (a glibc macro only under _GNU_SOURCE): __O_TMPFILE | O_DIRECTORY, as the kernel's uapi defines it.
static inline int edfs_o_tmpfile(void) {
#ifdef O_TMPFILE
    return O_TMPFILE;
#else
    return 020000000 | O_DIRECTORY;
#endif
}

/// The private data given to fuse_new, from inside a callback.
static inline void *edfs_fuse_private_data(void) {
    struct fuse_context *context = fuse_get_context();
    return context == NULL ? NULL : context->private_data;
}
#endif
