#!/usr/bin/env python3
"""medialib benchmarks: every figure is a ratio against a peer measured in the same run.

Usage: bench.py MEDIALIB_BINARY [--quick] [--only=serving,instructions,memory,probing,postgres]
Serving: medialib serve vs nginx (sendfile on, tcp_nopush off, 2 workers, no access log),
alternating, 3 rounds, medians. Probing: medialib vs ffprobe. Writes bench/results/.
"""
import datetime, os, re, shutil, signal, socket, statistics, subprocess, sys, time

BIN = os.path.abspath(sys.argv[1])
QUICK = "--quick" in sys.argv
ONLY = next((a.split("=", 1)[1].split(",") for a in sys.argv if a.startswith("--only=")), None)
HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "work")
MEDIA = os.path.join(WORK, "media")
DB = os.path.join(WORK, "serve.sqlite")
DURATION = 3 if QUICK else 10
ROUNDS = 1 if QUICK else 3
BIG = 100 * 1024 * 1024
rows = []  # (section, case, medialib, peer, ratio, note)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"port {port} never opened")


def status_kib(pids, field):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    total += int(line.split()[1])
    return total


def hwm_kib(pids):
    return status_kib(pids, "VmHWM")


def anon_kib(pids):
    """Private (anonymous) memory now: RSS without the shared libraries' pages."""
    return status_kib(pids, "RssAnon")


def prepare():
    os.makedirs(MEDIA, exist_ok=True)
    big = os.path.join(MEDIA, "big.mp4")
    if not os.path.exists(big) or os.path.getsize(big) != BIG:
        with open(big, "wb") as f:
            for _ in range(BIG // (1 << 20)):
                f.write(os.urandom(1 << 20))
    probe_mp4 = os.path.join(WORK, "probe50.mp4")
    if not os.path.exists(probe_mp4):
        run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
             "testsrc2=size=1280x720:rate=30", "-t", "20", "-c:v", "libx264", "-preset", "ultrafast",
             "-b:v", "20M", "-maxrate", "20M", "-bufsize", "4M", "-pix_fmt", "yuv420p", probe_mp4])
    probe_webm = os.path.join(WORK, "probe.webm")
    if not os.path.exists(probe_webm):
        run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
             "testsrc2=size=640x360:rate=30", "-t", "20", "-c:v", "libvpx", "-deadline", "realtime",
             "-cpu-used", "8", "-b:v", "4M", probe_webm])
    if os.path.exists(DB):
        os.remove(DB)
    run([BIN, "add", big, "--db", DB, "--media-root", MEDIA])


# ---------------------------------------------------------------- serving

class Medialib:
    name = "medialib"

    def __init__(self, db=None, name="medialib"):
        self.db = db or DB
        self.name = name

    def start(self):
        self.port = free_port()
        self.proc = subprocess.Popen([BIN, "serve", "--db", self.db, "--media-root", MEDIA, "--port", str(self.port),
                                      "--no-access-log"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.proc.stdout.readline()
        wait_port(self.port)
        self.url = f"http://127.0.0.1:{self.port}/api/media/videos/1/"

    def pids(self):
        return [self.proc.pid]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)


class Nginx:
    name = "nginx"

    def start(self):
        self.port = free_port()
        d = os.path.join(WORK, "nginx")
        os.makedirs(d, exist_ok=True)
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""
worker_processes 2;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush off;
  tcp_nodelay on;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  types {{ video/mp4 mp4; }}
  server {{ listen 127.0.0.1:{self.port}; root {MEDIA}; }}
}}
""")
        self.proc = subprocess.Popen(["nginx", "-c", conf, "-p", d], stderr=subprocess.DEVNULL)
        wait_port(self.port)
        self.url = f"http://127.0.0.1:{self.port}/big.mp4"

    def pids(self):
        out = run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)]).stdout.split()
        return [self.proc.pid] + [int(p) for p in out]

    def stop(self):
        self.proc.send_signal(signal.SIGQUIT)
        self.proc.wait(30)


LUA_64K = os.path.join(WORK, "range64k.lua")
LUA_1M = os.path.join(WORK, "range1m.lua")


def write_lua():
    for path, size in ((LUA_64K, 65536), (LUA_1M, 1 << 20)):
        with open(path, "w") as f:
            f.write(f"""
-- Random aligned ranges over the whole file: seeking must cost the same at any offset.
local n = math.floor({BIG} / {size})
math.randomseed(7)
request = function()
  local off = math.random(0, n - 1) * {size}
  return wrk.format("GET", nil, {{["Range"] = "bytes=" .. off .. "-" .. (off + {size} - 1)}})
end
""")


def unit_bytes(text):
    m = re.match(r"([\d.]+)([KMGT]?B)", text)
    v = float(m.group(1))
    return v * {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}[m.group(2)]


def unit_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)", text)
    return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[m.group(2)]


def wrk(url, conns, extra):
    out = run(["wrk", "-t2", f"-c{conns}", f"-d{DURATION}s", "--latency", "--timeout", "10s"] + extra + [url]).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bps = unit_bytes(re.search(r"Transfer/sec:\s+(\S+)", out).group(1))
    p99 = unit_ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    p50 = unit_ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"wrk saw {errors.group(1)} non-2xx responses from {url}")
    return rps, bps, p99, p50


CASES = [
    ("bytes=0-1 probes, 128 conns", 128, ["-H", "Range: bytes=0-1"], "rps"),
    ("64 KiB random ranges, 128 conns", 128, ["-s", LUA_64K], "rps"),
    ("1 MiB random ranges, 16 conns", 16, ["-s", LUA_1M], "bps"),
    ("whole 100 MB GET, 2 conns", 2, [], "bps"),
]


def serving():
    write_lua()
    results = {}
    rss = {"medialib": [], "nginx": []}
    anon = {"medialib": [], "nginx": []}
    for rnd in range(ROUNDS):
        order = [Medialib(), Nginx()] if rnd % 2 == 0 else [Nginx(), Medialib()]
        for server in order:
            server.start()
            try:
                for i, (case, conns, extra, _) in enumerate(CASES):
                    results.setdefault((case, server.name), []).append(wrk(server.url, conns, extra))
                    if i == 1:  # after both 128-connection cases
                        rss[server.name].append(hwm_kib(server.pids()))
                        anon[server.name].append(anon_kib(server.pids()))
            finally:
                server.stop()
    for case, _, _, kind in CASES:
        m = results[(case, "medialib")]
        n = results[(case, "nginx")]
        if kind == "rps":
            mv, nv = statistics.median(r[0] for r in m), statistics.median(r[0] for r in n)
            mp, np_ = statistics.median(r[2] for r in m), statistics.median(r[2] for r in n)
            m50, n50 = statistics.median(r[3] for r in m), statistics.median(r[3] for r in n)
            rows.append(("serve vs nginx", f"{case}: req/s", f"{mv:,.0f}", f"{nv:,.0f}", mv / nv, ""))
            rows.append(("serve vs nginx", f"{case}: p50 / p99 latency", f"{m50:.2f} / {mp:.2f} ms", f"{n50:.2f} / {np_:.2f} ms",
                         np_ / mp, "ratio of p99 = nginx/medialib"))
        else:
            mv, nv = statistics.median(r[1] for r in m) / 1e6, statistics.median(r[1] for r in n) / 1e6
            mp, np_ = statistics.median(r[2] for r in m), statistics.median(r[2] for r in n)
            m50, n50 = statistics.median(r[3] for r in m), statistics.median(r[3] for r in n)
            rows.append(("serve vs nginx", f"{case}: MB/s", f"{mv:,.0f}", f"{nv:,.0f}", mv / nv, ""))
            rows.append(("serve vs nginx", f"{case}: p50 / p99 latency", f"{m50:.1f} / {mp:.1f} ms", f"{n50:.1f} / {np_:.1f} ms",
                         np_ / mp, "ratio of p99 = nginx/medialib"))
    mr, nr = statistics.median(rss["medialib"]), statistics.median(rss["nginx"])
    rows.append(("serve vs nginx", "peak RSS, 128-connection cases", f"{mr / 1024:.1f} MiB", f"{nr / 1024:.1f} MiB",
                 nr / mr, "ratio = nginx/medialib; nginx: master + 2 workers"))
    ma, na = statistics.median(anon["medialib"]), statistics.median(anon["nginx"])
    rows.append(("serve vs nginx", "anonymous RSS after the 128-connection cases", f"{ma / 1024:.1f} MiB",
                 f"{na / 1024:.1f} MiB", na / ma, "RSS less shared-library pages; ratio = nginx/medialib"))


def slow_readers(server, n=1000, seconds=15):
    """n connections each GET the 100 MB file and read 4 KiB every 0.5 s; returns peak RSS (KiB)."""
    server.start()
    try:
        path = server.url.split(str(server.port), 1)[1]
        socks = []
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", server.port))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            s.setblocking(False)
            socks.append(s)
        end = time.time() + seconds
        while time.time() < end:
            for s in socks:
                try:
                    s.recv(4096)
                except BlockingIOError:
                    pass
            time.sleep(0.5)
        peak = hwm_kib(server.pids())
        private = anon_kib(server.pids())
        for s in socks:
            s.close()
        return peak, private
    finally:
        server.stop()


def memory_at_scale():
    m, ma = slow_readers(Medialib(), seconds=5 if QUICK else 15)
    n, na = slow_readers(Nginx(), seconds=5 if QUICK else 15)
    rows.append(("memory at scale", "peak RSS, 1,000 slow readers of the 100 MB file", f"{m / 1024:.1f} MiB",
                 f"{n / 1024:.1f} MiB", n / m, "ratio = nginx/medialib"))
    rows.append(("memory at scale", "anonymous RSS with 1,000 slow readers connected", f"{ma / 1024:.1f} MiB",
                 f"{na / 1024:.1f} MiB", na / ma, "RSS less shared-library pages; ratio = nginx/medialib"))


# ---------------------------------------------------------------- instructions

PROFILES = {}  # name -> [(instructions per request, function)], the largest self costs


def callgrind_per_request(cmd, port, target, n=2000, name=None):
    """User-space instructions per keep-alive GET of bytes=0-1 (callgrind: repeatable
    whatever the machine's noise), counted after a warm-up; the kernel is not counted."""
    import http.client
    out = os.path.join(WORK, "callgrind")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--instr-atstart=no",
                             f"--callgrind-out-file={out}/cg.%p"] + cmd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, timeout=60)

        def run(count):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            for _ in range(count):
                c.request("GET", target, headers={"Range": "bytes=0-1"})
                r = c.getresponse()
                r.read()
                if r.status != 206:
                    raise SystemExit(f"callgrind run: HTTP {r.status} from {target}")
            c.close()
        run(300)
        pids = [proc.pid] + [int(p) for p in run_ok(["ps", "-o", "pid=", "--ppid", str(proc.pid)]).split()]
        for pid in pids:
            subprocess.run(["callgrind_control", "-i", "on", str(pid)], capture_output=True)
        run(n)
        for pid in pids:
            subprocess.run(["callgrind_control", "-i", "off", str(pid)], capture_output=True)
            subprocess.run(["callgrind_control", "-d", str(pid)], capture_output=True)
    finally:
        # The counts are dumped already; nginx under valgrind may ignore SIGTERM for a while.
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(15)
    total = 0
    for dump in os.listdir(out):
        text = run_ok(["callgrind_annotate", os.path.join(out, dump)])
        m = re.search(r"([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", text) or re.search(r"([\d,]+)\s+PROGRAM TOTALS", text)
        if m:
            total += int(m.group(1).replace(",", ""))
        if name:
            for line in text.splitlines():
                f = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(.+?)(?: \[(.*)\])?$", line)
                if f and "PROGRAM TOTALS" not in line and ":" in f.group(2):
                    PROFILES.setdefault(name, []).append((int(f.group(1).replace(",", "")) / n, f.group(2).strip()))
    return total / n


def run_ok(cmd):
    return subprocess.run(cmd, capture_output=True, text=True).stdout


def instructions():
    if not shutil.which("valgrind"):
        rows.append(("instructions", "per bytes=0-1 request", "-", "-", 0, "valgrind not installed"))
        return
    # valgrind 3.19 cannot read Swift 6's DWARF 5: count on a copy without debug info.
    plain = os.path.join(WORK, "medialib-nodebug")
    run(["objcopy", "--strip-debug", BIN, plain])
    port = free_port()
    mine = callgrind_per_request([plain, "serve", "--db", DB, "--media-root", MEDIA, "--port", str(port), "--no-access-log"],
                                 port, "/api/media/videos/1/", name="medialib")
    d = os.path.join(WORK, "nginx-cg")
    os.makedirs(d, exist_ok=True)
    nport = free_port()
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""
worker_processes 1; master_process off; daemon off; pid {d}/nginx.pid; error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{ access_log off; sendfile on; tcp_nopush off; tcp_nodelay on; keepalive_requests 1000000;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  types {{ video/mp4 mp4; }} server {{ listen 127.0.0.1:{nport}; root {MEDIA}; }} }}
""")
    theirs = callgrind_per_request(["nginx", "-c", conf, "-p", d], nport, "/big.mp4")
    rows.append(("instructions", "user-space instructions per bytes=0-1 request (callgrind)", f"{mine:,.0f}",
                 f"{theirs:,.0f}", theirs / mine, "ratio = nginx/medialib; kernel time not counted"))


# ---------------------------------------------------------------- probing

def timed(cmd, repeat=5, **kw):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


FFPROBE = ["ffprobe", "-v", "error", "-count_packets", "-select_streams", "v:0",
           "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0"]


def probing():
    for name in ("probe50.mp4", "probe.webm"):
        path = os.path.join(WORK, name)
        mine = run([BIN, "probe", path]).stdout
        theirs = run(FFPROBE + [path]).stdout.strip()
        frames = re.search(r'"countedPackets":(\d+)', mine).group(1)
        if frames != theirs:
            raise SystemExit(f"frame counts differ on {name}: medialib {frames}, ffprobe {theirs}")
        m, f = timed([BIN, "probe", path]), timed(FFPROBE + [path])
        size = os.path.getsize(path) / 1e6
        rows.append(("probing", f"count frames of {name} ({size:.0f} MB, {frames} frames)", f"{m * 1000:.0f} ms",
                     f"{f * 1000:.0f} ms", f / m, "peer: ffprobe -count_packets; ratio = ffprobe/medialib"))

    lib = os.path.join(WORK, "lib1000")
    fixture = os.path.join(HERE, "..", "Fixtures", "ok-faststart.mp4")
    if not os.path.isdir(lib):
        os.makedirs(lib)
        for i in range(1000):
            shutil.copy(fixture, os.path.join(lib, f"v{i:04}.mp4"))
    db = os.path.join(WORK, "lib1000.sqlite")
    if os.path.exists(db):
        os.remove(db)
    run([BIN, "import", lib, "--db", db, "--media-root", lib])
    files = sorted(os.path.join(lib, f) for f in os.listdir(lib))
    verify = timed([BIN, "verify", "--full", "--quiet", "--db", db, "--media-root", lib], repeat=3)
    t = time.perf_counter()
    for f in (files[:100] if QUICK else files):
        subprocess.run(FFPROBE + [f], check=True, capture_output=True)
    serial = (time.perf_counter() - t) * (10 if QUICK else 1)
    t = time.perf_counter()
    subprocess.run(["xargs", "-0", "-n1", "-P2"] + FFPROBE, input="\0".join(files).encode(), check=True,
                   capture_output=True)
    parallel = time.perf_counter() - t
    rows.append(("probing", "verify --full, 1,000 files", f"{verify:.2f} s", f"{serial:.1f} s", serial / verify,
                 "peer: serial ffprobe loop" + (" (100 files, x10)" if QUICK else "")))
    rows.append(("probing", "verify --full, 1,000 files", f"{verify:.2f} s", f"{parallel:.1f} s", parallel / verify,
                 "peer: xargs -P2 ffprobe"))

    # 100,000 records over the same 1,000 files (hard links: distinct paths, no extra data).
    big = os.path.join(WORK, "lib100k")
    n = 10_000 if QUICK else 100_000
    if not os.path.isdir(big) or len(os.listdir(big)) != n // 1000:
        shutil.rmtree(big, ignore_errors=True)
        for d in range(n // 1000):
            sub = os.path.join(big, f"d{d:03}")
            os.makedirs(sub)
            for f in files:
                os.link(f, os.path.join(sub, os.path.basename(f)))
    db = os.path.join(WORK, "lib100k.sqlite")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    # import registers each file once (a hard link is the same file): it takes d000/, and the
    # other 99,000 names go in as rows of their own, as an app that stored them would have.
    t = time.perf_counter()
    run([BIN, "import", os.path.join(big, "d000"), "--db", db, "--media-root", big])
    imported = time.perf_counter() - t
    import sqlite3, uuid
    con = sqlite3.connect(db)
    con.executemany("INSERT INTO videos (uuid, raw_file, created_at) VALUES (?, ?, '2026-01-01T00:00:00.000Z')",
                    ((str(uuid.uuid4()), f"d{d:03}/{os.path.basename(f)}") for d in range(1, n // 1000) for f in files))
    con.commit()
    con.close()
    t = time.perf_counter()
    subprocess.run([BIN, "verify", "--quiet", "--db", db, "--media-root", big], check=False, capture_output=True)
    first = time.perf_counter() - t
    cached = timed([BIN, "verify", "--quiet", "--db", db, "--media-root", big], repeat=3)
    summary = run([BIN, "verify", "--format", "jsonl", "--quiet", "--db", db, "--media-root", big]).stdout.splitlines()[-1]
    rows.append(("probing", f"cached verify, {n:,} records", f"{cached:.2f} s", "2.00 s (target)", 2.0 / cached,
                 f"first run {first:.1f} s, import of 1,000 {imported:.1f} s; last summary {summary}"))
    SQLITE_VERIFY.update(cached=cached, n=n, files=[os.path.basename(f) for f in files], root=big)


SQLITE_VERIFY = {}


# ---------------------------------------------------------------- PostgreSQL

def postgres():
    """The same serve and verify on a PostgreSQL catalog (a throwaway cluster on a Unix
    socket, as the tests use), against the SQLite catalog measured in the same run."""
    script = os.path.join(HERE, "..", "scripts", "pg-test-cluster.sh")
    env = dict(os.environ, PGTEST_OWNER_PID=str(os.getpid()))
    out = subprocess.run(["sh", script, "start"], check=True, capture_output=True, text=True, env=env).stdout
    conf = dict(re.findall(r"export (\w+)='([^']*)'", out))
    cluster = conf["PGTEST_DIR"]
    try:
        def psql(sql, db="postgres"):
            return run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", cluster, "-U", "postgres", "-d", db,
                        "-c", sql]).stdout
        psql('CREATE DATABASE bench OWNER medialib')
        url = f"postgres://medialib:{conf['PGTEST_APP_PASSWORD']}@/bench?host={cluster}"
        state = os.path.join(WORK, "pg-state.sqlite")
        if os.path.exists(state):
            os.remove(state)
        run([BIN, "add", os.path.join(MEDIA, "big.mp4"), "--db", url, "--media-root", MEDIA, "--state", state])
        results = {}
        for rnd in range(ROUNDS):
            servers = [Medialib(url, "postgres"), Medialib(DB, "sqlite")]
            for server in (servers if rnd % 2 == 0 else servers[::-1]):
                server.start()
                try:
                    for case, conns, extra, _ in CASES[:2]:
                        results.setdefault((case, server.name), []).append(wrk(server.url, conns, extra))
                finally:
                    server.stop()
        for case, _, _, _ in CASES[:2]:
            p = statistics.median(r[0] for r in results[(case, "postgres")])
            q = statistics.median(r[0] for r in results[(case, "sqlite")])
            p99 = statistics.median(r[2] for r in results[(case, "postgres")])
            rows.append(("PostgreSQL catalog", f"serve {case}: req/s", f"{p:,.0f}", f"{q:,.0f}", p / q,
                         f"peer: the same serve on SQLite; p99 {p99:.2f} ms; no record cache on PostgreSQL"))
        if SQLITE_VERIFY:
            n, files, root = SQLITE_VERIFY["n"], SQLITE_VERIFY["files"], SQLITE_VERIFY["root"]
            psql("CREATE DATABASE bench100k OWNER medialib")
            url100k = f"postgres://medialib:{conf['PGTEST_APP_PASSWORD']}@/bench100k?host={cluster}"
            state100k = os.path.join(WORK, "pg-state-100k.sqlite")
            if os.path.exists(state100k):
                os.remove(state100k)
            run([BIN, "import", os.path.join(root, "d000"), "--db", url100k, "--media-root", root, "--state", state100k])
            names = ",".join("'" + f + "'" for f in files)
            psql("INSERT INTO videos (uuid, raw_file) SELECT gen_random_uuid(), 'd' || lpad(d::text, 3, '0') || '/' || f "
                 f"FROM generate_series(1, {n // 1000 - 1}) d, unnest(ARRAY[{names}]) f", db="bench100k")
            t = time.perf_counter()
            subprocess.run([BIN, "verify", "--quiet", "--db", url100k, "--media-root", root, "--state", state100k],
                           check=False, capture_output=True)
            first = time.perf_counter() - t
            cached = timed([BIN, "verify", "--quiet", "--db", url100k, "--media-root", root, "--state", state100k], repeat=3)
            rows.append(("PostgreSQL catalog", f"cached verify, {n:,} records", f"{cached:.2f} s",
                         f"{SQLITE_VERIFY['cached']:.2f} s", SQLITE_VERIFY["cached"] / cached,
                         f"peer: the same verify on SQLite; first run {first:.1f} s"))
    finally:
        subprocess.run(["sh", script, "stop", cluster], check=False, capture_output=True)


def main():
    started = time.time()
    prepare()
    for name, section in (("instructions", instructions), ("serving", serving), ("memory", memory_at_scale),
                          ("probing", probing), ("postgres", postgres)):
        if ONLY is None or name in ONLY:
            section()
    today = datetime.date.today().isoformat()
    cores = os.cpu_count()
    lines = [f"# medialib benchmarks, {today}, {cores} cores" + (" (quick)" if QUICK else ""), "",
             f"Each serving case {DURATION} s, {ROUNDS} rounds alternating, medians; wrk -t2 on the same machine.", "",
             "| section | case | medialib | peer | ratio (>1 = medialib better) | note |",
             "|---|---|---|---|---|---|"]
    for section, case, mine, peer, ratio, note in rows:
        lines.append(f"| {section} | {case} | {mine} | {peer} | {ratio:.2f}x | {note} |")
    lines.append("")
    lines.append(f"Total bench time {time.time() - started:.0f} s.")
    table = "\n".join(lines)
    print(table)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    name = f"{today}-{cores}core" + ("-quick" if QUICK else "") + ("-partial" if ONLY else "") + ".md"
    with open(os.path.join(HERE, "results", name), "w") as f:
        f.write(table + "\n")
    if PROFILES.get("medialib"):
        top = sorted(PROFILES["medialib"], reverse=True)[:40]
        if shutil.which("swift-demangle"):
            names = subprocess.run(["swift-demangle", "--simplified", "--compact"], input="\n".join(fn for _, fn in top),
                                   capture_output=True, text=True).stdout.splitlines()
            if len(names) == len(top):
                top = [(cost, name) for (cost, _), name in zip(top, names)]
        prof = [f"# serve: where the user-space instructions of one bytes=0-1 request go, {today}", "",
                "callgrind, self cost per function, divided by the 2,000 counted keep-alive requests;",
                "release build without debug info (so inlined Swift code is charged to its caller).", "",
                "| instructions per request | function |", "|---|---|"]
        prof += [f"| {cost:,.0f} | `{fn.replace('|', '/')[:160]}` |" for cost, fn in top]
        with open(os.path.join(HERE, "results", f"{today}-serve-profile.md"), "w") as f:
            f.write("\n".join(prof) + "\n")


if __name__ == "__main__":
    main()
