#!/usr/bin/python3
"""Integration test of the probe thread (health/runner.c, health/probe.c).

Runs runner_harness (tests/integration/runner_harness.c) against real servers on loopback:
a switchable HTTP server, a server that accepts and never answers, one whose listen queue is
full (connect timeout), a closed port, an endless body, HTTPS servers with a throwaway CA
(openssl), and IPv6 on ::1 when available. Checks verdicts, reasons, rise/fall hysteresis,
leader hand-over between two maps, and that states survive a restart. Prints TAP; exits 1 if
anything failed. Every process started here is stopped by its PID; every wait is bounded.

    /usr/bin/python3 tests/integration/test_runner.py --harness build/runner_harness
"""
import argparse
import http.server
import os
import queue
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

INTERVAL_MS = 500  # defaults; the timeout targets use 300/200 ms
TIMEOUT_MS = 400
WAIT = 8.0  # bound of every wait for a verdict, generous for sanitizer builds
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
                   "runtime error:")


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def eq(got, want, what):
    if got != want:
        raise Failure(f"{what}: got {got!r}, want {want!r}")


# ---- servers ---------------------------------------------------------------------------------

class App:
    """State of the switchable server, shared with its handler threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.status = 200
        self.served = {}  # status code of /status -> answers sent
        self.ticks = {}  # /tick/N -> monotonic times of the requests

    def tick(self, path):
        with self.lock:
            self.ticks.setdefault(path, []).append(time.monotonic())

    def tick_times(self):
        with self.lock:
            return {k: list(v) for k, v in self.ticks.items()}

    def set_status(self, code):
        with self.lock:
            self.status = code
            self.served[code] = 0

    def served_count(self, code):
        with self.lock:
            return self.served.get(code, 0)

    def take_status(self):
        with self.lock:
            code = self.status
            self.served[code] = self.served.get(code, 0) + 1
            return code


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body=b"", head=False, headers=()):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.close_connection = True
        if not head:
            self.wfile.write(body)

    def host_name(self):
        host = self.headers.get("Host", "")
        return host.rsplit(":", 1)[0] if not host.endswith("]") else host

    def do_GET(self):
        self.route(head=False)

    def do_HEAD(self):
        self.route(head=True)

    def route(self, head):
        app = self.server.app
        path = self.path
        if path == "/status":
            code = app.take_status()
            self.reply(code, b"all ok\n" if code == 200 else b"sorry\n", head)
        elif path == "/hdr":
            ua = self.headers.get("User-Agent", "")
            good = (self.headers.get("X-Probe") == "yes" and ua.startswith("pdns-failover/")
                    and ua.endswith(" health check"))
            self.reply(200 if good else 400, b"", head)
        elif path == "/redirect":
            self.reply(302, b"", head, [("Location", "/status")])
        elif path == "/body":
            self.reply(200, b"hello marker-123 bye\n", head)
        elif path == "/headonly":
            self.reply(200 if head else 405, b"", head)
        elif path.startswith("/tick/"):
            app.tick(path)
            self.reply(200, b"", head)
        elif path == "/v6":
            self.reply(200, b"", head)
        elif path == "/hosted":
            self.reply(200 if self.host_name() == "good.test" else 421, b"", head)
        else:
            self.reply(404, b"", head)


class EndlessHandler(http.server.BaseHTTPRequestHandler):
    """200 without a length, then data until the client goes away (or 64 MiB)."""
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        chunk = b"x" * 16384
        try:
            if self.path == "/marker":
                self.wfile.write(b"x" * 1000 + b"FOUND")
            elif self.path == "/split":  # the string arrives in two pieces
                self.wfile.write(b"x" * 100 + b"FO")
                self.wfile.flush()
                time.sleep(0.05)
                self.wfile.write(b"UND")
            for _ in range(4096):
                self.wfile.write(chunk)
        except OSError:
            pass
        self.close_connection = True


class TLSHandler(Handler):
    def setup(self):
        self.request.settimeout(5)
        self.request.do_handshake()
        super().setup()

    def route(self, head):
        self.reply(200 if self.host_name() == "good.test" else 421, b"tls ok\n", head)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # many probes connect at once; a full queue drops SYNs

    def __init__(self, addr, handler, app=None, ctx=None, family=socket.AF_INET):
        self.address_family = family
        self.app = app
        self.ctx = ctx
        super().__init__(addr, handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.ctx:
            sock = self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        pass  # failed handshakes and aborted reads are what some checks are about


def serve(server):
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    return server


class Silent:
    """Accepts connections and never answers."""

    def __init__(self, host):
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.sock.settimeout(0.1)
        self.running = True
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while self.running:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                pass

    def close(self):
        self.running = False
        self.thread.join(2)
        for c in self.conns:
            c.close()
        self.sock.close()


class FullBacklog:
    """Listens with a full accept queue and never accepts: new SYNs are dropped, so connecting
    times out (Linux)."""

    def __init__(self, host):
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fill = []
        for _ in range(3):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect((host, self.port))
            except BlockingIOError:
                pass
            self.fill.append(s)

    def close(self):
        for s in self.fill:
            s.close()
        self.sock.close()


def closed_port(host):
    s = socket.socket()
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_certs(d):
    """Two throwaway CAs; certificates for good.test and wrong.test signed by the first."""
    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True, timeout=60)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "other-ca"):
        run("req", "-x509", *ec, "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "2",
            "-subj", f"/CN=pdns-failover test {ca}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for name in ("good", "wrong"):
        with open(os.path.join(d, f"{name}.ext"), "w") as f:
            f.write(f"subjectAltName=DNS:{name}.test\n")
        run("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN={name}.test")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext")


def tls_context(d, name, sni_seen):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(d, f"{name}.pem"), os.path.join(d, f"{name}.key"))
    ctx.sni_callback = lambda sslobj, server_name, c: sni_seen.append(server_name) and None
    return ctx


# ---- the harness -----------------------------------------------------------------------------

class Harness:
    def __init__(self, binary, spec, state, log_path):
        env = dict(os.environ)
        # A proxy from the environment must not be used: these point at a closed port.
        for k in ("http_proxy", "https_proxy", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
            env[k] = "http://127.0.0.1:9"
        env.pop("no_proxy", None)
        env.pop("NO_PROXY", None)
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen([binary, spec, state, "-d"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, env=env,
                                     text=True, bufsize=1)
        self.lines = queue.Queue()
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()

    def read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def send(self, cmd):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()

    def line(self, timeout=WAIT):
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise Failure(f"harness did not answer within {timeout}s")
        if line is None:
            raise Failure(f"harness exited (status {self.proc.wait(5)})")
        return line

    def cmd(self, cmd, timeout=WAIT):
        self.send(cmd)
        return self.line(timeout)

    def verdicts(self, slot):
        return self.cmd(f"verdicts {slot}").split()[2:]

    def stop(self, slot):
        """Stops a runner; returns {index: {field: value}} of its slots."""
        self.send(f"stop {slot}")
        slots = {}
        while True:
            line = self.line()
            if line == f"stopped {slot}":
                return slots
            m = re.match(r"slot \d+ (\d+) (.*?) reason=(.*)$", line)
            check(m, f"unexpected harness line {line!r}")
            fields = dict(kv.split("=", 1) for kv in m.group(2).split())
            fields["reason"] = m.group(3)
            slots[int(m.group(1))] = fields

    def quit(self):
        """Ends the harness by its PID; returns its exit status."""
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()
        return self.proc.returncode

    def log_text(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()


def transitions(text):
    """(label, old, new, reason) of every transition line in the log."""
    out = []
    for m in re.finditer(r" info health: (.+?) (unknown|up|down) -> (up|down) \((.*)\)$", text,
                         re.M):
        out.append((m.group(1), m.group(2), m.group(3), m.group(4)))
    return out


# ---- tests -----------------------------------------------------------------------------------

class Suite:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, why=""):
        self.n += 1
        if cond:
            print(f"ok {self.n} - {name}")
        else:
            self.failed += 1
            print(f"not ok {self.n} - {name}")
            if why:
                for line in str(why).splitlines():
                    print(f"# {line}")
        sys.stdout.flush()

    def run(self, name, fn):
        try:
            fn()
        except Failure as e:
            self.ok(False, name, e)
        except Exception as e:  # a bug in the test itself still counts as a failure
            self.ok(False, name, f"{type(e).__name__}: {e}")
        else:
            self.ok(True, name)


def wait_verdict(h, slot, idx, want, guard=None):
    """Polls until target idx has verdict want; guard() runs after every poll."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        v = h.verdicts(slot)[idx]
        if guard:
            guard(v)
        if v == want:
            return
        time.sleep(0.02)
    raise Failure(f"target {idx} not {want} within {WAIT}s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--harness", required=True, help="path to the built runner_harness")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    harness = os.path.abspath(args.harness)

    tmp = tempfile.mkdtemp(prefix="pf-runner-")
    suite = Suite()
    servers, others, harnesses = [], [], []
    try:
        make_certs(tmp)
        app = App()
        main_srv = serve(Server(("127.0.0.1", 0), Handler, app))
        servers.append(main_srv)
        p_main = main_srv.server_address[1]
        silent = Silent("127.0.0.2")
        others.append(silent)
        endless = serve(Server(("127.0.0.3", 0), EndlessHandler))
        servers.append(endless)
        sni_good, sni_wrong = [], []
        tls_good = serve(Server(("127.0.0.4", 0), TLSHandler,
                                ctx=tls_context(tmp, "good", sni_good)))
        tls_wrong = serve(Server(("127.0.0.5", 0), TLSHandler,
                                 ctx=tls_context(tmp, "wrong", sni_wrong)))
        servers += [tls_good, tls_wrong]
        backlog = FullBacklog("127.0.0.6")
        others.append(backlog)
        refused = closed_port("127.0.0.1")
        ca = os.path.join(tmp, "ca.pem")
        other_ca = os.path.join(tmp, "other-ca.pem")
        try:
            v6 = serve(Server(("::1", 0), Handler, app, family=socket.AF_INET6))
            servers.append(v6)
            p_v6 = v6.server_address[1]
        except OSError:
            v6 = None

        def fields(address, port, **kw):
            return "\t".join([f"address={address}", f"port={port}"] +
                             [f"{k}={v}" for k, v in kw.items()])

        web = ("127.0.0.1", p_main)
        endless_at = ("127.0.0.3", endless.server_address[1])
        good_at = ("127.0.0.4", tls_good.server_address[1])
        wrong_at = ("127.0.0.5", tls_wrong.server_address[1])
        # name, expected verdict, expected reason (regex), spec fields
        T = [
            ("flip", "up", "ok", fields(*web, path="/status", rise=2, fall=3)),
            ("hdr", "up", "ok", fields(*web, path="/hdr", header="X-Probe: yes")),
            ("redirect", "down", r"http status 302", fields(*web, path="/redirect")),
            ("body-ok", "up", "ok", fields(*web, path="/body", body="marker-123")),
            ("body-missing", "down", r"body 'absent' not found",
             fields(*web, path="/body", body="absent")),
            ("head", "up", "ok", fields(*web, path="/headonly", head=1)),
            ("expect", "up", "ok", fields(*web, path="/redirect", expect="200,300-399")),
            ("silent", "down", r"timeout after 0\.2 s",
             fields("127.0.0.2", silent.port, interval=300, timeout=200)),
            ("refused", "down", r"connect refused", fields("127.0.0.1", refused)),
            ("backlog", "down", r"connect timeout after 0\.2 s",
             fields("127.0.0.6", backlog.port, interval=300, timeout=200)),
            ("tcp-open", "up", "ok", fields("127.0.0.2", silent.port, type="tcp")),
            ("tcp-closed", "down", r"connect refused", fields("127.0.0.1", refused, type="tcp")),
            ("endless", "up", "ok", fields(*endless_at)),
            ("endless-marker", "up", "ok", fields(*endless_at, path="/marker", body="FOUND")),
            ("endless-split", "up", "ok", fields(*endless_at, path="/split", body="FOUND")),
            ("endless-never", "down", r"body 'NEVER' not found", fields(*endless_at, body="NEVER")),
            ("tls-good", "up", "ok", fields(*good_at, type="https", host="good.test", ca=ca)),
            ("tls-wrong-name", "down", r"tls: .*(good\.test|name)",
             fields(*wrong_at, type="https", host="good.test", ca=ca)),
            ("tls-no-verify", "up", "ok",
             fields(*wrong_at, type="https", host="good.test", tls_verify=0)),
            # Another CA than the one that signed the server's certificate. (Not the system
            # store: parsing it blocks the probe thread for long under TSan, and libcurl caches
            # only one CA store per multi handle, so it would be parsed again and again.)
            ("tls-unknown-ca", "down", r"tls: .*certificate",
             fields(*good_at, type="https", host="good.test", ca=other_ca)),
        ]
        # Eight targets with one interval, to see the rounds after the first spread out.
        T += [(f"tick{k}", "up", "ok", fields(*web, path=f"/tick/{k}", interval=800, timeout=300))
              for k in range(8)]
        if v6:
            T += [
                ("v6", "up", "ok", fields("::1", p_v6, path="/v6")),
                ("v6-host", "up", "ok", fields("::1", p_v6, path="/hosted", host="good.test")),
            ]
        else:
            # Not a skip: IPv6 probing is part of what this test must show.
            suite.ok(False, "IPv6 targets on ::1", "cannot listen on ::1 on this machine")
        idx = {name: i for i, (name, *_rest) in enumerate(T)}
        spec = os.path.join(tmp, "spec")
        with open(spec, "w") as f:
            for name, _v, _r, fields in T:
                # A target's own fields come last and win over the defaults.
                f.write(f"name={name}\tinterval={INTERVAL_MS}\ttimeout={TIMEOUT_MS}\t{fields}\n")
        state = os.path.join(tmp, "state")
        log_path = os.path.join(tmp, "harness.log")

        h = Harness(harness, spec, state, log_path)
        harnesses.append(h)
        eq(h.cmd("start 0"), "started 0", "start")

        def first_round():
            eq(h.cmd(f"wait 0 {int(WAIT * 1000)}", WAIT + 2), "initial 0 1", "runner_wait_initial")
            v = h.verdicts(0)
            check("unknown" not in v, f"verdicts after the first round: {v}")
        suite.run("the first round gives every target a verdict", first_round)

        def staggered():
            # The first round probes everything at once; the second must be spread across the
            # interval (7/8 of 800 ms here), not fire in lockstep.
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                t = app.tick_times()
                if len(t) == 8 and all(len(v) >= 2 for v in t.values()):
                    break
                time.sleep(0.05)
            t = app.tick_times()
            check(len(t) == 8 and all(len(v) >= 2 for v in t.values()), f"tick probes: {t}")
            first = [v[0] for v in t.values()]
            second = [v[1] for v in t.values()]
            check(max(first) - min(first) < 0.3, f"first round spread {max(first) - min(first):.3f} s")
            # Each of the len(T) targets gets its own point of the interval: about 800/len(T) ms
            # apart, where a schedule in lockstep would put them within a few ms.
            second.sort()
            gaps = [b - a for a, b in zip(second, second[1:])]
            check(min(gaps) >= 0.010, f"second-round probes too close: gaps {gaps}")
            check(second[-1] - second[0] >= 0.1, f"second round spread {second[-1] - second[0]:.3f} s")
        suite.run("rounds after the first are staggered across the interval", staggered)

        for i, (name, want, reason_re, _f) in enumerate(T):
            def one(i=i, name=name, want=want, reason_re=reason_re):
                wait_verdict(h, 0, i, want)
                # The latest probe's reason (a slow first round may have failed differently).
                pat = re.compile(rf" debug probe: {re.escape(name)} \S+: (.*) \(\d+ ms\)$", re.M)
                deadline = time.monotonic() + WAIT
                while True:
                    reasons = pat.findall(h.log_text())
                    if reasons and re.search(reason_re, reasons[-1]):
                        break
                    check(time.monotonic() < deadline,
                          f"{name}: last reason {reasons[-1:]} does not match {reason_re!r}")
                    time.sleep(0.05)
                check(len(reasons[-1].encode()) < 88, f"{name} reason too long: {reasons[-1]!r}")
                mine = [t for t in transitions(h.log_text()) if t[0].split(" ")[0] == name]
                check(mine, f"no transition logged for {name}")
                eq(mine[0][1], "unknown", f"{name} first transition from")
                eq(mine[-1][2], want, f"{name} last transition to")
            suite.run(f"{name} is {want} ({reason_re.replace(chr(92), '')})", one)

        def sni():
            check("good.test" in sni_good, f"server name sent to the good server: {sni_good}")
            check(set(sni_wrong) <= {"good.test"} and sni_wrong, f"to the other: {sni_wrong}")
        suite.run("https probes send the check's host as server name", sni)

        def log_shape():
            text = h.log_text()
            shapes = [r"\S+ \S+ unknown -> (up|down) \([^;()]*(\([^()]*\))?[^;()]*\)",
                      r"\S+ \S+ up -> down \(.*; (\d+) of \1 failed\)",
                      r"\S+ \S+ down -> up \(ok; (\d+) of \1 succeeded\)"]
            lines = re.findall(r" info health: (.* -> .*)$", text, re.M)
            check(lines, "no transition lines")
            for line in lines:
                check(any(re.fullmatch(p, line) for p in shapes), f"odd transition line {line!r}")
            lab = f"flip 127.0.0.1:{p_main}"
            check(re.search(rf" debug probe: {re.escape(lab)}: ok \(\d+ ms\)$", text, re.M),
                  "no per-probe debug line")
            check(not re.search(r" (info|warning|error) probe: .*: ok ", text),
                  "per-probe lines above debug")
        suite.run("transitions are single info lines and probes are logged at debug", log_shape)

        fl = idx["flip"]

        def guard_for(code, need, want):
            def guard(v):
                # Verdict first, then the server's count: the count can only have grown since.
                if v == want:
                    n = app.served_count(code)
                    check(n >= need, f"{want} after only {n} answers {code} (need {need})")
            return guard

        def fall():
            app.set_status(503)
            wait_verdict(h, 0, fl, "down", guard_for(503, 3, "down"))
            check(f" info health: flip 127.0.0.1:{p_main} up -> down (http status 503; 3 of 3 "
                  "failed)\n" in h.log_text(), "no 'up -> down' line")
        suite.run("an up target goes down only after fall (3) failed probes", fall)

        def rise():
            app.set_status(200)
            wait_verdict(h, 0, fl, "up", guard_for(200, 2, "up"))
            check(f" info health: flip 127.0.0.1:{p_main} down -> up (ok; 2 of 2 succeeded)\n"
                  in h.log_text(), "no 'down -> up' line")
        suite.run("a down target comes back up only after rise (2) good probes", rise)

        def follower():
            eq(h.cmd("start 1"), "started 1", "start")
            eq(h.cmd("wait 1 0", 2), "initial 1 1", "a follower has nothing to wait for")
            before = app.served_count(200)
            time.sleep(2.5)
            n = app.served_count(200) - before
            limit = int(2500 / INTERVAL_MS) + 2  # two probers would make about twice as many
            check(n <= limit, f"{n} probes of /status in 2.5 s: two probers? (limit {limit})")
            eq(h.verdicts(1), h.verdicts(0), "both maps show the same verdicts")
        suite.run("a second runner on the same state follows and does not probe", follower)

        slots0 = {}

        def handover():
            slots0.update(h.stop(0))
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline and h.log_text().count(" info health: probing ") < 2:
                time.sleep(0.02)
            check(h.log_text().count(" info health: probing ") >= 2, "follower did not take over")
            app.set_status(500)
            wait_verdict(h, 1, fl, "down")
            app.set_status(200)
            wait_verdict(h, 1, fl, "up")
        suite.run("the follower takes over when the leader stops and keeps probing", handover)

        def slots_after():
            slots1 = h.stop(1)
            eq(len(slots1), len(T), "slot count")
            for name, want, reason_re, _f in T:
                s = slots1[idx[name]]
                eq(s["verdict"], want, f"{name} stored verdict")
                check(re.search(reason_re, s["reason"]), f"{name} stored reason {s['reason']!r}")
                eq(s["since"], "1", f"{name} since set")
                check(int(s["probes"]) > int(slots0[idx[name]]["probes"]),
                      f"{name}: probes did not continue from the first leader's count")
                if want == "down":
                    eq(s["failures"], s["probes"], f"{name} failures")
        suite.run("slots hold verdict, reason and counters that carry over the hand-over",
                  slots_after)

        def clean_exit():
            eq(h.quit(), 0, "harness exit status")
            text = h.log_text()
            for mark in SANITIZER_MARKS:
                check(mark not in text, f"sanitizer report in the log: {mark}")
        suite.run("the harness stops cleanly with no sanitizer report", clean_exit)

        def restart():
            h2 = Harness(harness, spec, state, log_path + ".2")
            harnesses.append(h2)
            eq(h2.cmd("start 0"), "started 0", "start")
            v = h2.verdicts(0)
            want = [w for _n, w, _r, _f in T]
            eq(v, want, "verdicts right after a restart")
            eq(h2.cmd(f"wait 0 {int(WAIT * 1000)}", WAIT + 2), "initial 0 1", "first round")
            eq(h2.quit(), 0, "exit status")
            text = h2.log_text()
            for mark in SANITIZER_MARKS:
                check(mark not in text, f"sanitizer report in the log: {mark}")
            check("unknown ->" not in text, "a restarted runner started from unknown")
        suite.run("a restarted runner keeps the verdicts in the state directory", restart)
    except Exception as e:
        suite.ok(False, "test setup", f"{type(e).__name__}: {e}")
    finally:
        for h in harnesses:
            try:
                h.quit()
            except Exception:
                pass
        for s in servers:
            s.shutdown()
            s.server_close()
        for o in others:
            o.close()
        if args.keep or suite.failed:
            print(f"# kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"1..{suite.n}")
    return 1 if suite.failed else 0


if __name__ == "__main__":
    sys.exit(main())
