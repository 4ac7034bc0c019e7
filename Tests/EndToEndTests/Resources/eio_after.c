// Test helper, compiled by the tests with the system cc and loaded with LD_PRELOAD:
// read(2) on a file whose name contains "flaky" fails with EIO past byte 3000, like a
// dying disk or a dropped network mount.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

ssize_t read(int fd, void *buf, size_t count) {
    static ssize_t (*real_read)(int, void *, size_t);
    if (!real_read) real_read = (ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n > 0) {
        path[n] = 0;
        off_t at = lseek(fd, 0, SEEK_CUR);
        if (strstr(path, "flaky") && at >= 0) {
            if (at >= 3000) {
                errno = EIO;
                return -1;
            }
            if (at + (off_t)count > 3000) count = (size_t)(3000 - at);
        }
    }
    return real_read(fd, buf, count);
}
