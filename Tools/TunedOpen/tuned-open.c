/*
 * tuned-open: stock FFmpeg with the tuning a C developer who cares about start-up time would apply, as a contender
 * of `firstframe bench network` (issue 23, "tuned FFmpeg in C"). It opens URL, decodes until the first video frame
 * and prints one JSON line with the elapsed milliseconds on its own monotonic clock, counted from just before
 * avformat_open_input (process start, library load and exit are not in it):
 *
 *   {"outcome":"ok","first_picture_ms":301.2,"open_input_ms":180.4,"stream_info_ms":12.0,"packets":7}
 *   {"outcome":"failed","stage":"open_input","error":"Connection refused","elapsed_ms":61.0}
 *
 *   tuned-open [--timeout SECONDS] [--ca-file PEM] [--nobuffer] URL
 *
 * Exit status 0 when a picture was decoded, 1 when the open failed or timed out, 2 on bad usage.
 *
 * The tuning, all of it public options of FFmpeg 5.1 (no patches, no private API):
 * - format: probesize 32 (the minimum; the probe still reads what the format needs), analyzeduration 100 ms (0 would
 *   mean the default 5 s in 5.1), fpsprobesize 0 (no frame-rate probing), AVFMT_FLAG_GENPTS off;
 * - network: tcp_nodelay 1 (also passed down to RTMP's and HLS's nested connections), HTTP keep-alive between
 *   requests (multiple_requests 1, http_persistent 1), no parallel HLS segment fetch (http_multiple 0), live HLS
 *   from the newest segment (live_start_index -1), RTMP live (rtmp_live live, rtmp_buffer 100 ms), TLS verified
 *   against --ca-file when given (the presets verify too);
 * - decoder: one thread (frame threads add a frame of delay per thread), AV_CODEC_FLAG_LOW_DELAY (a frame leaves
 *   the decoder when it is decoded, not after B-frame reordering), AV_CODEC_FLAG2_FAST; audio is not decoded.
 * AVFMT_FLAG_NOBUFFER is off by default: in FFmpeg 5.1 it makes avformat_find_stream_info drop the packets it read
 * instead of returning them, and those include the first keyframe, so the first picture would wait for the next
 * GOP. --nobuffer turns it on, to show that.
 *
 * Build: `make tuned-open` (cc, pkg-config libavformat libavcodec libavutil).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double started_ms;
static double deadline_ms;

/* FFmpeg polls this before each blocking wait: a nonzero return ends the call with AVERROR_EXIT. */
static int interrupted(void *opaque) {
    (void)opaque;
    return now_ms() > deadline_ms;
}

/* One JSON line for a failure; error text is FFmpeg's, with characters JSON cannot carry raw replaced. */
static int fail(const char *stage, int code) {
    char text[AV_ERROR_MAX_STRING_SIZE] = "";
    if (code == AVERROR_EXIT && now_ms() > deadline_ms) {
        snprintf(text, sizeof text, "timed out");
    } else {
        av_strerror(code, text, sizeof text);
    }
    for (char *c = text; *c; c++) {
        if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20) *c = ' ';
    }
    printf("{\"outcome\":\"failed\",\"stage\":\"%s\",\"error\":\"%s\",\"elapsed_ms\":%.3f}\n", stage, text,
           now_ms() - started_ms);
    return 1;
}

/* The video decoder, tuned for the first picture: one thread, output as soon as decoded, fast flags. */
static int open_decoder(const AVCodecParameters *parameters, AVCodecContext **out) {
    const AVCodec *codec = avcodec_find_decoder(parameters->codec_id);
    if (codec == NULL) return AVERROR_DECODER_NOT_FOUND;
    AVCodecContext *decoder = avcodec_alloc_context3(codec);
    if (decoder == NULL) return AVERROR(ENOMEM);
    *out = decoder;
    int code = avcodec_parameters_to_context(decoder, parameters);
    if (code < 0) return code;
    decoder->thread_count = 1;
    decoder->flags |= AV_CODEC_FLAG_LOW_DELAY;
    decoder->flags2 |= AV_CODEC_FLAG2_FAST;
    return avcodec_open2(decoder, codec, NULL);
}

static void usage(void) {
    fprintf(stderr, "usage: tuned-open [--timeout SECONDS (0.1-600, default 15)] [--ca-file PEM] [--nobuffer] URL\n");
    exit(2);
}

int main(int argc, char **argv) {
    double timeout_s = 15;
    const char *ca_file = NULL, *url = NULL;
    int nobuffer = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            char *end = NULL;
            errno = 0;
            timeout_s = strtod(argv[++i], &end);
            if (errno != 0 || end == argv[i] || *end != '\0' || !isfinite(timeout_s) || timeout_s < 0.1 ||
                timeout_s > 600) {
                fprintf(stderr, "tuned-open: --timeout '%s': expected seconds, 0.1-600\n", argv[i]);
                usage();
            }
        } else if (strcmp(argv[i], "--ca-file") == 0 && i + 1 < argc) {
            ca_file = argv[++i];
        } else if (strcmp(argv[i], "--nobuffer") == 0) {
            nobuffer = 1;
        } else if (argv[i][0] == '-' || url != NULL) {
            usage();
        } else {
            url = argv[i];
        }
    }
    if (url == NULL) usage();
    av_log_set_level(AV_LOG_QUIET);
    avformat_network_init();

    AVDictionary *options = NULL;
    av_dict_set(&options, "probesize", "32", 0);
    av_dict_set(&options, "analyzeduration", "100000", 0);
    av_dict_set(&options, "fpsprobesize", "0", 0);
    av_dict_set(&options, "tcp_nodelay", "1", 0);
    av_dict_set(&options, "multiple_requests", "1", 0);
    av_dict_set(&options, "http_persistent", "1", 0);
    av_dict_set(&options, "http_multiple", "0", 0);
    av_dict_set(&options, "live_start_index", "-1", 0);
    av_dict_set(&options, "rtmp_live", "live", 0);
    av_dict_set(&options, "rtmp_buffer", "100", 0);
    if (ca_file != NULL) {
        av_dict_set(&options, "ca_file", ca_file, 0);
        av_dict_set(&options, "tls_verify", "1", 0);
    }

    AVFormatContext *format = avformat_alloc_context();
    if (format == NULL) return fail("alloc", AVERROR(ENOMEM));
    format->interrupt_callback.callback = interrupted;
    if (nobuffer) format->flags |= AVFMT_FLAG_NOBUFFER;

    started_ms = now_ms();
    deadline_ms = started_ms + timeout_s * 1e3;
    int code = avformat_open_input(&format, url, NULL, &options);
    av_dict_free(&options);
    if (code < 0) return fail("open_input", code);
    double open_input_ms = now_ms() - started_ms;

    code = avformat_find_stream_info(format, NULL);
    if (code < 0) return fail("stream_info", code);
    double stream_info_ms = now_ms() - started_ms;

    /* Over RTMP (and FLV without metadata) the demuxer makes a stream when its first packet comes: with a short
     * analysis the video stream may not exist yet, so a stream that appears later is taken as it comes. */
    int video = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    AVCodecContext *decoder = NULL;
    AVPacket *packet = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    if (packet == NULL || frame == NULL) return fail("alloc", AVERROR(ENOMEM));
    int packets = 0;
    for (;;) {
        if (video >= 0 && decoder == NULL) {
            code = open_decoder(format->streams[video]->codecpar, &decoder);
            if (code < 0) return fail("decoder", code);
            for (int i = 0; i < (int)format->nb_streams; i++) {
                if (i != video) format->streams[i]->discard = AVDISCARD_ALL;
            }
        }
        code = av_read_frame(format, packet);
        if (code < 0) return fail("read", code);
        if (video < 0 && format->streams[packet->stream_index]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
            video = packet->stream_index;
            code = open_decoder(format->streams[video]->codecpar, &decoder);
            if (code < 0) return fail("decoder", code);
        }
        if (packet->stream_index != video) {
            av_packet_unref(packet);
            continue;
        }
        packets++;
        code = avcodec_send_packet(decoder, packet);
        av_packet_unref(packet);
        if (code < 0 && code != AVERROR(EAGAIN)) return fail("decode", code);
        code = avcodec_receive_frame(decoder, frame);
        if (code == 0) break;
        if (code != AVERROR(EAGAIN)) return fail("decode", code);
    }
    double first_picture_ms = now_ms() - started_ms;
    printf("{\"outcome\":\"ok\",\"first_picture_ms\":%.3f,\"open_input_ms\":%.3f,\"stream_info_ms\":%.3f,"
           "\"packets\":%d,\"width\":%d,\"height\":%d}\n",
           first_picture_ms, open_input_ms, stream_info_ms, packets, frame->width, frame->height);
    av_frame_free(&frame);
    av_packet_free(&packet);
    avcodec_free_context(&decoder);
    avformat_close_input(&format);
    avformat_network_deinit();
    return 0;
}
