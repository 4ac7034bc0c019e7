#ifndef MEDIALIB_CFFMPEG_SHIM_H
#define MEDIALIB_CFFMPEG_SHIM_H

#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavutil/avutil.h>
#include <libavutil/error.h>
#include <libavutil/log.h>

// Macros Swift cannot import, as functions.
static inline int medialib_averror_eof(void) { return AVERROR_EOF; }
static inline int medialib_averror(int e) { return AVERROR(e); }
static inline int64_t medialib_av_nopts_value(void) { return AV_NOPTS_VALUE; }
static inline const char *medialib_av_err2str(int err, char *buf, size_t size) {
    return av_make_error_string(buf, size, err);
}
#endif
