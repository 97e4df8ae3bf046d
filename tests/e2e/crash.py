#!/usr/bin/python3
"""Crash, concurrency and failure tests for store edits (backend/commit.c).

A commit takes the writers' lock ("<store>.lock"), reads the file, applies the edits, writes
"<store>.tmp", fsyncs it and renames it over the store. These tests check what that promises:

- kill -9 at random moments of 200 commits (a pipe-mode process driven directly) never leaves a
  broken or half-applied store, and no acknowledged commit is lost;
- concurrent writers (DNS UPDATE + API through one unix daemon; API through a pipe-mode pdns
  + a separate pipe-mode pdnsutil) lose nothing;
- a commit that cannot be written (read-only directory, full disk, file size limit, a held
  lock) changes nothing, says why, the old store keeps serving, and the same edit works once
  the cause is gone;
- a failed commit reaches its user: DNS UPDATE gets SERVFAIL, and pdnsutil and the API must fail
  too (pdns 4.7.3 ignores a false commitTransaction there, so the backend has to answer so
  that pdns cannot ignore it);
- a commit of one unix connection waiting for the lock does not hold up the others;
- a transaction left open (EOF, disconnect, SIGKILL) is rolled back.

Real pdns_server 4.7 and pdnsutil/nsupdate/dig on loopback; everything in a temporary
directory. Prints TAP like e2e.py; exits 1 if anything failed. Every wait and loop is bounded;
every process started here is stopped by its PID. Needs root for the tmpfs and setpriv parts
(without root it falls back as documented in each test).
"""
import argparse
import errno
import fcntl
import grp
import json
import os
import pwd
import random
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the checkout
import e2e  # noqa: E402
from e2e import Failure, check, eq, stop, wait_for  # noqa: E402

ZONE = "example.com."
API_KEY = "crash-test-key"
OLD_WWW = ["192.0.2.10", "192.0.2.11"]  # www.example.com A in tests/e2e/store.json

KILL_TXNS = 200  # transactions of the kill -9 test
KILL_EXTRA_NAMES = 1000  # x 2 records each: the store is big enough for a commit to take a while
WRITERS_N = 40  # names per writer in the concurrent-writer tests


# ---- small helpers ----------------------------------------------------------------------------

def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def load_json(path):
    data = read_bytes(path)
    try:
        return json.loads(data)
    except ValueError as ex:
        raise Failure(f"{path} is not valid JSON ({ex}); {len(data)} bytes, "
                      f"ends with {data[-80:]!r}") from None


def check_config(binary, path):
    r = subprocess.run([binary, "--check-config", path], capture_output=True, text=True,
                       timeout=30)
    eq(r.returncode, 0, f"--check-config {path} exit ({r.stdout}{r.stderr[-2000:]})")


def strays(path):
    """Files next to the store other than the store and its lock (a left temp file, say)."""
    d, base = os.path.split(path)
    return sorted(n for n in os.listdir(d) if n.startswith(base) and n not in
                  (base, base + ".lock"))


def owner_abs(owner, zone):
    if owner == "@":
        return zone
    if owner.endswith("."):
        return owner.lower()
    return owner.lower() + "." + zone


def norm_store(doc):
    """The store's meaning, independent of the layout: per zone the default TTL, metadata and
    the sorted list of (absolute owner, record with its TTL filled in)."""
    zones = {}
    for zname, z in doc["zones"].items():
        zn = zname.lower() if zname.endswith(".") else zname.lower() + "."
        zttl = z.get("ttl", 3600)
        rrs = []
        for owner, lst in z.get("records", {}).items():
            for r in lst:
                rr = dict(r)
                rr.setdefault("ttl", zttl)
                rrs.append((owner_abs(owner, zn), json.dumps(rr, sort_keys=True)))
        zones[zn] = {"ttl": zttl, "metadata": z.get("metadata"), "rrs": sorted(rrs),
                     "other": {k: v for k, v in z.items()
                               if k not in ("ttl", "records", "metadata")}}
    return {"zones": zones, "rest": {k: v for k, v in doc.items() if k != "zones"}}


def rr_key(name, rtype, content, ttl):
    return (name, json.dumps({"type": rtype, "content": content, "ttl": ttl}, sort_keys=True))


def a_records(doc):
    """{absolute name: sorted A contents} of example.com."""
    out = {}
    for name, rr in norm_store(doc)["zones"][ZONE]["rrs"]:
        r = json.loads(rr)
        if r["type"] == "A":
            out.setdefault(name, []).append(r["content"])
    return {k: sorted(v) for k, v in out.items()}


def make_store(path, binary, extra_names=0, metadata=None):
    """tests/e2e/store.json (plus extra_names names of an A and a TXT record each, plus
    example.com metadata) at path, in the canonical layout (`pdns-failover fmt`)."""
    with open(e2e.STORE) as f:
        doc = json.load(f)
    z = doc["zones"][ZONE]
    for j in range(extra_names):
        z["records"][f"h{j}.gen"] = [
            {"type": "A", "content": f"198.51.{100 + j // 250}.{j % 250 + 1}"},
            {"type": "TXT", "content": f'"filler record {j} padding the store out a bit"'}]
    if metadata:
        z["metadata"] = metadata
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
    r = subprocess.run([binary, "fmt", path], capture_output=True, text=True, timeout=60)
    eq(r.returncode, 0, f"fmt {path}: {r.stdout}{r.stderr}")
    check_config(binary, path)
    return path


def connectable(path):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def dist(values, unit="ms", scale=1000.0):
    if not values:
        return "none"
    v = [x * scale for x in values]
    return (f"n={len(v)} min={min(v):.1f} p50={pct(v, 50):.1f} p90={pct(v, 90):.1f} "
            f"p99={pct(v, 99):.1f} max={max(v):.1f} {unit}")


class StderrLog:
    """Collects a child's stderr from a pipe in a thread (a file would count against a file
    size limit; an unread pipe would block the child)."""

    def __init__(self, pipe):
        self.buf = bytearray()
        self.lock = threading.Lock()
        self.t = threading.Thread(target=self._run, args=(pipe,), daemon=True)
        self.t.start()

    def _run(self, pipe):
        fd = pipe.fileno()
        while True:
            try:
                b = os.read(fd, 65536)
            except OSError:
                return
            if not b:
                return
            with self.lock:
                self.buf += b

    def mark(self):
        with self.lock:
            return len(self.buf)

    def since(self, mark=0):
        with self.lock:
            return bytes(self.buf[mark:]).decode(errors="replace")


# ---- processes ----------------------------------------------------------------------------------

class PipeBackend:
    """A pipe-mode pdns-failover driven directly: one JSON request per line on stdin, one reply
    line on stdout. stderr goes to a file of the caller's."""

    def __init__(self, binary, store, errfile):
        self.proc = subprocess.Popen([binary, *e2e.ROOT, "--config", store], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=errfile)
        self.fd = self.proc.stdout.fileno()
        self.buf = b""

    def send(self, *reqs):
        self.proc.stdin.write(b"".join(json.dumps(q).encode() + b"\n" for q in reqs))
        self.proc.stdin.flush()

    def recv(self, timeout=10):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            check(left > 0, f"no reply within {timeout}s")
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                chunk = os.read(self.fd, 65536)
                check(chunk, f"stdout closed before the reply (exit {self.proc.poll()})")
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def readable(self):
        """Whether a reply (or EOF) is waiting to be read."""
        return bool(self.buf) or bool(select.select([self.fd], [], [], 0)[0])

    def ask(self, req, timeout=10):
        self.send(req)
        return self.recv(timeout)

    def ask_true(self, req, what):
        line = self.ask(req)
        eq(line, b'{"result":true}', what)

    def kill(self):
        """SIGKILL; returns every reply byte it wrote before dying (and we had not read)."""
        self.proc.kill()
        self.proc.wait(10)
        rest = self.buf
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.fd], [], [], deadline - time.monotonic())
            chunk = os.read(self.fd, 65536) if r else b""
            if not chunk:
                break
            rest += chunk
        self.close_pipes()
        return rest

    def close_pipes(self):
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass

    def eof(self):
        """Closes stdin (EOF) and waits for the exit; returns the exit status."""
        self.proc.stdin.close()
        try:
            rc = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise Failure("the pipe process did not exit at EOF within 10 s") from None
        self.proc.stdout.close()
        return rc

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.close_pipes()


class Daemon:
    """pdns-failover in unix mode, optionally under a wrapper (setpriv, prlimit), which execs
    it: the PID we hold is the daemon's."""

    def __init__(self, binary, store, sock, state_dir, wrapper=()):
        self.args = [*wrapper, binary, *e2e.ROOT, "--config", store, "--listen", sock,
                     "--state-dir", state_dir]
        self.sock = sock
        self.proc = None
        self.log = None

    def start(self):
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.log = StderrLog(self.proc.stderr)
        wait_for(lambda: connectable(self.sock) or self.proc.poll() is not None, 10,
                 "the daemon's socket")
        if self.proc.poll() is not None:
            raise Failure(f"pdns-failover exited ({self.proc.returncode}): {self.log.since()}")
        return self

    def stop(self):
        stop(self.proc)
        if self.log:
            self.log.t.join(5)

    def text(self):
        return self.log.since() if self.log else ""


def write_conf(confdir, lines):
    os.makedirs(confdir, exist_ok=True)
    with open(os.path.join(confdir, "pdns.conf"), "w") as f:
        f.write("\n".join(lines) + "\n")


def pipe_conn(binary, store):
    return f"pipe:command={binary}{e2e.ROOT_OPT} --config {store},timeout=2000"


def pipe_pdnsutil_conf(d, binary, store):
    """A configuration directory for a pdnsutil of its own (pipe connector, same store)."""
    write_conf(d, ["launch=remote", f"remote-connection-string={pipe_conn(binary, store)}"])
    return d


def pdnsutil(confdir, *args, timeout=60):
    return subprocess.run(["pdnsutil", f"--config-dir={confdir}", *args], capture_output=True,
                          text=True, timeout=timeout)


class Pdns:
    """One pdns_server on loopback with DNS UPDATE and the HTTP API on, caches off."""

    def __init__(self, d, conn, extra=()):
        self.dir = d
        self.conf = os.path.join(d, "conf")
        run = os.path.join(d, "run")
        os.makedirs(run, exist_ok=True)
        self.port = e2e.free_port()
        self.web = e2e.free_port()
        write_conf(self.conf, [
            "launch=remote", f"remote-connection-string={conn}",
            "local-address=127.0.0.1", f"local-port={self.port}", f"socket-dir={run}",
            "guardian=no", "daemon=no", "cache-ttl=0", "query-cache-ttl=0",
            "negquery-cache-ttl=0", "security-poll-suffix=", "loglevel=4",
            "dnsupdate=yes", "webserver=yes", "api=yes", f"api-key={API_KEY}",
            "webserver-address=127.0.0.1", f"webserver-port={self.web}",
            "webserver-allow-from=127.0.0.0/8", *extra])
        self.proc = None
        self.logpath = os.path.join(d, "pdns.log")

    def start(self):
        with open(self.logpath, "w") as log:
            self.proc = subprocess.Popen(
                ["/usr/sbin/pdns_server", f"--config-dir={self.conf}", "--daemon=no",
                 "--guardian=no"], stdout=log, stderr=subprocess.STDOUT)

        def ready():
            if self.proc.poll() is not None:
                raise Failure("pdns_server exited: " + self.log())
            return self.dig("example.com", "SOA", timeout=1).status == "NOERROR"
        wait_for(ready, 20, "pdns_server to answer")
        return self

    def stop(self):
        stop(self.proc)

    def log(self):
        try:
            with open(self.logpath) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def dig(self, name, rtype="A", tcp=False, timeout=2):
        cmd = ["dig", "@127.0.0.1", "-p", str(self.port), "+norecurse", f"+time={timeout}",
               "+tries=1", name, rtype]
        if tcp:
            cmd.insert(1, "+tcp")
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout * 3 + 5)
        return e2e.Answer(r.stdout)

    def pdnsutil(self, *args):
        return pdnsutil(self.conf, *args)

    def api_patch(self, name, content, ttl=300):
        """PATCH REPLACE of name's A RRset; returns (HTTP status, body)."""
        body = json.dumps({"rrsets": [{"name": name, "type": "A", "ttl": ttl,
                                       "changetype": "REPLACE",
                                       "records": [{"content": content, "disabled": False}]}]})
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.web}/api/v1/servers/localhost/zones/{ZONE}",
            data=body.encode(), method="PATCH",
            headers={"X-API-Key": API_KEY, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=15) as r:
                return r.status, r.read().decode(errors="replace")
        except urllib.error.HTTPError as ex:
            return ex.code, ex.read().decode(errors="replace")

    def nsupdate_add(self, name, content):
        script = (f"server 127.0.0.1 {self.port}\nzone {ZONE}\n"
                  f"update add {name} 300 A {content}\nsend\n")
        return subprocess.run(["nsupdate", "-v", "-t", "10"], input=script, capture_output=True,
                              text=True, timeout=30)

    def wait_a(self, name, want, timeout=10):
        last = [None]

        def ok():
            a = self.dig(name, "A")
            last[0] = (a.status, a.rdata("A"))
            return last[0] == ("NOERROR", sorted(want))
        try:
            wait_for(ok, timeout, f"{name} A {want}")
        except Failure:
            raise Failure(f"{name}: no answer {want} within {timeout}s (last: {last[0]})") \
                from None


class UnixEnv:
    """A unix-mode daemon (maybe under a wrapper) and a pdns_server in front of it."""

    def __init__(self, binary, tmp, store, wrapper=(), sockdir_owner=None):
        self.binary, self.store = binary, store
        sockdir = os.path.join(tmp, "sock")
        self.state = os.path.join(tmp, "state")
        for d in (sockdir, self.state):
            os.makedirs(d, exist_ok=True)
            if sockdir_owner:
                os.chown(d, *sockdir_owner)
        self.sock = os.path.join(sockdir, "pf.sock")
        self.daemon = Daemon(binary, store, self.sock, self.state, wrapper)
        self.pdns = Pdns(os.path.join(tmp, "pdns"), f"unix:path={self.sock},timeout=2000")

    def start(self):
        self.daemon.start()
        self.pdns.start()
        return self

    def restart_daemon(self, wrapper=()):
        self.daemon.stop()
        self.daemon = Daemon(self.binary, self.store, self.sock, self.state, wrapper).start()
        # each pdns backend connection loses one request on a restarted daemon: use them up
        wait_for(lambda: self.pdns.dig("www.example.com", "A", tcp=True).status == "NOERROR",
                 10, "pdns's TCP backend connection to come back")
        wait_for(lambda: all(self.pdns.dig("www.example.com", "A").status == "NOERROR"
                             for _ in range(4)), 10, "pdns's UDP backend connections")

    def stop(self):
        self.pdns.stop()
        self.daemon.stop()

    def tail(self):
        return ("pdns log tail:\n" + self.pdns.log()[-1500:] + "\ndaemon log tail:\n" +
                self.daemon.text()[-1500:])


# ---- 1. kill -9 during commits ---------------------------------------------------------------

def txn_requests(i, zone_id):
    trx = 1000 + i
    t = "t." + ZONE
    n = f"n{i}." + ZONE
    return [
        {"method": "startTransaction", "parameters": {"domain": ZONE, "domain_id": -1,
                                                      "trxid": trx}},
        {"method": "replaceRRSet", "parameters": {
            "domain_id": zone_id, "qname": t, "qtype": "TXT", "trxid": trx,
            "rrset": [{"qtype": "TXT", "qname": t, "qclass": 1, "content": f'"{i}"',
                       "ttl": 3600, "auth": True}]}},
        {"method": "replaceRRSet", "parameters": {
            "domain_id": zone_id, "qname": n, "qtype": "A", "trxid": trx,
            "rrset": [{"qtype": "A", "qname": n, "qclass": 1, "content": kill_ip(i),
                       "ttl": 300, "auth": True}]}},
        {"method": "commitTransaction", "parameters": {"trxid": trx}},
    ]


def kill_ip(i):
    return f"192.0.2.{i % 250 + 1}"


class KillExpect:
    """The expected meaning of the store after k transactions of the kill test."""

    def __init__(self, base_doc):
        self.base = norm_store(base_doc)
        self.zone_rrs = self.base["zones"][ZONE]["rrs"]

    def rrs(self, k):
        extra = [rr_key(f"n{j}." + ZONE, "A", kill_ip(j), 300) for j in range(k)]
        if k:
            extra.append(rr_key("t." + ZONE, "TXT", f'"{k - 1}"', 3600))
        return sorted(self.zone_rrs + extra)

    def which(self, doc, candidates):
        """The k among candidates whose expected store doc is, or None."""
        got = norm_store(doc)
        for zn, z in self.base["zones"].items():
            if zn != ZONE and got["zones"].get(zn) != z:
                return None
        if got["rest"] != self.base["rest"] or set(got["zones"]) != set(self.base["zones"]):
            return None
        gz, bz = got["zones"][ZONE], self.base["zones"][ZONE]
        if (gz["ttl"], gz["metadata"], gz["other"]) != (bz["ttl"], bz["metadata"], bz["other"]):
            return None
        for k in candidates:
            if gz["rrs"] == self.rrs(k):
                return k
        return None

    def describe(self, doc):
        rrs = norm_store(doc)["zones"].get(ZONE, {}).get("rrs", [])
        ns = sorted(int(n[1:].split(".")[0]) for n, _ in rrs if re.match(r"n\d+\.", n))
        ts = [json.loads(r)["content"] for n, r in rrs if n == "t." + ZONE]
        other = len([1 for n, _ in rrs if not re.match(r"(n\d+|t)\.", n)])
        return (f"n-names {len(ns)} (max {ns[-1] if ns else None}, missing "
                f"{sorted(set(range(max(ns) + 1 if ns else 0)) - set(ns))[:10]}), t={ts}, "
                f"other records {other} (base {len(self.zone_rrs)})")


def spin(pred, limit=10):
    """Polls pred as fast as it can, for at most limit seconds."""
    deadline = time.monotonic() + limit
    while not pred() and time.monotonic() < deadline:
        time.sleep(0.0001)


def calibrate_commit(binary, tmp, store, n=8):
    """Median time of a commit round trip on a copy of the store."""
    d = os.path.join(tmp, "calibrate")
    os.makedirs(d)
    copy = os.path.join(d, "store.json")
    shutil.copyfile(store, copy)
    with open(os.path.join(d, "stderr.log"), "wb") as err:
        p = PipeBackend(binary, copy, err)
        try:
            p.ask_true({"method": "initialize", "parameters": {}}, "initialize")
            times = []
            for i in range(n):
                reqs = txn_requests(i, -1)
                for q in reqs[:3]:
                    p.ask_true(q, "calibration edit")
                t0 = time.monotonic()
                p.ask_true(reqs[3], "calibration commit")
                times.append(time.monotonic() - t0)
        finally:
            p.stop()
    return pct(times, 50)


def kill9_during_commits(binary, tmp, notes, seed):
    d = os.path.join(tmp, "store")
    os.makedirs(d)
    store = make_store(os.path.join(d, "store.json"), binary, KILL_EXTRA_NAMES)
    os.chmod(store, 0o640)  # every rewrite must keep the mode
    expect = KillExpect(load_json(store))
    median = calibrate_commit(binary, tmp, store)
    rng = random.Random(seed)
    errpath = os.path.join(tmp, "pipe-stderr.log")
    stats = {"kills": 0, "edit": 0, "delay": 0, "write": 0, "rename": 0, "acked_before_kill": 0,
             "landed_in_flight": 0, "lost_in_flight": 0, "tmp_left": 0}
    rtts = []
    kill_delays = []

    def after_kill(lo, hi, what):
        """Checks the store after a kill; returns which k it holds."""
        doc = load_json(store)
        check_config(binary, store)
        k = expect.which(doc, range(lo, hi + 1))
        if k is None:
            raise Failure(f"after {what}: the store holds neither {lo} nor {hi} transactions: "
                          f"{expect.describe(doc)}")
        eq(oct(os.stat(store).st_mode & 0o7777), "0o640", "the store's mode")
        left = strays(store)
        check(left in ([], [os.path.basename(store) + ".tmp"]), f"stray files: {left}")
        if left:
            stats["tmp_left"] += 1
        return k

    with open(errpath, "ab") as err:
        def start():
            p = PipeBackend(binary, store, err)
            p.ask_true({"method": "initialize", "parameters": {}}, "initialize")
            info = json.loads(p.ask({"method": "getDomainInfo", "parameters": {"name": ZONE}}))
            return p, info["result"]["id"]

        p, zone_id = start()
        acked = 0
        attempts = 0
        interrupted = None
        t_start = time.monotonic()
        try:
            while acked < KILL_TXNS:
                attempts += 1
                check(attempts <= KILL_TXNS * 3, "too many attempts (a loop that never ends?)")
                i = acked
                reqs = txn_requests(i, zone_id)
                first_try = interrupted != i  # a re-sent transaction is not killed again
                mode = None
                if first_try and i % 2 == 0:
                    mode = rng.choices(["edit", "delay", "write", "rename"], [10, 60, 15, 15])[0]
                if mode == "edit":
                    # killed while the edits arrive: the commit is never sent
                    p.send(*reqs[:3])
                    time.sleep(rng.uniform(0, 0.02))
                    p.kill()
                    stats["kills"] += 1
                    stats["edit"] += 1
                    eq(after_kill(acked, acked, f"a kill before commit {i}"), acked, "k")
                    p, zone_id = start()
                    interrupted = i
                    continue
                for q in reqs[:3]:
                    p.ask_true(q, f"transaction {i}: {q['method']}")
                ino = os.stat(store).st_ino
                tmp_was = os.path.exists(store + ".tmp")
                t0 = time.monotonic()
                p.send(reqs[3])
                if mode is None:
                    line = p.recv(20)
                    rtts.append(time.monotonic() - t0)
                    eq(line, b'{"result":true}', f"commit {i}")
                    acked += 1
                    if i % 20 == 19 or not first_try:
                        # spot checks: every 20th commit and every re-sent one
                        k = expect.which(load_json(store), [acked])
                        check(k == acked, f"after commit {i}: {expect.describe(load_json(store))}")
                    continue
                if mode == "delay":
                    delay = rng.uniform(0, 1.5 * median)
                    time.sleep(delay)
                else:
                    def renamed():
                        return os.stat(store).st_ino != ino or p.readable()
                    if mode == "write":  # kill while the temp file is being written
                        spin(lambda: tmp_was or os.path.exists(store + ".tmp") or renamed())
                    else:  # rename: kill the moment the new file is in place
                        spin(renamed)
                    delay = time.monotonic() - t0
                check(p.proc.poll() is None, f"the pipe process died by itself "
                                             f"({p.proc.returncode}) during commit {i}")
                rest = p.kill()
                kill_delays.append(delay)
                stats["kills"] += 1
                stats[mode] += 1
                if rest.startswith(b'{"result":true}\n'):
                    stats["acked_before_kill"] += 1
                    acked += 1
                    eq(after_kill(acked, acked, f"a kill after commit {i} was acknowledged"),
                       acked, "k")
                else:
                    check(rest == b"", f"commit {i}: the reply before the kill was {rest!r}")
                    k = after_kill(acked, acked + 1, f"a kill during commit {i} ({mode}, "
                                                     f"{delay * 1000:.1f} ms)")
                    stats["landed_in_flight" if k == acked + 1 else "lost_in_flight"] += 1
                p, zone_id = start()
                interrupted = i  # sent again, whether it landed or not (it is idempotent)
            rc = p.eof()
            eq(rc, 0, "exit status at EOF")
        finally:
            p.stop()
    elapsed = time.monotonic() - t_start
    doc = load_json(store)
    check_config(binary, store)
    check(expect.which(doc, [KILL_TXNS]) == KILL_TXNS,
          f"at the end: {expect.describe(doc)}")
    eq(strays(store), [], "files left next to the store at the end")
    check(stats["kills"] >= 50, f"only {stats['kills']} kills")
    with open(errpath, "rb") as f:
        log = f.read().decode(errors="replace")
    commit_ms = [float(m) / 1000 for m in re.findall(r"edits committed in ([\d.]+) ms", log)]
    nrec = sum(len(z["rrs"]) for z in norm_store(doc)["zones"].values())
    notes.append(f"seed {seed}; store {os.path.getsize(store)} bytes, {nrec} records at the "
                 f"end; {KILL_TXNS} transactions acknowledged in {elapsed:.1f}s")
    notes.append(f"kills {stats['kills']}: {stats['edit']} before the commit, {stats['delay']} "
                 f"at a random delay 0-{1.5 * median * 1000:.0f} ms into it, {stats['write']} "
                 f"once store.json.tmp appeared, {stats['rename']} right after the rename")
    notes.append(f"of the kills during a commit: {stats['acked_before_kill']} after the reply, "
                 f"{stats['landed_in_flight']} landed in flight (renamed, not acknowledged), "
                 f"{stats['lost_in_flight']} not landed; {stats['tmp_left']} left a "
                 f"store.json.tmp (overwritten by the next commit)")
    notes.append(f"commit round trip (pipe, client side): {dist(rtts)}")
    notes.append(f"commit as logged by the daemon (lock..fsync dir): {dist(commit_ms)}")
    notes.append(f"kill delays after sending the commit: {dist(kill_delays)}")


# ---- 2. concurrent writers --------------------------------------------------------------------

def run_threads(jobs, timeout):
    """Runs each job (a function) in a thread; returns the exceptions they raised and how long
    each job ran."""
    errors = []
    took = [None] * len(jobs)

    def wrap(k, fn):
        t0 = time.monotonic()
        try:
            fn()
        except Exception as ex:  # noqa: BLE001 - reported by the test
            errors.append(ex)
        took[k] = time.monotonic() - t0
    threads = [threading.Thread(target=wrap, args=(k, fn), daemon=True)
               for k, fn in enumerate(jobs)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic()))
    if any(t.is_alive() for t in threads):
        errors.append(Failure(f"writers still running after {timeout}s"))
    return errors, took


def nsupdate_writer(p, names, failures, times):
    def run():
        for name, ip in names:
            t0 = time.monotonic()
            r = p.nsupdate_add(name, ip)
            times.append(time.monotonic() - t0)
            if r.returncode != 0:
                failures.append(f"nsupdate {name}: exit {r.returncode}: {r.stdout}{r.stderr}")
    return run


def api_writer(p, names, failures, times, pace=0.0):
    def run():
        for name, ip in names:
            time.sleep(pace)  # spread over the other writer's run
            t0 = time.monotonic()
            status, body = p.api_patch(name, ip)
            times.append(time.monotonic() - t0)
            if status != 204:
                failures.append(f"API PATCH {name}: HTTP {status}: {body[:300]}")
    return run


def pdnsutil_writer(confdir, names, failures, times):
    def run():
        for name, ip in names:
            t0 = time.monotonic()
            r = pdnsutil(confdir, "add-record", "example.com", name.split(".")[0], "A", "300", ip)
            times.append(time.monotonic() - t0)
            if r.returncode != 0 or "edit refused" in r.stderr:
                failures.append(f"pdnsutil add-record {name}: exit {r.returncode}: "
                                f"{r.stdout}{r.stderr[-500:]}")
    return run


def check_all_names(binary, p, store, names, notes):
    check_config(binary, store)
    got = a_records(load_json(store))
    missing = [n for n, ip in names if got.get(n) != [ip]]
    check(not missing, f"{len(missing)} of {len(names)} names missing or wrong in the store: "
                       f"{missing[:10]}")
    t0 = time.monotonic()
    for name, ip in names:
        p.wait_a(name, [ip], timeout=10)
    notes.append(f"all {len(names)} names in the store and answered by dig "
                 f"({time.monotonic() - t0:.1f}s for the digs)")


def unix_concurrent_writers(binary, tmp, notes):
    store = make_store(os.path.join(tmp, "store.json"), binary)
    env = UnixEnv(binary, tmp, store)
    try:
        env.start()
        r = env.pdns.pdnsutil("set-meta", "example.com", "ALLOW-DNSUPDATE-FROM", "127.0.0.0/8")
        eq(r.returncode, 0, f"set-meta: {r.stdout}{r.stderr}")
        meta = load_json(store)["zones"][ZONE].get("metadata", {})
        eq(meta.get("ALLOW-DNSUPDATE-FROM"), ["127.0.0.0/8"], "metadata in the store")
        upd = [(f"u{i}.{ZONE}", f"198.51.100.{i + 1}") for i in range(WRITERS_N)]
        api = [(f"a{i}.{ZONE}", f"203.0.113.{i + 1}") for i in range(WRITERS_N)]
        failures, t_upd, t_api = [], [], []
        t0 = time.monotonic()
        errors, took = run_threads([nsupdate_writer(env.pdns, upd, failures, t_upd),
                                    api_writer(env.pdns, api, failures, t_api, 0.025)], 120)
        elapsed = time.monotonic() - t0
        check(not errors, f"writer errors: {errors}")
        check(not failures, f"{len(failures)} writes failed: " + "; ".join(failures[:5]))
        notes.append(f"{2 * WRITERS_N} writes in {elapsed:.1f}s (nsupdate writer {took[0]:.1f}s, "
                     f"API writer {took[1]:.1f}s, both from the start)")
        notes.append(f"nsupdate {dist(t_upd)}; API PATCH {dist(t_api)}")
        check_all_names(binary, env.pdns, store, upd + api, notes)
        check("edit refused" not in env.daemon.text(), "a refused edit in the daemon's log")
    except Failure as ex:
        raise Failure(f"{ex}\n{env.tail()}") from None
    finally:
        env.stop()


def pipe_concurrent_writers(binary, tmp, notes):
    store = make_store(os.path.join(tmp, "store.json"), binary)
    p = Pdns(os.path.join(tmp, "pdns"), pipe_conn(binary, store), ["distributor-threads=2"])
    util = pipe_pdnsutil_conf(os.path.join(tmp, "pdnsutil-conf"), binary, store)
    try:
        p.start()
        api = [(f"b{i}.{ZONE}", f"203.0.113.{i + 101}") for i in range(WRITERS_N)]
        utl = [(f"p{i}.{ZONE}", f"198.51.100.{i + 101}") for i in range(WRITERS_N)]
        failures, t_api, t_util = [], [], []
        t0 = time.monotonic()
        errors, took = run_threads([api_writer(p, api, failures, t_api),
                                    pdnsutil_writer(util, utl, failures, t_util)], 150)
        elapsed = time.monotonic() - t0
        check(not errors, f"writer errors: {errors}")
        check(not failures, f"{len(failures)} writes failed: " + "; ".join(failures[:5]))
        notes.append(f"{2 * WRITERS_N} writes in {elapsed:.1f}s (API writer {took[0]:.1f}s, "
                     f"pdnsutil writer {took[1]:.1f}s, both from the start)")
        notes.append(f"API PATCH {dist(t_api)}; pdnsutil add-record {dist(t_util)}")
        check_all_names(binary, p, store, api + utl, notes)
    except Failure as ex:
        raise Failure(f"{ex}\npdns log tail:\n{p.log()[-2000:]}") from None
    finally:
        p.stop()


# ---- 3. a commit that cannot be written -------------------------------------------------------

UPDATE_META = {"ALLOW-DNSUPDATE-FROM": ["127.0.0.0/8"]}


def edit_is_refused(env, tag, reason, notes):
    """Tries one edit through DNS UPDATE, pdnsutil (unix connector) and the API: DNS UPDATE
    must report the failure (SERVFAIL), the store stays byte-identical, the daemon's log names
    the reason, and the old data is still served."""
    before = read_bytes(env.store)
    mark = env.daemon.log.mark()
    r = env.pdns.nsupdate_add(f"{tag}.{ZONE}", "192.0.2.201")
    check(r.returncode != 0 and "SERVFAIL" in r.stdout + r.stderr,
          f"nsupdate was not told: exit {r.returncode}: {r.stdout}{r.stderr}")
    u = env.pdns.pdnsutil("add-record", "example.com", f"{tag}-util", "A", "300", "192.0.2.202")
    status, _ = env.pdns.api_patch(f"{tag}-api.{ZONE}", "192.0.2.203")
    eq(read_bytes(env.store), before, "the store file after the refused edits")

    def refusals():
        return [ln for ln in env.daemon.log.since(mark).splitlines()
                if "edit refused" in ln and re.search(reason, ln)]
    try:  # the log arrives through a pipe and a thread: give it a moment
        wait_for(lambda: len(refusals()) >= 3, 5, "the refusals in the log")
    except Failure:
        raise Failure(f"the daemon's log does not give {reason!r} for each of the three "
                      f"refused edits:\n{env.daemon.log.since(mark)}") from None
    refused = refusals()
    eq(strays(env.store), [], "files left next to the store")
    eq(env.pdns.dig("www.example.com", "A").rdata("A"), OLD_WWW, "the old data")
    for name in (tag, f"{tag}-util", f"{tag}-api"):
        eq(env.pdns.dig(f"{name}.example.com", "A").status, "NXDOMAIN", f"{name} after refusal")
    told = "" if u.returncode and status >= 400 else \
        " (told it worked: pdns 4.7.3 ignores a false commitTransaction there)"
    notes.append(f"refused: nsupdate exit {r.returncode} (SERVFAIL); pdnsutil add-record exit "
                 f"{u.returncode}, API PATCH HTTP {status}{told}; log: "
                 f"{refused[0].split('edit refused: ')[-1][:140]}")
    return u.returncode, status


def edit_works(env, tag, notes):
    """The same edits as edit_is_refused, now succeeding and served."""
    r = env.pdns.nsupdate_add(f"{tag}.{ZONE}", "192.0.2.201")
    eq(r.returncode, 0, f"nsupdate after the fix: {r.stdout}{r.stderr}")
    u = env.pdns.pdnsutil("add-record", "example.com", f"{tag}-util", "A", "300", "192.0.2.202")
    eq(u.returncode, 0, f"pdnsutil after the fix: {u.stdout}{u.stderr}")
    status, body = env.pdns.api_patch(f"{tag}-api.{ZONE}", "192.0.2.203")
    eq(status, 204, f"API PATCH after the fix: {body}")
    check_config(env.binary, env.store)
    got = a_records(load_json(env.store))
    for name, ip in ((tag, "192.0.2.201"), (f"{tag}-util", "192.0.2.202"),
                     (f"{tag}-api", "192.0.2.203")):
        eq(got.get(f"{name}.{ZONE}"), [ip], f"{name} in the store after the fix")
        env.pdns.wait_a(f"{name}.example.com", [ip], 5)
    notes.append("after the fix the same edits went through")


def nobody_ids():
    return pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid


def read_only_directory(binary, tmp, notes):
    root = os.geteuid() == 0
    sd = os.path.join(tmp, "storedir")
    os.makedirs(sd)
    store = make_store(os.path.join(sd, "store.json"), binary, metadata=UPDATE_META)
    if os.path.exists(store + ".lock"):  # left by `fmt`
        os.unlink(store + ".lock")
    if root:
        uid, gid = nobody_ids()
        wrapper = ("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--")
        os.chmod(sd, 0o755)  # root's: readable, not writable by nobody
        env = UnixEnv(binary, tmp, store, wrapper, sockdir_owner=(uid, gid))
        notes.append("daemon runs as nobody (setpriv)")
    else:
        wrapper = ()
        env = UnixEnv(binary, tmp, store)
        notes.append("not root: the directory is made read-only with chmod 0555")
    try:
        if not root:
            os.chmod(sd, 0o555)
        env.start()
        if root:
            eq(env.daemon.proc.pid and os.stat(f"/proc/{env.daemon.proc.pid}").st_uid, uid,
               "the daemon's uid")
        # no lock file yet and none can be created
        edit_is_refused(env, "ro1", r"cannot open the writers' lock '[^']*store\.json\.lock': "
                                    r"Permission denied", notes)
        # a lock file the daemon may use, in a directory where it cannot create the temp file
        lock = store + ".lock"
        if root:
            with open(lock, "w"):
                pass
            os.chown(lock, uid, gid)
        else:
            os.chmod(sd, 0o755)
            with open(lock, "w"):
                pass
            os.chmod(sd, 0o555)
        edit_is_refused(env, "ro2", r"cannot create '[^']*store\.json\.tmp': Permission denied",
                        notes)
        os.chmod(sd, 0o777 if root else 0o755)  # the fix
        edit_works(env, "ro2", notes)
    except Failure as ex:
        raise Failure(f"{ex}\n{env.tail()}") from None
    finally:
        env.stop()
        os.chmod(sd, 0o755)


def fill_up(path, limit_bytes):
    """Writes zeros to path until the file system is full (bounded by limit_bytes)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    total = 0
    try:
        for chunk in (65536, 4096, 1):
            for _ in range(limit_bytes // chunk + 8):
                try:
                    total += os.write(fd, b"\0" * chunk)
                except OSError as ex:
                    if ex.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    return total


def disk_full(binary, tmp, notes):
    mnt = os.path.join(tmp, "tmpfs")
    os.makedirs(mnt)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "pf-crash-tmpfs",
                        mnt], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        print(f"# tmpfs unavailable: using a file size limit ({(r.stderr or r.stdout).strip()})",
              flush=True)
        notes.append("tmpfs unavailable: ran the file size limit case instead")
        return file_size_limit(binary, os.path.join(tmp, "fallback"), notes)
    env = None
    try:
        store = make_store(os.path.join(mnt, "store.json"), binary, metadata=UPDATE_META)
        env = UnixEnv(binary, tmp, store)
        env.start()
        filler = os.path.join(mnt, "filler")
        n = fill_up(filler, 256 * 1024)
        st = os.statvfs(mnt)
        notes.append(f"tmpfs 256k, filler {n} bytes, {st.f_bavail * st.f_frsize} bytes free")
        edit_is_refused(env, "full", r"cannot write '[^']*store\.json\.tmp': "
                                     r"No space left on device", notes)
        os.unlink(filler)  # the fix
        edit_works(env, "full", notes)
    except Failure as ex:
        raise Failure(f"{ex}\n{env.tail() if env else ''}") from None
    finally:
        if env:
            env.stop()
        for _ in range(20):
            if subprocess.run(["umount", mnt], capture_output=True, timeout=30).returncode == 0:
                break
            time.sleep(0.25)
        else:
            subprocess.run(["umount", "-l", mnt], capture_output=True, timeout=30)


def file_size_limit(binary, tmp, notes):
    os.makedirs(tmp, exist_ok=True)
    store = make_store(os.path.join(tmp, "store.json"), binary, metadata=UPDATE_META)
    limit = os.path.getsize(store)  # the edited store is bigger
    env = UnixEnv(binary, tmp, store, ("prlimit", f"--fsize={limit}", "--"))
    try:
        env.start()
        notes.append(f"prlimit --fsize={limit} (the store's size)")
        edit_is_refused(env, "big", r"cannot write '[^']*store\.json\.tmp': File too large",
                        notes)
        check(env.daemon.proc.poll() is None, "the daemon died (SIGXFSZ?)")
        env.restart_daemon()  # the fix: a new process without the limit
        edit_works(env, "big", notes)
    except Failure as ex:
        raise Failure(f"{ex}\n{env.tail()}") from None
    finally:
        env.stop()


# ---- 4. lock contention -----------------------------------------------------------------------

class HeldLock:
    """The writers' lock of a store, held by this process (as another writer would)."""

    def __init__(self, store):
        self.fd = os.open(store + ".lock", os.O_RDWR | os.O_CREAT, 0o660)
        fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.t0 = time.monotonic()

    def release(self):
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


LOCK_MSG = r"another writer has held '[^']*store\.json\.lock' for 1500 ms; try again"


def lock_contention(binary, tmp, notes):
    store = make_store(os.path.join(tmp, "store.json"), binary, metadata=UPDATE_META)
    util = pipe_pdnsutil_conf(os.path.join(tmp, "pdnsutil-conf"), binary, store)
    env = UnixEnv(binary, tmp, store)
    lock = None
    try:
        env.start()
        before = read_bytes(store)
        mark = env.daemon.log.mark()
        res = {}

        def by_pdnsutil():
            t0 = time.monotonic()
            res["util"] = pdnsutil(util, "add-record", "example.com", "lk1", "A", "300",
                                   "192.0.2.211")
            res["util_t"] = time.monotonic() - t0
            res["util_end"] = time.monotonic()

        def by_nsupdate():
            t0 = time.monotonic()
            res["upd"] = env.pdns.nsupdate_add("lk2." + ZONE, "192.0.2.212")
            res["upd_t"] = time.monotonic() - t0
            res["upd_end"] = time.monotonic()
        lock = HeldLock(store)
        errors, _ = run_threads([by_pdnsutil, by_nsupdate], 3.0)  # both end while it is held
        held = time.monotonic() - lock.t0
        time.sleep(max(0.0, 3.0 - held))
        lock.release()
        check(not errors, f"{errors}")
        u, n = res["util"], res["upd"]
        check(re.search(LOCK_MSG, u.stderr), f"pdnsutil's stderr does not name the lock: "
                                             f"exit {u.returncode}: {u.stdout}{u.stderr}")
        check(n.returncode != 0 and "SERVFAIL" in n.stdout + n.stderr,
              f"nsupdate was not told: exit {n.returncode}: {n.stdout}{n.stderr}")
        wait_for(lambda: re.search(LOCK_MSG, env.daemon.log.since(mark)), 5,
                 "the daemon's log to name the lock")
        for who in ("util", "upd"):
            check(res[f"{who}_t"] >= 1.4, f"{who} gave up after {res[who + '_t']:.2f}s, "
                                          f"before the 1.5 s wait")
        eq(read_bytes(store), before, "the store after the refused commits")
        eq(strays(store), [], "files left next to the store")
        notes.append(f"held 3 s; pdnsutil failed after {res['util_t']:.2f}s (exit "
                     f"{u.returncode}, reason on its stderr), nsupdate after "
                     f"{res['upd_t']:.2f}s (SERVFAIL)")
        # released: the same edits work
        u = pdnsutil(util, "add-record", "example.com", "lk1", "A", "300", "192.0.2.211")
        check(u.returncode == 0 and "edit refused" not in u.stderr,
              f"pdnsutil after release: {u.stdout}{u.stderr}")
        n = env.pdns.nsupdate_add("lk2." + ZONE, "192.0.2.212")
        eq(n.returncode, 0, f"nsupdate after release: {n.stdout}{n.stderr}")
        got = a_records(load_json(store))
        eq((got.get("lk1." + ZONE), got.get("lk2." + ZONE)), (["192.0.2.211"], ["192.0.2.212"]),
           "the edits after release")
        env.pdns.wait_a("lk1.example.com", ["192.0.2.211"], 5)
        env.pdns.wait_a("lk2.example.com", ["192.0.2.212"], 5)
    except Failure as ex:
        raise Failure(f"{ex}\n{env.tail()}") from None
    finally:
        if lock:
            lock.release()
        env.stop()


def failed_commit_reaches_pdnsutil_and_api(binary, tmp, notes):
    """pdnsutil add-record (unix and pipe connector) and an API PATCH whose commit fails must
    say so to their user: a non-zero exit, an HTTP error. pdns 4.7.3 ignores a false
    commitTransaction there (only DNS UPDATE checks it), so the backend has to make it an
    error pdns cannot ignore."""
    store = make_store(os.path.join(tmp, "store.json"), binary)
    util = pipe_pdnsutil_conf(os.path.join(tmp, "pdnsutil-conf"), binary, store)
    env = UnixEnv(binary, tmp, store)
    lock = None
    try:
        env.start()
        before = read_bytes(store)
        lock = HeldLock(store)
        t0 = time.monotonic()
        u1 = env.pdns.pdnsutil("add-record", "example.com", "cf1", "A", "300", "192.0.2.221")
        u2 = pdnsutil(util, "add-record", "example.com", "cf2", "A", "300", "192.0.2.222")
        status, body = env.pdns.api_patch("cf3." + ZONE, "192.0.2.223")
        took = time.monotonic() - t0
        lock.release()
        eq(read_bytes(store), before, "the store")
        check(took < 6, f"the three edits took {took:.1f}s")
        notes.append(f"pdnsutil (unix) exit {u1.returncode}, pdnsutil (pipe) exit "
                     f"{u2.returncode}, API PATCH HTTP {status}")
        bad = []
        if u1.returncode == 0:
            bad.append(f"pdnsutil add-record (unix connector) exited 0: {u1.stdout.strip()!r}")
        if u2.returncode == 0:
            bad.append(f"pdnsutil add-record (pipe connector) exited 0: {u2.stdout.strip()!r}")
        if status < 400:
            bad.append(f"API PATCH answered HTTP {status}")
        check(not bad, "the commit failed but the client was told it worked: " + "; ".join(bad))
    finally:
        if lock:
            lock.release()
        env.stop()


def waiting_commit_does_not_block_other_connections(binary, tmp, notes):
    """One thread, one epoll set (server.c): a commit waiting up to 1.5 s for the lock must not
    hold up the other connections' lookups. Through pdns (timeout 2 s) a few such commits at
    once make queries time out."""
    store = make_store(os.path.join(tmp, "store.json"), binary)
    env = UnixEnv(binary, tmp, store)
    lock = None
    conns = []
    bad = []
    try:
        env.start()

        def conn():
            s = socket.socket(socket.AF_UNIX)
            s.connect(env.sock)
            s.settimeout(10)
            conns.append(s)
            eq(e2e.ask(s, '{"method":"initialize","parameters":{}}'), b'{"result":true}\n',
               "initialize")
            return s
        # 1. a commit of one connection, lookups on another (no pdns in between)
        w, r = conn(), conn()
        for q in txn_requests(0, -1)[:3]:
            eq(e2e.ask(w, json.dumps(q)), b'{"result":true}\n', q["method"])
        lock = HeldLock(store)
        res = {}

        def commit():
            res["reply"] = e2e.ask(w, json.dumps(txn_requests(0, -1)[3]))
        th = threading.Thread(target=commit, daemon=True)
        th.start()
        time.sleep(0.1)
        lat = []
        lookup = json.dumps({"method": "lookup", "parameters": {"qname": "www.example.com.",
                                                                "qtype": "A", "zone-id": -1}})
        while th.is_alive() and len(lat) < 200:
            t0 = time.monotonic()
            check(b"192.0.2.10" in e2e.ask(r, lookup), "lookup answer")
            lat.append(time.monotonic() - t0)
            time.sleep(0.02)
        th.join(10)
        lock.release()
        check(re.search(LOCK_MSG.encode(), res.get("reply", b"")), f"commit reply: {res}")
        notes.append(f"backend lookups on another connection while a commit waited: {dist(lat)}")
        if max(lat) >= 1.0:
            bad.append(f"a lookup on another connection waited {max(lat):.2f}s")
        # 2. three pdnsutil add-records waiting at once, dig through pdns meanwhile
        lock = HeldLock(store)
        outs = []
        writers = [threading.Thread(
            target=lambda k=k: outs.append(env.pdns.pdnsutil(
                "add-record", "example.com", f"wait{k}", "A", "300", "192.0.2.231")),
            daemon=True) for k in range(3)]
        for t in writers:
            t.start()
        time.sleep(0.2)
        digs = []
        t_end = time.monotonic() + 10
        while any(t.is_alive() for t in writers) and time.monotonic() < t_end:
            t0 = time.monotonic()
            a = env.pdns.dig("www.example.com", "A", timeout=3)
            digs.append((a.status, time.monotonic() - t0))
        for t in writers:
            t.join(10)
        lock.release()
        failed = [f"{st} after {dt:.2f}s" for st, dt in digs if st != "NOERROR"]
        notes.append(f"dig while 3 pdnsutil commits waited (informational): {len(digs)} queries, "
                     f"{len(failed)} unanswered or failed ({', '.join(failed)}); latency "
                     f"{dist([dt for _, dt in digs])}")
        # (not asserted: whether a query times out depends on the order the loop serves them)
        check(not bad, "; ".join(bad))
    finally:
        if lock:
            lock.release()
        for s in conns:
            s.close()
        env.stop()


# ---- 5. transactions left open -----------------------------------------------------------------

def open_txn_edits(zone_id=-1, name="left"):
    q = txn_requests(0, zone_id)[:3]
    for r in q[1:]:
        p = r["parameters"]
        if p["qtype"] == "A":
            p["qname"] = p["rrset"][0]["qname"] = f"{name}.{ZONE}"
    return q


def pipe_eof_rolls_back(binary, tmp, notes):
    store = make_store(os.path.join(tmp, "store.json"), binary)
    before = read_bytes(store)
    with open(os.path.join(tmp, "stderr.log"), "wb") as err:
        p = PipeBackend(binary, store, err)
        try:
            p.ask_true({"method": "initialize", "parameters": {}}, "initialize")
            for q in open_txn_edits():
                p.ask_true(q, q["method"])
            # inside the transaction the edit is visible (read-your-writes) ...
            got = p.ask({"method": "lookup", "parameters": {"qname": "left." + ZONE,
                                                            "qtype": "A", "zone-id": -1}})
            check(b"192.0.2.1" in got, f"the edit inside its transaction: {got!r}")
            eq(p.eof(), 0, "exit status at EOF")
        finally:
            p.stop()
    eq(read_bytes(store), before, "the store after EOF with an open transaction")
    eq(strays(store), [], "files left next to the store")
    # ... and a new process does not see it
    r = subprocess.run([binary, *e2e.ROOT, "--config", store], input=(
        '{"method":"initialize","parameters":{}}\n'
        '{"method":"lookup","parameters":{"qname":"left.example.com.","qtype":"A"}}\n').encode(),
        capture_output=True, timeout=20)
    check(b"192.0.2.1" not in r.stdout, f"the rolled back edit is served: {r.stdout!r}")


def unix_disconnect_rolls_back(binary, tmp, notes):
    store = make_store(os.path.join(tmp, "store.json"), binary)
    before = read_bytes(store)
    sock = os.path.join(tmp, "pf.sock")
    state = os.path.join(tmp, "state")
    os.makedirs(state)
    d = Daemon(binary, store, sock, state).start()
    try:
        def conn():
            s = socket.socket(socket.AF_UNIX)
            s.connect(sock)
            s.settimeout(10)
            eq(e2e.ask(s, '{"method":"initialize","parameters":{}}'), b'{"result":true}\n',
               "initialize")
            return s
        a = conn()
        for q in open_txn_edits():
            eq(e2e.ask(a, json.dumps(q)), b'{"result":true}\n', q["method"])
        a.close()  # disconnect with the transaction open
        time.sleep(0.2)
        eq(read_bytes(store), before, "the store after the disconnect")
        b = conn()
        look = '{"method":"lookup","parameters":{"qname":"%s","qtype":"A","zone-id":-1}}'
        check(b"192.0.2.1" not in e2e.ask(b, look % ("left." + ZONE)),
              "the rolled back edit is served")
        check(b"192.0.2.10" in e2e.ask(b, look % ("www." + ZONE)), "the daemon keeps serving")
        # a transaction of another connection commits only its own edits
        for q in open_txn_edits(name="kept"):
            eq(e2e.ask(b, json.dumps(q)), b'{"result":true}\n', q["method"])
        eq(e2e.ask(b, json.dumps(txn_requests(0, -1)[3])), b'{"result":true}\n', "commit")
        got = a_records(load_json(store))
        check("kept." + ZONE in got and "left." + ZONE not in got,
              f"after the second connection's commit: left={got.get('left.' + ZONE)}, "
              f"kept={got.get('kept.' + ZONE)}")
        b.close()
        check(d.proc.poll() is None, "the daemon exited")
    finally:
        d.stop()
    eq(d.proc.returncode, 0, "clean exit on SIGTERM")


def pipe_sigkill_mid_transaction(binary, tmp, notes):
    store = make_store(os.path.join(tmp, "store.json"), binary)
    before = read_bytes(store)
    with open(os.path.join(tmp, "stderr.log"), "wb") as err:
        p = PipeBackend(binary, store, err)
        try:
            p.ask_true({"method": "initialize", "parameters": {}}, "initialize")
            for q in open_txn_edits():
                p.ask_true(q, q["method"])
            eq(p.kill(), b"", "replies after the kill")
        finally:
            p.stop()
    eq(read_bytes(store), before, "the store after SIGKILL with an open transaction")
    eq(strays(store), [], "files left next to the store")
    # the lock is free: the next writer is not held up
    fd = os.open(store + ".lock", os.O_RDWR | os.O_CREAT, 0o660)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as ex:
        raise Failure(f"the writers' lock is still held: {ex}") from None
    finally:
        os.close(fd)


# ---- main -----------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--only", default="", help="run tests whose name contains this")
    ap.add_argument("--seed", type=int, default=None, help="seed of the kill test")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    work = tempfile.mkdtemp(prefix="pf-crash-")
    os.chmod(work, 0o755)  # the read-only test's daemon runs as nobody and must get in
    # a copy: a rebuild during the run (ninja relinking it) must not pull the binary away, and
    # the read-only test's nobody must be able to run it
    shutil.copy2(binary, os.path.join(work, "pdns-failover"))
    binary = os.path.join(work, "pdns-failover")
    results = []

    def run(name, fn, *a):
        if args.only and args.only not in name:
            return
        d = tempfile.mkdtemp(dir=work)
        os.chmod(d, 0o755)
        t0 = time.monotonic()
        notes = []
        try:
            fn(binary, d, notes, *a)
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
        run("kill -9 at random moments of 200 commits: the store is always whole, never "
            "half-applied, and no acknowledged commit is lost", kill9_during_commits, seed)
        run("unix: 40 DNS UPDATEs and 40 API PATCHes at the same time lose nothing",
            unix_concurrent_writers)
        run("pipe: 40 API PATCHes and 40 add-records of a separate pdnsutil at the same time "
            "lose nothing", pipe_concurrent_writers)
        run("read-only store directory: the commit fails and says why, the store is untouched "
            "and served, and the edit works once the directory is writable",
            read_only_directory)
        run("disk full: the commit fails and says why, the store is untouched and served, "
            "and the edit works once there is room", disk_full)
        run("file size limit: the commit fails with EFBIG and says why, the store is untouched "
            "and served, and the edit works without the limit", file_size_limit)
        run("a held writers' lock fails the commit after 1.5 s naming the lock, changes nothing, "
            "and the edit works after release", lock_contention)
        run("a failed commit is reported to pdnsutil and to API clients, not only to DNS UPDATE",
            failed_commit_reaches_pdnsutil_and_api)
        run("unix: while one connection's commit waits for the lock, other connections are "
            "answered", waiting_commit_does_not_block_other_connections)
        run("pipe: a transaction open at EOF is rolled back", pipe_eof_rolls_back)
        run("unix: a transaction open at disconnect is rolled back, the daemon keeps serving",
            unix_disconnect_rolls_back)
        run("pipe: SIGKILL in the middle of a transaction changes nothing",
            pipe_sigkill_mid_transaction)
        run("no sanitizer report in the logs",
            lambda _b, _d, *_a: e2e.check_no_sanitizer_report(work))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"# work directory kept: {work}")
    failed = sum(1 for _, ex in results if ex)
    print(f"1..{len(results)}")
    print(f"# crash: {len(results) - failed} passed, {failed} failed in "
          f"{time.monotonic() - t_start:.0f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
