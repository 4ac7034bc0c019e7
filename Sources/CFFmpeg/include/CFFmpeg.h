#ifndef MEDIALIB_CFFMPEG_H
#define MEDIALIB_CFFMPEG_H

// libavformat, libavcodec and libavutil, loaded with dlopen the first time a command probes
// (see loader.c): `serve` and the commands that never open a video map none of libav's
// dependency tree, about 20 MB of resident pages.

#include <stddef.h>
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavutil/avutil.h>
#include <libavutil/error.h>
#include <libavutil/log.h>

// Loads the libraries (once, thread-safe). 0 on success; else -1 with the reason in `error`.
int medialib_av_load(char *error, size_t size);

// libav's log level, applied now if loaded, else as soon as it loads.
void medialib_av_set_log_level(int level);

// The versions medialib was built against: a cache key that needs no library loaded.
// The loader refuses a library whose major version differs.
static inline unsigned medialib_avformat_build_version(void) { return LIBAVFORMAT_VERSION_INT; }
static inline unsigned medialib_avcodec_build_version(void) { return LIBAVCODEC_VERSION_INT; }

// Macros Swift cannot import, as functions.
static inline int medialib_averror_eof(void) { return AVERROR_EOF; }
static inline int medialib_averror(int e) { return AVERROR(e); }
static inline int64_t medialib_av_nopts_value(void) { return AV_NOPTS_VALUE; }
static inline const char *medialib_av_err2str(int err, char *buf, size_t size) {
    return av_make_error_string(buf, size, err);
}
#endif
