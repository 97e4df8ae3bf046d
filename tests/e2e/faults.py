#!/usr/bin/python3
"""Fault tests: processes killed and restarted under query load, and a state directory that
cannot be written.

1. unix: SIGKILL of the daemon under load, then a restart: every query that reaches pdns while
   no daemon listens fails at once (SERVFAIL: pdns neither retries nor waits); once the new
   daemon listens pdns loses at most one query per backend connection (exactly that when no
   query came in between); answers are right before and after, health states and overrides
   are kept, pdns is never restarted.
2. pipe: a co-process SIGKILLed while busy costs one query and is replaced; one killed while
   idle breaks its pdns thread for good (pdns 4.7.3, protocol doc 2.3): measured, with what
   does and does not bring it back; and a co-process never exits on its own while idle (store
   deleted or broken, state directory gone, SIGHUP, SIGPIPE).
3. pdns restarted (SIGTERM, SIGKILL) under load, unix and pipe: the unix daemon keeps running
   and serves the new pdns; pipe co-processes of the old pdns exit (no orphans); no SERVFAIL
   once pdns answers again.
4. A state directory that is read-only (a read-only bind mount: EROFS), not ours (the daemon
   as nobody: EACCES) or full (a small tmpfs: ENOSPC), at start-up, at a transition, at an
   override and at a reload: the error names the path and the cause, answers keep following
   health (kept in memory), saved overrides keep applying and stay intact, no SIGBUS, and once
   the cause is gone the next override is saved and a reload shares the health map again.

The load is this script's own DNS client: several streams of UDP queries, each outcome counted
(NOERROR with the right answer, a wrong answer, SERVFAIL, timeout, port closed). pdns runs with
its caches off, 1 receiver and 2 distributor threads (2 backend connections or co-processes;
the load is UDP only). Real pdns_server 4.7 on loopback; health checks against HTTP servers of
this script on 127.0.5.x. Prints TAP like e2e.py; exits 1 if anything failed. Every wait is
bounded; every process started here is stopped by its PID; every mount is unmounted. Needs
root for the mounts and setpriv (without root those parts are skipped, and say so).
"""
import argparse
import errno
import fcntl
import json
import os
import pwd
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the checkout
import e2e  # noqa: E402
import pools  # noqa: E402
from e2e import Failure, check, eq, wait_for  # noqa: E402
from pools import TestServer  # noqa: E402

INTERVAL, TIMEOUT, RISE, FALL = 0.5, 0.3, 2, 2
THREADS = "receiver-threads=1\ndistributor-threads=2"
CONNECTIONS = 2  # backend connections (or co-processes) of that pdns for UDP queries
STREAMS = 4  # concurrent query streams of the load
SOA = "ns1.example.com. hostmaster.example.com. 2026113001 10800 3600 604800 300"
ROOT = os.geteuid() == 0


# ---- DNS client and load ----------------------------------------------------------------------

RCODES = {0: "NOERROR", 2: "SERVFAIL", 3: "NXDOMAIN", 5: "REFUSED"}


def dns_query_bytes(qid, name):
    q = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", 1, 1)  # A, IN


def dns_parse(data):
    """(id, status, sorted A addresses) of a reply."""
    qid, flags, qd, an = struct.unpack(">HHHH", data[:8])
    off = 12

    def skip(off):
        while True:
            n = data[off]
            if n == 0:
                return off + 1
            if n & 0xC0 == 0xC0:
                return off + 2
            off += 1 + n
    for _ in range(qd):
        off = skip(off) + 4
    out = []
    for _ in range(an):
        off = skip(off)
        rtype, _, _, rdlen = struct.unpack(">HHIH", data[off:off + 10])
        off += 10
        if rtype == 1 and rdlen == 4:
            out.append(socket.inet_ntoa(data[off:off + 4]))
        off += rdlen
    return qid, RCODES.get(flags & 0xF, f"RCODE{flags & 0xF}"), sorted(out)


class Load:
    """STREAMS threads, each sending one UDP query at a time to pdns and recording
    (sent, done, name, outcome): outcome is "ok" (NOERROR, the expected answer), "wrong"
    (any other answer), "SERVFAIL", "TIMEOUT" or "DOWN" (ICMP port unreachable: no pdns)."""

    def __init__(self, port, expect, streams=STREAMS, timeout=2.0, pause=0.002):
        self.port, self.expect, self.timeout, self.pause = port, expect, timeout, pause
        self.names = sorted(expect)
        self.records = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(k,), daemon=True)
                        for k in range(streams)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(self.timeout + 5)
        return self

    def _run(self, k):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("127.0.0.1", self.port))
        i = k
        rnd = random.Random(k)
        while not self.stopping.is_set():
            name = self.names[i % len(self.names)]
            i += 1
            qid = rnd.randrange(65536)
            t0 = time.monotonic()
            outcome, got = "TIMEOUT", None
            try:
                s.send(dns_query_bytes(qid, name))
                while True:
                    left = t0 + self.timeout - time.monotonic()
                    if left <= 0:
                        break
                    s.settimeout(left)
                    rid, status, got = dns_parse(s.recv(4096))
                    if rid != qid:
                        continue  # a late reply to an earlier query
                    if status == "NOERROR":
                        outcome = "ok" if got == self.expect[name] else "wrong"
                    else:
                        outcome = status
                    break
            except socket.timeout:
                pass
            except ConnectionRefusedError:
                outcome = "DOWN"
            t1 = time.monotonic()
            with self.lock:
                self.records.append((t0, t1, name, outcome, got))
            if outcome == "DOWN":
                time.sleep(0.02)  # nothing listens: do not spin
            time.sleep(self.pause)

    def snapshot(self):
        with self.lock:
            return list(self.records)

    def between(self, t_from=None, t_to=None):
        return [r for r in self.snapshot()
                if (t_from is None or r[0] >= t_from) and (t_to is None or r[0] < t_to)]

    def wait_ok(self, n, timeout, after):
        """Waits until n queries sent after `after` were answered right."""
        wait_for(lambda: sum(1 for r in self.between(after) if r[3] == "ok") >= n, timeout,
                 f"{n} right answers")


def tally(records):
    out = {}
    for r in records:
        out[r[3]] = out.get(r[3], 0) + 1
    return out


def fmt_tally(records):
    t = tally(records)
    return ", ".join(f"{k} {v}" for k, v in sorted(t.items())) or "none"


def failures(records):
    return [r for r in records if r[3] not in ("ok",)]


def no_wrong(records, what):
    wrong = [r for r in records if r[3] == "wrong"]
    check(not wrong, f"{what}: {len(wrong)} wrong answers, e.g. {wrong[:3]}")


def query(port, name, timeout=2.0):
    """One query: (status, addresses); status TIMEOUT or DOWN without a reply."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("127.0.0.1", port))
        qid = random.randrange(65536)
        s.send(dns_query_bytes(qid, name))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return "TIMEOUT", None
            s.settimeout(left)
            rid, status, got = dns_parse(s.recv(4096))
            if rid == qid:
                return status, got
    except socket.timeout:
        return "TIMEOUT", None
    except ConnectionRefusedError:
        return "DOWN", None
    finally:
        s.close()


# ---- processes --------------------------------------------------------------------------------

def proc_state(pid):
    """The state letter of /proc/pid/stat, or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2]


def alive(pid):
    return proc_state(pid) not in (None, "Z", "X")


def descendants(root, comm="pdns-failover"):
    """PIDs of live processes named comm below root (co-processes; with the guardian, of its
    instance)."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        kids.setdefault(int(fields[1]), []).append((int(d), name, fields[0]))
    out, todo = [], [root]
    while todo:
        for pid, name, state in kids.get(todo.pop(), []):
            todo.append(pid)
            if name.startswith(comm) and state not in ("Z", "X"):
                out.append(pid)
    return sorted(out)


def pending_input(pid):
    """Bytes pdns wrote to a co-process's stdin that it has not read (-1: cannot tell)."""
    try:
        fd = os.open(f"/proc/{pid}/fd/0", os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return -1
    try:
        buf = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
        return struct.unpack("i", buf)[0]
    finally:
        os.close(fd)


def unix_connections(path):
    """Connected sockets of the daemon at path (accepted connections carry its path)."""
    n = 0
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            parts = line.split()
            if len(parts) >= 8 and parts[7] == path and parts[5] == "03":
                n += 1
    return n


def connectable(path):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def ctl(binary, *args, timeout=15):
    return subprocess.run([binary, "ctl", *args], capture_output=True, text=True,
                          timeout=timeout)


# ---- the world: servers and store --------------------------------------------------------------

class World:
    """HTTP servers on 127.0.5.x and a store: a static name, a failover pool (web1 up, tier 2
    web2) and a pool of policy all (up1 up, dn1 down, dr1 up but drained by the tests)."""

    def __init__(self, tmp):
        self.web1 = TestServer("127.0.5.2")
        self.hub = TestServer("127.0.5.9")
        self.rport = pools.refused_port(["127.0.5.250"])
        self.path = os.path.join(tmp, "store.json")
        self.write()

    def store(self, extra_member=False):
        def m(name, addr, tier=1, srv=None):
            d = {"name": name, "address": addr, "tier": tier}
            if srv is None:
                d.update(check_address="127.0.5.250", check_port=self.rport)
            else:
                if srv.addr != addr:
                    d["check_address"] = srv.addr
                d["check_port"] = srv.port
            return d
        check_def = {"type": "http", "path": "/health", "expect": ["200"], "interval": INTERVAL,
                     "timeout": TIMEOUT, "rise": RISE, "fall": FALL}
        members = [m("up1", "127.0.5.41", srv=self.hub), m("dn1", "127.0.5.42"),
                   m("dr1", "127.0.5.43", srv=self.hub)]
        if extra_member:  # a new probe target (refused: down)
            new1 = m("new1", "127.0.5.44")
            new1["check_address"] = "127.0.5.251"
            members.append(new1)
        return {
            "checks": {"fast": check_def},
            "pools": {
                "fo": {"policy": "failover", "check": "fast",
                       "members": [m("web1", "127.0.5.2", 1, self.web1),
                                   m("web2", "127.0.5.3", 2, self.hub)]},
                "all": {"policy": "all", "check": "fast", "members": members},
            },
            "zones": {"example.com.": {"records": {
                "@": [{"type": "SOA", "content": SOA}, {"type": "NS", "content": "ns1"}],
                "ns1": [{"type": "A", "content": "192.0.2.53"}],
                "static": [{"type": "A", "content": "192.0.2.10"}],
                "fo": [{"type": "A", "pool": "fo", "ttl": 5}],
                "all": [{"type": "A", "pool": "all", "ttl": 5}],
            }}},
        }

    def write(self, **kw):
        tmp = self.path + ".new"
        with open(tmp, "w") as f:
            json.dump(self.store(**kw), f, indent=1)
        os.rename(tmp, self.path)

    def stop(self):
        self.web1.stop()
        self.hub.stop()


# What the load expects while web1 is up, dn1 down and dr1 drained.
EXPECT = {"static.example.com": ["192.0.2.10"], "fo.example.com": ["127.0.5.2"],
          "all.example.com": ["127.0.5.41"]}


INSTANCES = []  # every FPdns of the running test: their logs are checked after it stopped


class FPdns(pools.PoolPdns):
    """pools.PoolPdns with the daemon optionally under a wrapper (setpriv) and optionally
    pdns under its guardian (pdns_control cycle)."""

    def __init__(self, binary, mode, workdir, store, state_dir=None, wrapper=(), guardian=False,
                 extra_conf=""):
        super().__init__(binary, mode, workdir, store, extra_conf=THREADS + "\n" + extra_conf)
        INSTANCES.append(self)
        if state_dir:
            path = os.path.join(self.conf, "pdns.conf")
            with open(path) as f:
                conf = f.read()
            conf = conf.replace(f"--state-dir {self.state_dir}", f"--state-dir {state_dir}")
            with open(path, "w") as f:
                f.write(conf)
            self.state_dir = state_dir
        self.wrapper, self.guardian = tuple(wrapper), guardian

    def start_daemon(self):
        name = f"daemon-{len(self.daemon_logs)}.log"
        self.daemon_logs.append(name)
        args = [*self.wrapper, self.binary, *([] if self.wrapper else e2e.ROOT), "--config",
                self.store, "--listen", self.sock, "--state-dir", self.state_dir]
        with open(os.path.join(self.dir, name), "w") as log:
            self.daemon = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        # A SIGKILLed daemon leaves its socket file: wait until the new one answers.
        wait_for(lambda: connectable(self.sock) or self.daemon.poll() is not None, 20,
                 "the daemon's socket")
        rc = self.daemon.poll()
        if rc is not None:
            how = f"signal {signal.Signals(-rc).name}" if rc < 0 else f"status {rc}"
            raise Failure(f"pdns-failover exited ({how}): " + self.log(name))

    def start_activated_daemon(self):
        """The daemon as systemd's pdns-failover.socket starts it: the listening socket is
        created here (held by this script across restarts, as systemd holds it) and passed as
        fd 3 with LISTEN_PID/LISTEN_FDS (bash sets LISTEN_PID to its own PID, then execs)."""
        if getattr(self, "lsock", None) is None:
            if os.path.exists(self.sock):
                os.unlink(self.sock)
            self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.lsock.bind(self.sock)
            os.chmod(self.sock, 0o660)
            self.lsock.listen(128)
            # Never fd 3 itself: the wrapper moves it there.
            self.lfd = self.lsock.fileno() if self.lsock.fileno() != 3 else os.dup(3)
        name = f"daemon-{len(self.daemon_logs)}.log"
        self.daemon_logs.append(name)
        script = (f'exec 3<&{self.lfd} {self.lfd}<&-; export LISTEN_PID=$$ LISTEN_FDS=1; '
                  'exec "$@"')
        args = ["bash", "-c", script, "_", self.binary, *e2e.ROOT, "--config", self.store,
                "--listen", self.sock, "--state-dir", self.state_dir]
        with open(os.path.join(self.dir, name), "w") as log:
            self.daemon = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                           pass_fds=(self.lfd,))
        # connect() succeeds on the held socket even with no daemon: wait for its log line.
        wait_for(lambda: "socket passed by the service manager" in self.log(name) or
                 self.daemon.poll() is not None, 20, "the daemon to take the socket")
        if self.daemon.poll() is not None:
            raise Failure("pdns-failover exited: " + self.log(name))

    def start_pdns(self):
        self.pdns_log = open(os.path.join(self.dir, "pdns.log"), "a")
        self.pdns = subprocess.Popen(
            ["/usr/sbin/pdns_server", f"--config-dir={self.conf}", "--daemon=no",
             f"--guardian={'yes' if self.guardian else 'no'}"],
            stdout=self.pdns_log, stderr=subprocess.STDOUT)

        def ready():
            if self.pdns.poll() is not None:
                raise Failure("pdns_server exited: " + self.log("pdns.log"))
            return query(self.port, "static.example.com", 1)[0] == "NOERROR"
        wait_for(ready, 20, "pdns_server to answer")

    def start(self):
        if self.mode == "unix":
            self.start_daemon()
        self.start_pdns()
        return self

    def coprocesses(self):
        return descendants(self.pdns.pid)

    def pdns_control(self, *args):
        return subprocess.run(["pdns_control", f"--config-dir={self.conf}", *args],
                              capture_output=True, text=True, timeout=15)

    def daemon_log(self, which=-1):
        return self.read(self.daemon_logs[which])

    def sanitizer_reports(self):
        text = "".join(self.read(n) for n in self.daemon_logs) + self.read("pdns.log")
        return [ln for ln in text.splitlines() if "Sanitizer" in ln or "runtime error" in ln]


def warm(p, n=12):
    """Sequential queries until each distributor thread has its backend."""
    for _ in range(n):
        query(p.port, "static.example.com")


def settle(p, w):
    """Waits for the first verdicts: dn1 down, web1 and the hub members up."""
    def ok():
        return (query(p.port, "fo.example.com")[1] == ["127.0.5.2"] and
                query(p.port, "all.example.com")[1] == ["127.0.5.41", "127.0.5.43"])
    wait_for(ok, 10, "the first verdicts (dn1 down)")


def drain_dr1(binary, p):
    r = ctl(binary, "--socket", p.sock, "drain", "all/dr1", "reason", "fault-test") \
        if p.mode == "unix" else \
        ctl(binary, "--config", p.store, "--state-dir", p.state_dir, "drain", "all/dr1",
            "reason", "fault-test")
    eq(r.returncode, 0, f"ctl drain: {r.stdout}{r.stderr}")
    wait_for(lambda: query(p.port, "all.example.com")[1] == ["127.0.5.41"], 5,
             "dr1 out of the answers")


def check_sanitizers(p):
    reports = p.sanitizer_reports()
    check(not reports, "sanitizer reports:\n" + "\n".join(reports[:20]))


# ---- 1. unix daemon SIGKILLed under load -------------------------------------------------------

def unix_daemon_sigkill_under_load(binary, tmp, notes):
    w = World(tmp)
    p = FPdns(binary, "unix", tmp, w.path)
    load = None
    try:
        p.start()
        settle(p, w)
        drain_dr1(binary, p)
        pdns_pid = p.pdns.pid
        unknown_before = p.daemon_log().count("unknown ->")
        load = Load(p.port, EXPECT).start()
        t_start = time.monotonic()
        time.sleep(1.5)
        conns = unix_connections(p.sock)
        eq(conns, CONNECTIONS, "pdns's backend connections (1 receiver x 2 distributors)")
        old = p.daemon.pid
        t_kill = time.monotonic()
        p.daemon.kill()
        p.daemon.wait(5)
        p.start_daemon()
        t_up = time.monotonic()
        load.wait_ok(200, 10, t_up)
        time.sleep(1.0)
        load.stop()
        t_end = time.monotonic()
        recs = load.snapshot()
        before = [r for r in recs if r[1] < t_kill]  # done before the kill
        inflight = [r for r in recs if r[0] < t_kill <= r[1]]
        down = [r for r in recs if t_kill <= r[0] < t_up]
        after = [r for r in recs if r[0] >= t_up]
        no_wrong(recs, "the whole run")
        eq(failures(before), [], "failures before the kill")
        lost_inflight, lost_after = failures(inflight), failures(after)
        last_fail = max((r[1] for r in failures(recs)), default=t_kill)
        notes.append(f"{len(recs)} queries in {t_end - t_start:.1f}s over {STREAMS} streams; "
                     f"{conns} backend connections")
        notes.append(f"sent before the SIGKILL, answered after (in the backend or queued in "
                     f"pdns): {fmt_tally(inflight)}")
        notes.append(f"no daemon for {1000 * (t_up - t_kill):.0f} ms (SIGKILL to the new socket "
                     f"answering): {fmt_tally(down)} (pdns neither retries nor waits)")
        notes.append(f"after the new daemon listens: {len(lost_after)} lost "
                     f"({fmt_tally(lost_after)}), {len(after) - len(lost_after)} right; last "
                     f"failure {1000 * (last_fail - t_up):+.0f} ms from the restart")
        check(all(r[3] == "SERVFAIL" for r in lost_inflight), f"in flight: {lost_inflight}")
        check(len(lost_after) <= conns,
              f"{len(lost_after)} queries lost after the restart, more than one per backend "
              f"connection ({conns}): {lost_after[:6]}")
        downtime = t_up - t_kill
        check(downtime < 5, f"the daemon took {downtime:.1f}s to restart")
        check(all(r[3] in ("SERVFAIL",) for r in failures(recs)),
              f"failures other than SERVFAIL: {fmt_tally(failures(recs))}")
        eq(p.pdns.pid, pdns_pid, "pdns_server's pid")
        check(p.pdns.poll() is None, "pdns_server is running")
        check(p.daemon.pid != old, "a new daemon")
        # States and overrides came from the state directory: nothing starts from unknown, and
        # the drain still applies.
        new_log = p.daemon_log()
        eq(new_log.count("unknown ->"), 0, "states starting over from unknown in the new daemon")
        check(unknown_before > 0, "the first daemon logged its first verdicts")
        r = ctl(binary, "--socket", p.sock, "health")
        check(re.search(r"dr1 .* drain \"fault-test\"", r.stdout), f"drain kept: {r.stdout}")
        check(re.search(r"dn1 .* down ", r.stdout), f"dn1 down: {r.stdout}")
        eq(unix_connections(p.sock), CONNECTIONS, "connections to the new daemon")
        # The same with no query while no daemon listens (the load paused): what pdns loses is
        # one query on each connection it held to the killed daemon.
        p.daemon.kill()
        p.daemon.wait(5)
        p.start_daemon()
        load = Load(p.port, EXPECT).start()
        t0 = time.monotonic()
        load.wait_ok(200, 10, t0)
        load.stop()
        recs = load.snapshot()
        no_wrong(recs, "after the second restart")
        lost = failures(recs)
        notes.append(f"SIGKILL and restart with no query in between: {len(lost)} lost "
                     f"({fmt_tally(lost)}) of {len(recs)}, {conns} connections")
        check(len(lost) <= conns and all(r[3] == "SERVFAIL" for r in lost),
              f"lost {lost}, more than one per connection ({conns})")
        check_sanitizers(p)
    except Failure as ex:
        raise Failure(f"{ex}\n{tail(p)}") from None
    finally:
        if load:
            load.stop()
        p.stop()
        w.stop()


def unix_daemon_sigkill_socket_activated(binary, tmp, notes):
    """With the socket held by the service manager (pdns-failover.socket), pdns's connects and
    requests wait in the socket's backlog while the daemon restarts: over the whole window at
    most one query per backend connection is lost (the one in flight on the killed daemon)."""
    w = World(tmp)
    p = FPdns(binary, "unix", tmp, w.path)
    p.start_daemon = p.start_activated_daemon
    load = None
    try:
        p.start()
        settle(p, w)
        drain_dr1(binary, p)
        load = Load(p.port, EXPECT).start()
        t_start = time.monotonic()
        time.sleep(1.0)
        conns = unix_connections(p.sock)
        eq(conns, CONNECTIONS, "pdns's backend connections (1 receiver x 2 distributors)")
        lost_total, gaps = 0, []
        for k in range(3):
            t_kill = time.monotonic()
            p.daemon.kill()
            p.daemon.wait(5)
            time.sleep(0.3)  # no daemon at all for a while, as systemd's RestartSec= leaves
            p.start_daemon()
            t_up = time.monotonic()
            gaps.append(t_up - t_kill)
            load.wait_ok(100, 10, t_up)
        time.sleep(0.5)
        load.stop()
        recs = load.snapshot()
        no_wrong(recs, "the whole run")
        lost = failures(recs)
        lost_total = len(lost)
        notes.append(f"{len(recs)} queries in {time.monotonic() - t_start:.1f}s; 3 SIGKILLs, "
                     f"no daemon for {', '.join(f'{1000 * g:.0f}' for g in gaps)} ms; lost "
                     f"{lost_total} ({fmt_tally(lost)}), {conns} connections")
        check(lost_total <= 3 * conns and all(r[3] == "SERVFAIL" for r in lost),
              f"lost {lost_total} queries over 3 restarts: more than one per connection "
              f"({conns}) each: {lost[:6]}")
        eq(unix_connections(p.sock), CONNECTIONS, "connections to the new daemon")
    except Failure as ex:
        raise Failure(f"{ex}\n{tail(p)}") from None
    finally:
        if load:
            load.stop()
        p.stop()
        if getattr(p, "lsock", None) is not None:
            p.lsock.close()
        w.stop()


def tail(p):
    out = "pdns log tail:\n" + "\n".join(p.read("pdns.log").splitlines()[-15:])
    if p.mode == "unix" and p.daemon_logs:
        out += "\ndaemon log tail:\n" + "\n".join(p.daemon_log().splitlines()[-15:])
    return out


# ---- 2. pipe co-processes killed -----------------------------------------------------------------

def kill_busy(p, pid, limit=0.3):
    """SIGSTOPs co-process pid under load and SIGKILLs it while pdns waits for its reply:
    either pdns has written it a request it has not read (bytes pending on its stdin), or,
    when nothing arrives within `limit` (round robin sends it every other query), it was
    stopped between reading a request and replying. Returns (time of the kill, pending bytes).
    The stop is short: a stopped prober holds the leader lock, and after 3 intervals without
    a probe every process fails open (the staleness guard)."""
    os.kill(pid, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + limit
        pend = 0
        while time.monotonic() < deadline:
            pend = pending_input(pid)
            if pend != 0:
                break
            time.sleep(0.002)
    finally:
        os.kill(pid, signal.SIGKILL)
    return time.monotonic(), pend


def pipe_coprocess_killed_while_busy(binary, tmp, notes):
    w = World(tmp)
    p = FPdns(binary, "pipe", tmp, w.path)
    load = None
    kills = 3
    try:
        p.start()
        settle(p, w)
        drain_dr1(binary, p)
        warm(p)
        wait_for(lambda: len(p.coprocesses()) == CONNECTIONS, 5, "the co-processes")
        load = Load(p.port, EXPECT).start()
        time.sleep(1.0)
        t_first = time.monotonic()
        spawn_ms, how = [], []
        for k in range(kills):
            cops = p.coprocesses()
            eq(len(cops), CONNECTIONS, f"co-processes before kill {k + 1}")
            victim = cops[k % len(cops)]
            t_kill, pend = kill_busy(p, victim)
            check(pend >= 0, f"co-process {victim} ended before the kill")
            how.append("request pending" if pend else "mid-request")
            wait_for(lambda: len([c for c in p.coprocesses() if c not in cops]) == 1, 5,
                     "pdns to start a new co-process")
            spawn_ms.append(1000 * (time.monotonic() - t_kill))
            check(not alive(victim), f"co-process {victim} still alive")
            load.wait_ok(100, 10, time.monotonic())
        time.sleep(0.5)
        load.stop()
        recs = load.snapshot()
        no_wrong(recs, "the whole run")
        eq(failures([r for r in recs if r[0] < t_first]), [], "failures before the first kill")
        lost = failures(recs)
        notes.append(f"{len(recs)} queries, {kills} busy co-processes SIGKILLed: {len(lost)} "
                     f"lost ({fmt_tally(lost)}); pdns started the replacement "
                     f"{', '.join(f'{t:.0f}' for t in spawn_ms)} ms after each kill "
                     f"({', '.join(how)})")
        check(len(lost) <= kills, f"{len(lost)} queries lost for {kills} kills: {lost}")
        check(all(r[3] == "SERVFAIL" for r in lost), f"not SERVFAIL: {lost}")
        # Each thread answers again: every one of 20 sequential queries is right.
        got = [query(p.port, "fo.example.com") for _ in range(20)]
        eq(sum(1 for g in got if g == ("NOERROR", ["127.0.5.2"])), 20, f"answers after: {got}")
        r = p.pdns_control("cycle")
        notes.append(f"pdns_control cycle without the guardian: exit {r.returncode}, "
                     f"{(r.stdout + r.stderr).strip()!r}")
        check_sanitizers(p)
    except Failure as ex:
        raise Failure(f"{ex}\n{tail(p)}") from None
    finally:
        if load:
            load.stop()
        p.stop()
        w.stop()


def servfails(p, n=40, name="static.example.com"):
    return sum(1 for _ in range(n) if query(p.port, name, 1.5)[0] != "NOERROR")


def pipe_coprocess_killed_while_idle(binary, tmp, notes):
    """What pdns 4.7.3 does when a co-process dies while idle, and what brings it back. pdns
    runs under its guardian here: `pdns_control cycle` exists only there."""
    w = World(tmp)
    p = FPdns(binary, "pipe", tmp, w.path, guardian=True)
    try:
        p.start()
        settle(p, w)
        warm(p)
        wait_for(lambda: len(p.coprocesses()) == CONNECTIONS, 5, "the co-processes")
        cops = p.coprocesses()
        time.sleep(0.2)
        check(all(pending_input(c) == 0 for c in cops), "co-processes idle")
        os.kill(cops[0], signal.SIGKILL)
        time.sleep(0.2)
        n = 40
        first = servfails(p, n)
        time.sleep(2.0)
        later = servfails(p, n)
        notes.append(f"idle co-process SIGKILLed: {first} of {n} queries SERVFAIL at once, "
                     f"{later} of {n} 2 s later (one of {CONNECTIONS} threads broken for good)")
        check(first >= n // 4 and later >= n // 4,
              f"expected about {n // CONNECTIONS} of {n} SERVFAIL: {first}, {later}")
        eq(len(p.coprocesses()), CONNECTIONS - 1, "no replacement co-process")
        tried = []
        for cmd in (["rediscover"], ["reload"], ["purge"]):
            r = p.pdns_control(*cmd)
            eq(r.returncode, 0, f"pdns_control {cmd[0]}: {r.stdout}{r.stderr}")
            bad = servfails(p, 20)
            tried.append(f"{cmd[0]}: {bad}/20 SERVFAIL")
            check(bad > 0, f"pdns_control {cmd[0]} repaired it: unexpected")
        notes.append("no help from pdns_control " + ", ".join(tried))
        instance = descendants(p.pdns.pid, "pdns_server")
        old_cops = p.coprocesses()
        t0 = time.monotonic()
        r = p.pdns_control("cycle")
        eq(r.returncode, 0, f"pdns_control cycle: {r.stdout}{r.stderr}")

        def all_ok():
            return all(query(p.port, "static.example.com", 1)[0] == "NOERROR"
                       for _ in range(CONNECTIONS * 4))
        wait_for(all_ok, 15, "answers after pdns_control cycle")
        t_cycle = time.monotonic() - t0
        eq(servfails(p, n), 0, "SERVFAIL after cycle")
        wait_for(lambda: not any(alive(c) for c in old_cops), 5,
                 "the old instance's co-processes to exit")
        new_instance = descendants(p.pdns.pid, "pdns_server")
        check(new_instance and new_instance != instance, f"a new instance: {instance} -> "
                                                         f"{new_instance}")
        notes.append(f"pdns_control cycle (guardian): all answers back after {t_cycle:.1f}s "
                     f"(the guardian restarts the instance)")
        check_sanitizers(p)
    except Failure as ex:
        raise Failure(f"{ex}\n{tail(p)}") from None
    finally:
        stop_guarded(p)
        w.stop()


def stop_guarded(p):
    """Stops pdns (its guardian takes the instance with it) and checks nothing is left."""
    inst = descendants(p.pdns.pid, "pdns_server") if p.pdns and p.pdns.poll() is None else []
    cops = p.coprocesses() if p.pdns and p.pdns.poll() is None else []
    p.stop()
    for pid in inst + cops:
        try:
            wait_for(lambda: not alive(pid), 5, f"process {pid} to exit")
        except Failure:
            os.kill(pid, signal.SIGKILL)


def pipe_coprocess_never_exits_on_its_own_while_idle(binary, tmp, notes):
    w = World(tmp)
    p = FPdns(binary, "pipe", tmp, w.path)
    try:
        p.start()
        settle(p, w)
        warm(p)
        wait_for(lambda: len(p.coprocesses()) == CONNECTIONS, 5, "the co-processes")
        cops = p.coprocesses()
        saved = os.path.join(tmp, "store.saved")
        shutil.copy(w.path, saved)

        def all_answer(what):
            time.sleep(0.6)  # the reloaders poll 4 times a second
            for c in cops:
                check(alive(c), f"{what}: co-process {c} exited")
            eq(p.coprocesses(), cops, f"{what}: co-processes")
            got = [query(p.port, "fo.example.com") for _ in range(CONNECTIONS * 6)]
            bad = [g for g in got if g != ("NOERROR", ["127.0.5.2"])]
            eq(bad, [], f"{what}: answers")

        os.rename(w.path, w.path + ".away")
        all_answer("store file deleted")
        os.rename(w.path + ".away", w.path)
        with open(w.path, "w") as f:
            f.write('{"zones": ')
        all_answer("store file broken")
        shutil.copy(saved, w.path)
        all_answer("store file restored")
        # The state directory vanishes (a tmp cleaner), then a reload opens it again: it is
        # made anew.
        os.rename(p.state_dir, p.state_dir + ".gone")
        all_answer("state directory gone")
        w.write()
        all_answer("state directory gone, then a reload")
        check(os.path.isdir(p.state_dir), "the state directory made anew")
        shutil.rmtree(p.state_dir + ".gone")
        m0 = p.read("pdns.log").count("reload requested by a signal")
        for c in cops:
            os.kill(c, signal.SIGHUP)
        all_answer("SIGHUP")
        eq(p.read("pdns.log").count("reload requested by a signal") - m0, len(cops),
           "SIGHUP reloads")
        for c in cops:
            os.kill(c, signal.SIGPIPE)
        all_answer("SIGPIPE")
        notes.append("alive and answering after: store deleted, store broken, state directory "
                     "gone (and a reload then), SIGHUP (a reload), SIGPIPE")
        # SIGTERM is an operator's (or systemd's, with pdns) and ends the co-process: measured.
        os.kill(cops[0], signal.SIGTERM)
        wait_for(lambda: not alive(cops[0]), 5, "the co-process to end on SIGTERM")
        bad = servfails(p, 20)
        notes.append(f"SIGTERM to an idle co-process ends it (default action): then {bad}/20 "
                     "SERVFAIL")
        check_sanitizers(p)
    except Failure as ex:
        raise Failure(f"{ex}\n{tail(p)}") from None
    finally:
        p.stop()
        w.stop()


# ---- 3. pdns restarted under load --------------------------------------------------------------

def pdns_restart_under_load(binary, tmp, notes, mode):
    """The load's timeout (2.5 s) is above pdns's backend timeout (2 s): a query pdns accepted
    is answered in time, if slowly. Queries sent to the dying pdns are never answered."""
    w = World(tmp)
    p = FPdns(binary, mode, tmp, w.path)
    load = None
    try:
        p.start()
        settle(p, w)
        drain_dr1(binary, p)
        load = Load(p.port, EXPECT, timeout=2.5).start()
        time.sleep(1.0)
        for how in (signal.SIGTERM, signal.SIGKILL):
            hname = signal.Signals(how).name
            daemon = p.daemon.pid if mode == "unix" else None
            cops = p.coprocesses()
            if mode == "pipe":
                eq(len(cops), CONNECTIONS, f"co-processes before {hname}")
            else:
                eq(unix_connections(p.sock), CONNECTIONS, f"backend connections before {hname}")
            t_kill = time.monotonic()
            p.pdns.send_signal(how)
            p.pdns.wait(15)
            t_dead = time.monotonic()
            if mode == "pipe":
                try:
                    wait_for(lambda: not any(alive(c) for c in cops), 5,
                             "the old pdns's co-processes to exit")
                except Failure:
                    raise Failure(f"orphans after {hname} of pdns: "
                                  f"{[c for c in cops if alive(c)]}") from None
                t_gone = time.monotonic() - t_dead
            else:
                check(p.daemon.poll() is None and p.daemon.pid == daemon,
                      f"the daemon survives pdns's {hname}")
                wait_for(lambda: unix_connections(p.sock) == 0, 5,
                         "the old pdns's connections to close")
            p.start_pdns()
            t_back = time.monotonic()
            # At once, one query after another (each pdns thread gets its first ones): right,
            # if slowly (pipe: a new co-process waits for its first probe round).
            first = []
            for _ in range(CONNECTIONS * 4):
                t0 = time.monotonic()
                got = query(p.port, "fo.example.com", 2.5)
                first.append(time.monotonic() - t0)
                eq(got, ("NOERROR", ["127.0.5.2"]), f"a first answer after {hname}")
            load.wait_ok(100, 10, t_back)
            recs = load.between(t_kill)
            after = [r for r in recs if r[0] >= t_back]
            down = [r for r in recs if r[0] < t_back]
            extra = (f"; co-processes gone {1000 * t_gone:.0f} ms after pdns" if mode == "pipe"
                     else f"; daemon pid {daemon} kept, {unix_connections(p.sock)} new "
                          f"connections")
            notes.append(f"{hname}: pdns answering again {t_back - t_kill:.2f}s after the "
                         f"signal; sent to the old one: {fmt_tally(down)}; first answers "
                         f"within {1000 * max(first):.0f} ms; after: {len(after)} queries, "
                         f"{fmt_tally(after)}{extra}")
            eq(failures(after), [], f"failures once pdns answers again after {hname}")
            no_wrong(recs, hname)
            if mode == "unix":
                eq(p.daemon.pid, daemon, "the same daemon")
                eq(unix_connections(p.sock), CONNECTIONS, "connections of the new pdns")
            else:
                new = p.coprocesses()
                check(len(new) == CONNECTIONS and not set(new) & set(cops),
                      f"new co-processes: {cops} -> {new}")
        load.stop()
        no_wrong(load.snapshot(), "the whole run")
        check_sanitizers(p)
    except Failure as ex:
        raise Failure(f"{ex}\n{tail(p)}") from None
    finally:
        if load:
            load.stop()
        p.stop()
        w.stop()


# ---- 4. a state directory that cannot be written ------------------------------------------------

def mount(*args):
    r = subprocess.run(["mount", *args], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, f"mount {' '.join(args)}: {r.stderr.strip()}")


def umount(path):
    for _ in range(20):
        if subprocess.run(["umount", path], capture_output=True, timeout=30).returncode == 0:
            return
        time.sleep(0.25)
    subprocess.run(["umount", "-l", path], capture_output=True, timeout=30)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def map_files(d):
    return sorted(f for f in os.listdir(d) if f.startswith("health-") and f.endswith(".map"))


SLOT, HEADER = 144, 64  # struct hmap_slot, struct hmap_header (health/hmap.h)


def last_probe_times(path):
    data = read_bytes(path)
    n = struct.unpack_from("<I", data, 12)[0]
    return [struct.unpack_from("<q", data, HEADER + i * SLOT + 24)[0] for i in range(n)]


def answers(p, name):
    return query(p.port, name)


def wait_answer(p, name, want, timeout):
    last = [None]

    def ok():
        last[0] = query(p.port, name)
        return last[0] == ("NOERROR", want)
    try:
        wait_for(ok, timeout, f"{name} {want}")
    except Failure:
        raise Failure(f"{name}: no answer {want} within {timeout}s (last {last[0]})") from None


def log_has(p, pattern, what):
    text = p.daemon_log()
    check(re.search(pattern, text), f"{what}: no /{pattern}/ in the daemon's log")
    return re.search(pattern, text).group(0)


def transition_works(p, w, notes, what):
    """web1 down and up again: the fo answer follows (health works without the file)."""
    t0 = time.monotonic()
    w.web1.stop()
    wait_answer(p, "fo.example.com", ["127.0.5.3"], INTERVAL * FALL + TIMEOUT + 2)
    t_down = time.monotonic() - t0
    w.web1.start()
    wait_answer(p, "fo.example.com", ["127.0.5.2"], INTERVAL * RISE + TIMEOUT + 2)
    notes.append(f"{what}: web1 down seen after {t_down:.1f}s, and back")


def ctl_sock(binary, p, *words):
    return ctl(binary, "--socket", p.sock, *words)


def refused_then_saved(binary, p, notes, path_re, cause, fix):
    """ctl drain fails naming the path and the cause, changes nothing; after fix() the same
    drain is saved and shows in the answers."""
    ovr = os.path.join(p.state_dir, "overrides.map")
    before = read_bytes(ovr) if os.path.exists(ovr) else None
    r = ctl_sock(binary, p, "drain", "fo/web1")
    eq(r.returncode, 1, f"ctl drain exit: {r.stdout}{r.stderr}")
    check(re.search(rf"error: cannot \w+ '{path_re}' \({cause}\); not saved", r.stdout),
          f"ctl drain's error: {r.stdout!r}")
    notes.append(f"drain refused: {r.stdout.strip()}")
    eq(answers(p, "fo.example.com"), ("NOERROR", ["127.0.5.2"]), "fo after a refused drain")
    if before is not None:
        check(read_bytes(ovr) == before, "overrides.map changed by a refused drain")
    fix()
    r = ctl_sock(binary, p, "drain", "fo/web1")
    eq(r.returncode, 0, f"ctl drain after the fix: {r.stdout}{r.stderr}")
    wait_answer(p, "fo.example.com", ["127.0.5.3"], 3)
    r = ctl_sock(binary, p, "auto", "fo/web1")
    eq(r.returncode, 0, f"ctl auto: {r.stdout}{r.stderr}")
    wait_answer(p, "fo.example.com", ["127.0.5.2"], 3)


def reload_shares_the_map_again(binary, p, notes):
    mark = len(p.daemon_log())
    r = ctl_sock(binary, p, "reload")
    eq(r.returncode, 0, f"ctl reload: {r.stdout}{r.stderr}")
    wait_for(lambda: re.search(r"leading '[^']*\.map'", p.daemon_log()[mark:]), 5,
             "the prober to lead the map file after the reload")
    maps = map_files(p.state_dir)
    eq(len(maps), 1, f"health maps in the state directory: {maps}")
    path = os.path.join(p.state_dir, maps[0])
    t1 = max(last_probe_times(path))
    wait_for(lambda: max(last_probe_times(path)) > t1, 3, "probes recorded in the map file")
    notes.append("after the fix: the next drain was saved, and a reload moved health back to "
                 f"the shared file {maps[0]}")


def state_dir_read_only(binary, tmp, notes):
    if not ROOT:
        notes.append("skipped: a read-only bind mount needs root")
        return
    w = World(tmp)
    state = os.path.join(tmp, "state")
    p = FPdns(binary, "unix", tmp, w.path, state_dir=state)
    mounted = False
    try:
        p.start()
        settle(p, w)
        drain_dr1(binary, p)
        p.stop_daemon()
        saved_ovr = read_bytes(os.path.join(state, "overrides.map"))
        maps = map_files(state)
        saved_map = read_bytes(os.path.join(state, maps[0]))
        mount("--bind", state, state)
        mounted = True
        mount("-o", "remount,ro,bind", state, state)
        p.start_daemon()  # pdns reconnects by itself
        wait_for(lambda: query(p.port, "static.example.com")[0] == "NOERROR" and
                 all(query(p.port, "static.example.com")[0] == "NOERROR" for _ in range(4)),
                 5, "pdns's connections to the new daemon")
        for pat in (rf"cannot open '{re.escape(state)}/overrides\.lock' \(Read-only file "
                    r"system\); overrides saved there still apply",
                    rf"cannot lock '{re.escape(state)}/health-[0-9a-f]+\.map\.init' \(Read-only "
                    r"file system\); health is kept in this process's memory"):
            notes.append("log: " + log_has(p, pat, "start-up on a read-only state directory"))
        eq(p.daemon_log().count("unknown ->"), 0, "states kept from the read-only map")
        # dr1's saved drain still applies; dn1's saved state too.
        for name, want in EXPECT.items():
            eq(answers(p, name), ("NOERROR", want), f"{name} on a read-only state directory")
        transition_works(p, w, notes, "read-only")
        r = ctl_sock(binary, p, "reload")
        eq(r.returncode, 0, f"reload: {r.stdout}{r.stderr}")
        wait_for(lambda: p.daemon_log().count("overrides saved there still apply") >= 2, 5,
                 "the reload's attempt")
        for name, want in EXPECT.items():
            eq(answers(p, name), ("NOERROR", want), f"{name} after a reload")
        eq(read_bytes(os.path.join(state, "overrides.map")), saved_ovr, "overrides.map")
        eq(read_bytes(os.path.join(state, maps[0])), saved_map, "the health map file")

        def fix():
            nonlocal mounted
            umount(state)
            mounted = False
        refused_then_saved(binary, p, notes, re.escape(state) + r"/overrides\.lock",
                           "Read-only file system", fix)
        r = ctl(binary, "--config", w.path, "--state-dir", state, "health")
        check(re.search(r"dr1 .* drain \"fault-test\"", r.stdout), f"dr1's drain: {r.stdout}")
        reload_shares_the_map_again(binary, p, notes)
        check(p.daemon.poll() is None, "the daemon runs")
        check_sanitizers(p)
    except Failure as ex:
        raise Failure(f"{ex}\n{tail(p)}") from None
    finally:
        p.stop()
        if mounted:
            umount(state)
        w.stop()


def state_dir_not_ours(binary, tmp, notes):
    if not ROOT or not shutil.which("setpriv"):
        notes.append("skipped: running the daemon as nobody needs root and setpriv")
        return
    w = World(tmp)
    nobody = pwd.getpwnam("nobody")
    state = os.path.join(tmp, "state")
    os.makedirs(state)
    os.chmod(state, 0o755)  # root's: nobody may read, not write
    wrapper = ("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--")
    p = FPdns(binary, "unix", tmp, w.path, state_dir=state, wrapper=wrapper)
    os.chmod(p.dir, 0o777)  # the socket is created there by nobody
    try:
        p.start()
        for pat in (rf"cannot open '{re.escape(state)}/overrides\.lock' \(Permission denied\)",
                    rf"cannot lock '{re.escape(state)}/health-[0-9a-f]+\.map\.init' "
                    r"\(Permission denied\); health is kept in this process's memory"):
            notes.append("log: " + log_has(p, pat, "start-up as nobody"))
        settle(p, w)  # dn1 is down: health works in memory
        transition_works(p, w, notes, "not ours")

        def fix():
            os.chown(state, nobody.pw_uid, nobody.pw_gid)
        refused_then_saved(binary, p, notes, re.escape(state) + r"/overrides\.lock",
                           "Permission denied", fix)
        eq(os.stat(os.path.join(state, "overrides.map")).st_uid, nobody.pw_uid,
           "overrides.map's owner")
        reload_shares_the_map_again(binary, p, notes)
        check_sanitizers(p)
    except Failure as ex:
        raise Failure(f"{ex}\n{tail(p)}") from None
    finally:
        p.stop()
        w.stop()


def fill_up(path):
    """Writes zeros to path until the file system is full; returns the bytes written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    total = 0
    try:
        for chunk in (1 << 20, 65536, 4096, 1):
            while True:
                try:
                    total += os.write(fd, b"\0" * chunk)
                except OSError as ex:
                    if ex.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    return total


def state_dir_full(binary, tmp, notes):
    if not ROOT:
        notes.append("skipped: a tmpfs needs root")
        return
    mnt = os.path.join(tmp, "tmpfs")
    os.makedirs(mnt)
    mount("-t", "tmpfs", "-o", "size=4m,mode=0755", "pf-faults-tmpfs", mnt)
    w = World(tmp)
    state = os.path.join(mnt, "state")
    filler = os.path.join(mnt, "filler")
    p = FPdns(binary, "unix", tmp, w.path, state_dir=state)
    try:
        # (a) state saved, then the disk fills up: everything keeps working (the files are
        # allocated in full), no SIGBUS.
        p.start()
        settle(p, w)
        drain_dr1(binary, p)
        n = fill_up(filler)
        notes.append(f"tmpfs 4 MiB: filled with {n} bytes after start-up")
        transition_works(p, w, notes, "full after start-up")
        r = ctl_sock(binary, p, "drain", "fo/web1")
        eq(r.returncode, 0, f"drain on a full disk (the file is allocated): {r.stdout}")
        wait_answer(p, "fo.example.com", ["127.0.5.3"], 3)
        eq(ctl_sock(binary, p, "auto", "fo/web1").returncode, 0, "auto")
        wait_answer(p, "fo.example.com", ["127.0.5.2"], 3)
        # A reload with a new probe target needs a new map file, which cannot be written:
        # health stays in memory, seeded from the file (no state starts over).
        mark = len(p.daemon_log())
        w.write(extra_member=True)
        wait_for(lambda: "health is kept in this process's memory" in p.daemon_log()[mark:], 5,
                 "the reload's fallback")
        wait_for(lambda: "new1 127.0.5.251" in p.daemon_log()[mark:], 5, "new1's first verdict")
        wait_answer(p, "all.example.com", ["127.0.5.41"], 3)
        notes.append("log: " + log_has(
            p, rf"cannot write '{re.escape(state)}/health-[0-9a-f]+\.map\.tmp\d+' \(No space "
               r"left on device\)", "the reload on a full disk"))
        new_log = p.daemon_log()[mark:]
        check("dn1 127.0.5.250" not in new_log, f"dn1 started over after the reload:\n{new_log}")
        for name, want in EXPECT.items():
            if name != "all.example.com":
                eq(answers(p, name), ("NOERROR", want), f"{name} after the reload")
        check(p.daemon.poll() is None, "the daemon runs (no SIGBUS)")
        p.stop_daemon()
        w.write()

        # (b) full before start-up, nothing saved: before the fix the overrides file was sized
        # sparse and the first write into it was a SIGBUS.
        os.unlink(filler)
        shutil.rmtree(state)
        fill_up(filler)
        p.start_daemon()
        wait_for(lambda: all(query(p.port, "static.example.com")[0] == "NOERROR"
                             for _ in range(4)), 5, "pdns's connections to the new daemon")
        for pat in (rf"cannot allocate '{re.escape(state)}/overrides\.map' \(No space left on "
                    r"device\)",
                    rf"cannot write '{re.escape(state)}/health-[0-9a-f]+\.map\.tmp\d+' \(No "
                    r"space left on device\); health is kept in this process's memory"):
            notes.append("log: " + log_has(p, pat, "start-up on a full disk"))
        wait_answer(p, "all.example.com", ["127.0.5.41", "127.0.5.43"], 3)  # dn1 down
        transition_works(p, w, notes, "full at start-up")
        refused_then_saved(binary, p, notes, re.escape(state) + r"/overrides\.map",
                           "No space left on device", lambda: os.unlink(filler))
        reload_shares_the_map_again(binary, p, notes)
        check(p.daemon.poll() is None, "the daemon runs")
        check_sanitizers(p)
        p.stop()

        # (c) pipe mode, full at start-up: every co-process pdns starts would have died of the
        # SIGBUS before answering (pdns exits when its first one fails).
        fill_up(filler)
        p = FPdns(binary, "pipe", tmp, w.path, state_dir=os.path.join(mnt, "state-pipe"))
        p.start()
        warm(p)
        for name, want in (("static.example.com", ["192.0.2.10"]),
                           ("fo.example.com", ["127.0.5.2"]),
                           ("all.example.com", ["127.0.5.41", "127.0.5.43"])):
            eq(answers(p, name), ("NOERROR", want), f"pipe on a full disk: {name}")
        eq(len(p.coprocesses()), CONNECTIONS, "co-processes on a full disk")
        check("No space left on device" in p.read("pdns.log"), "the co-processes' error")
        notes.append("pipe mode on the full disk: pdns starts, co-processes answer (health in "
                     "memory each)")
        check_sanitizers(p)
    except Failure as ex:
        raise Failure(f"{ex}\n{tail(p)}") from None
    finally:
        p.stop()
        w.stop()
        umount(mnt)


# ---- main -------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--only", default="", help="run tests whose name contains this")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="pf-faults-")
    os.chmod(work, 0o755)  # the daemon running as nobody must get in
    # A copy: a rebuild during the run must not pull the binary away, and nobody must run it.
    binary = os.path.join(work, "pdns-failover")
    shutil.copy2(os.path.abspath(args.binary), binary)
    results = []

    def run(name, fn, *a):
        if args.only and args.only not in name:
            return
        d = tempfile.mkdtemp(dir=work)
        os.chmod(d, 0o755)
        t0 = time.monotonic()
        notes = []
        INSTANCES.clear()
        try:
            fn(binary, d, notes, *a)
            # Everything is stopped now: leak reports (at exit) are in the logs too.
            for inst in INSTANCES:
                check_sanitizers(inst)
            results.append((name, None))
            print(f"ok {len(results)} - {name} ({time.monotonic() - t0:.2f}s)", flush=True)
        except Exception as ex:  # noqa: BLE001 - every kind of failure is a test failure
            results.append((name, ex))
            print(f"not ok {len(results)} - {name} ({time.monotonic() - t0:.2f}s)", flush=True)
            for line in f"{type(ex).__name__}: {ex}".splitlines():
                print(f"#   {line}", flush=True)
        for line in notes:
            print(f"#   {line}", flush=True)

    t_start = time.monotonic()
    try:
        run("unix: SIGKILL of the daemon under load: queries fail fast while none listens, then "
            "at most one per backend connection; answers right; states and overrides kept",
            unix_daemon_sigkill_under_load)
        run("unix, socket activation (the socket held across restarts, as "
            "pdns-failover.socket does): 3 SIGKILLs under load lose at most one query per "
            "backend connection each", unix_daemon_sigkill_socket_activated)
        run("pipe: a co-process SIGKILLed while busy costs at most one query and is replaced",
            pipe_coprocess_killed_while_busy)
        run("pipe: a co-process killed while idle breaks its pdns thread until pdns restarts "
            "(pdns_control cycle under the guardian)", pipe_coprocess_killed_while_idle)
        run("pipe: a co-process never exits on its own while idle (store deleted or broken, "
            "state directory gone, SIGHUP, SIGPIPE)",
            pipe_coprocess_never_exits_on_its_own_while_idle)
        for mode in ("unix", "pipe"):
            run(f"{mode}: pdns restarted (SIGTERM, SIGKILL) under load: "
                + ("the daemon keeps serving" if mode == "unix" else "no orphan co-processes")
                + "; no SERVFAIL once pdns answers again", pdns_restart_under_load, mode)
        run("read-only state directory (EROFS): errors name the path, health in memory, saved "
            "overrides apply and stay intact; saved again once writable", state_dir_read_only)
        run("state directory not ours (EACCES, the daemon as nobody): the same",
            state_dir_not_ours)
        run("full state directory (ENOSPC, tmpfs): no SIGBUS, the same", state_dir_full)
        if hasattr(e2e, "check_no_sanitizer_report"):  # every log under the work directory
            run("no sanitizer report in the logs",
                lambda _b, _d, _notes: e2e.check_no_sanitizer_report(work))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"# work directory kept: {work}")
    failed = sum(1 for _, ex in results if ex)
    print(f"1..{len(results)}")
    print(f"# faults: {len(results) - failed} passed, {failed} failed in "
          f"{time.monotonic() - t_start:.0f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
