#!/usr/bin/python3
"""Integration test of the transition notifier (health/notify.c).

Runs notify_harness (tests/integration/notify_harness.c) against a webhook receiver on
127.0.0.1 that records every POST and can answer 500, hang, or be down. Checks the bodies and
their order, retries with backoff, delivery to a receiver that comes up late, giving up, queue
overflow (drop oldest), and that notify_stop() keeps its time bound. Prints TAP; exits 1 if
anything failed. Every process started here is stopped by its PID; every wait is bounded.

    /usr/bin/python3 tests/integration/test_notify.py --harness build/notify_harness
"""
import argparse
import http.server
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

WAIT = 10.0  # bound of every wait, generous for sanitizer builds
SLACK = 0.6  # extra seconds a retry may come late (scheduling, sanitizers)
STOP_BOUND_MS = 2000  # the notifier's default stop bound
# Fields of an event the tests do not set (the harness's "event" command takes them all).
EVENT_DEFAULTS = {"member": "web1", "pool": "web", "target": "web1 192.0.2.1:80",
                  "address": "192.0.2.1", "port": 80, "check": "http", "from": "up", "to": "down",
                  "reason": "http status 503", "count": 3, "when": 1796025600123}
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


def project_version():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "meson.build")) as f:
        m = re.search(r"version:\s*'([^']+)'", f.read())
    return m.group(1) if m else None


# ---- the receiver ----------------------------------------------------------------------------

class Receiver:
    """A webhook on 127.0.0.1. plan: list of actions for the first requests, each an int
    (status to answer) or ("hang", seconds) (wait, then answer 200); after the plan, 200."""

    def __init__(self, port=0, plan=()):
        self.lock = threading.Lock()
        self.plan = list(plan)
        self.arrivals = []  # monotonic time of every request (when its headers were read)
        self.posts = []  # (monotonic time, path, headers, body) of every request
        self.release = threading.Event()  # ends every hang early (shutdown)
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                with receiver.lock:
                    receiver.arrivals.append(time.monotonic())
                    action = receiver.plan.pop(0) if receiver.plan else 200
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with receiver.lock:
                    receiver.posts.append((time.monotonic(), self.path, dict(self.headers), body))
                if isinstance(action, tuple):
                    receiver.release.wait(action[1])
                    action = 200
                out = b'{"ok":true}' if action == 200 else b"no"
                try:
                    self.send_response(action)
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                except OSError:
                    pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.port}{path}"

    def count(self):
        with self.lock:
            return len(self.posts)

    def arrived(self):
        with self.lock:
            return len(self.arrivals)

    def bodies(self):
        with self.lock:
            return [json.loads(p[3]) for p in self.posts]

    def times(self):
        with self.lock:
            return [p[0] for p in self.posts]

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(cond, what, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise Failure(f"timed out after {timeout}s waiting for {what}")


# ---- the harness -----------------------------------------------------------------------------

class Harness:
    def __init__(self, binary, url, log_path, *opts):
        env = dict(os.environ)
        # A proxy from the environment must not be used: these point at a closed port.
        for k in ("http_proxy", "https_proxy", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
            env[k] = "http://127.0.0.1:9"
        env.pop("no_proxy", None)
        env.pop("NO_PROXY", None)
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen([binary, url, "-d", *opts], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, env=env, text=True,
                                     bufsize=1)
        self.lines = queue.Queue()
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()

    def read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def cmd(self, cmd, timeout=WAIT):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise Failure(f"harness did not answer {cmd.split()[0]!r} within {timeout}s")
        if line is None:
            raise Failure(f"harness exited (status {self.proc.wait(5)})")
        return line

    def event(self, **fields):
        f = dict(EVENT_DEFAULTS, **fields)
        eq(self.cmd("event " + "\t".join(f"{k}={v}" for k, v in f.items())), "queued", "event")

    def stats(self):
        line = self.cmd("stats")
        m = re.match(r"stats sent=(\d+) failed=(\d+) dropped=(\d+)$", line)
        check(m, f"unexpected stats line {line!r}")
        return tuple(int(x) for x in m.groups())

    def wait_stats(self, want, what):
        """Waits until (sent, failed, dropped) equals want."""
        got = None
        deadline = time.monotonic() + WAIT + 40  # a lost event takes up to ~40 s of retries
        while time.monotonic() < deadline:
            got = self.stats()
            if got == want:
                return
            time.sleep(0.05)
        raise Failure(f"{what}: counters (sent, failed, dropped) are {got}, want {want}")

    def stop(self):
        """notify_stop(); returns its duration in ms as the harness measured it."""
        line = self.cmd("stop", timeout=WAIT)
        m = re.match(r"stopped ms=(\d+)$", line)
        check(m, f"unexpected stop line {line!r}")
        return int(m.group(1))

    def quit(self):
        """Ends the harness by its PID; returns its exit status."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait(5)
        if not self.log.closed:
            self.log.close()
        return self.proc.returncode

    def log_text(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def finish(self):
        """Quits and checks the exit status and the log for sanitizer reports."""
        eq(self.quit(), 0, "harness exit status")
        text = self.log_text()
        for mark in SANITIZER_MARKS:
            check(mark not in text, f"sanitizer report in the log: {mark}\n{text[-3000:]}")
        return text


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--harness", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    harness = os.path.abspath(args.harness)
    tmp = tempfile.mkdtemp(prefix="pf-notify-")
    suite = Suite()
    receivers, harnesses = [], []
    version = project_version()
    logn = [0]

    def receiver(**kw):
        r = Receiver(**kw)
        receivers.append(r)
        return r

    def start(url, *opts):
        logn[0] += 1
        h = Harness(harness, url, os.path.join(tmp, f"harness{logn[0]}.log"), *opts)
        harnesses.append(h)
        return h

    try:
        def rejects_bad_urls():
            for url in ("ftp://127.0.0.1/hook", "127.0.0.1:80/hook", "http://"):
                h = start(url)
                line = h.lines.get(timeout=WAIT)
                check(line and line.startswith("error notify url"),
                      f"{url}: harness said {line!r}")
                eq(h.proc.wait(WAIT), 1, f"{url}: exit status")
        suite.run("notify_start rejects urls that are not http or https", rejects_bad_urls)

        def in_order():
            r = receiver()
            h = start(r.url("/hook?k=1"), "--host", "ns-test")
            events = [
                {"member": "web1", "from": "unknown", "to": "up", "reason": "ok", "count": 1},
                {"member": "web1", "from": "up", "to": "down", "reason": "http status 503"},
                {"member": "web2,web2b", "pool": "web,api", "target": "web2 192.0.2.2:8080",
                 "address": "192.0.2.2", "port": 8080, "check": "https", "from": "down",
                 "to": "up", "reason": "ok", "count": 2, "when": 1796025601007},
                {"member": "v6 \"quoted\" caf\u00e9", "target": "v6 [2001:db8::1]:80",
                 "address": "2001:db8::1", "check": "tcp", "reason": "connect refused"},
                {"member": "back\\slash", "reason": "timeout", "when": 0},
            ]
            for e in events:
                h.event(**e)
            wait_for(lambda: r.count() >= len(events), f"{len(events)} bodies")
            h.wait_stats((len(events), 0, 0), "counters")
            got = r.bodies()
            eq(len(got), len(events), "bodies received")
            times = {1796025600123: "2026-11-30T08:00:00.123Z",
                     1796025601007: "2026-11-30T08:00:01.007Z", 0: "1970-01-01T00:00:00.000Z"}
            for i, (e, b) in enumerate(zip(events, got)):
                f = dict(EVENT_DEFAULTS, **e)
                want = {"event": "transition", "member": f["member"], "pool": f["pool"],
                        "target": f["target"], "address": f["address"], "port": f["port"],
                        "check": f["check"], "from": f["from"], "to": f["to"],
                        "reason": f["reason"], "count": f["count"], "time": times[f["when"]],
                        "host": "ns-test", "version": version}
                eq(b, want, f"body {i}")
            for _t, path, headers, body in r.posts:
                eq(path, "/hook?k=1", "request path")
                eq(headers.get("Content-Type"), "application/json", "Content-Type")
                check(headers.get("User-Agent", "").startswith("pdns-failover/"),
                      f"User-Agent {headers.get('User-Agent')!r}")
                check(body.startswith(b'{"event":"transition",'), f"body starts {body[:30]!r}")
            text = h.finish()
            check("lost" not in text, "a lost event in the log")
        suite.run("bodies arrive in order with the documented json", in_order)

        def default_host():
            r = receiver()
            h = start(r.url())
            h.event()
            wait_for(lambda: r.count() >= 1, "the body")
            eq(r.bodies()[0]["host"], socket.gethostname(), "host")
            h.finish()
        suite.run("the host field defaults to the machine's hostname", default_host)

        def retries():
            r = receiver(plan=[500, 500])
            h = start(r.url())
            h.event(member="retry1")
            h.wait_stats((1, 0, 0), "counters")
            eq(r.count(), 3, "attempts")
            bodies = r.bodies()
            check(all(b == bodies[0] for b in bodies), "the retries carry the same body")
            t = r.times()
            g1, g2 = t[1] - t[0], t[2] - t[1]
            check(0.95 <= g1 <= 1.25 + SLACK, f"first gap {g1:.3f}s, want 1 s (+25% jitter)")
            check(1.95 <= g2 <= 2.5 + SLACK, f"second gap {g2:.3f}s, want 2 s (+25% jitter)")
            text = h.finish()
            eq(len(re.findall(r"attempt \d+ for .* failed \(http status 500\)", text)), 2,
               "retry lines in the debug log")
        suite.run("a receiver answering 500 twice gets the event on the third attempt after "
                  "1 s and 2 s", retries)

        def late_receiver():
            port = free_port()
            h = start(f"http://127.0.0.1:{port}/late")
            t0 = time.monotonic()
            h.event(member="late1")
            wait_for(lambda: "attempt 1 for" in h.log_text(), "the first failed attempt")
            time.sleep(max(0.0, t0 + 2.0 - time.monotonic()))
            r = receiver(port=port)
            wait_for(lambda: r.count() >= 1, "the body", timeout=WAIT + 8)
            h.wait_stats((1, 0, 0), "counters")
            eq(r.bodies()[0]["member"], "late1", "member")
            text = h.finish()
            check(re.search(r"attempt 1 for .* failed \(.*(refused|connect).*\)", text, re.I),
                  "a connect failure in the debug log")
        suite.run("a receiver that is down at first and comes up within the retry window still "
                  "gets the event", late_receiver)

        def gives_up():
            r = receiver(plan=[500, 503, 500])
            h = start(r.url(), "--attempts", "3")
            h.event(member="lost1")
            h.event(member="next1")
            h.wait_stats((1, 1, 0), "counters")
            wait_for(lambda: r.count() >= 4, "the next event")
            eq([b["member"] for b in r.bodies()], ["lost1"] * 3 + ["next1"], "order of bodies")
            text = h.finish()
            lost = re.findall(r"error notify: lost the notification of .*$", text, re.M)
            eq(len(lost), 1, "lost lines")
            check("after 3 attempts (http status 500)" in lost[0], f"lost line {lost[0]!r}")
        suite.run("an event is given up after its attempts with one error line, and the next "
                  "one follows", gives_up)

        def overflow():
            r = receiver(plan=[("hang", 1.5)])
            h = start(r.url(), "--queue", "8")
            h.event(member="m1", count=1)
            wait_for(lambda: r.arrived() >= 1, "the first request")
            for i in range(2, 21):
                h.event(member=f"m{i}", count=i)
            eq(h.stats()[2], 11, "dropped right after the burst")
            h.wait_stats((9, 0, 11), "counters")
            eq([b["count"] for b in r.bodies()], [1] + list(range(13, 21)), "delivered events")
            text = h.finish()
            check(re.search(r"warning notify: queue full: dropped the \d+ oldest", text),
                  "a queue-full warning in the log")
        suite.run("a full queue drops the oldest events and counts them", overflow)

        def stop_delivers():
            r = receiver()
            h = start(r.url())
            for i in range(3):
                h.event(member=f"s{i}")
            ms = h.stop()
            eq([b["member"] for b in r.bodies()], ["s0", "s1", "s2"], "delivered at stop")
            check(ms <= STOP_BOUND_MS, f"stop took {ms} ms")
            h.finish()
        suite.run("notify_stop delivers what is queued", stop_delivers)

        def stop_cuts_wait():
            r = receiver(plan=[500])
            h = start(r.url())
            h.event(member="w1")
            wait_for(lambda: r.count() >= 1, "the first attempt")
            time.sleep(0.2)  # now in the 1 s backoff wait
            ms = h.stop()
            eq([b["member"] for b in r.bodies()], ["w1", "w1"], "attempts")
            check(ms < 900, f"stop took {ms} ms: it waited out the backoff")
            h.finish()
        suite.run("notify_stop ends a backoff wait with one more attempt at once", stop_cuts_wait)

        def stop_bound():
            r = receiver(plan=[("hang", 30)])
            h = start(r.url())
            h.event(member="h1")
            h.event(member="h2")
            wait_for(lambda: r.arrived() >= 1, "the request")
            t0 = time.monotonic()
            ms = h.stop()
            took = time.monotonic() - t0
            check(ms <= STOP_BOUND_MS + 400, f"notify_stop took {ms} ms")
            check(took <= STOP_BOUND_MS / 1000 + 1.0, f"stop answered after {took:.2f}s")
            check(ms >= STOP_BOUND_MS - 100, f"notify_stop gave up early ({ms} ms)")
            text = h.finish()
            check(re.search(r"lost the notification of .* \(cut off by shutdown\)", text),
                  "no lost line for the cut-off event")
            check("1 queued notification not delivered at shutdown" in text,
                  "no line for the event never attempted")
        suite.run("notify_stop returns within its bound when the receiver hangs", stop_bound)
    except Exception as e:
        suite.ok(False, "test setup", f"{type(e).__name__}: {e}")
    finally:
        for h in harnesses:
            try:
                h.quit()
            except Exception:
                pass
        for r in receivers:
            r.close()
        if args.keep or suite.failed:
            print(f"# kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"1..{suite.n}")
    return 1 if suite.failed else 0


if __name__ == "__main__":
    sys.exit(main())
