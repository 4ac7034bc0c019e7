#!/bin/sh
# Regenerates the committed fixtures with the ffmpeg CLI. Tests never run this;
# they use the committed outputs. Each file is a few kilobytes.
set -eu
cd "$(dirname "$0")"
FF="ffmpeg -hide_banner -loglevel error -y"
SRC="-f lavfi -i testsrc=size=64x48:rate=30"
X264="-c:v libx264 -preset veryfast -pix_fmt yuv420p -g 30 -bf 0"

# 60 H.264 frames, moov index before the media data (browser-friendly).
$FF $SRC -frames:v 60 $X264 -movflags +faststart ok-faststart.mp4
# The same 60 frames with the index at the end (ffmpeg's default).
$FF $SRC -frames:v 60 $X264 ok-moov-end.mp4
# Only 3 frames: below the default minimum of 10.
$FF $SRC -frames:v 3 $X264 -movflags +faststart three-frames.mp4
# WebM/VP9: Matroska headers carry no frame count, so packets must be counted.
$FF $SRC -frames:v 30 -c:v libvpx-vp9 -b:v 50k -deadline realtime -cpu-used 8 ok.webm
# The faststart MP4 cut to half its bytes: the header still claims 60 frames.
size=$(wc -c < ok-faststart.mp4)
head -c $((size / 2)) ok-faststart.mp4 > truncated.mp4
# Zero bytes.
: > empty.mp4
# Text pretending to be a video.
printf 'This is not a video, only text with an .mp4 name.\n' > text.mp4
# Audio only: a sine tone in an MP4 container.
$FF -f lavfi -i sine=frequency=440:duration=1 -c:a aac -b:a 32k audio-only.mp4
# HEVC: valid video, but not safe for every browser.
$FF $SRC -frames:v 30 -c:v libx265 -preset ultrafast -pix_fmt yuv420p -x265-params log-level=none -tag:v hvc1 -movflags +faststart hevc.mp4

# 20 frames whose container says they last no time at all: plays, but no seek bar.
$FF $SRC -frames:v 20 $X264 -movflags +faststart zero-duration-src.mp4
python3 zero-duration.py zero-duration-src.mp4 zero-duration.mp4 && rm zero-duration-src.mp4
ls -l
