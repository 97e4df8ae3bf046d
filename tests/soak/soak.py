#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Soak test with an oracle: answers checked against the endpoints' true health, for minutes.

A real pdns_server (loopback, a free port) answers, through pdns-failover (unix connector, or
--connector pipe), three pool names of one zone:

  fo.example.com.   failover, 2 tiers of 2 members, when_all_down "none"
  wt.example.com.   weighted, 3 members (weights 1, 2, 3), max_answers 1, when_all_down "none"
  all.example.com.  all, 3 members in 2 tiers, when_all_down {"fallback": [FALLBACK]}

Each member is an HTTP endpoint on 127.0.90.x (one port for all, outside the ephemeral range)
served by a single responder thread of this script, whose /health answers 200 "ok", 503, never
(hang: the connection is held open) or not at all (refuse: the listening socket is closed).
Checks: http /health, body "ok", --interval 1 s, --timeout 0.5 s, --rise 2, --fall 2.

For --duration seconds:
  - dnsperf sends a steady --qps (default 2,000) of A queries for the pool names and a static
    name (background pressure; its lost and SERVFAIL counts are checked);
  - a checker thread per pool name queries it every 20-50 ms (dnspython, UDP) and records each
    answer with its send and receive times (time.monotonic(), CLOCK_MONOTONIC as the daemon's)
    and rcode;
  - a flapper (seeded RNG; the seed is printed, --seed replays it) takes endpoints down (503,
    refuse or hang, at random) and up again at random times, recording when each change took
    effect in the responder;
  - the daemon's VmRSS is sampled every second (in pipe mode every co-process's).

Then the oracle judges every answer at its send time. The daemon promises (README, "How long a
failover takes") detection within interval x fall + timeout; health/scheduler.c keeps probe rounds
on a fixed grid (due = previous due + interval, not finish + interval), so the first round at or
after the change is less than one interval later, the fall-th failing round fall-1 intervals after
that, and its result is in by timeout after it starts: D = interval x fall + timeout exactly, and
R = interval x rise + timeout for coming back (an OK probe ends before its timeout too). The
oracle adds --slack (default 0.25 s) for probe-thread wake-up and scheduling on a shared 2-core
machine, and in purge mode PURGE_SLACK (0.3 s: the purger resends every purge 200 ms later to
catch answers pdns was computing during the transition, plus the control-socket round trip). A
member is "surely down" at t if it has been truly down for longer than D + slack, "surely up" if
truly up for longer than R + slack; otherwise the daemon may say either. Criteria (one TAP line
each):

  a) fo: no surely-down member answered;
  b) fo: a tier with a surely-up member is never skipped for a worse tier, and the answered tier
     includes every surely-up member of it (failover answers all healthy members of the best tier);
  c) wt/all: no surely-down member answered; all: no surely-up member left out;
  d) checker: every query NOERROR (no SERVFAIL, no other rcode, no timeout); dnsperf: no query
     lost, no SERVFAIL;
  e) well-formed answers: only the pool's addresses (or all's fallback), fo never mixes tiers, wt
     at most max_answers, no empty (NODATA) or fallback answer while some member is surely up;
  f) RSS: max - min of the samples after warm-up (max(30 s, 20% of the run), at most half of it)
     below --rss-limit-kb (1 MB); the least-squares trend is reported. Skipped for an ASan build
     (its quarantine holds freed memory; LeakSanitizer checks leaks at exit, criterion g) unless
     ASAN_OPTIONS has quarantine_size_mb=0;
  g) pdns and the daemon ran to the end, the daemon exited 0 on SIGTERM (unix), and no log holds
     a sanitizer report.

Prints a summary (lines starting with '#'), one TAP line per criterion, and the first violations
with their times (seconds since the soak started); exits 1 on any violation, 2 if it could not run.
Writes to --out (default: a new /tmp/pf-soak-* directory): answers.csv, states.csv, rss.csv,
violations.csv, dnsperf.txt, the daemon's and pdns's logs, the store and pdns.conf.

Loopback only; every wait is bounded; every process started here is stopped by its PID.
"""
import argparse
import bisect
import collections
import csv
import json
import os
import random
import re
import select
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

try:
    import dns.exception
    import dns.message
    import dns.rcode
    import dns.rdatatype
except ImportError:
    print("not ok 1 - soak needs dnspython (apt-get install python3-dnspython; run it with "
          "/usr/bin/python3)")
    sys.exit(2)

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
ROOT = ["--allow-root"] if os.geteuid() == 0 else []

ZONE = "example.com."
SOA = "ns1.example.com. hostmaster.example.com. 2026113001 10800 3600 604800 300"
STATIC = "192.0.2.10"
FALLBACK = "192.0.2.99"
PURGE_SLACK = 0.3
# --pdns-cache on (no purge mode): an empty answer (NODATA) has no record to carry the scopeMask,
# so pdns's packet cache keeps it for min(cache-ttl, the zone's negative TTL) = 20 s with pdns's
# defaults and this zone (README, "Caching"); only purge mode removes it sooner.
NODATA_CACHE_SLACK = 20.0
QUERY_TIMEOUT = 3.0  # the checker's; pdns's own backend timeout is 2 s (SERVFAIL after it)
MODES = ("503", "refuse", "hang")

# name, pool, policy, [(member, last octet, tier, weight)], pool options
POOLS = [
    ("fo", "failover", [("fo-a1", 11, 1, 1), ("fo-a2", 12, 1, 1), ("fo-b1", 13, 2, 1),
                        ("fo-b2", 14, 2, 1)], {"when_all_down": "none"}),
    ("wt", "weighted", [("wt-1", 21, 1, 1), ("wt-2", 22, 1, 2), ("wt-3", 23, 1, 3)],
     {"when_all_down": "none", "max_answers": 1}),
    ("all", "all", [("all-1", 31, 1, 1), ("all-2", 32, 1, 1), ("all-3", 33, 2, 1)],
     {"when_all_down": {"fallback": [FALLBACK]}}),
]
NET = "127.0.90."


class HarnessError(Exception):
    pass


def say(msg=""):
    for line in str(msg).splitlines() or [""]:
        print(f"# {line}" if line else "#", flush=True)


def mono():
    return time.monotonic()


# ---- ports and processes ----------------------------------------------------------------------

def free_port(addr="127.0.0.1"):
    """A port free on addr for both TCP and UDP (pdns's listening port)."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind((addr, 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind((addr, port))
        except OSError:
            t.close()
            u.close()
            continue
        t.close()
        u.close()
        return port
    raise HarnessError("no free port found")


def endpoint_port(addrs, rng):
    """One TCP port, outside the kernel's ephemeral range, that every address can bind: while an
    endpoint 'refuses', its port is closed, and a port nobody is handed at random stays ours."""
    for _ in range(200):
        port = rng.randrange(20000, 30000)
        socks = []
        try:
            for a in addrs:
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                socks.append(s)
                s.bind((a, port))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise HarnessError("no port free on every endpoint address")


def stop_proc(proc, timeout=10):
    """SIGTERM (after SIGCONT), then SIGKILL, to a process started here, by its PID."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGCONT)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)
    except ProcessLookupError:
        pass


def wait_for(pred, timeout, what, step=0.05):
    deadline = mono() + timeout
    while mono() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise HarnessError(f"timed out after {timeout} s waiting for {what}")


def vm_rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def children_named(ppid, comm):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        c = s[s.index("(") + 1:s.rindex(")")]
        fields = s[s.rindex(")") + 2:].split()
        if c == comm and int(fields[1]) == ppid:
            out.append(int(d))
    return sorted(out)


def is_asan(binary):
    with open(binary, "rb") as f:
        return b"__asan_init" in f.read()


# ---- the endpoints: one responder thread for all of them --------------------------------------

class Endpoint:
    def __init__(self, member, pool, addr, tier, weight):
        self.member, self.pool, self.addr, self.tier, self.weight = member, pool, addr, tier, weight
        self.mode = "ok"  # ok | 503 | hang | refuse; the responder thread's own
        self.lsock = None
        self.requests = 0


class Hub(threading.Thread):
    """Serves every endpoint's /health from one selector loop. Modes change only through
    command(), which the loop applies between events and acknowledges with the monotonic time
    the change took effect: every probe request completed after it gets the new behaviour."""

    HANG_HOLD = 5.0  # a hanging connection is closed after this (the prober gives up sooner)
    IDLE = 5.0       # a connection that never sends a complete request

    def __init__(self, endpoints, port):
        super().__init__(daemon=True, name="hub")
        self.eps, self.port = endpoints, port
        self.sel = selectors.DefaultSelector()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        self.sel.register(self.wake_r, selectors.EVENT_READ, ("wake", None))
        self.cmds = collections.deque()
        self.stopping = False
        self.error = None
        self.conns = {}  # socket -> [endpoint, buffer, deadline, hanging]
        for ep in endpoints:
            self._listen(ep)

    def _listen(self, ep):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        deadline = mono() + 2
        while True:
            try:
                s.bind((ep.addr, self.port))
                break
            except OSError as e:
                if mono() > deadline:
                    s.close()
                    raise HarnessError(f"cannot listen on {ep.addr}:{self.port} again: {e}")
                time.sleep(0.01)
        s.listen(128)
        s.setblocking(False)
        ep.lsock = s
        self.sel.register(s, selectors.EVENT_READ, ("listen", ep))

    def command(self, ep, mode, timeout=5):
        """Sets ep's mode; returns the monotonic time it took effect."""
        done = threading.Event()
        box = []
        self.cmds.append((ep, mode, done, box))
        os.write(self.wake_w, b"x")
        if not done.wait(timeout):
            raise HarnessError(f"the responder did not apply {ep.member} -> {mode} in {timeout} s")
        if isinstance(box[0], Exception):
            raise box[0]
        return box[0]

    def _apply(self, ep, mode, done, box):
        try:
            if mode == "refuse" and ep.lsock is not None:
                self.sel.unregister(ep.lsock)
                ep.lsock.close()  # connections not yet accepted are reset with it
                ep.lsock = None
            elif mode != "refuse" and ep.lsock is None:
                self._listen(ep)
            ep.mode = mode
            box.append(mono())
        except Exception as e:  # noqa: BLE001 - handed to the flapper
            box.append(e)
        done.set()

    def _close(self, s):
        self.conns.pop(s, None)
        try:
            self.sel.unregister(s)
        except (KeyError, ValueError):
            pass
        s.close()

    def _request(self, s, c):
        ep = c[0]
        ep.requests += 1
        if ep.mode == "hang":
            c[2], c[3] = mono() + self.HANG_HOLD, True
            return
        if ep.mode == "refuse":  # accepted just before the port closed: no answer either
            self._close(s)
            return
        if ep.mode == "ok":
            head, body = "200 OK", b"ok\n"
        else:
            head, body = "503 Service Unavailable", b"unavailable\n"
        msg = (f"HTTP/1.0 {head}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
               "Connection: close\r\n\r\n").encode() + body
        try:
            s.send(msg)  # small: fits the fresh socket's buffer at once
        except OSError:
            pass
        self._close(s)

    def run(self):
        try:
            while not self.stopping:
                for key, _ in self.sel.select(0.05):
                    kind, ep = key.data
                    if kind == "wake":
                        try:
                            os.read(self.wake_r, 4096)
                        except BlockingIOError:
                            pass
                    elif kind == "listen":
                        for _ in range(64):
                            try:
                                cs, _ = ep.lsock.accept()
                            except (BlockingIOError, OSError):
                                break
                            cs.setblocking(False)
                            self.conns[cs] = [ep, b"", mono() + self.IDLE, False]
                            self.sel.register(cs, selectors.EVENT_READ, ("conn", ep))
                    else:
                        s = key.fileobj
                        c = self.conns.get(s)
                        if c is None:
                            continue
                        try:
                            data = s.recv(4096)
                        except (BlockingIOError, InterruptedError):
                            continue
                        except OSError:
                            data = b""
                        if not data:
                            self._close(s)
                        elif not c[3]:
                            c[1] += data
                            if b"\r\n\r\n" in c[1]:
                                self._request(s, c)
                while self.cmds:
                    self._apply(*self.cmds.popleft())
                now = mono()
                for s in [s for s, c in self.conns.items() if c[2] < now]:
                    self._close(s)
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            self.error = e

    def stop(self):
        self.stopping = True
        os.write(self.wake_w, b"x")
        self.join(5)
        for s in list(self.conns):
            self._close(s)
        for ep in self.eps:
            if ep.lsock is not None:
                ep.lsock.close()
                ep.lsock = None


# ---- the state timeline and the flapper -------------------------------------------------------

class Timeline:
    """Each endpoint's true state over time: [(t, 'up'|'down', mode)], t monotonic."""

    def __init__(self, endpoints, t0):
        self.ev = {ep.member: [(t0, "up", "ok")] for ep in endpoints}
        self.lock = threading.Lock()

    def add(self, member, t, state, mode):
        with self.lock:
            self.ev[member].append((t, state, mode))

    def freeze(self):
        self.times = {m: [e[0] for e in ev] for m, ev in self.ev.items()}

    def at(self, member, t):
        """(state, since) of member at t."""
        i = bisect.bisect_right(self.times[member], t) - 1
        e = self.ev[member][max(i, 0)]
        return e[1], e[0]

    def periods(self, member, t_end):
        """[(start, end, state, mode)] covering the timeline up to t_end."""
        ev = self.ev[member]
        return [(e[0], ev[k + 1][0] if k + 1 < len(ev) else t_end, e[1], e[2])
                for k, e in enumerate(ev)]


class Flapper(threading.Thread):
    """Takes endpoints down and up at random times drawn from rng (seeded). Per endpoint: up for
    U(0.8, 4) x R0, then down, either a blip (25%: 0.1 s to (fall-1) intervals, shorter than
    detection) or U(0.5, 3) x D0, in a mode drawn from `modes`; and again."""

    def __init__(self, hub, timeline, rng, t0, duration, d0, r0, interval, fall, modes):
        super().__init__(daemon=True, name="flapper")
        self.hub, self.tl = hub, timeline
        self.t0, self.t_end = t0, t0 + duration
        self.stopping = threading.Event()
        self.error = None
        self.count = collections.Counter()
        # The whole schedule is drawn up front, so the seed alone fixes it.
        self.schedule = []
        blip_max = max(0.2, interval * (fall - 1))
        for ep in hub.eps:
            t = t0 + rng.uniform(0, 4) * r0
            while t < self.t_end:
                mode = rng.choice(modes)
                if rng.random() < 0.25:
                    down = rng.uniform(0.1, blip_max)
                else:
                    down = rng.uniform(0.5, 3) * d0
                self.schedule.append((t, ep, mode))
                if t + down < self.t_end:
                    self.schedule.append((t + down, ep, "ok"))
                t += down + rng.uniform(0.8, 4) * r0
        self.schedule.sort(key=lambda e: (e[0], e[1].member))

    def run(self):
        try:
            for t, ep, mode in self.schedule:
                delay = t - mono()
                if delay > 0 and self.stopping.wait(delay):
                    return
                if self.stopping.is_set():
                    return
                t_eff = self.hub.command(ep, mode)
                self.tl.add(ep.member, t_eff, "up" if mode == "ok" else "down", mode)
                self.count[mode] += 1
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            self.error = e


# ---- the checker --------------------------------------------------------------------------------

class Checker(threading.Thread):
    """Queries one name every U(20, 50) ms over UDP; records
    (name, t_send, t_recv, rcode, addresses); t_recv None and rcode 'TIMEOUT' when no answer came
    within QUERY_TIMEOUT."""

    def __init__(self, name, port, seed, until):
        super().__init__(daemon=True, name=f"checker-{name}")
        self.name, self.port, self.until = name, port, until
        self.rng = random.Random(seed)
        self.records = []
        self.stopping = threading.Event()
        self.error = None

    def run(self):
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.connect(("127.0.0.1", self.port))
            while not self.stopping.is_set() and mono() < self.until:
                q = dns.message.make_query(self.name, "A")
                q.flags = 0  # no RD: an authoritative question
                wire = q.to_wire()
                t_send = mono()
                sock.send(wire)
                deadline = t_send + QUERY_TIMEOUT
                rec = None
                while rec is None:
                    left = deadline - mono()
                    if left <= 0 or not select.select([sock], [], [], left)[0]:
                        rec = (self.name, t_send, None, "TIMEOUT", ())
                        break
                    try:
                        data = sock.recv(65535)
                    except ConnectionRefusedError:
                        rec = (self.name, t_send, mono(), "REFUSED-PORT", ())
                        break
                    t_recv = mono()
                    try:
                        m = dns.message.from_wire(data)
                    except Exception:  # noqa: BLE001 - a malformed answer is a wrong answer
                        rec = (self.name, t_send, t_recv, "MALFORMED", ())
                        break
                    if m.id != q.id:
                        continue  # the late answer to a query that timed out
                    addrs = tuple(sorted(r.address for rr in m.answer
                                         if rr.rdtype == dns.rdatatype.A for r in rr))
                    rec = (self.name, t_send, t_recv, dns.rcode.to_text(m.rcode()), addrs)
                self.records.append(rec)
                self.stopping.wait(self.rng.uniform(0.02, 0.05))
            sock.close()
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            self.error = e


def query_once(port, name, rtype="A", timeout=1.0):
    q = dns.message.make_query(name, rtype)
    q.flags = 0
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.sendto(q.to_wire(), ("127.0.0.1", port))
        while True:
            data, _ = s.recvfrom(65535)
            m = dns.message.from_wire(data)
            if m.id == q.id:
                addrs = sorted(r.address for rr in m.answer if rr.rdtype == dns.rdatatype.A
                               for r in rr)
                return dns.rcode.to_text(m.rcode()), addrs
    except (OSError, dns.exception.DNSException):
        return None, []
    finally:
        s.close()


# ---- RSS sampler --------------------------------------------------------------------------------

class RssSampler(threading.Thread):
    def __init__(self, pids_fn):
        super().__init__(daemon=True, name="rss")
        self.pids_fn = pids_fn
        self.samples = []  # (t, pid, kb)
        self.stopping = threading.Event()

    def run(self):
        while True:
            t = mono()
            for pid in self.pids_fn():
                kb = vm_rss_kb(pid)
                if kb is not None:
                    self.samples.append((t, pid, kb))
            if self.stopping.wait(1.0):
                return


# ---- pdns + pdns-failover -----------------------------------------------------------------------

def build_store(endpoints, port, args, control_socket):
    check = {"type": "http", "port": port, "path": "/health", "host": "soak.example.com",
             "expect": ["200"], "body": "ok", "interval": args.interval, "timeout": args.timeout,
             "rise": args.rise, "fall": args.fall}
    pools = {}
    for name, policy, members, opts in POOLS:
        pools[name] = dict({"policy": policy, "check": "soak",
                            "members": [{"name": m, "address": NET + str(o), "tier": tier,
                                         "weight": w} for m, o, tier, w in members]}, **opts)
    records = {"@": [{"type": "SOA", "content": SOA}, {"type": "NS", "content": "ns1"}],
               "ns1": [{"type": "A", "content": "192.0.2.53"}],
               "static": [{"type": "A", "content": STATIC}]}
    for name, _, _, _ in POOLS:
        records[name] = [{"type": "A", "pool": name, "ttl": 30}]
    store = {"checks": {"soak": check}, "pools": pools, "zones": {ZONE: {"records": records}}}
    if control_socket:
        store["pdns"] = {"control_socket": control_socket}
    return store


class World:
    """pdns_server with pdns-failover behind it. Files in out (logs, store, conf); sockets and
    states in run (short paths)."""

    def __init__(self, args, out, run, store):
        self.args, self.out, self.run = args, out, run
        self.binary = args.binary
        self.store_path = os.path.join(out, "store.json")
        with open(self.store_path, "w") as f:
            json.dump(store, f, indent=1)
        self.sock = os.path.join(run, "pf.sock")
        self.sockdir = os.path.join(run, "pdns")
        self.state = os.path.join(run, "state")
        self.conf = os.path.join(out, "pdns")
        os.makedirs(self.sockdir)
        os.makedirs(self.conf)
        self.port = free_port()
        self.daemon = self.pdns = None
        self.daemon_rc = None
        if args.connector == "pipe":
            conn = (f"pipe:command={self.binary}{''.join(' ' + a for a in ROOT)} --config "
                    f"{self.store_path} --state-dir {self.state},timeout=2000")
        else:
            conn = f"unix:path={self.sock},timeout=2000"
        caches = "" if args.pdns_cache != "off" else \
            "cache-ttl=0\nquery-cache-ttl=0\nnegquery-cache-ttl=0\n"
        with open(os.path.join(self.conf, "pdns.conf"), "w") as f:
            f.write(f"launch=remote\nremote-connection-string={conn}\nlocal-address=127.0.0.1\n"
                    f"local-port={self.port}\nsocket-dir={self.sockdir}\nguardian=no\n"
                    f"daemon=no\nsecurity-poll-suffix=\nloglevel=4\ndistributor-threads=3\n"
                    f"{caches}")

    def start(self):
        if self.args.connector == "unix":
            with open(os.path.join(self.out, "daemon.log"), "w") as log:
                self.daemon = subprocess.Popen(
                    [self.binary, *ROOT, "--config", self.store_path, "--listen", self.sock,
                     "--state-dir", self.state], stdout=subprocess.DEVNULL, stderr=log)
            wait_for(lambda: os.path.exists(self.sock) or self.daemon.poll() is not None, 60,
                     "the daemon's socket")
            if self.daemon.poll() is not None:
                raise HarnessError("pdns-failover exited:\n" + self.log("daemon.log"))
        with open(os.path.join(self.out, "pdns.log"), "w") as log:
            self.pdns = subprocess.Popen(
                ["/usr/sbin/pdns_server", f"--config-dir={self.conf}", "--daemon=no",
                 "--guardian=no"], stdout=log, stderr=subprocess.STDOUT)

        def ready():
            if self.pdns.poll() is not None:
                raise HarnessError("pdns_server exited:\n" + self.log("pdns.log"))
            return query_once(self.port, ZONE, "SOA")[0] == "NOERROR"
        wait_for(ready, 30, "pdns_server to answer")

    def daemon_pids(self):
        if self.args.connector == "unix":
            return [self.daemon.pid] if self.daemon and self.daemon.poll() is None else []
        if self.pdns is None or self.pdns.poll() is not None:
            return []
        return children_named(self.pdns.pid, "pdns-failover")

    def alive(self):
        ok = self.pdns is not None and self.pdns.poll() is None
        if self.args.connector == "unix":
            ok = ok and self.daemon.poll() is None
        return ok

    def log(self, name, tail=4000):
        try:
            with open(os.path.join(self.out, name), errors="replace") as f:
                return f.read()[-tail:] if tail else f.read()
        except OSError:
            return ""

    def stop(self):
        stop_proc(self.pdns)
        if self.daemon is not None:
            stop_proc(self.daemon, timeout=20)  # ASan's leak check at exit takes a moment
            self.daemon_rc = self.daemon.returncode


# ---- dnsperf ------------------------------------------------------------------------------------

def start_dnsperf(args, port, out, duration):
    qfile = os.path.join(out, "dnsperf-queries.txt")
    with open(qfile, "w") as f:
        for name, _, _, _ in POOLS:
            f.write(f"{name}.{ZONE} A\n")
        f.write(f"static.{ZONE} A\n")
    cmd = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", qfile, "-l", str(duration),
           "-Q", str(args.qps), "-c", "2", "-T", "1", "-q", "200", "-t", "5"]
    fout = open(os.path.join(out, "dnsperf.txt"), "w")
    fout.write(" ".join(cmd) + "\n")
    fout.flush()
    proc = subprocess.Popen(cmd, stdout=fout, stderr=subprocess.STDOUT)
    fout.close()
    return proc


def parse_dnsperf(text):
    r = {}
    for key, pat in (("sent", r"Queries sent:\s+(\d+)"),
                     ("completed", r"Queries completed:\s+(\d+)"),
                     ("lost", r"Queries lost:\s+(\d+)"),
                     ("qps", r"Queries per second:\s+([\d.]+)"),
                     ("latency", r"Average Latency \(s\):\s+([\d.]+)")):
        m = re.search(pat, text)
        if m:
            r[key] = float(m.group(1)) if key in ("qps", "latency") else int(m.group(1))
    m = re.search(r"Response codes:\s+(.*)", text)
    r["rcodes"] = {}
    if m:
        for code, n in re.findall(r"([A-Z]+) (\d+) \(", m.group(1)):
            r["rcodes"][code] = int(n)
    return r


# ---- the oracle ---------------------------------------------------------------------------------

class Oracle:
    def __init__(self, endpoints, tl, down_bound, up_bound, empty_extra=0.0):
        self.tl, self.D, self.R = tl, down_bound, up_bound
        self.empty_extra = empty_extra  # how much longer an empty answer may outlive a member
        self.by_addr = {ep.addr: ep for ep in endpoints}
        self.pools = collections.defaultdict(list)
        for ep in endpoints:
            self.pools[ep.pool].append(ep)
        self.policy = {name: policy for name, policy, _, _ in POOLS}
        self.opts = {name: opts for name, _, _, opts in POOLS}
        self.violations = []  # (t_send, criterion, name, text)
        self.excused_empty = 0  # empty answers within empty_extra of the up bound

    def cls(self, ep, t):
        state, since = self.tl.at(ep.member, t)
        if state == "down" and t - since > self.D:
            return "DOWN"
        if state == "up" and t - since > self.R:
            return "UP"
        return "?"

    def v(self, crit, rec, text):
        self.violations.append((rec[1], crit, rec[0], text))

    def judge(self, rec):
        name, t, _, rcode, addrs = rec
        if rcode != "NOERROR":
            self.v("d", rec, f"rcode {rcode}")
            return
        pool = name.split(".")[0]
        members = self.pools[pool]
        cls = {ep.member: self.cls(ep, t) for ep in members}

        def show(eps):
            return ", ".join(f"{ep.member}({cls[ep.member]} {self.tl.at(ep.member, t)[0]} "
                             f"{t - self.tl.at(ep.member, t)[1]:.2f}s)" for ep in eps)
        surely_up = [ep for ep in members if cls[ep.member] == "UP"]
        ans = set(addrs)
        policy = self.policy[pool]
        if policy == "all" and ans == {FALLBACK}:
            if surely_up:
                self.v("e", rec, f"fallback answered while surely up: {show(surely_up)}")
            return
        foreign = sorted(a for a in ans if a not in self.by_addr or self.by_addr[a].pool != pool)
        if foreign:
            self.v("e", rec, f"addresses not in pool {pool}: {foreign}")
        got = [self.by_addr[a] for a in sorted(ans) if a in self.by_addr and
               self.by_addr[a].pool == pool]
        if not ans:
            long_up = [ep for ep in surely_up
                       if t - self.tl.at(ep.member, t)[1] > self.R + self.empty_extra]
            if long_up:
                self.v("e", rec, f"empty answer while surely up: {show(long_up)}")
            elif surely_up:
                self.excused_empty += 1
            return
        down = [ep for ep in got if cls[ep.member] == "DOWN"]
        crit_down = "a" if policy == "failover" else "c"
        if down:
            self.v(crit_down, rec, f"answered {addrs}: surely down {show(down)}")
        if policy == "failover":
            tiers = sorted({ep.tier for ep in got})
            if len(tiers) > 1:
                self.v("e", rec, f"answer {addrs} mixes tiers {tiers}")
            if tiers:
                tier = tiers[0]
                better = [ep for ep in surely_up if ep.tier < tier]
                if better:
                    self.v("b", rec, f"answered tier {tier} {addrs} while a better tier is "
                                     f"surely up: {show(better)}")
                missing = [ep for ep in surely_up if ep.tier == tier and ep.addr not in ans]
                if missing:
                    self.v("b", rec, f"answered tier {tier} {addrs} without surely-up "
                                     f"{show(missing)}")
        elif policy == "weighted":
            if len(ans) > self.opts[pool]["max_answers"]:
                self.v("e", rec, f"{len(ans)} addresses, max_answers "
                                 f"{self.opts[pool]['max_answers']}: {addrs}")
        elif policy == "all":
            missing = [ep for ep in surely_up if ep.addr not in ans]
            if missing:
                self.v("c", rec, f"answered {addrs} without surely-up {show(missing)}")


def lag_stats(endpoints, tl, records, t_end, D, R):
    """Observed detection lags: for each down period longer than D, how long after it began the
    member was last answered; for each up period longer than R of members that must be answered
    when up (all's members, fo's tier 1), how long after it began it was last missing."""
    by_name = collections.defaultdict(list)
    for rec in records:
        if rec[3] == "NOERROR":
            by_name[rec[0]].append(rec)
    times = {n: [r[1] for r in recs] for n, recs in by_name.items()}
    down_lags, up_lags = collections.defaultdict(list), collections.defaultdict(list)
    for ep in endpoints:
        name = f"{ep.pool}.{ZONE}"
        recs, ts = by_name.get(name, []), times.get(name, [])
        for start, end, state, _ in tl.periods(ep.member, t_end):
            lo, hi = bisect.bisect_left(ts, start), bisect.bisect_left(ts, end)
            if state == "down" and end - start > D:
                seen = [recs[k][1] for k in range(lo, hi) if ep.addr in recs[k][4]]
                down_lags[ep.pool].append(max(seen) - start if seen else 0.0)
            if state == "up" and end - start > R and (ep.pool == "all" or
                                                      (ep.pool == "fo" and ep.tier == 1)):
                miss = [recs[k][1] for k in range(lo, hi) if ep.addr not in recs[k][4]]
                up_lags[ep.pool].append(max(miss) - start if miss else 0.0)
    return down_lags, up_lags


def trend_kb_per_min(samples):
    if len(samples) < 3:
        return 0.0
    xs = [s[0] for s in samples]
    ys = [s[1] for s in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return 60 * sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


# ---- main ---------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(TOP, "build", "pdns-failover"))
    ap.add_argument("--duration", type=float, default=600, help="seconds of soak (default 600)")
    ap.add_argument("--connector", choices=("unix", "pipe"), default="unix")
    ap.add_argument("--pdns-cache", choices=("off", "on", "purge"), default="off",
                    help="off: pdns caches off (default); on: pdns's default caches (pool "
                         "answers bypass them by scopeMask); purge: default caches and purge "
                         "mode (the store names pdns's control socket)")
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--timeout", type=float, default=0.5)
    ap.add_argument("--rise", type=int, default=2)
    ap.add_argument("--fall", type=int, default=2)
    ap.add_argument("--slack", type=float, default=0.25,
                    help="seconds added to both bounds for probe scheduling (default 0.25)")
    ap.add_argument("--qps", type=int, default=None,
                    help="dnsperf's rate (default 2000 over unix, 500 over pipe, whose ceiling "
                         "through pdns is about 1,900 on this class of machine); 0: no dnsperf")
    ap.add_argument("--modes", default=",".join(MODES), help="down modes the flapper uses")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--warmup", type=float, default=None,
                    help="seconds before RSS counts (default max(30, 20%% of the run), at most "
                         "half of it)")
    ap.add_argument("--rss-limit-kb", type=int, default=1024)
    ap.add_argument("--out", default=None, help="output directory (default: a new /tmp/pf-soak-*)")
    ap.add_argument("--list", type=int, default=10, help="violations listed per criterion")
    args = ap.parse_args()

    args.binary = os.path.abspath(args.binary)
    if args.qps is None:
        args.qps = 2000 if args.connector == "unix" else 500
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    modes = tuple(m for m in args.modes.split(",") if m)
    if not modes or any(m not in MODES for m in modes):
        ap.error(f"--modes: a comma-separated subset of {','.join(MODES)}")
    if args.out:
        out = os.path.abspath(args.out)
        os.makedirs(out, exist_ok=True)
        for name in os.listdir(out):  # a previous run's files would be misleading
            p = os.path.join(out, name)
            shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)
    else:
        out = tempfile.mkdtemp(prefix="pf-soak-")
    run = tempfile.mkdtemp(prefix="pf-soak-run-")
    rng = random.Random(seed)  # the flaps: the same seed, the same schedule
    d0 = args.interval * args.fall + args.timeout
    r0 = args.interval * args.rise + args.timeout
    slack = args.slack + (PURGE_SLACK if args.pdns_cache == "purge" else 0)
    D, R = d0 + slack, r0 + slack
    warmup = args.warmup if args.warmup is not None else \
        min(max(30.0, 0.2 * args.duration), 0.5 * args.duration)
    asan = is_asan(args.binary) if os.path.exists(args.binary) else False

    say(f"soak: {args.duration:g} s, {args.connector} connector, pdns caches {args.pdns_cache}, "
        f"seed {seed} (--seed {seed} replays the flaps), binary {args.binary}"
        f"{' (ASan)' if asan else ''}")
    say(f"checks: interval {args.interval:g} s, timeout {args.timeout:g} s, rise {args.rise}, "
        f"fall {args.fall}; bounds: down {d0:g} s + slack {slack:g} s = {D:g} s, up {r0:g} s + "
        f"{slack:g} s = {R:g} s; dnsperf {args.qps} QPS; output {out}")

    endpoints = [Endpoint(m, name, NET + str(o), tier, w)
                 for name, _, members, _ in POOLS for m, o, tier, w in members]
    world = hub = flapper = dnsperf = sampler = None
    checkers = []
    setup_error = None
    t0 = t_end = None
    try:
        if not shutil.which("dnsperf") and args.qps:
            raise HarnessError("dnsperf is not installed (apt-get install dnsperf)")
        if not os.access(args.binary, os.X_OK):
            raise HarnessError(f"{args.binary}: no such binary (meson compile -C build)")
        port = endpoint_port([ep.addr for ep in endpoints], random.Random(f"{seed}-port"))
        hub = Hub(endpoints, port)
        hub.start()
        t_up = mono()
        ctl = os.path.join(run, "pdns", "pdns.controlsocket") if args.pdns_cache == "purge" \
            else None
        world = World(args, out, run, build_store(endpoints, port, args, ctl))
        r = subprocess.run([args.binary, "--check-config", world.store_path],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise HarnessError("--check-config refused the store:\n" + r.stdout + r.stderr)
        world.start()
        want = {f"fo.{ZONE}": [NET + "11", NET + "12"],
                f"all.{ZONE}": [NET + "31", NET + "32", NET + "33"]}
        wait_for(lambda: all(query_once(world.port, n) == ("NOERROR", a) for n, a in want.items()),
                 20, "every member to be answered")
        say(f"pdns on 127.0.0.1:{world.port}, endpoints {NET}11-33 port {port}, daemon PIDs "
            f"{world.daemon_pids()}")

        tl = Timeline(endpoints, t_up)
        t0 = mono()
        t_end = t0 + args.duration
        sampler = RssSampler(world.daemon_pids)
        sampler.start()
        if args.qps:
            dnsperf = start_dnsperf(args, world.port, out, max(1, round(args.duration)))
        checkers = [Checker(f"{name}.{ZONE}", world.port, f"{seed}-{name}", t_end)
                    for name, _, _, _ in POOLS]
        for c in checkers:
            c.start()
        flapper = Flapper(hub, tl, rng, t0, args.duration, d0, r0, args.interval, args.fall,
                          modes)
        flapper.start()
        next_note = t0 + 60
        while mono() < t_end:
            time.sleep(min(0.5, max(0.0, t_end - mono())))
            for th in [flapper, *checkers]:
                if th.error:
                    raise HarnessError(f"{th.name}: {th.error!r}")
            if hub.error:
                raise HarnessError(f"responder: {hub.error!r}")
            if not world.alive():
                break  # criterion g reports it
            if mono() >= next_note:
                say(f"{mono() - t0:.0f} s: {sum(len(c.records) for c in checkers)} answers, "
                    f"{sum(flapper.count.values())} flaps")
                next_note += 60
        flapper.stopping.set()
        flapper.join(10)
        for c in checkers:
            c.join(QUERY_TIMEOUT + 5)
        if dnsperf is not None:
            try:
                dnsperf.wait(timeout=30)
            except subprocess.TimeoutExpired:
                stop_proc(dnsperf)
        sampler.stopping.set()
        sampler.join(5)
    except HarnessError as e:
        setup_error = e
    except KeyboardInterrupt:
        setup_error = HarnessError("interrupted")
    finally:
        alive_at_end = world.alive() if world else False
        for th in [flapper, *checkers, sampler]:
            if th is not None and hasattr(th, "stopping"):
                th.stopping.set()
        stop_proc(dnsperf)
        if world:
            world.stop()
        if hub:
            hub.stop()
        shutil.rmtree(run, ignore_errors=True)

    if setup_error is not None or t0 is None:
        print(f"not ok 1 - soak ran: {setup_error}")
        if world:
            for name in ("daemon.log", "pdns.log"):
                say(f"{name} tail:\n{world.log(name, 2000)}")
        print("1..1")
        say(f"output in {out}")
        return 2
    return report(args, out, seed, endpoints, tl, checkers, flapper, sampler, world, dnsperf,
                  t0, t_end, D, R, d0, r0, slack, warmup, asan, alive_at_end)


def report(args, out, seed, endpoints, tl, checkers, flapper, sampler, world, dnsperf,
           t0, t_end, D, R, d0, r0, slack, warmup, asan, alive_at_end):
    tl.freeze()
    records = sorted((r for c in checkers for r in c.records), key=lambda r: r[1])
    oracle = Oracle(endpoints, tl, D, R,
                    NODATA_CACHE_SLACK if args.pdns_cache == "on" else 0.0)
    for rec in records:
        oracle.judge(rec)
    viol = sorted(oracle.violations)
    if oracle.excused_empty:
        say(f"{oracle.excused_empty} empty answers while a member was surely up, within pdns's "
            f"packet cache time for NODATA ({NODATA_CACHE_SLACK:g} s, --pdns-cache on)")
    by_crit = collections.defaultdict(list)
    for v in viol:
        by_crit[v[1]].append(v)
    viol_keys = {(v[0], v[2]) for v in viol}

    # ---- files
    with open(os.path.join(out, "answers.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t_send", "t_recv", "name", "rcode", "addresses", "violation"])
        for name, ts, tr, rcode, addrs in records:
            w.writerow([f"{ts - t0:.6f}", "" if tr is None else f"{tr - t0:.6f}", name, rcode,
                        " ".join(addrs), int((ts, name) in viol_keys)])
    with open(os.path.join(out, "states.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t", "member", "pool", "address", "tier", "state", "mode"])
        for ep in endpoints:
            for t, state, mode in tl.ev[ep.member]:
                w.writerow([f"{t - t0:.6f}", ep.member, ep.pool, ep.addr, ep.tier, state, mode])
    with open(os.path.join(out, "rss.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t", "pid", "vmrss_kb"])
        for t, pid, kb in sampler.samples:
            w.writerow([f"{t - t0:.3f}", pid, kb])
    with open(os.path.join(out, "violations.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t_send", "criterion", "name", "what"])
        for t, crit, name, text in viol:
            w.writerow([f"{t - t0:.6f}", crit, name, text])

    # ---- summary
    say("")
    say(f"{'name':<18} {'answers':>8} {'NOERROR':>8} {'NODATA':>7} {'fallback':>8} "
        f"{'SERVFAIL':>8} {'timeout':>7} {'other':>6} {'wrong':>6}  answered addresses")
    per_name = collections.defaultdict(collections.Counter)
    addr_count = collections.defaultdict(collections.Counter)
    wrong_names = collections.Counter(v[2] for v in viol)
    for name, _, _, rcode, addrs in records:
        c = per_name[name]
        c["answers"] += 1
        if rcode == "NOERROR":
            c["NOERROR"] += 1
            if not addrs:
                c["NODATA"] += 1
            elif addrs == (FALLBACK,):
                c["fallback"] += 1
            for a in addrs:
                addr_count[name][a] += 1
        elif rcode == "SERVFAIL":
            c["SERVFAIL"] += 1
        elif rcode == "TIMEOUT":
            c["timeout"] += 1
        else:
            c["other"] += 1
    for name, _, _, _ in POOLS:
        n = f"{name}.{ZONE}"
        c = per_name[n]
        dist = " ".join(f"{a.rsplit('.', 1)[1]}:{k}" for a, k in sorted(addr_count[n].items()))
        say(f"{n:<18} {c['answers']:>8} {c['NOERROR']:>8} {c['NODATA']:>7} {c['fallback']:>8} "
            f"{c['SERVFAIL']:>8} {c['timeout']:>7} {c['other']:>6} {wrong_names[n]:>6}  {dist}")
    total = len(records)
    lat = sorted(r[2] - r[1] for r in records if r[2] is not None)
    if lat:
        say(f"checker: {total} queries, latency p50 {lat[len(lat) // 2] * 1000:.2f} ms, p99 "
            f"{lat[int(len(lat) * 0.99)] * 1000:.2f} ms, max {lat[-1] * 1000:.1f} ms")

    periods = [p for ep in endpoints for p in tl.periods(ep.member, t_end) if p[2] == "down"]
    long_downs = sum(1 for p in periods if p[1] - p[0] > D)
    say(f"flaps: {sum(flapper.count.values())} changes ({len(periods)} down periods: "
        f"{', '.join(f'{m} {flapper.count[m]}' for m in MODES if flapper.count[m])}; "
        f"{long_downs} longer than {D:g} s, {len(periods) - long_downs} shorter)")
    logs = world.log("daemon.log" if args.connector == "unix" else "pdns.log", tail=0)
    say(f"daemon transitions logged: {len(re.findall(r' up -> down ', logs))} up -> down, "
        f"{len(re.findall(r' down -> up ', logs))} down -> up")
    down_lags, up_lags = lag_stats(endpoints, tl, records, t_end, D, R)
    for what, lags, bound in (("last answered after going down", down_lags, d0),
                              ("last left out after coming up", up_lags, r0)):
        for pool in sorted(lags):
            v = sorted(lags[pool])
            if v:
                say(f"{pool}: {what}: n {len(v)}, p50 {v[len(v) // 2]:.3f} s, max {v[-1]:.3f} s "
                    f"(promise {bound:g} s)")

    dp = None
    if dnsperf is not None:
        with open(os.path.join(out, "dnsperf.txt"), errors="replace") as f:
            dp = parse_dnsperf(f.read())
        rc = dp.get("rcodes", {})
        say(f"dnsperf: rate {args.qps} QPS, sent {dp.get('sent')}, completed "
            f"{dp.get('completed')}, lost {dp.get('lost')}, {dp.get('qps', 0):.0f} QPS, avg "
            f"latency {dp.get('latency', 0) * 1000:.2f} ms, rcodes {dict(rc)}")

    rss_lines, rss_ok, rss_msgs = [], True, []
    by_pid = collections.defaultdict(list)
    for t, pid, kb in sampler.samples:
        by_pid[pid].append((t - t0, kb))
    for pid, s in sorted(by_pid.items()):
        post = [x for x in s if x[0] >= warmup]
        if not post:
            rss_lines.append(f"pid {pid}: {len(s)} samples, none after warm-up")
            continue
        growth = max(k for _, k in post) - min(k for _, k in post)
        tr = trend_kb_per_min(post)
        lived = s[0][0] <= warmup + 2 and s[-1][0] >= args.duration - 3
        rss_lines.append(f"pid {pid}: start {s[0][1]} kB, after warm-up ({warmup:g} s) "
                         f"{post[0][1]} kB, end {s[-1][1]} kB; post-warm-up max-min {growth} kB, "
                         f"trend {tr:+.1f} kB/min ({len(post)} samples)")
        if lived and growth >= args.rss_limit_kb:
            rss_ok = False
            rss_msgs.append(f"pid {pid}: grew {growth} kB after warm-up (limit "
                            f"{args.rss_limit_kb} kB), trend {tr:+.1f} kB/min")
    for line in rss_lines:
        say("RSS " + line)
    if not by_pid:
        rss_ok = False
        rss_msgs.append("no RSS sample")

    # ---- criteria
    tests = []

    def crit(ok, text, details=(), skip=None):
        tests.append((ok, text, list(details), skip))

    def listing(c):
        vs = by_crit.get(c, [])
        return [f"{len(vs)} violation(s); first:"] + \
            [f"t={t - t0:8.3f}s {name} {text}" for t, _, name, text in vs[:args.list]] if vs else []

    n_fo = per_name[f"fo.{ZONE}"]["answers"]
    crit(not by_crit.get("a"), f"(a) fo: no member answered after being down longer than "
         f"{d0:g}+{slack:g} s ({n_fo} answers)", listing("a"))
    crit(not by_crit.get("b"), f"(b) fo: no healthy better tier skipped, no member of the answered "
         f"tier left out after being up longer than {r0:g}+{slack:g} s", listing("b"))
    crit(not by_crit.get("c"), f"(c) wt/all: no member answered down past {D:g} s, all: none left "
         f"out up past {R:g} s", listing("c"))
    low = [n for n, _, _, _ in POOLS
           if per_name[f"{n}.{ZONE}"]["answers"] < args.duration * 5]  # ~28/s expected
    d_details = listing("d") + ([f"too few answers for {low}"] if low else [])
    crit(not by_crit.get("d") and not low, f"(d) checker: {total} queries, every one NOERROR "
         f"(SERVFAIL {sum(c['SERVFAIL'] for c in per_name.values())}, timeouts "
         f"{sum(c['timeout'] for c in per_name.values())})", d_details)
    if dp is not None:
        sf = dp.get("rcodes", {}).get("SERVFAIL", 0)
        other = {k: v for k, v in dp.get("rcodes", {}).items() if k not in ("NOERROR", "SERVFAIL")}
        ok = dp.get("lost") == 0 and sf == 0 and not other and dp.get("sent", 0) > 0
        crit(ok, f"(d) dnsperf: {dp.get('sent')} sent at {args.qps} QPS, lost {dp.get('lost')}, "
             f"SERVFAIL {sf}{', other ' + str(other) if other else ''}")
    else:
        crit(True, "(d) dnsperf", skip="--qps 0")
    crit(not by_crit.get("e"), "(e) answers well formed: pool addresses only, one tier, at most "
         "max_answers, never empty or fallback while a member is surely up", listing("e"))
    if asan and "quarantine_size_mb=0" not in os.environ.get("ASAN_OPTIONS", ""):
        crit(True, "(f) RSS growth after warm-up", skip="ASan build: its quarantine holds freed "
             "memory (ASAN_OPTIONS=quarantine_size_mb=0 measures it); LeakSanitizer checks "
             "leaks at exit (g)")
    else:
        crit(rss_ok, f"(f) RSS growth after warm-up < {args.rss_limit_kb} kB", rss_msgs)
    san = [l for name in ("daemon.log", "pdns.log")
           for l in world.log(name, tail=0).splitlines()
           if re.search(r"Sanitizer|runtime error:", l)]
    g_ok = alive_at_end and not san and (args.connector != "unix" or world.daemon_rc == 0)
    crit(g_ok, "(g) pdns and the daemon ran to the end; the daemon exited 0, no sanitizer report",
         [f"alive at the end: {alive_at_end}", f"daemon exit status {world.daemon_rc}"] + san[:10]
         if not g_ok else [])

    say("")
    failed = 0
    for k, (ok, text, details, skip) in enumerate(tests, 1):
        if skip:
            print(f"ok {k} - {text} # SKIP {skip}", flush=True)
            continue
        print(f"{'ok' if ok else 'not ok'} {k} - {text}", flush=True)
        if not ok:
            failed += 1
            for d in details:
                say("  " + d)
    print(f"1..{len(tests)}")
    say(f"soak: {len(tests) - failed} passed, {failed} failed; {len(viol)} wrong answers; "
        f"seed {seed}; output in {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
