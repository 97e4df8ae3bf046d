#!/usr/bin/python3
"""End-to-end tests for record edits through pdns (pdnsutil, DNS UPDATE, the HTTP API).

Every test gets its own copy of tests/e2e/store.json (with a health-checked pool added where
the test needs one), put in the canonical layout with `pdns-failover fmt` first, and its own
pdns_server (e2e.Pdns, over the pipe or the unix connector, with dnsupdate and the API on).
A test edits the zone through one of pdns's clients and asserts three things: what dig gets,
what the store file holds (parsed JSON), and that a line diff of the file shows only the
edited records. Tests that need two pdns configurations ("cross:") run once.

In unix mode the daemon that commits serves the result at once, so the first dig after an
edit must see it (read-your-writes). In pipe mode the committing process is a co-process of
pdnsutil or of an API request; the others pick the file up within 250 ms, so dig is polled
(bounded).

Prints TAP like e2e.py; exits 1 if anything failed. Loopback only; every wait is bounded;
every process started here is stopped by its PID.
"""
import argparse
import collections
import difflib
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import e2e  # noqa: E402
from e2e import Failure, check, eq, stop, wait_for  # noqa: E402

ZONE = "example.com."
API_KEY = "pf-edits-e2e"
SOA_TAIL = "10800 3600 604800 300"
SERIAL0 = 2026113001
POOL_ADDRS = ["127.0.0.41", "127.0.0.42"]
POOL_RECORD = {"type": "A", "pool": "web", "ttl": 30}
POOL_MSG = ("pool.example.com. A is answered by pool 'web' and cannot be changed through pdns; "
            "change it in the store file (pool records stay pools)")
SETTLE = 2.0  # pipe mode: how long dig is polled for an edit made by another process
PROPAGATION = 1.0  # the documented bound for other processes to serve a committed edit
SANITIZER = e2e.SANITIZER  # a sanitizer build's reports


# ---- the store ------------------------------------------------------------------------------

def make_store(binary, path, pool):
    """A copy of tests/e2e/store.json at path (plus pool 'web' answering pool.example.com A
    when pool is true) in the canonical layout."""
    with open(e2e.STORE) as f:
        doc = json.load(f)
    if pool:
        # Nothing listens on port 9 of these addresses: the members go down (or have no verdict
        # yet, which counts as up) and when_all_down "all" answers both either way.
        doc = {"checks": {"dead": {"type": "tcp", "port": 9, "interval": 2, "timeout": 1,
                                   "rise": 1, "fall": 1}},
               "pools": {"web": {"check": "dead", "when_all_down": "all", "members": [
                   {"name": "m1", "address": POOL_ADDRS[0]},
                   {"name": "m2", "address": POOL_ADDRS[1]}]}},
               **doc}
        doc["zones"][ZONE]["records"]["pool"] = [dict(POOL_RECORD)]
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
    r = subprocess.run([binary, "fmt", path], capture_output=True, text=True, timeout=20)
    eq(r.returncode, 0, f"pdns-failover fmt: {r.stdout}{r.stderr}")
    check_store(binary, path)


def check_store(binary, path):
    r = subprocess.run([binary, "--check-config", path], capture_output=True, text=True,
                       timeout=20)
    eq(r.returncode, 0, f"--check-config of the edited store: {r.stdout}{r.stderr}")


def rec(rtype, content=None, ttl=None, pool=None):
    d = {"type": rtype}
    if pool is not None:
        d["pool"] = pool
    else:
        d["content"] = content
    if ttl is not None:
        d["ttl"] = ttl
    return d


def soa(serial):
    return f"ns1.example.com. hostmaster.example.com. {serial} {SOA_TAIL}"


def serial_of(doc, zone=ZONE):
    soas = [r for r in doc["zones"][zone]["records"]["@"] if r["type"] == "SOA"]
    eq(len(soas), 1, "SOA records at the apex")
    return int(soas[0]["content"].split()[2])


def _canon(d):
    return json.dumps(d, sort_keys=True)


_PUNCT = re.compile(r"^[\[\]{}]*$")
_OWNER = re.compile(r'^("(?:[^"\\]|\\.)*"): \[')
_OBJ = re.compile(r"\{[^{}]*\}")


def _norm(line):
    return line.strip().rstrip(",")


def _lines_with_owner(text):
    """The file's lines, normalised (no indentation, no trailing comma), each with the owner
    name whose record list it is in (None outside record lists)."""
    out, owner = [], None
    for raw in text.splitlines():
        line = _norm(raw)
        m = _OWNER.match(line)
        if m:
            name = json.loads(m.group(1))
            out.append((line, name))
            owner = name if line.endswith("[") else None
            continue
        out.append((line, owner))
        if line == "]":
            owner = None
    return out


def changed_lines(before, after):
    """(removed, added): the (line, owner) pairs a line diff shows, ignoring indentation and
    the trailing commas that JSON moves when a neighbour is added or removed."""
    a, b = _lines_with_owner(before), _lines_with_owner(after)
    sm = difflib.SequenceMatcher(None, [x[0] for x in a], [x[0] for x in b], autojunk=False)
    removed, added = [], []
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag != "equal":
            removed += a[i1:i2]
            added += b[j1:j2]
    return removed, added


def unified(before, after, limit=80):
    lines = list(difflib.unified_diff(before.splitlines(), after.splitlines(), "before",
                                      "after", n=1, lineterm=""))
    if len(lines) > limit:
        lines = lines[:limit] + [f"... ({len(lines) - limit} more diff lines)"]
    return "\n".join(lines)


def expect_record_diff(before, after, removed=(), added=(), owners=()):
    """The file changed by exactly these records, and every changed line is punctuation, a
    line of one of owners' record lists (whose layout may change), or a line holding only
    records that were removed or added."""
    lr, la = changed_lines(before, after)

    def records(lines):
        c = collections.Counter()
        for line, _ in lines:
            for m in _OBJ.findall(line):
                o = json.loads(m)
                if "type" in o:
                    c[_canon(o)] += 1
        return c
    r, a = records(lr), records(la)
    ctx = f"\n{unified(before, after)}"
    eq(sorted((r - a).elements()), sorted(_canon(x) for x in removed),
       "records removed from the file" + ctx)
    eq(sorted((a - r).elements()), sorted(_canon(x) for x in added),
       "records added to the file" + ctx)
    allowed = {_canon(x) for x in list(removed) + list(added)}
    for line, owner in lr + la:
        if _PUNCT.match(line) or owner in owners:
            continue
        objs = _OBJ.findall(line)
        check(not _OWNER.match(line) and objs and
              all(_canon(json.loads(o)) in allowed for o in objs),
              f"changed line holds no edited record: {line!r}{ctx}")


def expect_line_diff(before, after, removed=(), added=()):
    lr, la = changed_lines(before, after)
    lr = [x for x, _ in lr if not _PUNCT.match(x)]
    la = [x for x, _ in la if not _PUNCT.match(x)]
    eq((sorted(lr), sorted(la)), (sorted(removed), sorted(added)),
       f"changed lines\n{unified(before, after)}")


def owner_line(name, *records):
    return json.dumps(name) + ": [" + ", ".join(json.dumps(r) for r in records) + "]"


# ---- pdns -----------------------------------------------------------------------------------

class EditPdns(e2e.Pdns):
    """e2e.Pdns on a fresh formatted copy of the test store in its own directory, with its own
    --state-dir, the HTTP API and DNS UPDATE enabled."""

    pdns_log = None

    def __init__(self, binary, mode, workdir, pool=False, extra_conf=""):
        check(mode in ("pipe", "unix"), f"mode {mode}")
        self.api_port = e2e.free_port()
        conf = (f"dnsupdate=yes\nwebserver=yes\napi=yes\napi-key={API_KEY}\n"
                f"webserver-address=127.0.0.1\nwebserver-port={self.api_port}\n"
                f"webserver-allow-from=127.0.0.0/8\n{extra_conf}")
        # The store path is set below, once Pdns has made its directory.
        super().__init__(binary, mode, workdir, store=os.devnull, extra_conf=conf)
        self.store = os.path.join(self.dir, "store.json")
        make_store(binary, self.store, pool)
        self.state_dir = os.path.join(self.dir, "state")
        path = os.path.join(self.conf, "pdns.conf")
        with open(path) as f:
            text = f.read()
        if mode == "pipe":
            text = re.sub(r"(?m)^remote-connection-string=.*$",
                          lambda _: "remote-connection-string=" + self.pipe_connection(), text)
        check(os.devnull not in text, "the store path is set everywhere")
        with open(path, "w") as f:
            f.write(text)

    def pipe_connection(self):
        return (f"pipe:command={self.binary}{e2e.ROOT_OPT} --config {self.store} --state-dir {self.state_dir},"
                "timeout=2000")

    def start(self):
        if self.mode == "unix":
            log = open(os.path.join(self.dir, "daemon.log"), "w")
            self.daemon = subprocess.Popen(
                [self.binary, *e2e.ROOT, "--config", self.store, "--listen", self.sock,
                 "--state-dir", self.state_dir], stdout=log, stderr=subprocess.STDOUT)
            log.close()
            wait_for(lambda: os.path.exists(self.sock) or self.daemon.poll() is not None, 10,
                     "the unix socket")
            if self.daemon.poll() is not None:
                raise Failure("pdns-failover exited: " + self.read("daemon.log"))
        self.pdns_log = open(os.path.join(self.dir, "pdns.log"), "w")
        self.pdns = subprocess.Popen(
            ["/usr/sbin/pdns_server", f"--config-dir={self.conf}", "--daemon=no",
             "--guardian=no"], stdout=self.pdns_log, stderr=subprocess.STDOUT)

        def ready():
            if self.pdns.poll() is not None:
                raise Failure("pdns_server exited: " + self.read("pdns.log")[-3000:])
            return self.dig("example.com", "SOA", timeout=1).status == "NOERROR"
        wait_for(ready, 20, "pdns_server to answer")
        return self

    def stop(self):
        super().stop()
        if self.pdns_log:
            self.pdns_log.close()
            self.pdns_log = None

    def read(self, name):
        try:
            with open(os.path.join(self.dir, name), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def backend_log(self):
        """Where the log lines of pdns_server's own backends go: the daemon's log (unix) or
        pdns's (pipe: co-processes inherit its stderr)."""
        return self.read("daemon.log" if self.mode == "unix" else "pdns.log")

    _BANNER = re.compile(r"^\w{3} [ \d]\d [\d:]{8} (Loading|This is a standalone|Listening on "
                         r"controlsocket|UDP server|TCP server|PowerDNS|Using 64-bits|"
                         r"\[webserver\] Listening|Creating backend connection|About to "
                         r"create|Done launching)")

    def tail(self):
        def cut(name):
            lines = [x for x in self.read(name).splitlines() if not self._BANNER.match(x)]
            return "\n".join(lines)[-2500:]
        out = "pdns.log:\n" + cut("pdns.log")
        if self.mode == "unix":
            out += "\ndaemon.log:\n" + cut("daemon.log")
        return out

    def store_text(self):
        with open(self.store) as f:
            return f.read()

    def store_doc(self):
        return json.loads(self.store_text())

    def records(self, zone=ZONE):
        return self.store_doc()["zones"][zone]["records"]

    # -- clients --

    def pdnsutil(self, *args, ok=True):
        r = super().pdnsutil(*args, ok=ok)
        check(not SANITIZER.search(r.stderr), f"pdnsutil's co-process: {r.stderr[-3000:]}")
        return r

    def api(self, method, path, body=None):
        """(status, parsed JSON body or text) of an API request under /servers/localhost."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.api_port}/api/v1/servers/localhost{path}", data=data,
            method=method, headers={"X-API-Key": API_KEY, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        text = raw.decode(errors="replace")
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, text

    def patch(self, *rrsets):
        return self.api("PATCH", "/zones/example.com.", {"rrsets": list(rrsets)})

    def nsupdate(self, *lines):
        """Runs one nsupdate (over TCP) against this pdns; returns (exit status, output)."""
        script = (f"server 127.0.0.1 {self.port}\nzone example.com\n" + "\n".join(lines) +
                  "\nsend\n")
        r = subprocess.run(["nsupdate", "-v", "-t", "10"], input=script, capture_output=True,
                           text=True, timeout=30)
        return r.returncode, r.stdout + r.stderr

    def axfr(self):
        r = subprocess.run(["dig", "@127.0.0.1", "-p", str(self.port), "+time=5", "+tries=1",
                            "example.com", "AXFR"], capture_output=True, text=True, timeout=30)
        return [tuple(x.split(None, 4)) for x in r.stdout.splitlines()
                if x and not x.startswith(";")]


def answer(p, name, rtype, rdata=None, status="NOERROR", tcp=False):
    """dig sees (status, rdata) for name: at once in unix mode (the committing daemon answers),
    within SETTLE seconds in pipe mode. rdata None: not compared. Returns the Answer."""
    want = (status, sorted(rdata) if rdata is not None else None)
    last = []

    def probe():
        a = p.dig(name, rtype, tcp=tcp)
        got = (a.status, a.rdata(rtype) if rdata is not None else None)
        last[:] = [got, a]
        return got == want
    if p.mode == "unix":
        ok = probe()
    else:
        deadline = time.monotonic() + SETTLE
        ok = probe()
        while not ok and time.monotonic() < deadline:
            time.sleep(0.05)
            ok = probe()
    check(ok, f"{name} {rtype}: got {last[0]}, want {want} "
              f"({'at once' if p.mode == 'unix' else f'within {SETTLE}s'})")
    return last[1]


def soa_serial(p):
    a = p.dig("example.com", "SOA")
    eq(a.status, "NOERROR", "SOA status")
    return int(a.rdata("SOA")[0].split()[2])


def serial_becomes(p, serial):
    answer(p, "example.com", "SOA", [soa(serial)])


def run_bounded(cmd, data, timeout=30, limit=100_000, env=None):
    """Runs cmd with data on stdin; returns (exit status, output). A command that loops on its
    prompts (pdnsutil edit-zone at EOF) is killed after `limit` bytes of output or timeout."""
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env)
    try:
        proc.stdin.write(data)
        proc.stdin.close()
    except BrokenPipeError:
        pass
    out = b""
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure(f"{cmd[0]} still running after {timeout}s: {out[-1500:]!r}")
            r, _, _ = select.select([fd], [], [], min(left, 0.5))
            if not r:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            out += chunk
            if len(out) > limit:
                raise Failure(f"{cmd[0]} printed over {limit} bytes (looping on a prompt?): "
                              f"{out[-1500:]!r}")
    finally:
        stop(proc)
        proc.stdout.close()
    text = out.decode(errors="replace")
    check(not SANITIZER.search(text), f"{cmd[0]}: {text[-3000:]}")
    return proc.wait(5), text


def set_meta_for_updates(p):
    p.pdnsutil("set-meta", "example.com", "ALLOW-DNSUPDATE-FROM", "127.0.0.0/8")


def nsupdate_ok(p, *lines):
    """An update that must succeed. In pipe mode the metadata just set may reach pdns's
    co-processes up to a second later: REFUSED is retried (it changed nothing)."""
    deadline = time.monotonic() + SETTLE
    while True:
        rc, out = p.nsupdate(*lines)
        if rc == 0 or p.mode == "unix" or "REFUSED" not in out or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    eq(rc, 0, f"nsupdate exit status: {out}")
    return out


def nsupdate_refusal_retried(p, *lines):
    """An update expected to fail with an rcode other than REFUSED (see nsupdate_ok)."""
    deadline = time.monotonic() + SETTLE
    while True:
        rc, out = p.nsupdate(*lines)
        if "REFUSED" not in out or p.mode == "unix" or time.monotonic() > deadline:
            return rc, out
        time.sleep(0.1)


# ---- a raw backend connection ----------------------------------------------------------------

class Raw:
    """The backend protocol spoken directly: the unix daemon's socket (unix mode) or a pipe
    co-process run here on the same store (pipe mode), as pdns would."""

    def __init__(self, p):
        self.p = p
        self.proc = None
        self.errpath = os.path.join(p.dir, f"raw-{time.monotonic_ns()}.log")
        if p.mode == "unix":
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(10)
            self.sock.connect(p.sock)
            self.f = self.sock.makefile("rwb")
        else:
            with open(self.errpath, "wb") as err:
                self.proc = subprocess.Popen(
                    [p.binary, *e2e.ROOT, "--config", p.store, "--state-dir", p.state_dir],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
        self.lines = []
        eq(self.ask("initialize", {"timeout": "2000"})["result"], True, "initialize")

    def ask(self, method, params):
        line = json.dumps({"method": method, "parameters": params})
        self.lines.append(line)
        if self.proc:
            self.proc.stdin.write(line.encode() + b"\n")
            self.proc.stdin.flush()
            r, _, _ = select.select([self.proc.stdout], [], [], 10)
            check(r, f"no reply to {line}")
            reply = self.proc.stdout.readline()
        else:
            self.f.write(line.encode() + b"\n")
            self.f.flush()
            reply = self.f.readline()
        check(reply.endswith(b"\n"), f"no complete reply to {line}: {reply!r}")
        return json.loads(reply)

    def log(self):
        """This connection's log lines: the co-process's stderr, or the daemon's log."""
        if self.proc:
            with open(self.errpath, errors="replace") as f:
                return f.read()
        return self.p.read("daemon.log")

    def close(self):
        if self.proc:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                stop(self.proc)
            self.proc.stdout.close()
            check(not SANITIZER.search(self.log()), f"raw co-process: {self.log()[-3000:]}")
        else:
            self.f.close()
            self.sock.close()


def rr(qname, qtype, content, ttl=300):
    return {"qtype": qtype, "qname": qname, "qclass": 1, "content": content, "ttl": ttl,
            "auth": True}


# ---- tests: pdnsutil -------------------------------------------------------------------------

TESTS = []  # (function, {"pool": bool, "extra_conf": str})


def edit_test(pool=False, extra_conf=""):
    def wrap(fn):
        TESTS.append((fn, {"pool": pool, "extra_conf": extra_conf}))
        return fn
    return wrap


@edit_test()
def pdnsutil_add_record_to_a_new_name_and_to_an_existing_rrset(p, notes):
    before = p.store_text()
    out = p.pdnsutil("add-record", "example.com", "new", "A", "300", "192.0.2.77").stdout
    check("new.example.com. 300 IN A 192.0.2.77" in out, out)
    p.pdnsutil("add-record", "example.com", "www", "A", "60", "192.0.2.12")
    answer(p, "new.example.com", "A", ["192.0.2.77"])
    answer(p, "www.example.com", "A", ["192.0.2.10", "192.0.2.11", "192.0.2.12"])
    answer(p, "www.example.com", "AAAA", ["2001:db8::10"])
    recs = p.records()
    eq(recs["new"], [rec("A", "192.0.2.77", 300)], "new name in the store")
    eq(list(recs)[-1], "new", "a new owner name is appended as a relative key")
    eq([r for r in recs["www"] if r["type"] == "A"],
       [rec("A", "192.0.2.10", 60), rec("A", "192.0.2.11", 60), rec("A", "192.0.2.12", 60)],
       "www A in the store")
    expect_record_diff(before, p.store_text(),
                       added=[rec("A", "192.0.2.77", 300), rec("A", "192.0.2.12", 60)],
                       owners={"new"})
    check(owner_line("new", rec("A", "192.0.2.77", 300)) in
          [_norm(x) for x in p.store_text().splitlines()], "the new name is one line")
    check_store(p.binary, p.store)


@edit_test()
def pdnsutil_replace_rrset(p, notes):
    before = p.store_text()
    p.pdnsutil("replace-rrset", "example.com", "mail", "A", "120", "192.0.2.26", "192.0.2.27")
    answer(p, "mail.example.com", "A", ["192.0.2.26", "192.0.2.27"])
    a = p.dig("mail.example.com", "A")
    eq({r[1] for r in a.rr()}, {120}, "the new TTL")
    eq(p.records()["mail"], [rec("A", "192.0.2.26", 120), rec("A", "192.0.2.27", 120)],
       "mail in the store")
    expect_record_diff(before, p.store_text(), removed=[rec("A", "192.0.2.25")],
                       added=[rec("A", "192.0.2.26", 120), rec("A", "192.0.2.27", 120)],
                       owners={"mail"})
    # An RRset of another type at the apex, next to SOA, NS, MX and CAA.
    before = p.store_text()
    p.pdnsutil("replace-rrset", "example.com", "@", "TXT", "3600", '"v=spf1 -all"',
               '"second string"')
    answer(p, "example.com", "TXT", ['"second string"', '"v=spf1 -all"'])
    expect_record_diff(before, p.store_text(), removed=[rec("TXT", '"v=spf1 mx -all"')],
                       added=[rec("TXT", '"v=spf1 -all"'), rec("TXT", '"second string"')])
    check_store(p.binary, p.store)


@edit_test()
def pdnsutil_delete_rrset(p, notes):
    before = p.store_text()
    p.pdnsutil("delete-rrset", "example.com", "www", "AAAA")
    a = answer(p, "www.example.com", "AAAA", [])
    eq(len(a.rr("AUTHORITY", "SOA")), 1, "NODATA carries the SOA")
    answer(p, "www.example.com", "A", ["192.0.2.10", "192.0.2.11"])
    eq(p.records()["www"], [rec("A", "192.0.2.10", 60), rec("A", "192.0.2.11", 60)],
       "www in the store")
    expect_record_diff(before, p.store_text(), removed=[rec("AAAA", "2001:db8::10")])
    # The only RRset of a name: the name goes.
    before = p.store_text()
    p.pdnsutil("delete-rrset", "example.com", "sip", "A")
    answer(p, "sip.example.com", "A", status="NXDOMAIN")
    check("sip" not in p.records(), "sip is gone from the store")
    expect_record_diff(before, p.store_text(), removed=[rec("A", "192.0.2.50")],
                       owners={"sip"})
    check_store(p.binary, p.store)


@edit_test()
def pdnsutil_increase_serial(p, notes):
    before = p.store_text()
    out = p.pdnsutil("increase-serial", "example.com").stdout
    check(f"set to {SERIAL0 + 1}" in out, out)
    serial_becomes(p, SERIAL0 + 1)
    eq(serial_of(p.store_doc()), SERIAL0 + 1, "serial in the store")
    expect_record_diff(before, p.store_text(), removed=[rec("SOA", soa(SERIAL0))],
                       added=[rec("SOA", soa(SERIAL0 + 1))])
    p.pdnsutil("increase-serial", "example.com")
    serial_becomes(p, SERIAL0 + 2)


EDITOR = r"""#!/bin/sh
# pdnsutil edit-zone's EDITOR: the file is the last argument (a "+LINE" may come first).
for f; do :; done
sed -i -e 's/"v=spf1 mx -all"/"v=spf1 -all"/' "$f"
printf 'added.example.com.\t300\tIN\tA\t192.0.2.88\n' >> "$f"
"""


@edit_test()
def pdnsutil_edit_zone(p, notes):
    editor = os.path.join(p.dir, "editor.sh")
    with open(editor, "w") as f:
        f.write(EDITOR)
    os.chmod(editor, 0o755)
    before = p.store_text()
    # pdnsutil reads single characters from stdin: "y" answers "You have not updated the SOA
    # record! Would you like to increase-serial?", "a" answers "(a)pply these changes". At EOF
    # it would ask again forever, which run_bounded stops.
    rc, out = run_bounded(["pdnsutil", f"--config-dir={p.conf}", "edit-zone", "example.com"],
                          b"ya", env=dict(os.environ, EDITOR=editor))
    eq(rc, 0, f"edit-zone exit status: {out[-2000:]}")
    check("Detected the following changes" in out and "192.0.2.88" in out, out[-2000:])
    answer(p, "example.com", "TXT", ['"v=spf1 -all"'])
    answer(p, "added.example.com", "A", ["192.0.2.88"])
    serial_becomes(p, SERIAL0 + 1)
    recs = p.records()
    eq(recs["added"], [rec("A", "192.0.2.88", 300)], "added name in the store")
    eq([r for r in recs["@"] if r["type"] == "TXT"], [rec("TXT", '"v=spf1 -all"')], "apex TXT")
    expect_record_diff(before, p.store_text(),
                       removed=[rec("SOA", soa(SERIAL0)), rec("TXT", '"v=spf1 mx -all"')],
                       added=[rec("SOA", soa(SERIAL0 + 1)), rec("TXT", '"v=spf1 -all"'),
                              rec("A", "192.0.2.88", 300)], owners={"added"})
    check_store(p.binary, p.store)


EDITOR_CNAME_TO_A = r"""#!/bin/sh
for f; do :; done
sed -i -e 's/^\(alias\.example\.com\s\+3600\s\+IN\s\+\)CNAME\s.*$/\1A\t192.0.2.7/' "$f"
"""


@edit_test()
def pdnsutil_edit_zone_turns_a_cname_into_an_a_record(p, notes):
    # pdnsutil applies the changed RRsets in (name, type) order: A is added before the CNAME
    # goes, so the transaction is valid only as a whole (checked at commit, not per edit).
    editor = os.path.join(p.dir, "editor.sh")
    with open(editor, "w") as f:
        f.write(EDITOR_CNAME_TO_A)
    os.chmod(editor, 0o755)
    before = p.store_text()
    rc, out = run_bounded(["pdnsutil", f"--config-dir={p.conf}", "edit-zone", "example.com"],
                          b"na", env=dict(os.environ, EDITOR=editor))
    eq(rc, 0, f"edit-zone exit status: {out[-2000:]}")
    check("+alias.example.com 3600 IN A 192.0.2.7" in out, out[-2000:])
    answer(p, "alias.example.com", "A", ["192.0.2.7"])
    answer(p, "alias.example.com", "CNAME", [])
    eq(p.records()["alias"], [rec("A", "192.0.2.7")], "alias in the store")
    expect_record_diff(before, p.store_text(), removed=[rec("CNAME", "www")],
                       added=[rec("A", "192.0.2.7")], owners={"alias"})
    eq(serial_of(p.store_doc()), SERIAL0, "'n': the serial stays")
    check_store(p.binary, p.store)


def edited_listing(p):
    """`pdnsutil list-zone example.com` (pool names show their current answer), edited: one
    www address changed, mail removed, a TXT added, and the pool's snapshot changed (which a
    whole-zone load must drop)."""
    out = p.pdnsutil("list-zone", "example.com").stdout
    check(f"pool.example.com\t30\tIN\tA\t{POOL_ADDRS[1]}" in out, f"pool in list-zone: {out}")
    lines = []
    for line in out.splitlines():
        if line.startswith("mail.example.com\t"):
            continue
        line = line.replace("\t192.0.2.11", "\t192.0.2.13")
        line = line.replace(f"\t{POOL_ADDRS[1]}", "\t192.0.2.250")
        lines.append(line)
    lines.append('loaded.example.com\t600\tIN\tTXT\t"from a zone file"')
    return out, "\n".join(lines) + "\n"


@edit_test(pool=True)
def pdnsutil_load_zone_replaces_the_zone_and_keeps_pools(p, notes):
    doc0 = p.store_doc()
    _, text = edited_listing(p)
    zf = os.path.join(p.dir, "example.com.zone")
    with open(zf, "w") as f:
        f.write(text)
    r = p.pdnsutil("load-zone", "example.com", zf)
    check("replacing contents" in r.stdout + r.stderr, r.stdout + r.stderr)
    answer(p, "www.example.com", "A", ["192.0.2.10", "192.0.2.13"])
    answer(p, "mail.example.com", "A", status="NXDOMAIN")
    answer(p, "loaded.example.com", "TXT", ['"from a zone file"'])
    answer(p, "pool.example.com", "A", POOL_ADDRS)
    doc = p.store_doc()
    recs = doc["zones"][ZONE]["records"]
    eq(recs["pool"], [POOL_RECORD], "the pool record (the fed snapshot is dropped)")
    check("mail" not in recs, "mail is gone")
    eq(recs["loaded"], [rec("TXT", '"from a zone file"', 600)], "loaded TXT")
    eq(sorted(r["content"] for r in recs["www"] if r["type"] == "A"),
       ["192.0.2.10", "192.0.2.13"], "www A")
    for key in ("checks", "pools"):
        eq(doc[key], doc0[key], key)
    for zone in ("lab.example.com.", "example.net."):
        eq(doc["zones"][zone], doc0["zones"][zone], f"zone {zone} is untouched")
    check_store(p.binary, p.store)


@edit_test(pool=True)
def pdnsutil_load_zone_diff_shows_only_the_edited_records(p, notes):
    # Loading list-zone's own output changes nothing; loading it with three edits changes
    # three records' lines (the store-format contract: records that stay keep their text).
    listing, edited = edited_listing(p)
    zf = os.path.join(p.dir, "same.zone")
    with open(zf, "w") as f:
        f.write(listing)
    before = p.store_text()
    p.pdnsutil("load-zone", "example.com", zf)
    expect_record_diff(before, p.store_text())
    zf = os.path.join(p.dir, "edited.zone")
    with open(zf, "w") as f:
        f.write(edited)
    before = p.store_text()
    p.pdnsutil("load-zone", "example.com", zf)
    answer(p, "www.example.com", "A", ["192.0.2.10", "192.0.2.13"])
    expect_record_diff(before, p.store_text(),
                       removed=[rec("A", "192.0.2.11", 60), rec("A", "192.0.2.25")],
                       added=[rec("A", "192.0.2.13", 60),
                              rec("TXT", '"from a zone file"', 600)],
                       owners={"mail", "loaded"})


@edit_test(pool=True)
def pdnsutil_clear_zone_leaves_only_the_pool_records(p, notes):
    doc0 = p.store_doc()
    p.pdnsutil("clear-zone", "example.com")
    doc = p.store_doc()
    eq(doc["zones"][ZONE]["records"], {"pool": [POOL_RECORD]}, "records left in the zone")
    for zone in ("lab.example.com.", "example.net."):
        eq(doc["zones"][zone], doc0["zones"][zone], f"zone {zone} is untouched")
    check_store(p.binary, p.store)
    # Without an SOA pdns finds no zone for these names (zone cache: no SOA in the apex
    # lookup, no shorter zone) and refuses them; the nested zone still answers.
    answer(p, "www.example.com", "A", status="REFUSED")
    answer(p, "example.com", "SOA", status="REFUSED")
    answer(p, "pool.example.com", "A", status="REFUSED")
    answer(p, "www.lab.example.com", "A", ["198.51.100.80"])
    answer(p, "www.example.net", "A", ["203.0.113.80"])
    out = p.pdnsutil("list-all-zones").stdout.split()
    check("example.com" in out, f"the cleared zone is still a zone: {out}")
    notes.append("after clear-zone pdns answers REFUSED for the zone's names")


@edit_test(pool=True)
def pdnsutil_can_list_and_reload_a_cleared_zone(p, notes):
    listing = p.pdnsutil("list-zone", "example.com").stdout
    zf = os.path.join(p.dir, "example.com.zone")
    with open(zf, "w") as f:
        f.write(listing)
    p.pdnsutil("clear-zone", "example.com")
    r = p.pdnsutil("list-zone", "example.com", ok=False)
    notes.append(f"list-zone of the cleared zone: exit {r.returncode}: "
                 f"{(r.stdout + r.stderr).strip()[-200:]!r}")
    r = p.pdnsutil("load-zone", "example.com", zf, ok=False)
    eq(r.returncode, 0, f"load-zone of the cleared zone: {r.stdout}{r.stderr}")
    answer(p, "www.example.com", "A", ["192.0.2.10", "192.0.2.11"])
    answer(p, "pool.example.com", "A", POOL_ADDRS)
    eq(p.records()["pool"], [POOL_RECORD], "pool record")


@edit_test()
def pdnsutil_set_meta_add_meta_get_meta(p, notes):
    before = p.store_text()
    p.pdnsutil("set-meta", "example.com", "X-TEST", "one", "two")
    eq(p.store_doc()["zones"][ZONE]["metadata"], {"X-TEST": ["one", "two"]}, "metadata")
    expect_line_diff(before, p.store_text(),
                     added=['"metadata": {"X-TEST": ["one", "two"]}'])
    p.pdnsutil("add-meta", "example.com", "X-TEST", "three")
    p.pdnsutil("set-meta", "example.com", "X-OTHER", "x")
    eq(p.store_doc()["zones"][ZONE]["metadata"],
       {"X-TEST": ["one", "two", "three"], "X-OTHER": ["x"]}, "metadata")
    out = p.pdnsutil("get-meta", "example.com").stdout
    check("X-TEST = one, two, three" in out and "X-OTHER = x" in out, out)
    out = p.pdnsutil("get-meta", "example.com", "X-TEST").stdout
    check("X-TEST = one, two, three" in out and "X-OTHER" not in out, out)
    # No value deletes the kind; with every kind gone the file is what it was.
    p.pdnsutil("set-meta", "example.com", "X-TEST")
    eq(p.store_doc()["zones"][ZONE]["metadata"], {"X-OTHER": ["x"]}, "metadata")
    p.pdnsutil("set-meta", "example.com", "X-OTHER")
    eq(p.store_text(), before, "the store after deleting every kind")
    check("X-TEST" not in p.pdnsutil("get-meta", "example.com").stdout, "get-meta")
    check_store(p.binary, p.store)


# ---- tests: DNS UPDATE -----------------------------------------------------------------------

@edit_test()
def nsupdate_add_delete_and_serial_bump(p, notes):
    set_meta_for_updates(p)
    eq(p.store_doc()["zones"][ZONE]["metadata"], {"ALLOW-DNSUPDATE-FROM": ["127.0.0.0/8"]},
       "metadata")
    before = p.store_text()
    nsupdate_ok(p, "update add upd.example.com. 300 A 192.0.2.150",
                "update add www.example.com. 60 A 192.0.2.12",
                "update delete www.example.com. AAAA",
                'update add Mixed.Example.COM. 300 TXT "mixed case"')
    answer(p, "upd.example.com", "A", ["192.0.2.150"])
    answer(p, "www.example.com", "A", ["192.0.2.10", "192.0.2.11", "192.0.2.12"])
    answer(p, "www.example.com", "AAAA", [])
    answer(p, "mixed.example.com", "TXT", ['"mixed case"'])
    doc = p.store_doc()
    serial1 = serial_of(doc)
    check(serial1 > SERIAL0, f"the update bumped the serial: {serial1}")
    serial_becomes(p, serial1)
    recs = doc["zones"][ZONE]["records"]
    eq(sorted(list(recs)[-2:]), ["mixed", "upd"], "new names appended as lowercase keys")
    eq(recs["upd"], [rec("A", "192.0.2.150", 300)], "upd")
    eq(recs["mixed"], [rec("TXT", '"mixed case"', 300)], "mixed")
    expect_record_diff(before, p.store_text(),
                       removed=[rec("SOA", soa(SERIAL0)), rec("AAAA", "2001:db8::10")],
                       added=[rec("SOA", soa(serial1)), rec("A", "192.0.2.150", 300),
                              rec("A", "192.0.2.12", 60), rec("TXT", '"mixed case"', 300)],
                       owners={"upd", "mixed"})
    before = p.store_text()
    nsupdate_ok(p, "update delete upd.example.com. A")
    answer(p, "upd.example.com", "A", status="NXDOMAIN")
    serial2 = serial_of(p.store_doc())
    check(serial2 > serial1, f"serial bumped again: {serial2}")
    check("upd" not in p.records(), "upd is gone")
    expect_record_diff(before, p.store_text(),
                       removed=[rec("SOA", soa(serial1)), rec("A", "192.0.2.150", 300)],
                       added=[rec("SOA", soa(serial2))], owners={"upd"})
    check_store(p.binary, p.store)
    notes.append(f"serial {SERIAL0} -> {serial1} -> {serial2}")


@edit_test()
def nsupdate_with_a_failing_prerequisite_changes_nothing(p, notes):
    set_meta_for_updates(p)
    before = p.store_text()
    rc, out = nsupdate_refusal_retried(p, "prereq yxrrset nope.example.com. A",
                                       "update add x.example.com. 300 A 192.0.2.1")
    check(rc != 0 and "NXRRSET" in out, f"nsupdate: exit {rc}: {out}")
    rc, out = p.nsupdate("prereq nxdomain www.example.com.",
                         "update delete www.example.com. A")
    check(rc != 0 and "YXDOMAIN" in out, f"nsupdate: exit {rc}: {out}")
    eq(p.store_text(), before, "the store file")
    answer(p, "x.example.com", "A", status="NXDOMAIN")
    answer(p, "www.example.com", "A", ["192.0.2.10", "192.0.2.11"])
    eq(soa_serial(p), SERIAL0, "serial")
    # A prerequisite that holds: the update goes through.
    nsupdate_ok(p, "prereq yxrrset www.example.com. A", "update add x.example.com. 300 A 192.0.2.1")
    answer(p, "x.example.com", "A", ["192.0.2.1"])


# ---- tests: the HTTP API ---------------------------------------------------------------------

@edit_test()
def api_patch_replace_and_delete(p, notes):
    before = p.store_text()
    status, body = p.patch(
        {"name": "api.example.com.", "type": "A", "ttl": 120, "changetype": "REPLACE",
         "records": [{"content": "192.0.2.120", "disabled": False}]},
        {"name": "www.example.com.", "type": "A", "ttl": 60, "changetype": "REPLACE",
         "records": [{"content": "192.0.2.10", "disabled": False},
                     {"content": "192.0.2.13", "disabled": False}]},
        {"name": "mail.example.com.", "type": "A", "changetype": "DELETE"})
    eq(status, 204, f"PATCH: {body}")
    answer(p, "api.example.com", "A", ["192.0.2.120"])
    answer(p, "www.example.com", "A", ["192.0.2.10", "192.0.2.13"])
    answer(p, "mail.example.com", "A", status="NXDOMAIN")
    recs = p.records()
    eq(recs["api"], [rec("A", "192.0.2.120", 120)], "api")
    eq(list(recs)[-1], "api", "new name appended")
    check("mail" not in recs, "mail is gone")
    eq(serial_of(p.store_doc()), SERIAL0, "no SOA-EDIT-API: the serial stays")
    expect_record_diff(before, p.store_text(),
                       removed=[rec("A", "192.0.2.11", 60), rec("A", "192.0.2.25")],
                       added=[rec("A", "192.0.2.13", 60), rec("A", "192.0.2.120", 120)],
                       owners={"api", "mail"})
    check_store(p.binary, p.store)


@edit_test()
def api_metadata_endpoints(p, notes):
    before = p.store_text()
    base = "/zones/example.com./metadata"
    status, body = p.api("GET", base)
    eq((status, body), (200, []), "GET metadata of a zone without any")
    status, body = p.api("PUT", base + "/X-TEST", {"metadata": ["one", "two"]})
    eq(status, 200, f"PUT: {body}")
    eq(body.get("metadata"), ["one", "two"], "PUT reply")
    eq(p.store_doc()["zones"][ZONE]["metadata"], {"X-TEST": ["one", "two"]}, "store after PUT")
    status, body = p.api("POST", base, {"kind": "X-TEST", "metadata": ["three"]})
    eq(status, 201, f"POST: {body}")
    eq(body.get("metadata"), ["one", "two", "three"], "POST reply")
    status, body = p.api("GET", base + "/X-TEST")
    eq((status, body.get("metadata")), (200, ["one", "two", "three"]), "GET one kind")
    status, body = p.api("GET", base)
    eq((status, [(m["kind"], m["metadata"]) for m in body]),
       (200, [("X-TEST", ["one", "two", "three"])]), "GET all")
    eq(p.store_doc()["zones"][ZONE]["metadata"], {"X-TEST": ["one", "two", "three"]},
       "store after POST")
    expect_line_diff(before, p.store_text(),
                     added=['"metadata": {"X-TEST": ["one", "two", "three"]}'])
    status, body = p.api("DELETE", base + "/X-TEST")
    eq(status, 200, f"DELETE: {body}")
    status, body = p.api("GET", base + "/X-TEST")
    eq((status, body.get("metadata")), (200, []), "GET after DELETE")
    eq(p.store_text(), before, "the store after DELETE")


@edit_test()
def api_get_zone_and_export(p, notes):
    status, body = p.patch({"name": "api.example.com.", "type": "A", "ttl": 120,
                            "changetype": "REPLACE",
                            "records": [{"content": "192.0.2.120", "disabled": False}]})
    eq(status, 204, f"PATCH: {body}")
    status, z = p.api("GET", "/zones/example.com.")
    eq(status, 200, f"GET zone: {z}")
    eq((z["name"], z["serial"]), (ZONE, SERIAL0), "zone name and serial")
    sets = {(s["name"], s["type"]): s for s in z["rrsets"]}
    api = sets.get(("api.example.com.", "A"))
    check(api, f"api.example.com A in the zone: {sorted(sets)}")
    eq((api["ttl"], [r["content"] for r in api["records"]]), (120, ["192.0.2.120"]), "api A")
    eq(sorted(r["content"] for r in sets[("www.example.com.", "A")]["records"]),
       ["192.0.2.10", "192.0.2.11"], "www A")
    status, text = p.api("GET", "/zones/example.com./export")
    eq(status, 200, f"export: {text}")
    for line in ("api.example.com.\t120\tIN\tA\t192.0.2.120",
                 "www.example.com.\t60\tIN\tA\t192.0.2.10",
                 f"example.com.\t3600\tIN\tSOA\t{soa(SERIAL0)}"):
        check(line in text.splitlines(), f"{line!r} in the export:\n{text}")
    status, zones = p.api("GET", "/zones")
    eq(status, 200, "GET zones")
    eq(sorted(x["name"] for x in zones), ["example.com.", "example.net.", "lab.example.com."],
       "zones")


# ---- tests: a dnspython updater --------------------------------------------------------------

UPDATER = r"""
'''The classic health-check updater: point NAME's A record at the address that is up.'''
import sys

import dns.query
import dns.rcode
import dns.update

server, port, name, addr = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
update = dns.update.Update("example.com.")
update.replace(name, 60, "A", addr)
reply = dns.query.tcp(update, server, port=port, timeout=10)
print(dns.rcode.to_text(reply.rcode()))
sys.exit(0 if reply.rcode() == dns.rcode.NOERROR else 1)
"""


@edit_test()
def dnspython_updater_replaces_an_a_record(p, notes):
    script = os.path.join(p.dir, "updater.py")
    with open(script, "w") as f:
        f.write(UPDATER)
    set_meta_for_updates(p)

    def update(addr):
        deadline = time.monotonic() + SETTLE
        while True:
            r = subprocess.run(["/usr/bin/python3", script, "127.0.0.1", str(p.port), "www",
                                addr], capture_output=True, text=True, timeout=30)
            if (r.returncode == 0 or p.mode == "unix" or "REFUSED" not in r.stdout or
                    time.monotonic() > deadline):
                break
            time.sleep(0.1)
        eq((r.returncode, r.stdout.strip()), (0, "NOERROR"), f"updater: {r.stderr}")
    before = p.store_text()
    update("192.0.2.99")
    answer(p, "www.example.com", "A", ["192.0.2.99"])
    answer(p, "www.example.com", "AAAA", ["2001:db8::10"])
    doc = p.store_doc()
    serial1 = serial_of(doc)
    check(serial1 > SERIAL0, "serial bumped")
    eq(sorted(map(_canon, doc["zones"][ZONE]["records"]["www"])),
       sorted(map(_canon, [rec("A", "192.0.2.99", 60), rec("AAAA", "2001:db8::10")])),
       "www in the store")
    expect_record_diff(before, p.store_text(),
                       removed=[rec("SOA", soa(SERIAL0)), rec("A", "192.0.2.10", 60),
                                rec("A", "192.0.2.11", 60)],
                       added=[rec("SOA", soa(serial1)), rec("A", "192.0.2.99", 60)])
    update("192.0.2.98")
    answer(p, "www.example.com", "A", ["192.0.2.98"])
    check(serial_of(p.store_doc()) > serial1, "serial bumped again")
    check_store(p.binary, p.store)


# ---- tests: pools stay pools -----------------------------------------------------------------

def pool_message_seen(p, where, what):
    check(POOL_MSG in where, f"{what}: the message naming the pool is missing")


@edit_test(pool=True)
def pool_rrset_cannot_be_changed_through_pdns(p, notes):
    answer(p, "pool.example.com", "A", POOL_ADDRS)
    before = p.store_text()
    r = p.pdnsutil("replace-rrset", "example.com", "pool", "A", "30", "192.0.2.1", ok=False)
    check(r.returncode != 0, f"replace-rrset on a pool succeeded: {r.stdout}{r.stderr}")
    check("backend did not accept the new RRset" in r.stdout + r.stderr, r.stdout + r.stderr)
    # The reason: in pipe mode pdnsutil's own co-process writes it to pdnsutil's stderr; in
    # unix mode it is in the daemon's log (pdnsutil shows backend log lines only at loglevel 6).
    if p.mode == "pipe":
        pool_message_seen(p, r.stderr, "pdnsutil's stderr")
    else:
        pool_message_seen(p, p.read("daemon.log"), "the daemon's log")
        check(POOL_MSG not in r.stdout + r.stderr, "unix: pdnsutil does not show it")
    eq(p.store_text(), before, "store after replace-rrset")
    # delete-rrset: pdnsutil ignores replaceRRSet's false and commits; a transaction with a
    # refused edit cannot commit, and its null answer makes pdnsutil fail.
    r = p.pdnsutil("delete-rrset", "example.com", "pool", "A", ok=False)
    notes.append(f"delete-rrset on the pool: exit {r.returncode}")
    check(r.returncode != 0, f"delete-rrset on the pool must fail: {r.stdout}{r.stderr}")
    eq(p.store_text(), before, "store after delete-rrset")
    # The API: pdns turns the refused replaceRRSet into a 422.
    seen = p.backend_log().count(POOL_MSG)
    status, body = p.patch({"name": "pool.example.com.", "type": "A", "ttl": 30,
                            "changetype": "REPLACE",
                            "records": [{"content": "192.0.2.1", "disabled": False}]})
    eq(status, 422, f"API PATCH on the pool: {body}")
    check("does not support editing records" in json.dumps(body), body)
    check(p.backend_log().count(POOL_MSG) > seen, "the API refusal's reason in the backend log")
    eq(p.store_text(), before, "store after the API PATCH")
    doc = p.store_doc()
    eq(doc["zones"][ZONE]["records"]["pool"], [POOL_RECORD], "the pool record")
    answer(p, "pool.example.com", "A", POOL_ADDRS)
    # DNS UPDATE: pdns ignores the refused feedRecord/replaceRRSet and commits (with a serial
    # bump); that commit fails as a whole, so the client gets SERVFAIL and nothing changes.
    set_meta_for_updates(p)
    rc, out = nsupdate_refusal_retried(p, "update add pool.example.com. 30 A 192.0.2.151")
    notes.append(f"nsupdate add at the pool name: exit {rc}")
    check(rc != 0 and "SERVFAIL" in out, f"nsupdate add at the pool: exit {rc}: {out}")
    rc, out = p.nsupdate("update delete pool.example.com. A")
    notes.append(f"nsupdate delete of the pool RRset: exit {rc}")
    check(rc != 0 and "SERVFAIL" in out, f"nsupdate delete at the pool: exit {rc}: {out}")
    eq(p.records()["pool"], [POOL_RECORD], "the pool record after DNS UPDATE")
    eq(serial_of(p.store_doc()), SERIAL0, "the serial after the refused updates")
    answer(p, "pool.example.com", "A", POOL_ADDRS)
    check_store(p.binary, p.store)


@edit_test(pool=True)
def pool_name_takes_other_types(p, notes):
    before = p.store_text()
    p.pdnsutil("add-record", "example.com", "pool", "TXT", '"hello pool"')
    answer(p, "pool.example.com", "TXT", ['"hello pool"'])
    answer(p, "pool.example.com", "A", POOL_ADDRS)
    eq(p.records()["pool"], [POOL_RECORD, rec("TXT", '"hello pool"')], "pool name in the store")
    expect_record_diff(before, p.store_text(), added=[rec("TXT", '"hello pool"')],
                       owners={"pool"})
    status, body = p.patch({"name": "pool.example.com.", "type": "TXT", "ttl": 3600,
                            "changetype": "REPLACE",
                            "records": [{"content": '"via the api"', "disabled": False}]})
    eq(status, 204, f"PATCH TXT at the pool name: {body}")
    answer(p, "pool.example.com", "TXT", ['"via the api"'])
    eq(p.records()["pool"], [POOL_RECORD, rec("TXT", '"via the api"')], "after the PATCH")
    p.pdnsutil("delete-rrset", "example.com", "pool", "TXT")
    answer(p, "pool.example.com", "TXT", [])
    eq(p.records()["pool"], [POOL_RECORD], "after delete-rrset TXT")
    answer(p, "pool.example.com", "A", POOL_ADDRS)
    check_store(p.binary, p.store)


@edit_test(pool=True)
def list_zone_axfr_and_export_show_the_pools_answer(p, notes):
    p.pdnsutil("add-record", "example.com", "other", "A", "300", "192.0.2.66")
    lines = p.pdnsutil("list-zone", "example.com").stdout.splitlines()
    for addr in POOL_ADDRS:
        check(f"pool.example.com\t30\tIN\tA\t{addr}" in lines, f"list-zone: {lines}")
    check("other.example.com\t300\tIN\tA\t192.0.2.66" in lines, "the edit in list-zone")
    wait_for(lambda: ("other.example.com.", "300", "IN", "A", "192.0.2.66") in p.axfr(),
             SETTLE, "the edit in an AXFR")
    recs = p.axfr()
    for addr in POOL_ADDRS:
        check(("pool.example.com.", "30", "IN", "A", addr) in recs, f"AXFR: {recs}")
    eq([r[3] for r in recs].count("SOA"), 2, "AXFR framed by the SOA")
    status, text = p.api("GET", "/zones/example.com./export")
    for addr in POOL_ADDRS:
        check(f"pool.example.com.\t30\tIN\tA\t{addr}" in text.splitlines(), f"export: {text}")


# ---- tests: errors ---------------------------------------------------------------------------

def reason_logged(p, r, reason, what):
    """A refusal's reason: in pdnsutil's stderr (pipe: its own co-process) or the daemon's log."""
    where = r.stderr if p.mode == "pipe" else p.read("daemon.log")
    check(reason in where, f"{what}: {reason!r} not logged")


@edit_test()
def invalid_edits_are_refused_and_the_file_is_unchanged(p, notes):
    before = p.store_text()
    # pdnsutil itself refuses a CNAME next to other data (either way round).
    r = p.pdnsutil("add-record", "example.com", "mail", "CNAME", "www.example.com.", ok=False)
    check(r.returncode != 0 and "already had existing records" in r.stdout + r.stderr,
          f"CNAME next to an A: {r.returncode} {r.stdout}{r.stderr}")
    r = p.pdnsutil("add-record", "example.com", "alias", "A", "192.0.2.1", ok=False)
    check(r.returncode != 0 and "already had a CNAME record" in r.stdout + r.stderr,
          f"A next to a CNAME: {r.returncode} {r.stdout}{r.stderr}")
    eq(p.store_text(), before, "store")
    # The apex's last NS: the commit is refused by the store check. pdnsutil delete-rrset
    # ignores replaceRRSet's and commitTransaction's false; a failed commit answers null, which
    # it cannot ignore: it fails. The reason is logged.
    r = p.pdnsutil("delete-rrset", "example.com", "@", "NS", ok=False)
    notes.append(f"pdnsutil delete-rrset of the apex NS: exit {r.returncode}")
    check(r.returncode != 0, f"delete-rrset of the apex NS must fail: {r.stdout}{r.stderr}")
    eq(p.store_text(), before, "store after deleting the apex NS")
    reason_logged(p, r, "the zone needs at least one NS record at '@'", "delete-rrset @ NS")
    answer(p, "example.com", "NS", ["ns1.example.com.", "ns2.example.net."])
    # The same through the API: pdns 4.7 ignores commitTransaction's false, not a null.
    no_ns = "the zone needs at least one NS record at '@'"
    seen = p.backend_log().count(no_ns)
    status, body = p.patch({"name": "example.com.", "type": "NS", "changetype": "DELETE"})
    notes.append(f"API DELETE of the apex NS: HTTP {status}")
    check(status >= 400, f"the API must report the failed commit: HTTP {status} {body}")
    eq(p.store_text(), before, "store after the API DELETE of the apex NS")
    check(p.backend_log().count(no_ns) > seen, "the API refusal's reason in the backend log")
    # Two SOAs.
    r = p.pdnsutil("replace-rrset", "example.com", "@", "SOA",
                   soa(SERIAL0 + 1), soa(SERIAL0 + 2), ok=False)
    notes.append(f"replace-rrset with two SOAs: exit {r.returncode}")
    eq(p.store_text(), before, "store after two SOAs")
    check(r.returncode != 0, f"two SOAs must fail: {r.stdout}{r.stderr}")
    reason_logged(p, r, "example.com. SOA: 2 records, but there can be only one", "two SOAs")
    answer(p, "example.com", "SOA", [soa(SERIAL0)])


@edit_test()
def pdnsutil_reports_an_rrset_the_store_cannot_hold(p, notes):
    """An RRset that the store cannot hold whatever else the transaction does must be refused
    when replaceRRSet brings it: pdnsutil add-record/replace-rrset look only at that answer
    (commitTransaction's is ignored), so a refusal at commit leaves pdnsutil printing "New
    rrset" and exiting 0 for an edit that was not made."""
    before = p.store_text()
    cases = [
        # www's A records have TTL 60: one with TTL 300 gives the RRset two TTLs (RFC 2181).
        (["add-record", "example.com", "www", "A", "300", "192.0.2.12"],
         "www.example.com", "A", ["192.0.2.10", "192.0.2.11"]),
        # An SOA RRset of two records.
        (["replace-rrset", "example.com", "@", "SOA", soa(SERIAL0 + 1), soa(SERIAL0 + 2)],
         "example.com", "SOA", [soa(SERIAL0)]),
    ]
    wrong = []
    for args, name, rtype, rdata in cases:
        r = p.pdnsutil(*args, ok=False)
        eq(p.store_text(), before, f"store after pdnsutil {' '.join(args)}")
        answer(p, name, rtype, rdata)
        if r.returncode == 0:
            wrong.append(f"pdnsutil {' '.join(args)} exited 0 for an edit that was not made: "
                         f"{r.stdout.strip()!r}")
    check(not wrong, "\n".join(wrong))


@edit_test()
def bad_content_is_refused_on_a_raw_connection(p, notes):
    before = p.store_text()
    raw = Raw(p)
    try:
        eq(raw.ask("startTransaction", {"domain": ZONE, "domain_id": -1, "trxid": 1})["result"],
           True, "startTransaction")
        reply = raw.ask("replaceRRSet", {
            "domain_id": -1, "qname": "bad.example.com.", "qtype": "A", "trxid": 1,
            "rrset": [rr("bad.example.com.", "A", "999.1.1.1")]})
        eq(reply.get("result"), False, f"replaceRRSet with 999.1.1.1: {reply}")
        check(any("999.1.1.1" in x for x in reply.get("log", [])), f"reply names it: {reply}")
        reply = raw.ask("feedRecord", {"rr": dict(rr("bad.example.com.", "AAAA", "2001:db8::zz"),
                                                  ordername=None), "trxid": 1})
        eq(reply.get("result"), False, f"feedRecord with 2001:db8::zz: {reply}")
        check(any("2001:db8::zz" in x for x in reply.get("log", [])), f"reply names it: {reply}")
        reply = raw.ask("commitTransaction", {"trxid": 1})
        notes.append(f"commit after the refused edits: {reply}")
        reply = raw.ask("replaceRRSet", {
            "domain_id": -1, "qname": "bad.example.com.", "qtype": "A", "trxid": 1,
            "rrset": [rr("bad.example.com.", "A", "192.0.2.1")]})
        eq(reply.get("result"), False, "replaceRRSet outside a transaction")
    finally:
        raw.close()
    check("999.1.1.1" in raw.log(), "the refusal is logged")
    # The API does not get that far: pdns parses the content itself and answers 422.
    status, body = p.patch({"name": "bad.example.com.", "type": "A", "ttl": 300,
                            "changetype": "REPLACE",
                            "records": [{"content": "999.1.1.1", "disabled": False}]})
    eq(status, 422, f"API PATCH with 999.1.1.1: {body}")
    check("unable to parse IP address" in json.dumps(body), body)
    eq(p.store_text(), before, "store")
    answer(p, "bad.example.com", "A", status="NXDOMAIN")


@edit_test()
def feed_record_inserts_a_record_once(p, notes):
    """feedRecord in an incremental transaction (DNS UPDATE's add) inserts one record; an
    identical record is not added twice."""
    before = p.store_text()
    raw = Raw(p)
    try:
        eq(raw.ask("startTransaction", {"domain": ZONE, "domain_id": -1, "trxid": 3})["result"],
           True, "startTransaction")
        for content in ("192.0.2.10", "192.0.2.12", "192.0.2.12"):
            reply = raw.ask("feedRecord", {"rr": dict(rr("www.example.com.", "A", content, 60),
                                                      ordername=None), "trxid": 3})
            eq(reply.get("result"), True, f"feedRecord {content}: {reply}")
        eq(raw.ask("commitTransaction", {"trxid": 3}), {"result": True}, "commitTransaction")
    finally:
        raw.close()
    answer(p, "www.example.com", "A", ["192.0.2.10", "192.0.2.11", "192.0.2.12"])
    expect_record_diff(before, p.store_text(), added=[rec("A", "192.0.2.12", 60)])
    check_store(p.binary, p.store)


@edit_test()
def abort_and_a_lost_connection_roll_back(p, notes):
    before = p.store_text()
    zone_id = None
    raw = Raw(p)
    try:
        info = raw.ask("getDomainInfo", {"name": ZONE})["result"]
        zone_id = info["id"]
        # An incremental transaction, aborted.
        eq(raw.ask("startTransaction", {"domain": ZONE, "domain_id": -1, "trxid": 4})["result"],
           True, "startTransaction")
        eq(raw.ask("replaceRRSet", {"domain_id": zone_id, "qname": "www.example.com.",
                                    "qtype": "A", "trxid": 4,
                                    "rrset": [rr("www.example.com.", "A", "192.0.2.9", 60)]}),
           {"result": True}, "replaceRRSet")
        eq(raw.ask("abortTransaction", {"trxid": 4}), {"result": True}, "abortTransaction")
        # A whole-zone replacement with one record fed, aborted.
        eq(raw.ask("startTransaction", {"domain": ZONE, "domain_id": zone_id,
                                        "trxid": 5})["result"], True, "startTransaction(id)")
        eq(raw.ask("feedRecord", {"rr": dict(rr(ZONE, "SOA", soa(SERIAL0 + 9), 3600),
                                             ordername=None), "trxid": 5}),
           {"result": True}, "feedRecord")
        eq(raw.ask("abortTransaction", {"trxid": 5}), {"result": True}, "abortTransaction")
        eq(raw.ask("commitTransaction", {"trxid": 5}).get("result"), False,
           "commitTransaction after the abort")
        # A transaction left open when the connection ends.
        eq(raw.ask("startTransaction", {"domain": ZONE, "domain_id": -1, "trxid": 6})["result"],
           True, "startTransaction")
        eq(raw.ask("replaceRRSet", {"domain_id": zone_id, "qname": "www.example.com.",
                                    "qtype": "A", "trxid": 6,
                                    "rrset": [rr("www.example.com.", "A", "192.0.2.9", 60)]}),
           {"result": True}, "replaceRRSet")
    finally:
        raw.close()
    if p.mode == "unix":
        wait_for(lambda: "closed with a transaction open: rolled back" in p.read("daemon.log"),
                 5, "the daemon to log the rollback")
    eq(p.store_text(), before, "store")
    answer(p, "www.example.com", "A", ["192.0.2.10", "192.0.2.11"])


@edit_test()
def serial_moves_past_a_concurrent_writer(p, notes):
    """A transaction that read serial S and sets S+1 commits after another writer set S+1: the
    serial becomes S+2, and the other writer's edits stay."""
    raw = Raw(p)
    try:
        eq(raw.ask("startTransaction", {"domain": ZONE, "domain_id": -1, "trxid": 7})["result"],
           True, "startTransaction")
        eq(raw.ask("replaceRRSet", {"domain_id": -1, "qname": ZONE, "qtype": "SOA", "trxid": 7,
                                    "rrset": [rr(ZONE, "SOA", soa(SERIAL0 + 1), 3600)]}),
           {"result": True}, "replaceRRSet SOA")
        eq(raw.ask("replaceRRSet", {"domain_id": -1, "qname": "raw.example.com.", "qtype": "TXT",
                                    "trxid": 7,
                                    "rrset": [rr("raw.example.com.", "TXT", '"raw"')]}),
           {"result": True}, "replaceRRSet TXT")
        # Meanwhile, another writer.
        p.pdnsutil("increase-serial", "example.com")
        p.pdnsutil("add-record", "example.com", "other", "A", "300", "192.0.2.66")
        eq(serial_of(p.store_doc()), SERIAL0 + 1, "the other writer's serial")
        eq(raw.ask("commitTransaction", {"trxid": 7}), {"result": True}, "commitTransaction")
    finally:
        raw.close()
    doc = p.store_doc()
    eq(serial_of(doc), SERIAL0 + 2, "serial after both writers")
    recs = doc["zones"][ZONE]["records"]
    eq(recs.get("raw"), [rec("TXT", '"raw"', 300)], "this transaction's record")
    eq(recs.get("other"), [rec("A", "192.0.2.66", 300)], "the other writer's record")
    serial_becomes(p, SERIAL0 + 2)
    answer(p, "raw.example.com", "TXT", ['"raw"'])
    answer(p, "other.example.com", "A", ["192.0.2.66"])


# ---- cross-connector propagation (run once) --------------------------------------------------

CROSS_TESTS = []


def cross_test(fn):
    CROSS_TESTS.append(fn)
    return fn


def switch_time(p, name, rtype, new, t0, window=1.5):
    """Queries name for `window` seconds after t0 (over UDP and TCP in turn, so every backend
    instance of pdns answers some); returns (time after t0 of the last answer that was not new,
    or 0.0, number of queries)."""
    last_old, n = 0.0, 0
    while time.monotonic() - t0 < window:
        a = p.dig(name, rtype, tcp=n % 3 == 2)
        n += 1
        if a.rdata(rtype) != new:
            last_old = time.monotonic() - t0
    return last_old, n


@cross_test
def unix_daemon_serves_an_edit_made_by_a_pipe_pdnsutil(binary, tmp, notes):
    p = EditPdns(binary, "unix", tmp)
    try:
        p.start()
        # A second configuration: pdnsutil with its own pipe co-process on the same file.
        conf2 = os.path.join(tmp, "conf-pipe")
        os.makedirs(conf2)
        with open(os.path.join(p.conf, "pdns.conf")) as f:
            text = f.read()
        text = re.sub(r"(?m)^remote-connection-string=.*$",
                      lambda _: "remote-connection-string=" + p.pipe_connection(), text)
        with open(os.path.join(conf2, "pdns.conf"), "w") as f:
            f.write(text)
        eq(p.dig("sip.example.com", "A").rdata("A"), ["192.0.2.50"], "before")
        delays = []
        for addr in ("192.0.2.201", "192.0.2.202"):
            r = subprocess.run(["pdnsutil", f"--config-dir={conf2}", "replace-rrset",
                                "example.com", "sip", "A", "300", addr],
                               capture_output=True, text=True, timeout=60)
            t0 = time.monotonic()
            eq(r.returncode, 0, f"pdnsutil (pipe): {r.stdout}{r.stderr}")
            # pdnsutil's own co-process committed (its log lines are pdnsutil's stderr)
            check("edits committed" in r.stderr and not SANITIZER.search(r.stderr),
                  f"pdnsutil's co-process: {r.stderr}")
            wait_for(lambda: p.dig("sip.example.com", "A").rdata("A") == [addr], 5,
                     f"the unix daemon to serve {addr}")
            delays.append(time.monotonic() - t0)
        notes.append("delays " + ", ".join(f"{d:.3f}s" for d in delays))
        check(max(delays) <= PROPAGATION, f"served within {PROPAGATION}s: {delays}")
        eq(p.records()["sip"], [rec("A", "192.0.2.202", 300)], "store")
    except Exception:
        notes.append(p.tail().replace("\n", " | ")[-1500:])
        raise
    finally:
        p.stop()


def coprocesses(pdns_pid, binary):
    n = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")[0].decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pdns_pid and cmd == binary:
            n += 1
    return n


@cross_test
def every_pipe_coprocess_serves_an_api_edit(binary, tmp, notes):
    p = EditPdns(binary, "pipe", tmp, extra_conf="distributor-threads=2\n")
    try:
        p.start()
        for i in range(20):  # queries over UDP and TCP start every backend instance
            p.dig("sip.example.com", "A", tcp=i % 2 == 1)
        n = coprocesses(p.pdns.pid, binary)
        check(n >= 2, f"several co-processes: {n}")
        results = []
        for addr in ("192.0.2.201", "192.0.2.202", "192.0.2.203"):
            status, body = p.patch({"name": "sip.example.com.", "type": "A", "ttl": 300,
                                    "changetype": "REPLACE",
                                    "records": [{"content": addr, "disabled": False}]})
            t0 = time.monotonic()
            eq(status, 204, f"PATCH: {body}")
            last_old, queries = switch_time(p, "sip.example.com", "A", [addr], t0)
            results.append((last_old, queries))
        notes.append(f"{n} co-processes; last old answer after " +
                     ", ".join(f"{t:.3f}s ({q} queries)" for t, q in results))
        check(all(t <= PROPAGATION for t, _ in results),
              f"every answer switched within {PROPAGATION}s: {results}")
        eq(p.records()["sip"], [rec("A", "192.0.2.203", 300)], "store")
    except Exception:
        notes.append(p.tail().replace("\n", " | ")[-1500:])
        raise
    finally:
        p.stop()


# ---- main -----------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--modes", default="pipe,unix")
    ap.add_argument("--only", default="", help="run tests whose name contains this")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    work = tempfile.mkdtemp(prefix="pf-edits-")
    results = []
    t_start = time.monotonic()

    def run(name, fn, *a):
        if args.only and args.only not in name:
            return
        t0 = time.monotonic()
        notes = []
        try:
            fn(*a, notes)
            results.append((name, None))
            print(f"ok {len(results)} - {name} ({time.monotonic() - t0:.2f}s)", flush=True)
            for n in notes:
                print(f"#   {n}", flush=True)
        except Exception as e:  # noqa: BLE001 - every kind of failure is a test failure
            results.append((name, e))
            print(f"not ok {len(results)} - {name}", flush=True)
            for line in f"{type(e).__name__}: {e}".splitlines() + notes:
                print(f"#   {line}", flush=True)

    def in_pdns(mode, fn, opts):
        def body(notes):
            tmp = tempfile.mkdtemp(dir=work, prefix=f"{mode}-")
            p = EditPdns(binary, mode, tmp, pool=opts["pool"], extra_conf=opts["extra_conf"])
            try:
                p.start()
                fn(p, notes)
            except Exception:
                notes.extend(("log tail:\n" + p.tail()).splitlines())
                raise
            finally:
                p.stop()
            logs = p.read("pdns.log") + p.read("daemon.log")
            m = SANITIZER.search(logs)
            check(not m, "sanitizer report in the logs: " + logs[m.start() - 200:][:3000]
                  if m else "")
        return body

    try:
        for mode in args.modes.split(","):
            for fn, opts in TESTS:
                run(f"{mode}: {fn.__name__}", in_pdns(mode, fn, opts))
        for fn in CROSS_TESTS:
            run(f"cross: {fn.__name__}", fn, binary, tempfile.mkdtemp(dir=work, prefix="x-"))
        run("no sanitizer report in the logs", lambda _notes: e2e.check_no_sanitizer_report(work))
    finally:
        if args.keep:
            print(f"# work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    failed = sum(1 for _, e in results if e)
    print(f"1..{len(results)}")
    print(f"# edits: {len(results) - failed} passed, {failed} failed "
          f"({time.monotonic() - t_start:.0f}s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
