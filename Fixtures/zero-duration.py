#!/usr/bin/env python3
"""Zeroes the durations of an MP4 (mvhd, tkhd, mdhd) and drops its edit list, keeping every
frame: a file browsers cannot seek in though it decodes (make-fixtures.sh uses it)."""
import struct
import sys

src, dst = sys.argv[1], sys.argv[2]
b = bytearray(open(src, 'rb').read())

def walk(off, end):
    while off + 8 <= end:
        size, kind = struct.unpack('>I4s', b[off:off + 8])
        kind = kind.decode('latin1')
        header = 8
        if size == 1:
            size = struct.unpack('>Q', b[off + 8:off + 16])[0]
            header = 16
        if size == 0:
            size = end - off
        if kind in ('moov', 'trak', 'mdia', 'minf', 'stbl'):
            walk(off + header, off + size)
        if kind in ('mvhd', 'mdhd') and b[off + 8] == 0:
            b[off + header + 16:off + header + 20] = b'\0\0\0\0'
        if kind == 'tkhd' and b[off + 8] == 0:
            b[off + header + 20:off + header + 24] = b'\0\0\0\0'
        if kind == 'edts':
            b[off + 4:off + 8] = b'free'
        off += size

walk(0, len(b))
open(dst, 'wb').write(b)
