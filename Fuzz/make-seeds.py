#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora (Fuzz/corpus/<target>/) from the cases of the test tables:
Tests/HTTPRangesTests (ranges, conditionals), Tests/MediaServerTests/RequestTableTests and
ConnectionTests (requests, malformed ones), Fixtures/*.mp4 (boxes), Fixtures/catalogs/v1 (journals). Run from the repository root; the outputs are committed."""
import os, shutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Fuzz", "corpus")


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# FuzzRanges: "size-seed\nRange\nIf-Match\nIf-None-Match\nIf-Modified-Since\nIf-Unmodified-Since\nIf-Range"
ranges = ["bytes=0-1", "bytes=-100", "bytes=100-", "bytes=0-0,10-10", "BYTES = 5-9 , ,7-20", "bytes=99999999999999999999-",
          "bytes=0-99999999999999999999", "items=0-1", "bytes=1-0", "bytes=-0", "bytes=" + ",".join(f"{i}-{i}" for i in range(70)),
          "bytes=0-10,5-20,30-40,41-50", "bytes= -5", "bytes=5-4,3-2", "bytes=\t0-1\t"]
etags = ['"800000-18ed0330d0f4387e-f7c231"', 'W/"x"', '*', '"a", "b", W/"c"', '"unterminated', ""]
dates = ["Tue, 01 Dec 2026 03:22:14 GMT", "Tuesday, 01-Dec-26 03:22:14 GMT", "Tue Dec  1 03:22:14 2026", "not a date", ""]
n = 0
for r in ranges:
    for e, d in zip(etags, dates + [""]):
        write("FuzzRanges", f"seed-{n:03}", "\n".join(["size" + str(n), r, e, e, d, d, e if n % 2 else d]))
        n += 1

# FuzzRequest: raw bytes a client may send.
reqs = [
    "GET /api/media/videos/1/ HTTP/1.1\r\nHost: a\r\nRange: bytes=0-1\r\n\r\n",
    "GET /api/media/videos/1/?type=processed HTTP/1.1\r\nHost: a\r\nRange: bytes=0-0,10-10\r\n\r\n",
    "HEAD /api/media/videos/c6e4a9de-7a9f-5c29-b089-a0e46887e9fe HTTP/1.1\r\nHost: a\r\nIf-None-Match: *\r\n\r\n",
    "GET /api/media/videos/c6e4a9de7a9f5c29b089a0e46887e9fe/?type=raw HTTP/1.1\r\nHost: a\r\nIf-Range: \"x\"\r\nRange: bytes=5-\r\n\r\n",
    "OPTIONS /api/media/videos/1/ HTTP/1.1\r\nHost: a\r\nOrigin: http://app.example\r\nAccess-Control-Request-Method: GET\r\n\r\n",
    "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    "CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /assets/app.js HTTP/1.1\r\nHost: a\r\n\r\nGET /healthz HTTP/1.0\r\n\r\n",
    "GET /api/media/videos/?limit=1000&status=error&q=%41 HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET /api/media/summary HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    "POST /api/media/videos/1/ HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "GET /api/media/videos/%00/ HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET /api/media/videos/1/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "GET http://a/api/media/videos/2/ HTTP/1.1\r\nHost: a\r\nRange: bytes=-3\r\n\r\n",
    "GET /x HTTP/1.1\r\n" + "X-Big: " + "a" * 40000 + "\r\n\r\n",
    "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    "GET /api/media/videos/1/ HTTP/1.1\nHost: a\n\n",
    "GET /api/media/videos/1/ HTTP/2.0\r\nHost: a\r\n\r\n",
]
for i, r in enumerate(reqs):
    write("FuzzRequest", f"seed-{i:03}", r.encode("latin-1"))

# FuzzMP4: the fixtures' first 4 KiB (box headers), and synthetic box chains.
for name in ["ok-faststart.mp4", "ok-moov-end.mp4", "truncated.mp4", "three-frames.mp4", "hevc.mp4", "text.mp4"]:
    with open(os.path.join(ROOT, "Fixtures", name), "rb") as f:
        write("FuzzMP4", "fixture-" + name, f.read(4096))
write("FuzzMP4", "largesize", b"\x00\x00\x00\x01ftyp" + b"\x00\x00\x00\x00\x00\x00\x00\x20" + b"\x00" * 16 + b"\x00\x00\x00\x08moov")
write("FuzzMP4", "zerosize", b"\x00\x00\x00\x00mdat")
write("FuzzMP4", "tiny", b"\x00\x00\x00\x07free")

# FuzzJournal: the committed version 1 journal. (v2-endoreg.jsonl, a real version 2 journal of
# an endoreg-db cascade with its dependent rows, nulled values and moves, is committed as it is.)
os.makedirs(os.path.join(OUT, "FuzzJournal"), exist_ok=True)
shutil.copy(os.path.join(ROOT, "Fixtures", "catalogs", "v1", "journal.jsonl"), os.path.join(OUT, "FuzzJournal", "v1.jsonl"))
print("seeds written to", OUT)
