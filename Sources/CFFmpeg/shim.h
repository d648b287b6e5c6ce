// Re-exports what Swift cannot import from FFmpeg's headers: function-like macros
// (AVERROR, MKTAG-based error codes) and constants whose expansion Swift rejects.
// Everything here is a prefixed static inline function or constant; no logic.
#ifndef CFFMPEG_SHIM_H
#define CFFMPEG_SHIM_H

#include <libavformat/avformat.h>
#include <libavformat/avio.h>
#include <libavcodec/avcodec.h>
#include <libavutil/avutil.h>
#include <libavutil/channel_layout.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libavutil/mathematics.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libavutil/samplefmt.h>
#include <errno.h>

/// AVERROR(e): FFmpeg's negative errno convention.
static inline int cffmpeg_averror(int posix_errno) { return AVERROR(posix_errno); }

static const int CFFMPEG_AVERROR_EOF = AVERROR_EOF;
static const int CFFMPEG_AVERROR_EXIT = AVERROR_EXIT;
static const int CFFMPEG_AVERROR_INVALIDDATA = AVERROR_INVALIDDATA;
static const int CFFMPEG_AVERROR_DECODER_NOT_FOUND = AVERROR_DECODER_NOT_FOUND;
static const int CFFMPEG_AVERROR_ENCODER_NOT_FOUND = AVERROR_ENCODER_NOT_FOUND;
static const int CFFMPEG_AVERROR_DEMUXER_NOT_FOUND = AVERROR_DEMUXER_NOT_FOUND;
static const int CFFMPEG_AVERROR_MUXER_NOT_FOUND = AVERROR_MUXER_NOT_FOUND;
static const int CFFMPEG_AVERROR_PROTOCOL_NOT_FOUND = AVERROR_PROTOCOL_NOT_FOUND;
static const int CFFMPEG_AVERROR_STREAM_NOT_FOUND = AVERROR_STREAM_NOT_FOUND;
static const int CFFMPEG_AVERROR_HTTP_BAD_REQUEST = AVERROR_HTTP_BAD_REQUEST;
static const int CFFMPEG_AVERROR_HTTP_UNAUTHORIZED = AVERROR_HTTP_UNAUTHORIZED;
static const int CFFMPEG_AVERROR_HTTP_FORBIDDEN = AVERROR_HTTP_FORBIDDEN;
static const int CFFMPEG_AVERROR_HTTP_NOT_FOUND = AVERROR_HTTP_NOT_FOUND;
static const int CFFMPEG_AVERROR_HTTP_OTHER_4XX = AVERROR_HTTP_OTHER_4XX;
static const int CFFMPEG_AVERROR_HTTP_SERVER_ERROR = AVERROR_HTTP_SERVER_ERROR;

static const int64_t CFFMPEG_AV_NOPTS_VALUE = AV_NOPTS_VALUE;
static const int CFFMPEG_AV_TIME_BASE = AV_TIME_BASE;
static const int CFFMPEG_AV_ERROR_MAX_STRING_SIZE = AV_ERROR_MAX_STRING_SIZE;

/// AV_TIME_BASE_Q is a compound literal, which Swift cannot import.
static inline AVRational cffmpeg_time_base_q(void) { return (AVRational){1, AV_TIME_BASE}; }

/// The AVERROR_* tags are negative FourCCs; AVERROR(EAGAIN) is the one every
/// send/receive loop needs.
static inline int cffmpeg_averror_eagain(void) { return AVERROR(EAGAIN); }

#endif
