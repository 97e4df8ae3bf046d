#!/usr/bin/python3
"""End-to-end tests for operating pdns-failover: operator commands, overrides, reloads, metrics
and the staleness guard.

A real pdns_server (pools.PoolPdns, over the unix and the pipe connector) answers for pools
whose members are probed on test HTTP servers of this process (pools.TestServer, on 127.0.3.x).
Commands go in through `pdnsutil backend-cmd remote '<command>'`, `pdns-failover ctl --socket`
(the unix daemon) and `pdns-failover ctl --config --state-dir` (no daemon); their effect is
checked with dig, the test servers' request counts, the logs and the daemon's /metrics.

Three sessions: unix (the daemon, with --metrics), pipe (pdns's co-processes plus one pipe-mode
co-process started first, so that it holds the prober lock and can be SIGSTOPped without pdns
noticing), pipe-plain (pdns's co-processes only). Checks are fast (interval 0.5 s), so the file
runs in about two minutes, most of it the 100 reloads under load. Prints TAP like e2e.py and
pools.py; exits 1 if anything failed. Every wait is bounded; every process started here is
stopped by its PID; servers are threads.
"""
import argparse
import collections
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import e2e  # noqa: E402
import pools  # noqa: E402
from e2e import Failure, check, eq, stop, wait_for  # noqa: E402
from pools import TestServer, addrs, dig, transitions, wait_answer  # noqa: E402

# Check timings (seconds). The staleness guard trips after 3 x INTERVAL without a probe.
INTERVAL, TIMEOUT, RISE, FALL = 0.5, 0.4, 2, 2
FAIL_BOUND = INTERVAL * FALL + TIMEOUT + 1  # detection bound, as in pools.py
RELOADS = 100  # reloads under load
SOA = "ns1.example.com. hostmaster.example.com. 2026113001 10800 3600 604800 300"


# ---- the world: test servers and a store that tests rewrite ----------------------------------

class OpWorld:
    """The test servers and the store of one pdns instance. The store is rebuilt from a few
    knobs and written to one path, atomically (write + rename) unless asked otherwise."""

    SERVERS = {  # name: (address, listening at start)
        "a1": ("127.0.3.1", True), "a2": ("127.0.3.2", True), "a3": ("127.0.3.3", True),
        "s1": ("127.0.3.11", True), "s2": ("127.0.3.12", True),
        "r1": ("127.0.3.21", False), "r2": ("127.0.3.22", True),
        "n1": ("127.0.3.23", True), "x1": ("127.0.3.24", True),
        "d1": ("127.0.3.31", False), "d2": ("127.0.3.32", False),
        "hub": ("127.0.3.40", True),
    }

    def __init__(self, tmp):
        self.S = {n: TestServer(a, listen=up) for n, (a, up) in self.SERVERS.items()}
        self.path = os.path.join(tmp, "operate-store.json")
        self.labels = {n: f"{s.addr}:{s.port}" for n, s in self.S.items()}  # as logged
        self.txt = "gen-0000"
        self.placeholder = "ph-aaaa"  # renamed in place (same size) by the reload tests
        self.extra = {}  # more names: {name: [records]}
        self.rl_members = ["r1", "r2", "x1"]
        self.write()

    def addr(self, name):
        return self.S[name].addr

    def member(self, name, tier=1, srv=None, address=None, **kw):
        s = self.S[srv or name]
        d = {"name": name, "address": address or s.addr, "tier": tier,
             "check_address": s.addr, "check_port": s.port}
        if d["check_address"] == d["address"]:
            del d["check_address"]
        d.update(kw)
        return d

    def pools(self):
        m = self.member
        tiers = {"r1": 1, "r2": 2, "x1": 3, "n1": 3}

        def fo(*members, **kw):
            p = {"policy": "failover", "check": "fast", "members": list(members)}
            p.update(kw)
            return p
        return {
            "web": fo(m("a1"), m("a2"), m("a3", 2)),
            "solo": fo(m("s1"), m("s2", 2)),
            "rl": fo(*(m(n, tiers[n]) for n in self.rl_members)),
            "dn": fo(m("d1"), m("d2", 2), when_all_down="none"),
            "half": fo(m("d1"), m("hub", 2)),
            "hs": fo(*(m(f"h{i}", 1, srv="hub", address=f"127.0.3.{40 + i}") for i in (1, 2, 3)),
                     policy="hashed"),
        }

    def store(self):
        records = {"@": [{"type": "SOA", "content": SOA},
                         {"type": "NS", "content": "ns1.example.com."}],
                   "ns1": [{"type": "A", "content": "192.0.2.53"}],
                   "static": [{"type": "A", "content": "192.0.2.10"}],
                   "txt": [{"type": "TXT", "content": f'"{self.txt}"', "ttl": 5}],
                   self.placeholder: [{"type": "A", "content": "192.0.2.20"}]}
        pl = self.pools()
        for name in pl:
            records[name] = [{"type": "A", "pool": name, "ttl": 30}]
        records.update(self.extra)
        checks = {"fast": {"type": "http", "path": "/health", "interval": INTERVAL,
                           "timeout": TIMEOUT, "rise": RISE, "fall": FALL}}
        return {"checks": checks, "pools": pl, "zones": {"example.com.": {"records": records}}}

    def members(self):
        return [(p, m["name"]) for p, v in self.pools().items() for m in v["members"]]

    def write(self, text=None):
        text = text if text is not None else json.dumps(self.store(), indent=1)
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.path)

    def write_same_identity(self):
        """Rewrites the store in place with content of the same size and puts the old
        modification time back: the file watcher (device, inode, size, mtime) cannot see the
        change, so only an explicit reload picks it up."""
        text = json.dumps(self.store(), indent=1).encode()
        st = os.stat(self.path)
        check(len(text) == st.st_size, f"same-size rewrite: {len(text)} != {st.st_size}")
        with open(self.path, "r+b") as f:  # no truncation: the size never changes
            f.write(text)
        os.utime(self.path, ns=(st.st_atime_ns, st.st_mtime_ns))
        st2 = os.stat(self.path)
        eq((st2.st_ino, st2.st_size, st2.st_mtime_ns), (st.st_ino, st.st_size, st.st_mtime_ns),
           "file identity after the same-size rewrite")

    def stop(self):
        for s in self.S.values():
            s.stop()


# ---- pdns, the daemon (with --metrics), ctl ---------------------------------------------------

class OpPdns(pools.PoolPdns):
    """PoolPdns whose unix daemon also gets daemon_args (--metrics)."""

    def __init__(self, *a, daemon_args=(), **kw):
        super().__init__(*a, **kw)
        self.daemon_args = list(daemon_args)

    def start_daemon(self):
        name = f"daemon-{len(self.daemon_logs)}.log"
        self.daemon_logs.append(name)
        with open(os.path.join(self.dir, name), "w") as log:
            self.daemon = subprocess.Popen(
                [self.binary, *e2e.ROOT, "--config", self.store, "--listen", self.sock,
                 "--state-dir", self.state_dir, *self.daemon_args],
                stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: os.path.exists(self.sock) or self.daemon.poll() is not None, 10,
                 "the unix socket")
        if self.daemon.poll() is not None:
            raise Failure("pdns-failover exited: " + self.log(name))

    def backend_cmd(self, command):
        return self.pdnsutil("backend-cmd", "remote", command).stdout


def ctl(binary, *args, timeout=15):
    r = subprocess.run([binary, "ctl", *args], capture_output=True, text=True, timeout=timeout)
    return r


class Ctl:
    """`pdns-failover ctl` against the daemon's socket, or with --config on the state dir."""

    def __init__(self, binary, sock=None, store=None, state_dir=None):
        self.binary = binary
        self.opts = ["--socket", sock] if sock else ["--config", store, "--state-dir", state_dir]

    def run(self, *words):
        return ctl(self.binary, *self.opts, *words)

    def __call__(self, *words):
        """Runs a command that must succeed; returns its output."""
        r = self.run(*words)
        check(r.returncode == 0,
              f"ctl {' '.join(words)}: exit {r.returncode}: {r.stdout}{r.stderr}")
        return r.stdout


def generation(text):
    m = re.search(r"^store generation: (\d+)$", text, re.M)
    check(m, f"no 'store generation' in stats: {text!r}")
    return int(m.group(1))


def wait_generation(c, above, timeout, what="the store generation to advance"):
    """Polls `ctl stats` until the generation exceeds `above`; returns (generation, seconds)."""
    t0 = time.monotonic()
    while True:
        g = generation(c("stats"))
        if g > above:
            return g, time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise Failure(f"timed out after {timeout}s waiting for {what} (still {g})")
        time.sleep(0.02)


def health_rows(text):
    """The `health` table: (header fields, {(pool, member): row dict})."""
    lines = [l for l in text.splitlines() if l.strip()]
    check(lines, "empty health output")
    head = lines[0].split()
    rows = {}
    for l in lines[1:]:
        f = l.split()
        check(len(f) >= 10, f"short health line: {l!r}")
        # POOL MEMBER ADDRESS CHECK STATE SINCE <last result: words> LATENCY OK/FAIL OVERRIDE...
        i = next(k for k in range(6, len(f)) if re.fullmatch(r"\d+/\d+", f[k]))
        rows[(f[0], f[1])] = {"address": f[2], "check": f[3], "state": f[4], "since": f[5],
                              "last": " ".join(f[6:i - 1]), "latency": f[i - 1],
                              "okfail": f[i], "override": " ".join(f[i + 1:]), "line": l}
    return head, rows


HEADER = ["POOL", "MEMBER", "ADDRESS", "CHECK", "STATE", "SINCE", "LAST", "RESULT", "LATENCY",
          "OK/FAIL", "OVERRIDE"]


def explain_answer(text):
    m = re.search(r"^  answer: (.*)$", text, re.M)
    check(m, f"no answer line in explain: {text!r}")
    return sorted(m.group(1).split()) if "(none" not in m.group(1) else []


def check_error_usage(text, error, usage):
    lines = text.splitlines()
    check(len(lines) >= 2 and lines[0].startswith("error: ") and error in lines[0],
          f"expected 'error: ...{error}...': {text!r}")
    check(lines[1].startswith("usage: " + usage), f"expected 'usage: {usage}': {text!r}")


def same_answer(p, name, want, n, what, tcp_every=4):
    """n digs (every tcp_every-th over TCP) must all answer exactly want."""
    for i in range(n):
        got = addrs(p, name, tcp=(tcp_every and i % tcp_every == tcp_every - 1))
        eq(got, ("NOERROR", sorted(want)), f"{what} (dig {i + 1} of {n})")


def wait_name(p, name, want, timeout):
    """Polls dig until a name that did not exist answers want (A); NXDOMAIN is the only other
    answer allowed on the way. Returns the seconds it took."""
    t0 = time.monotonic()
    last = None
    while time.monotonic() - t0 < timeout:
        a = dig(p, name + ".example.com", "A")
        if a.status == "NOERROR" and a.rdata("A") == sorted(want):
            return time.monotonic() - t0
        check(a.status == "NXDOMAIN", f"{name}: {a.status} {a.rdata('A')} while waiting")
        last = a.status
        time.sleep(0.02)
    raise Failure(f"{name}: no answer {want} within {timeout:.1f}s (last: {last})")


def log_after(p, mark):
    """The health log (daemon or pdns) from character offset mark on."""
    return p.health_log()[mark:]


# ---- metrics ----------------------------------------------------------------------------------

def http_get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def parse_prom(text):
    vals = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, val = line.rsplit(" ", 1)
            vals[key] = float(val)
    return vals


FAMILIES = ["pdns_failover_requests_total", "pdns_failover_lookup_duration_seconds_bucket",
            "pdns_failover_probes_total", "pdns_failover_probe_duration_seconds_bucket",
            "pdns_failover_transitions_total", "pdns_failover_member_up",
            "pdns_failover_member_override", "pdns_failover_reloads_total",
            "pdns_failover_store_generation", "pdns_failover_prober_stale"]


def member_key(fam, w, pool, name, **labels):
    addr = next(m["address"] for m in w.pools()[pool]["members"] if m["name"] == name)
    extra = "".join(f',{k}="{v}"' for k, v in labels.items())
    return f'{fam}{{pool="{pool}",member="{name}",address="{addr}"{extra}}}'


# ---- raw DNS and backend clients for the load test --------------------------------------------

def dns_query(sock, port, name, qtype, timeout=2.0):
    """One UDP query to pdns; returns (rcode, answer count). Raises socket.timeout."""
    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    q += b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split("."))
    q += b"\0" + struct.pack(">HH", qtype, 1)
    sock.sendto(q, ("127.0.0.1", port))
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("no reply")
        sock.settimeout(left)
        data = sock.recv(4096)
        if len(data) >= 12 and struct.unpack(">H", data[:2])[0] == qid:
            flags, an = struct.unpack(">H", data[2:4])[0], struct.unpack(">H", data[6:8])[0]
            return flags & 0xF, an


def backend_lookup(s, qname, qtype):
    reply = e2e.ask(s, json.dumps({"method": "lookup", "parameters": {
        "qname": qname, "qtype": qtype, "zone-id": -1}}))
    return json.loads(reply)["result"]


# ---- the tests --------------------------------------------------------------------------------

TESTS = []


def op_test(modes=("unix", "pipe")):
    def deco(fn):
        TESTS.append((fn, modes))
        return fn
    return deco


class Env:
    """What a test gets: pdns, the world, ctl clients, the binary."""

    def __init__(self, binary, p, w, leader=None):
        self.binary, self.p, self.w, self.leader = binary, p, w, leader
        self.direct = Ctl(binary, store=w.path, state_dir=p.state_dir)
        self.sock = Ctl(binary, sock=p.sock) if p.mode == "unix" else None
        self.c = self.sock or self.direct  # the preferred way to run a command
        self.metrics_url = None


@op_test(modes=("pipe",))
def stalled_prober_fails_open_and_recovers(e, notes):
    """Runs first in pipe mode: any reload makes an idle co-process (like the one started here)
    retire its prober, so the leader would then be one of pdns's co-processes.
    SIGSTOP the probing co-process: it keeps the leader lock, so nobody probes. The prober
    stopped here is a pipe-mode co-process this script started before pdns (so it leads), not one
    of pdns's: pdns would time out on a stopped co-process of its own and SIGKILL it, which frees
    the lock (protocol doc 2.3)."""
    p, w, leader = e.p, e.w, e.leader
    eq(addrs(p, "half"), ("NOERROR", ["127.0.3.40"]), "half: tier 1 down, tier 2 answers")
    a = dig(p, "dn.example.com", "A")
    eq((a.status, a.rr()), ("NOERROR", []), "dn: all down, NODATA")
    ncop = warm_coprocesses(p)
    maps = [os.path.join(p.state_dir, f) for f in os.listdir(p.state_dir)
            if f.startswith("health-") and f.endswith(".map")]
    eq(len(maps), 1, f"one health map: {maps}")

    def header():
        with open(maps[0], "rb") as f:
            head = f.read(64)
        return struct.unpack_from("<q", head, 24)[0], struct.unpack_from("<q", head, 32)[0]

    eq(header()[1], leader.pid, "the prober is the co-process started first")
    check(leader.poll() is None, "the prober runs")
    pat = re.compile(r"pdns-failover\[(\d+)\]: \w+ health: no probe completed for (\d+) ms "
                     r"\(3 check intervals\): the prober is stalled")
    mark = len(p.health_log())
    os.kill(leader.pid, signal.SIGSTOP)
    t0 = time.monotonic()
    try:
        hb0 = header()[0]
        t_open = wait_answer(p, "dn", ["127.0.3.31"], INTERVAL * 3 + 3, allowed=[[]])
        eq(header()[0], hb0, "no heartbeat while the prober is stopped")
        same_answer(p, "half", ["127.0.3.31"], 12, "half fails open: tier 1 again")
        same_answer(p, "dn", ["127.0.3.31"], 24, "dn fails open")
        out = e.direct("explain", "dn.example.com", "A")
        check("the prober has not reported for 3 intervals: answers fail open" in out, out)
        eq(explain_answer(out), ["127.0.3.31"], "explain while stalled")
        log = log_after(p, mark)
        per_pid = collections.Counter(m.group(1) for m in pat.finditer(log))
        notes.append(f"{ncop} co-processes; failed open {t_open:.2f}s after SIGSTOP "
                     f"(3 intervals = {INTERVAL * 3:.1f}s); stalled lines per co-process "
                     f"{dict(per_pid)} after 36+ queries")
        check(per_pid, f"no 'prober is stalled' line in pdns's log:\n{log[-2000:]}")
        eq([pid for pid, n in per_pid.items() if n != 1], [], f"one line per co-process: {per_pid}")
        check(set(int(x) for x in per_pid) <= set(p.coprocesses()),
              f"stalled lines from co-processes of pdns: {per_pid}, {p.coprocesses()}")
        check(t_open >= INTERVAL * 3 - 0.6, f"failed open after {t_open:.2f}s: too early")
    finally:
        os.kill(leader.pid, signal.SIGCONT)
    t1 = time.monotonic()
    a_back = wait_answer(p, "half", ["127.0.3.40"], INTERVAL * 2 + 3, allowed=[["127.0.3.31"]])
    a = dig(p, "dn.example.com", "A")
    eq((a.status, a.rr()), ("NOERROR", []), "dn: NODATA again")
    same_answer(p, "half", ["127.0.3.40"], 12, "half follows health again")
    check(header()[0] > hb0, "heartbeats again")
    log = log_after(p, mark)
    per_pid = collections.Counter(re.findall(
        r"pdns-failover\[(\d+)\]: \w+ health: probes are completing again", log))
    eq([pid for pid, n in per_pid.items() if n != 1], [], f"one recovery line each: {per_pid}")
    notes.append(f"health followed again {a_back:.2f}s after SIGCONT "
                 f"(stall lasted {t1 - t0:.1f}s)")


@op_test()
def commands_through_pdnsutil(e, notes):
    p, w = e.p, e.w
    out = p.backend_cmd("help")
    for want in ("health", "explain NAME TYPE [client ADDRESS]", "drain MEMBER [for DURATION]",
                 "down MEMBER", "up MEMBER", "auto MEMBER", "stats", "reload"):
        check(want in out, f"help lacks {want!r}: {out}")
    check(re.search(r"^pdns-failover \d+\.\d+\.\d+$", p.backend_cmd("version"), re.M), "version")
    out = p.backend_cmd("health")
    head, rows = health_rows(out)
    eq(head, HEADER, "health header")
    eq(sorted(rows), sorted(w.members()), "one health line per pool member")
    eq(rows[("web", "a1")]["state"], "up", "a1 state")
    eq(rows[("web", "a1")]["address"], "127.0.3.1", "a1 address")
    eq(rows[("web", "a1")]["check"], f"http:{w.S['a1'].port}/health", "a1 check")
    eq(rows[("rl", "r1")]["state"], "down", "r1 state (its server is stopped)")
    check(rows[("rl", "r1")]["last"].startswith("connect refused"), rows[("rl", "r1")]["line"])
    eq(rows[("web", "a1")]["override"], "-", "no override")
    out = p.backend_cmd("explain web.example.com A")
    for want in ("web.example.com. A: pool 'web', policy failover", "  tier 1:", "  tier 2:",
                 "because: tier 1 is the best tier"):
        check(want in out, f"explain lacks {want!r}:\n{out}")
    check(re.search(r"^    a1 +127\.0\.3\.1 +up .*; eligible$", out, re.M), out)
    eq(explain_answer(out), ["127.0.3.1", "127.0.3.2"], "explain answer")
    eq(addrs(p, "web"), ("NOERROR", ["127.0.3.1", "127.0.3.2"]), "dig agrees")
    out = p.backend_cmd("stats")
    notes.append(f"store generation {generation(out)}")
    check("zones: 1" in out and "pools: 6" in out, out)
    check_error_usage(p.backend_cmd("drain web/nope"), "no member 'web/nope'", "drain MEMBER")
    check_error_usage(p.backend_cmd("down"), "which member?", "down MEMBER")
    check_error_usage(p.backend_cmd("up web/a1 for soon"), "'soon' is not a duration",
                      "up MEMBER")
    check_error_usage(p.backend_cmd("explain web.example.com BOGUS"),
                      "'BOGUS' is not a record type", "explain NAME TYPE")
    check_error_usage(p.backend_cmd("explain a..b A"), "", "explain NAME TYPE")
    check_error_usage(p.backend_cmd("auto web/a1 now"), "unexpected 'now'", "auto MEMBER")
    eq(addrs(p, "web"), ("NOERROR", ["127.0.3.1", "127.0.3.2"]), "bad commands changed nothing")


@op_test(modes=("unix",))
def ctl_socket_output_and_exit_codes(e, notes):
    b, sock = e.binary, e.p.sock
    r = ctl(b, "--socket", sock, "help")
    eq(r.returncode, 0, "help exit")
    check("drain MEMBER" in r.stdout, r.stdout)
    r = ctl(b, "--socket", sock, "version")
    eq((r.returncode, bool(re.fullmatch(r"pdns-failover \d+\.\d+\.\d+\n", r.stdout))), (0, True),
       f"version: {r.stdout!r}")
    r = ctl(b, "--socket", sock, "health")
    eq(r.returncode, 0, "health exit")
    eq(sorted(health_rows(r.stdout)[1]), sorted(e.w.members()), "health rows")
    r = ctl(b, "--socket", sock, "explain", "static.example.com", "A")
    eq(r.returncode, 0, "explain exit")
    check("static.example.com. A: static 192.0.2.10" in r.stdout, r.stdout)
    for words, err, use in ((["drain", "web/zz"], "no member 'web/zz'", "drain MEMBER"),
                            (["drain", "198.51.100.1"], "no member '198.51.100.1'", "drain MEMBER"),
                            (["up"], "which member?", "up MEMBER"),
                            (["down", "web/a1", "for", "5x"], "'5x' is not a duration",
                             "down MEMBER"),
                            (["drain", "web/a1", "for", "0"], "'0' is not a duration",
                             "drain MEMBER"),
                            (["explain"], "which name and type?", "explain NAME TYPE"),
                            (["explain", "web.example.com", "A", "client", "nowhere"],
                             "the client is not an IP address", "explain NAME TYPE"),
                            (["explain", "web.example.com", "A", "from", "127.0.0.1"],
                             "expected 'client ADDRESS'", "explain NAME TYPE")):
        r = ctl(b, "--socket", sock, *words)
        eq(r.returncode, 1, f"exit of ctl {' '.join(words)}")
        check_error_usage(r.stdout, err, use)
    r = ctl(b, "--socket", sock, "frobnicate", "now")
    eq(r.returncode, 1, "unknown command exit")
    check(r.stdout.startswith("unknown command: frobnicate now"), r.stdout)
    for args in (["--bogus", "health"], ["--socket", sock], ["--socket"]):
        r = ctl(b, *args)
        eq(r.returncode, 2, f"exit of ctl {args}")
        check("Usage: pdns-failover ctl" in r.stderr, f"ctl {args}: {r.stderr!r}")
    r = ctl(b, "--socket", os.path.join(e.p.dir, "nothing.sock"), "health")
    eq(r.returncode, 1, "no daemon on the socket")
    check("cannot connect" in r.stderr, r.stderr)
    eq(addrs(e.p, "web"), ("NOERROR", ["127.0.3.1", "127.0.3.2"]), "nothing changed")


@op_test()
def ctl_config_works_without_a_daemon(e, notes):
    b, w, p = e.binary, e.w, e.p
    fresh = tempfile.mkdtemp(dir=p.dir, prefix="fresh-state-")
    c = Ctl(b, store=w.path, state_dir=fresh)
    head, rows = health_rows(c("health"))
    eq(head, HEADER, "header")
    eq(sorted(rows), sorted(w.members()), "rows")
    eq({r["state"] for r in rows.values()}, {"unknown"}, "nothing probed in a fresh state dir")
    out = c("drain", "web/a1", "for", "15m", "reason", "no daemon here")
    eq(out, "web/a1 (127.0.3.1): drain for 15m00s (no daemon here)\n", "drain output")
    ov = health_rows(c("health"))[1][("web", "a1")]["override"]
    check(re.fullmatch(r'drain \(1[45]m\d\ds left\) "no daemon here"', ov), f"override: {ov!r}")
    eq(c("auto", "127.0.3.1"), "web/a1 (127.0.3.1): back to the health checks\n", "auto output")
    r = c.run("reload")
    eq(r.returncode, 1, "reload without a daemon")
    check(r.stdout.startswith("error: reload is not available here"), r.stdout)
    eq(addrs(p, "web"), ("NOERROR", ["127.0.3.1", "127.0.3.2"]), "the other state dir is apart")
    eq(c("down", "127.0.3.31"), "dn/d1 (127.0.3.31): down\nhalf/d1 (127.0.3.31): down\n",
       "an address names every member with it")
    c("auto", "127.0.3.31")
    r = c.run("drain", "web/zz")
    eq(r.returncode, 1, "unknown member without a daemon")
    check_error_usage(r.stdout, "no member 'web/zz'", "drain MEMBER")
    # On the state dir pdns-failover is using: same states, and overrides take effect at once.
    rows = health_rows(e.direct("health"))[1]
    eq((rows[("web", "a1")]["state"], rows[("rl", "r1")]["state"]), ("up", "down"),
       "states of the serving state dir")
    e.direct("drain", "web/a2")
    eq(addrs(p, "web"), ("NOERROR", ["127.0.3.1"]), "first dig after a drain via --config")
    e.direct("auto", "web/a2")
    eq(addrs(p, "web"), ("NOERROR", ["127.0.3.1", "127.0.3.2"]), "first dig after auto")
    bad = os.path.join(p.dir, "broken-store.json")
    with open(bad, "w") as f:
        f.write("{")
    r = ctl(b, "--config", bad, "--state-dir", fresh, "health")
    eq(r.returncode, 1, "a broken store")
    check("JSON syntax error" in r.stderr, r.stderr)


@op_test(modes=("unix",))
def explain_agrees_with_dig(e, notes):
    p, c = e.p, e.c
    out = c("explain", "hs.example.com", "A", "client", "127.0.0.1")
    check("policy hashed" in out and "hashed for client as given" in out, out)
    want = explain_answer(out)
    eq(len(want), 1, f"one hashed answer: {out}")
    eq(addrs(p, "hs"), ("NOERROR", want), "dig from 127.0.0.1 gets the member explain names")
    others = {explain_answer(c("explain", "hs.example.com", "A", "client", f"198.51.100.{i}"))[0]
              for i in range(1, 13)}
    check(len(others) >= 2, f"12 clients hashed to one member: {others}")
    out = c("explain", "rl.example.com", "A")
    check(re.search(r"^    r1 +127\.0\.3\.21 +down .*connect refused.*; not eligible$", out, re.M),
          out)
    eq(explain_answer(out), ["127.0.3.22"], "rl answer")
    check("because: tier 2 is the best tier with at least 1 healthy IPv4 member (1)" in out, out)
    eq(addrs(p, "rl"), ("NOERROR", ["127.0.3.22"]), "dig agrees")
    out = c("explain", "dn.example.com", "A")
    eq(explain_answer(out), [], "all down, when_all_down none")
    check("answer: (none: NODATA)" in out and "when_all_down none" in out, out)
    a = dig(p, "dn.example.com", "A")
    eq((a.status, a.rr()), ("NOERROR", []), "dig: NODATA")
    check("no such name" in c("explain", "nope.example.com", "A"), "NXDOMAIN explained")
    check("no records of this type" in c("explain", "static.example.com", "MX"), "NODATA")


@op_test()
def drain_takes_a_member_out_but_keeps_probing_it(e, notes):
    p, w, c = e.p, e.w, e.c
    eq(addrs(p, "web"), ("NOERROR", ["127.0.3.1", "127.0.3.2"]), "before")
    out = c("drain", "web/a1", "reason", "kernel", "update")
    eq(out, "web/a1 (127.0.3.1): drain (kernel update)\n", "drain output")
    same_answer(p, "web", ["127.0.3.2"], 8, "drained")
    c0 = w.S["a1"].count("/health")
    time.sleep(INTERVAL * 3 + 0.2)
    probes = w.S["a1"].count("/health") - c0
    check(probes >= 2, f"the drained member's server got {probes} probes in {INTERVAL * 3 + 0.2}s")
    row = health_rows(c("health"))[1][("web", "a1")]
    eq((row["state"], row["override"]), ("up", 'drain "kernel update"'), "health row")
    out = c("explain", "web.example.com", "A")
    check(re.search(r"^    a1 .* up .*; override drain \"kernel update\"; not eligible$", out,
                    re.M), out)
    eq(explain_answer(out), ["127.0.3.2"], "explain answer")
    eq(c("auto", "web/a1"), "web/a1 (127.0.3.1): back to the health checks\n", "auto output")
    eq(addrs(p, "web"), ("NOERROR", ["127.0.3.1", "127.0.3.2"]), "first dig after auto")
    notes.append(f"{probes} probes of the drained member in {INTERVAL * 3 + 0.2:.1f}s")


@op_test(modes=("unix",))
def down_up_and_auto_override_the_checks(e, notes):
    p, w, c = e.p, e.w, e.c
    eq(c("down", "127.0.3.2"), "web/a2 (127.0.3.2): down\n", "down by address")
    eq(addrs(p, "web"), ("NOERROR", ["127.0.3.1"]), "forced down")
    c("down", "web/a1")
    eq(addrs(p, "web"), ("NOERROR", ["127.0.3.3"]), "tier 1 forced down: tier 2")
    c("auto", "web/a1")
    c("auto", "127.0.3.2")
    eq(addrs(p, "web"), ("NOERROR", ["127.0.3.1", "127.0.3.2"]), "auto")
    # up: forced in while the server is down.
    eq(addrs(p, "solo"), ("NOERROR", ["127.0.3.11"]), "solo before")
    w.S["s1"].stop()
    try:
        t_down = wait_answer(p, "solo", ["127.0.3.12"], FAIL_BOUND + 3, allowed=[["127.0.3.11"]])
        eq(c("up", "solo/s1", "reason", "trust me"), "solo/s1 (127.0.3.11): up (trust me)\n",
           "up output")
        same_answer(p, "solo", ["127.0.3.11"], 4, "forced up while its server is down")
        row = health_rows(c("health"))[1][("solo", "s1")]
        eq((row["state"], row["override"]), ("down", 'up "trust me"'), "health row")
        out = c("explain", "solo.example.com", "A")
        check(re.search(r"^    s1 .* down .*; override up \"trust me\"; eligible$", out, re.M), out)
        c("auto", "solo/s1")
        eq(addrs(p, "solo"), ("NOERROR", ["127.0.3.12"]), "auto: back to the checks (down)")
    finally:
        w.S["s1"].start()
    t_up = wait_answer(p, "solo", ["127.0.3.11"], INTERVAL * RISE + TIMEOUT + 3,
                       allowed=[["127.0.3.12"]])
    notes.append(f"failover {t_down:.2f}s (bound {FAIL_BOUND:.1f}s), back {t_up:.2f}s")
    check(t_down <= FAIL_BOUND, f"failover took {t_down:.2f}s")


@op_test()
def timed_drain_ends_by_itself(e, notes):
    p, c = e.p, e.c
    t0 = time.monotonic()
    eq(c("drain", "web/a1", "for", "2s"), "web/a1 (127.0.3.1): drain for 2s\n", "output")
    eq(addrs(p, "web"), ("NOERROR", ["127.0.3.2"]), "drained")
    ov = health_rows(c("health"))[1][("web", "a1")]["override"]
    check(re.fullmatch(r"drain \([12]s left\)", ov), f"override column: {ov!r}")
    wait_answer(p, "web", ["127.0.3.1", "127.0.3.2"], 5, allowed=[["127.0.3.2"]])
    took = time.monotonic() - t0
    notes.append(f"answered again {took:.2f}s after 'drain ... for 2s'")
    check(1.8 <= took <= 3.0, f"the 2 s drain ended after {took:.2f}s")
    eq(health_rows(c("health"))[1][("web", "a1")]["override"], "-", "no override left")


@op_test(modes=("unix",))
def overrides_survive_a_daemon_restart(e, notes):
    p, c = e.p, e.c
    c("drain", "web/a1", "reason", "kept")
    c("up", "rl/r1")
    eq(addrs(p, "web"), ("NOERROR", ["127.0.3.2"]), "drained before the restart")
    eq(addrs(p, "rl"), ("NOERROR", ["127.0.3.21"]), "forced up before the restart")
    try:
        p.stop_daemon()
        eq(p.daemon.returncode, 0, "clean exit")
        p.start_daemon()
        deadline = time.monotonic() + 5
        while True:  # each pdns thread may lose one query to the reconnection
            got = addrs(p, "web")
            if got[0] != "SERVFAIL" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        eq(got, ("NOERROR", ["127.0.3.2"]), "first answer after the restart: still drained")
        same_answer(p, "rl", ["127.0.3.21"], 3, "still forced up after the restart")
        rows = health_rows(c("health"))[1]
        eq(rows[("web", "a1")]["override"], 'drain "kept"', "drain kept")
        eq(rows[("rl", "r1")]["override"], "up", "up kept")
        eq(rows[("rl", "r1")]["state"], "down", "r1's state kept too")
    finally:
        c("auto", "web/a1")
        c("auto", "rl/r1")
    eq(addrs(p, "web"), ("NOERROR", ["127.0.3.1", "127.0.3.2"]), "auto after the restart")
    eq(addrs(p, "rl"), ("NOERROR", ["127.0.3.22"]), "auto after the restart")


@op_test(modes=("unix",))
def metrics_status_and_healthz(e, notes):
    p, w, c = e.p, e.w, e.c
    url = e.metrics_url
    st, text = http_get(url + "/metrics")
    eq(st, 200, "/metrics status")
    for fam in FAMILIES:
        check(re.search(r"^" + re.escape(fam) + r"[{ ]", text, re.M), f"no {fam} in /metrics")
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    eq((r.returncode, r.stdout + r.stderr), (0, ""), "promtool check metrics")
    v0 = parse_prom(text)
    lk = 'pdns_failover_requests_total{method="lookup",result="ok"}'
    for _ in range(10):
        eq(addrs(p, "web")[0], "NOERROR", "dig")
    time.sleep(INTERVAL * 2)
    v1 = parse_prom(http_get(url + "/metrics")[1])
    check(v1[lk] >= v0[lk] + 10, f"lookups ok: {v0[lk]} -> {v1[lk]}")
    hc = "pdns_failover_lookup_duration_seconds_count"
    check(v1[hc] >= v0[hc] + 10, f"lookup histogram count: {v0[hc]} -> {v1[hc]}")
    eq(v1['pdns_failover_lookup_duration_seconds_bucket{le="+Inf"}'], v1[hc], "+Inf == count")
    probes = lambda v: sum(x for k, x in v.items() if k.startswith("pdns_failover_probes_total{"))
    check(probes(v1) > probes(v0), f"probes_total: {probes(v0)} -> {probes(v1)}")
    eq(v1[member_key("pdns_failover_member_up", w, "rl", "r1")], 0, "member_up of r1")
    eq(v1[member_key("pdns_failover_member_up", w, "web", "a1")], 1, "member_up of a1")
    eq(v1["pdns_failover_prober_stale"], 0, "prober_stale")
    drain_key = member_key("pdns_failover_member_override", w, "web", "a2", kind="drain")
    eq(v1[drain_key], 0, "no drain yet")
    c("drain", "web/a2")
    try:
        v2 = parse_prom(http_get(url + "/metrics")[1])
        eq(v2[drain_key], 1, "member_override drain after a drain")
        eq(v2[member_key("pdns_failover_member_override", w, "web", "a2", kind="down")], 0, "down")
        st, body = http_get(url + "/status")
        eq(st, 200, "/status")
        status = json.loads(body)
        members = {(m["pool"], m["member"]): m for m in status["members"]}
        eq(len(status["members"]), len(w.members()), "one /status entry per member")
        eq(sorted(members), sorted(w.members()), "/status members")
        eq(members[("rl", "r1")]["state"], "down", "/status r1")
        eq(members[("web", "a1")]["state"], "up", "/status a1")
        eq(members[("web", "a2")].get("override", {}).get("kind"), "drain", "/status override")
    finally:
        c("auto", "web/a2")
    eq(parse_prom(http_get(url + "/metrics")[1])[drain_key], 0, "drain gone after auto")
    g0 = generation(c("stats"))
    ok0 = v2['pdns_failover_reloads_total{result="ok"}']
    c("reload")
    g1, _ = wait_generation(c, g0, 3)
    v3 = parse_prom(http_get(url + "/metrics")[1])
    check(v3['pdns_failover_reloads_total{result="ok"}'] >= ok0 + 1, "reloads_total ok")
    eq(v3["pdns_failover_store_generation"], g1, "store_generation follows the reload")
    st, body = http_get(url + "/healthz")
    eq((st, body.strip()), (200, "ok"), "/healthz")
    r = subprocess.run(["promtool", "check", "metrics"], input=http_get(url + "/metrics")[1],
                       capture_output=True, text=True, timeout=30)
    eq((r.returncode, r.stdout + r.stderr), (0, ""), "promtool after overrides and a reload")
    notes.append(f"{len(text.splitlines())} lines; lookups {v0[lk]:.0f} -> {v1[lk]:.0f}; "
                 f"generation {g0} -> {g1}")


@op_test(modes=("unix",))
def reload_on_sighup_ctl_and_file_change(e, notes):
    p, w, c = e.p, e.w, e.c
    times = {}
    for how, name in (("SIGHUP", "ph-hup1"), ("ctl reload", "ph-ctl1"),
                      ("pdnsutil reload", "ph-put1")):
        old = w.placeholder
        w.placeholder = name
        w.write_same_identity()
        g0 = generation(c("stats"))
        time.sleep(1.3)  # the file watcher (1 s) had its chance: it must not have seen it
        eq(dig(p, f"{name}.example.com").status, "NXDOMAIN", f"{name} before the {how}")
        eq(generation(c("stats")), g0, f"no reload before the {how}")
        mark = len(p.health_log())
        t0 = time.monotonic()
        if how == "SIGHUP":
            os.kill(p.daemon.pid, signal.SIGHUP)
        else:
            out = c("reload") if how == "ctl reload" else p.backend_cmd("reload")
            check(out.startswith(f"reload of '{w.path}' requested (serving generation {g0})"), out)
        wait_name(p, name, ["192.0.2.20"], 2.0)
        times[how] = time.monotonic() - t0
        eq(dig(p, f"{old}.example.com").status, "NXDOMAIN", f"{old} gone after the {how}")
        eq(generation(c("stats")), g0 + 1, f"one reload by the {how}")
        log = log_after(p, mark)
        if how == "SIGHUP":
            check("SIGHUP received: reloading the store" in log, log)
        check(f"generation {g0 + 1} in service" in log, log)
    g0 = generation(c("stats"))
    w.extra["filenew"] = [{"type": "A", "content": "192.0.2.30"}]
    t0 = time.monotonic()
    w.write()
    wait_name(p, "filenew", ["192.0.2.30"], 3.0)
    times["file change"] = time.monotonic() - t0
    eq(generation(c("stats")), g0 + 1, "one reload for the file change")
    notes.append("new name answered " + ", ".join(f"{k} {v:.2f}s" for k, v in times.items()))
    check(times["file change"] <= 2.2, f"file change took {times['file change']:.2f}s")


@op_test(modes=("unix",))
def reload_keeps_states_probes_new_members_and_forgets_removed_ones(e, notes):
    p, w, c = e.p, e.w, e.c
    S = w.S
    eq(addrs(p, "rl"), ("NOERROR", ["127.0.3.22"]), "r1 is down before the reload")
    check(S["x1"].count("/health") > 0, "x1 is probed before the reload")
    eq(S["n1"].count("/health"), 0, "n1 is not probed before the reload")
    mark = len(p.health_log())
    g0 = generation(c("stats"))
    w.rl_members = ["r1", "r2", "n1"]
    w.write()
    g1, took = wait_generation(c, g0, 3)
    t_gen = time.monotonic()
    # Right after the reload: r1 is still down (a state reset would make it "unknown", which
    # counts as up, and tier 1 would be answered).
    eq(addrs(p, "rl"), ("NOERROR", ["127.0.3.22"]), "r1 still down right after the reload")
    row = health_rows(c("health"))[1][("rl", "r1")]
    eq(row["state"], "down", "r1 in the health table")
    check(("rl", "x1") not in health_rows(c("health"))[1], "x1 gone from the health table")
    wait_for(lambda: S["n1"].count("/health") > 0, 1.5, "the first probe of the new member")
    t_new = time.monotonic() - t_gen
    time.sleep(TIMEOUT + 0.1)  # a probe of x1 that was in flight at the reload
    cx = S["x1"].count("/health")
    time.sleep(INTERVAL * 4)
    eq(S["x1"].count("/health") - cx, 0, f"probes of the removed member in {INTERVAL * 4}s")
    log = log_after(p, mark)
    unknown = [l for l in log.splitlines() if "unknown ->" in l]
    eq([l for l in unknown if w.labels["n1"] not in l], [],
       "no kept member starts over at unknown")
    # n1 is new: probed at once (above) and up in the health table. (Its "unknown -> up" line
    # is not required here: under ASan a second reload of the same file can land first.)
    wait_for(lambda: health_rows(c("health"))[1].get(("rl", "n1"), {}).get("state") == "up", 3,
             "n1 up in the health table")
    eq(transitions(log, w.labels["r1"]), [], "no transition of r1")
    eq(addrs(p, "rl"), ("NOERROR", ["127.0.3.22"]), "r1 still down")
    notes.append(f"reload in service {took:.2f}s after the write; new member probed "
                 f"{t_new:.2f}s after it")


@op_test(modes=("unix",))
def broken_store_keeps_the_old_one_serving(e, notes):
    p, w, c = e.p, e.w, e.c
    g0 = generation(c("stats"))
    good = w.store()
    failed = lambda: log_after(p, mark).count("reload failed")
    mark = len(p.health_log())
    w.write('{"zones": {\n  "example.com.": [1,\n}')
    wait_for(lambda: failed() >= 1, 3, "a failed reload in the log")
    log = log_after(p, mark)
    check(re.search(r"line 3, column 1: JSON syntax error", log), log)
    check("reload failed (1 errors); still serving the previous store" in log or
          "reload failed (1 error); still serving the previous store" in log, log)
    eq(generation(c("stats")), g0, "generation after invalid JSON")
    eq(addrs(p, "static"), ("NOERROR", ["192.0.2.10"]), "still serving")
    eq(addrs(p, "web"), ("NOERROR", ["127.0.3.1", "127.0.3.2"]), "pools still serving")
    bad = json.loads(json.dumps(good))
    recs = bad["zones"]["example.com."]["records"]
    recs["bad1"] = [{"type": "A", "content": "192.0.2.300"}]
    recs["bad2"] = [{"type": "BOGUS", "content": "x"}]
    recs["bad3"] = [{"type": "A", "content": "192.0.2.3", "ttl": -5}]
    bad["pools"]["web"]["members"][0]["address"] = "not-an-address"
    mark = len(p.health_log())
    w.write(json.dumps(bad, indent=1))
    wait_for(lambda: failed() >= 1, 3, "a failed reload in the log")
    time.sleep(0.2)
    log = log_after(p, mark)
    wants = ["records[\"bad1\"][0].content: '192.0.2.300' is not an IPv4 address",
             "records[\"bad2\"][0].type: 'BOGUS' is not a supported record type",
             "records[\"bad3\"][0].ttl: ttl must be a whole number",
             "pools[\"web\"].members[0].address"]
    missing = [x for x in wants if x not in log]
    eq(missing, [], f"errors missing from the log:\n{log}")
    m = re.search(r"reload failed \((\d+) errors?\); still serving the previous store", log)
    check(m, log)
    eq(int(m.group(1)), 4, "error count")
    eq(generation(c("stats")), g0, "generation after a store with errors")
    v = parse_prom(http_get(e.metrics_url + "/metrics")[1])
    check(v['pdns_failover_reloads_total{result="failed"}'] >= 2, "reloads_total failed")
    eq(v["pdns_failover_store_generation"], g0, "store_generation after failed reloads")
    eq(addrs(p, "web"), ("NOERROR", ["127.0.3.1", "127.0.3.2"]), "still serving")
    eq(dig(p, "bad1.example.com").status, "NXDOMAIN", "nothing of the bad store")
    w.extra["fixed"] = [{"type": "A", "content": "192.0.2.31"}]
    w.write()
    wait_name(p, "fixed", ["192.0.2.31"], 3)
    eq(generation(c("stats")), g0 + 1, "the fixed store is loaded")
    notes.append(f"{len(wants)} validation errors logged")


@op_test(modes=("unix",))
def no_query_fails_during_100_reloads_under_load(e, notes):
    p, w, c = e.p, e.w, e.c
    stop_flag = threading.Event()
    lock = threading.Lock()
    counts = collections.Counter()
    failures = []

    def fail(what):
        with lock:
            failures.append(what)

    def backend_worker(k):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(2)
        s.connect(p.sock)
        last_gen = -1
        try:
            e2e.ask(s, '{"method":"initialize","parameters":{}}')
            i = 0
            while not stop_flag.is_set():
                name, qtype = (("static.example.com.", "ANY"), ("web.example.com.", "A"),
                               ("txt.example.com.", "TXT"))[i % 3]
                i += 1
                try:
                    res = backend_lookup(s, name, qtype)
                except Exception as ex:  # noqa: BLE001
                    fail(f"backend {k}: {name} {qtype}: {type(ex).__name__}: {ex}")
                    return
                with lock:
                    counts["backend"] += 1
                if not isinstance(res, list) or not res:
                    fail(f"backend {k}: {name} {qtype}: {res!r}")
                    continue
                if qtype == "TXT":
                    m = re.fullmatch(r'"gen-(\d+)"', res[0]["content"])
                    if not m:
                        fail(f"backend {k}: TXT {res!r}")
                    elif int(m.group(1)) < last_gen:
                        fail(f"backend {k}: TXT went back from gen-{last_gen} to {m.group(0)}")
                    else:
                        last_gen = int(m.group(1))
        finally:
            s.close()

    def dns_worker(k):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        i = 0
        try:
            while not stop_flag.is_set():
                name, qtype = (("static.example.com", 1), ("web.example.com", 1),
                               ("txt.example.com", 16))[i % 3]
                i += 1
                try:
                    rcode, an = dns_query(s, p.port, name, qtype)
                except socket.timeout:
                    fail(f"dns {k}: {name}: timeout")
                    continue
                with lock:
                    counts["dns"] += 1
                if rcode != 0 or an < 1:
                    fail(f"dns {k}: {name}: rcode {rcode}, {an} answers")
        finally:
            s.close()

    threads = [threading.Thread(target=backend_worker, args=(k,), daemon=True) for k in (1, 2)]
    threads += [threading.Thread(target=dns_worker, args=(k,), daemon=True) for k in (1, 2)]
    mark = len(p.health_log())
    g_start = g = generation(c("stats"))
    t0 = time.monotonic()
    for t in threads:
        t.start()
    waits = {"SIGHUP": [], "file": []}
    try:
        for i in range(RELOADS):
            t1 = time.monotonic()
            if i % 2 == 0:
                os.kill(p.daemon.pid, signal.SIGHUP)
                kind = "SIGHUP"
            else:
                w.txt = f"gen-{i:04d}"
                w.write()
                kind = "file"
            g, _ = wait_generation(c, g, 4, f"reload {i + 1} ({kind})")
            waits[kind].append(time.monotonic() - t1)
            check(not failures, f"failed queries at reload {i + 1}: {failures[:5]}")
            check(all(t.is_alive() for t in threads), f"a query thread ended: {failures[:5]}")
    finally:
        stop_flag.set()
        for t in threads:
            t.join(5)
    elapsed = time.monotonic() - t0
    log = log_after(p, mark)
    total = counts["backend"] + counts["dns"]
    notes.append(f"{RELOADS} reloads (generation {g_start} -> {g}) in {elapsed:.1f}s under "
                 f"{total} queries ({counts['backend']} direct lookups, {counts['dns']} through "
                 f"pdns), {len(failures)} failed; reload waits SIGHUP "
                 f"{max(waits['SIGHUP']) * 1000:.0f} ms max, file change "
                 f"{sum(waits['file']) / max(1, len(waits['file'])):.2f}s mean")
    eq(failures, [], "failed queries")
    eq(g - g_start, RELOADS, "reloads done")
    eq(log.count("reload failed"), 0, "failed reloads in the log")
    check(counts["backend"] > 0 and counts["dns"] > 0, f"queries: {counts}")
    eq(backend_lookup_once(p, "txt.example.com.", "TXT")[0]["content"],
       f'"gen-{RELOADS - 1:04d}"', "the last TXT")


def backend_lookup_once(p, qname, qtype):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(3)
    s.connect(p.sock)
    try:
        e2e.ask(s, '{"method":"initialize","parameters":{}}')
        return backend_lookup(s, qname, qtype)
    finally:
        s.close()


# ---- pipe mode --------------------------------------------------------------------------------

def warm_coprocesses(p, n=3):
    for i in range(12):
        dig(p, "static.example.com", "A", tcp=(i % 4 == 0))
    wait_for(lambda: len(p.coprocesses()) >= n, 10, f"{n} co-processes")
    return len(p.coprocesses())


@op_test(modes=("pipe",))
def overrides_reach_every_coprocess_at_once(e, notes):
    p, w = e.p, e.w
    ncop = warm_coprocesses(p)
    out = p.backend_cmd("drain web/a1 reason pipe test")
    eq(out.strip(), "web/a1 (127.0.3.1): drain (pipe test)", "drain through pdnsutil")
    same_answer(p, "web", ["127.0.3.2"], 24, "drained in every co-process")
    eq(e.direct("auto", "web/a1").strip(), "web/a1 (127.0.3.1): back to the health checks",
       "auto through ctl --config")
    same_answer(p, "web", ["127.0.3.1", "127.0.3.2"], 24, "auto in every co-process")
    e.direct("down", "web/a2", "for", "2s")
    t0 = time.monotonic()
    same_answer(p, "web", ["127.0.3.1"], 6, "down for 2s")
    wait_answer(p, "web", ["127.0.3.1", "127.0.3.2"], 5, allowed=[["127.0.3.1"]])
    took = time.monotonic() - t0
    same_answer(p, "web", ["127.0.3.1", "127.0.3.2"], 12, "after the timed override")
    notes.append(f"{ncop} co-processes; 'down for 2s' ended after {took:.2f}s")


@op_test(modes=("pipe",))
def changed_store_reaches_every_coprocess(e, notes):
    p, w = e.p, e.w
    ncop = warm_coprocesses(p)
    w.extra["pipenew"] = [{"type": "A", "content": "192.0.2.40"}]
    mark = len(p.health_log())
    t0 = time.monotonic()
    w.write()
    first = None
    streak = 0
    deadline = t0 + 5
    i = 0
    while streak < 12:
        check(time.monotonic() < deadline,
              f"pipenew not answered 12 times in a row within 5s (first at {first})")
        a = dig(p, "pipenew.example.com", "A", tcp=(i % 4 == 3))
        i += 1
        if a.status == "NOERROR" and a.rdata("A") == ["192.0.2.40"]:
            first = first if first is not None else time.monotonic() - t0
            streak += 1
        else:
            check(a.status == "NXDOMAIN", f"pipenew: {a.status}")
            streak = 0
            time.sleep(0.05)
    t_all = time.monotonic() - t0
    log = log_after(p, mark)
    pids = set(re.findall(r"pdns-failover\[(\d+)\]: info store: .*generation \d+ in service", log))
    notes.append(f"{ncop} co-processes; first answer {first:.2f}s, 12 in a row {t_all:.2f}s "
                 f"after the write; {len(pids)} co-processes logged the new generation")
    check(t_all <= 3.5, f"the co-processes took {t_all:.2f}s")
    eq(addrs(p, "web"), ("NOERROR", ["127.0.3.1", "127.0.3.2"]), "pools after the reload")


@op_test(modes=("pipe-plain",))
def removed_member_stops_being_probed_in_pipe_mode(e, notes):
    """Pipe mode with pdns's own co-processes only: a store change removes member x1. Every
    co-process that answers a query swaps stores; the question is whether x1 is still probed by
    one that gets no query (pdns's TCP co-process while only UDP queries come)."""
    p, w = e.p, e.w
    x1 = w.S["x1"]
    ncop = warm_coprocesses(p, 4)  # 3 UDP distributors and the TCP one
    maps_before = {f for f in os.listdir(p.state_dir) if f.endswith(".map") and
                   f.startswith("health-")}
    eq(len(maps_before), 1, f"one health map: {maps_before}")
    old_map = os.path.join(p.state_dir, maps_before.pop())
    c0 = x1.count("/health")
    time.sleep(INTERVAL * 2)
    check(x1.count("/health") > c0, "x1 is probed before the change")
    w.rl_members = ["r1", "r2", "n1"]
    w.extra["marker"] = [{"type": "A", "content": "192.0.2.77"}]
    mark = len(p.health_log())
    w.write()
    t0 = time.monotonic()
    streak = 0
    while streak < 12:  # UDP only: every distributor co-process answers and swaps stores
        check(time.monotonic() - t0 < 6, "the UDP co-processes did not all take the new store")
        a = dig(p, "marker.example.com", "A")
        streak = streak + 1 if a.status == "NOERROR" else 0
        if a.status != "NOERROR":
            time.sleep(0.05)
    time.sleep(TIMEOUT + 0.1)
    cx = x1.count("/health")
    time.sleep(INTERVAL * 4)
    after_udp = x1.count("/health") - cx
    with open(old_map, "rb") as f:
        old_leader = struct.unpack_from("<q", f.read(64), 32)[0]
    swapped = {int(x) for x in re.findall(
        r"pdns-failover\[(\d+)\]: info store: .*generation \d+ in service", log_after(p, mark))}
    # One TCP query: the TCP co-process answers, takes the new store and leaves the old map.
    eq(addrs(p, "marker", tcp=True), ("NOERROR", ["192.0.2.77"]), "over TCP")
    time.sleep(TIMEOUT + 0.1)
    cx = x1.count("/health")
    time.sleep(INTERVAL * 4)
    after_tcp = x1.count("/health") - cx
    notes.append(f"{ncop} co-processes; x1 probes in {INTERVAL * 4:.0f}s after every UDP "
                 f"co-process took the new store: {after_udp} (the old map's leader: pid "
                 f"{old_leader}, {'a' if old_leader in p.coprocesses() else 'not a'} co-process "
                 f"of pdns, {'on the new' if old_leader in swapped else 'still on the old'} "
                 f"store); after one TCP query: {after_tcp}")
    eq(after_udp, 0, "probes of the removed member while pdns's TCP co-process is idle")
    eq(after_tcp, 0, "probes of the removed member after every co-process answered")


# ---- main -------------------------------------------------------------------------------------

def start_leader(binary, p, store):
    """A pipe-mode pdns-failover on the same store and state dir, started before pdns so that it
    takes the prober lock. Its stdin stays open (it exits at EOF)."""
    log = open(os.path.join(p.dir, "leader.log"), "w")
    proc = subprocess.Popen([binary, *e2e.ROOT, "--config", store, "--state-dir", p.state_dir],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log)
    log.close()

    def leads():
        check(proc.poll() is None, "the leader co-process exited")
        for f in os.listdir(p.state_dir) if os.path.isdir(p.state_dir) else ():
            if f.startswith("health-") and f.endswith(".map"):
                with open(os.path.join(p.state_dir, f), "rb") as fh:
                    head = fh.read(64)
                if len(head) == 64 and struct.unpack_from("<q", head, 32)[0] == proc.pid:
                    return True
        return False
    wait_for(leads, 10, "the first co-process to lead the probing")
    return proc


def stop_leader(proc):
    if proc is None:
        return
    try:
        os.kill(proc.pid, signal.SIGCONT)
    except ProcessLookupError:
        pass
    try:
        proc.stdin.close()
        proc.wait(3)
    except (subprocess.TimeoutExpired, OSError):
        pass
    stop(proc)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--modes", default="unix,pipe,pipe-plain",
                    help="unix; pipe (with a prober co-process started first); pipe-plain "
                         "(pdns's co-processes only)")
    ap.add_argument("--only", default="", help="run tests whose name contains this")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    work = tempfile.mkdtemp(prefix="pf-operate-")
    results = []

    def run(name, fn, *a):
        t0 = time.monotonic()
        notes = []
        try:
            fn(*a, notes)
            results.append((name, None))
            extra = f"; {'; '.join(notes)}" if notes else ""
            print(f"ok {len(results)} - {name} ({time.monotonic() - t0:.2f}s{extra})", flush=True)
        except Exception as ex:  # noqa: BLE001 - every kind of failure is a test failure
            results.append((name, ex))
            print(f"not ok {len(results)} - {name}", flush=True)
            for line in f"{type(ex).__name__}: {ex}".splitlines() + notes:
                print(f"#   {line}", flush=True)
            return False
        return True

    t_start = time.monotonic()
    try:
        for mode in args.modes.split(","):
            w = OpWorld(tempfile.mkdtemp(dir=work))
            p = leader = None
            try:
                def check_config(notes):
                    r = subprocess.run([binary, "--check-config", w.path], capture_output=True,
                                       text=True, timeout=20)
                    eq(r.returncode, 0, f"--check-config exit: {r.stderr}")
                ok = run(f"{mode}: the operate store passes --check-config", check_config)
                metrics_port = e2e.free_port()
                p = OpPdns(binary, mode.split("-")[0], work, w.path,
                           extra_conf="distributor-threads=3",
                           daemon_args=["--metrics", f"127.0.0.1:{metrics_port}"])
                env = Env(binary, p, w)
                env.metrics_url = f"http://127.0.0.1:{metrics_port}"

                def start(notes):
                    if mode == "pipe":
                        env.leader = start_leader(binary, p, w.path)
                    p.start()
                if ok:
                    ok = run(f"{mode}: pdns_server starts", start)
                leader = env.leader
                if ok:
                    for fn, modes in TESTS:
                        if mode in modes and (not args.only or args.only in fn.__name__):
                            if not run(f"{mode}: {fn.__name__}", fn, env):
                                print(f"# {mode}: log tail:\n# " +
                                      p.log_tail().replace("\n", "\n# "), flush=True)
            finally:
                if p:
                    p.stop()
                stop_leader(leader)
                w.stop()
        run("no sanitizer report in the logs", lambda _notes: e2e.check_no_sanitizer_report(work))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"# work directory kept: {work}")
    failed = sum(1 for _, ex in results if ex)
    print(f"1..{len(results)}")
    print(f"# operate: {len(results) - failed} passed, {failed} failed in "
          f"{time.monotonic() - t_start:.0f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
