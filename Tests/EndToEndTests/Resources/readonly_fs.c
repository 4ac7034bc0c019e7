// Test helper, compiled by the tests with the system cc and loaded with LD_PRELOAD: every
// path inside a folder named "rofs" behaves like a read-only file system (EROFS for anything that
// would create, write or remove), as a catalog on read-only media does even for root.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int in_rofs(const char *path) {
    if (!path) return 0;
    size_t n = strlen(path);
    return strstr(path, "/rofs/") != NULL || (n >= 5 && strcmp(path + n - 5, "/rofs") == 0);
}
static int writes(int flags) { return (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) != 0; }

#define FORWARD_OPEN(name)                                                          \
    int name(const char *path, int flags, ...) {                                    \
        static int (*real)(const char *, int, ...);                                 \
        if (!real) real = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, #name); \
        mode_t mode = 0;                                                            \
        if (flags & O_CREAT) { va_list ap; va_start(ap, flags); mode = va_arg(ap, int); va_end(ap); } \
        if (in_rofs(path) && writes(flags)) { errno = EROFS; return -1; }           \
        return real(path, flags, mode);                                             \
    }
FORWARD_OPEN(open)
FORWARD_OPEN(open64)

int access(const char *path, int mode) {
    static int (*real)(const char *, int);
    if (!real) real = (int (*)(const char *, int))dlsym(RTLD_NEXT, "access");
    if (in_rofs(path) && (mode & W_OK)) { errno = EROFS; return -1; }
    return real(path, mode);
}

int unlink(const char *path) {
    static int (*real)(const char *);
    if (!real) real = (int (*)(const char *))dlsym(RTLD_NEXT, "unlink");
    if (in_rofs(path)) { errno = EROFS; return -1; }
    return real(path);
}

int mkdir(const char *path, mode_t mode) {
    static int (*real)(const char *, mode_t);
    if (!real) real = (int (*)(const char *, mode_t))dlsym(RTLD_NEXT, "mkdir");
    if (in_rofs(path)) { errno = EROFS; return -1; }
    return real(path, mode);
}
