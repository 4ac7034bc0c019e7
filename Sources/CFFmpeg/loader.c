// libav through dlopen. Every libav function medialib calls is defined here under its own
// name and forwards to the symbol found in the loaded library, so the Swift code calls libav
// as if it were linked. Nothing here runs until a command probes a file.

#include "CFFmpeg.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define MEDIALIB_STR2(x) #x
#define MEDIALIB_STR(x) MEDIALIB_STR2(x)

// One pointer per function, typed from libav's own declaration.
#define MEDIALIB_AV_FUNCTIONS(X) \
    X(avformat_version) X(avformat_open_input) X(avformat_find_stream_info) X(avformat_close_input) \
    X(avformat_index_get_entries_count) X(avformat_index_get_entry) X(av_read_frame) \
    X(avcodec_version) X(avcodec_find_decoder) X(avcodec_alloc_context3) X(avcodec_free_context) \
    X(avcodec_parameters_to_context) X(avcodec_open2) X(avcodec_send_packet) X(avcodec_receive_frame) \
    X(avcodec_get_name) X(av_packet_alloc) X(av_packet_free) X(av_packet_unref) \
    X(av_frame_alloc) X(av_frame_free) X(av_frame_unref) X(av_log_set_level) X(av_strerror)

static struct {
#define MEDIALIB_FIELD(name) __typeof__(&name) name;
    MEDIALIB_AV_FUNCTIONS(MEDIALIB_FIELD)
#undef MEDIALIB_FIELD
} av;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded = 0;
static char failure[512];
static int log_level = AV_LOG_QUIET;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void *open_library(const char *name) {
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!h && !failure[0]) snprintf(failure, sizeof failure, "cannot load %s: %s", name, dlerror());
    return h;
}

static void load(void) {
    // Sonames of the major versions medialib was compiled against: their ABI is the headers'.
    void *util = open_library("libavutil.so." MEDIALIB_STR(LIBAVUTIL_VERSION_MAJOR));
    void *codec = open_library("libavcodec.so." MEDIALIB_STR(LIBAVCODEC_VERSION_MAJOR));
    void *format = open_library("libavformat.so." MEDIALIB_STR(LIBAVFORMAT_VERSION_MAJOR));
    if (!util || !codec || !format) return;
    void *libraries[] = { format, codec, util };
#define MEDIALIB_RESOLVE(name) \
    for (int i = 0; i < 3 && !av.name; i++) av.name = (__typeof__(av.name))dlsym(libraries[i], #name); \
    if (!av.name) { snprintf(failure, sizeof failure, "libav has no symbol %s", #name); return; }
    MEDIALIB_AV_FUNCTIONS(MEDIALIB_RESOLVE)
#undef MEDIALIB_RESOLVE
    if (AV_VERSION_MAJOR(av.avformat_version()) != LIBAVFORMAT_VERSION_MAJOR ||
        AV_VERSION_MAJOR(av.avcodec_version()) != LIBAVCODEC_VERSION_MAJOR) {
        snprintf(failure, sizeof failure, "the libav found is not the version medialib was built against");
        return;
    }
    pthread_mutex_lock(&log_lock);
    av.av_log_set_level(log_level);
    loaded = 1;
    pthread_mutex_unlock(&log_lock);
}

int medialib_av_load(char *error, size_t size) {
    pthread_once(&once, load);
    if (loaded) return 0;
    if (error && size) snprintf(error, size, "%s", failure[0] ? failure : "libav could not be loaded");
    return -1;
}

void medialib_av_set_log_level(int level) {
    pthread_mutex_lock(&log_lock);
    log_level = level;
    if (loaded) av.av_log_set_level(level);
    pthread_mutex_unlock(&log_lock);
}

// The forwarding definitions. Callers load first (Prober does); these never run before.
unsigned avformat_version(void) { return av.avformat_version(); }
unsigned avcodec_version(void) { return av.avcodec_version(); }
int avformat_open_input(AVFormatContext **ps, const char *url, const AVInputFormat *fmt, AVDictionary **options) {
    return av.avformat_open_input(ps, url, fmt, options);
}
int avformat_find_stream_info(AVFormatContext *ic, AVDictionary **options) { return av.avformat_find_stream_info(ic, options); }
void avformat_close_input(AVFormatContext **s) { av.avformat_close_input(s); }
int avformat_index_get_entries_count(const AVStream *st) { return av.avformat_index_get_entries_count(st); }
const AVIndexEntry *avformat_index_get_entry(AVStream *st, int idx) { return av.avformat_index_get_entry(st, idx); }
int av_read_frame(AVFormatContext *s, AVPacket *pkt) { return av.av_read_frame(s, pkt); }
const AVCodec *avcodec_find_decoder(enum AVCodecID id) { return av.avcodec_find_decoder(id); }
AVCodecContext *avcodec_alloc_context3(const AVCodec *codec) { return av.avcodec_alloc_context3(codec); }
void avcodec_free_context(AVCodecContext **avctx) { av.avcodec_free_context(avctx); }
int avcodec_parameters_to_context(AVCodecContext *codec, const AVCodecParameters *par) { return av.avcodec_parameters_to_context(codec, par); }
int avcodec_open2(AVCodecContext *avctx, const AVCodec *codec, AVDictionary **options) { return av.avcodec_open2(avctx, codec, options); }
int avcodec_send_packet(AVCodecContext *avctx, const AVPacket *avpkt) { return av.avcodec_send_packet(avctx, avpkt); }
int avcodec_receive_frame(AVCodecContext *avctx, AVFrame *frame) { return av.avcodec_receive_frame(avctx, frame); }
const char *avcodec_get_name(enum AVCodecID id) { return av.avcodec_get_name(id); }
AVPacket *av_packet_alloc(void) { return av.av_packet_alloc(); }
void av_packet_free(AVPacket **pkt) { av.av_packet_free(pkt); }
void av_packet_unref(AVPacket *pkt) { av.av_packet_unref(pkt); }
AVFrame *av_frame_alloc(void) { return av.av_frame_alloc(); }
void av_frame_free(AVFrame **frame) { av.av_frame_free(frame); }
void av_frame_unref(AVFrame *frame) { av.av_frame_unref(frame); }
void av_log_set_level(int level) { medialib_av_set_log_level(level); }
int av_strerror(int errnum, char *errbuf, size_t errbuf_size) {
    if (!loaded) return snprintf(errbuf, errbuf_size, "error %d", errnum) < 0 ? -1 : 0;
    return av.av_strerror(errnum, errbuf, errbuf_size);
}
