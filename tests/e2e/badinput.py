#!/usr/bin/python3
"""Bad input catalogue (issue 7, point 3): one TAP test per kind of bad input.

Each entry feeds the binary one kind of bad input and asserts
  (a) a clear error naming what and where: the reply's "log" (what pdns logs), the daemon's log
      line, or --check-config's output (file name and JSON path);
  (b) no crash: the daemon still runs and still answers a normal lookup correctly afterwards;
  (c) nothing lost: the store file is unchanged, the previous store keeps serving, other
      connections keep being served.
Groups: the protocol over the pipe connector (the binary on stdin/stdout pipes, as pdns runs
it) and over the unix connector, unix socket clients that misbehave, invalid store files through
--check-config and through a running daemon's reload, and health-check endpoints that misbehave
(servers are threads of this script on 127.0.0.x). Every group ends by stopping its daemon
(EOF or SIGTERM) and asserting a zero exit status and no sanitizer report in its stderr, which
is what makes the suite worth running against the ASan+UBSan build.

Prints TAP; exits 1 if anything failed. Every process started here is stopped by its PID; every
wait is bounded.
"""
import argparse
import hashlib
import json
import os
import re
import select
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import e2e  # noqa: E402
import pools  # noqa: E402
from e2e import ROOT, Failure, check, eq, stop, wait_for  # noqa: E402

SOA = pools.SOA
LOOKUP = '{"method":"lookup","parameters":{"qname":"www.example.com.","qtype":"A","zone-id":-1}}'
WWW = ["192.0.2.10", "192.0.2.11"]
MB = 1024 * 1024


# ---- replies and logs -------------------------------------------------------------------------

def reply_obj(line, what="reply"):
    """The one JSON object of a reply line (with its newline), which must have a "result"."""
    check(line.endswith(b"\n") and line.count(b"\n") == 1, f"{what}: not one line: {line[:300]!r}")
    try:
        r = json.loads(line)
    except ValueError:
        raise Failure(f"{what}: not JSON: {line[:300]!r}") from None
    check(isinstance(r, dict) and "result" in r, f"{what}: no result: {line[:300]!r}")
    return r


def refused(line, *words, what="reply"):
    """Asserts {"result":false,"log":[...]} whose log holds every word; returns the log text."""
    r = reply_obj(line, what)
    eq(r["result"], False, f"{what}: result of {line[:300]!r}")
    log = r.get("log")
    check(isinstance(log, list) and log and all(isinstance(x, str) for x in log),
          f"{what}: no log in {line[:300]!r}")
    text = " | ".join(log)
    for w in words:
        check(w in text, f"{what}: {w!r} not in the reply's log {text!r}")
    return text


def www_ok(line, what="lookup of www.example.com A"):
    r = reply_obj(line, what)
    check(isinstance(r["result"], list), f"{what}: {line[:300]!r}")
    eq(sorted(x.get("content") for x in r["result"]), WWW, what)


def no_sanitizer(err, what):
    for word in (b"Sanitizer", b"runtime error"):
        check(word not in err, f"{what}: '{word.decode()}' in its stderr:\n" +
              err[-3000:].decode(errors="replace"))


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise Failure(f"no VmRSS for {pid}")


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class LogBudget:
    """The daemon logs at most 10 request errors a second (then a count): a test that asserts a
    log line first makes sure its errors fall in a second with room for them."""

    def __init__(self):
        self.sec, self.n = 0, 0

    def take(self, n=1):
        now = time.time()
        if int(now) != self.sec:
            self.sec, self.n = int(now), 0
        if self.n + n > 7:
            time.sleep(int(now) + 1.05 - now)
            self.sec, self.n = int(time.time()), 0
        self.n += n

    def flood(self):
        self.sec, self.n = int(time.time()), 10**6


# ---- the two connectors -----------------------------------------------------------------------

class Session:
    """Requests out, reply lines in: a unix connection or the pipe. Subclasses provide
    send(bytes) and recv(seconds) -> bytes (b"" at EOF, None when nothing came in time)."""
    buf = b""

    def reply(self, timeout=20):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            check(left > 0, f"no reply within {timeout}s")
            chunk = self.recv(left)
            check(chunk != b"", f"the daemon closed the {self.kind} before the reply (got "
                                f"{self.buf[:200]!r})")
            self.buf += chunk or b""
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def ask(self, req, timeout=20):
        self.send((req if isinstance(req, bytes) else req.encode()) + b"\n")
        return self.reply(timeout)


class Conn(Session):
    """One unix-socket connection."""
    kind = "connection"

    def __init__(self, sock):
        self.s = sock

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def recv(self, timeout):
        self.s.settimeout(timeout)
        try:
            return self.s.recv(1 << 20)
        except socket.timeout:
            return None

    def closed_by_peer(self, timeout=5):
        self.s.settimeout(timeout)
        try:
            return self.s.recv(1) == b""
        except socket.timeout:
            return False

    def close(self):
        self.s.close()


class Unix(e2e.UnixDaemon):
    kind = "unix"
    where = rb"connection \d+"

    def __init__(self, binary, tmp, store, *extra):
        super().__init__(binary, tmp, "--state-dir", os.path.join(tmp, "state"), *extra,
                         store=store)
        self.pid = self.proc.pid
        self.budget = LogBudget()
        self.bystander = self.conn()

    def conn(self):
        return Conn(self.connect())

    def finish(self):
        """SIGTERM; returns (exit status, stderr)."""
        self.bystander.close()
        _, err = self.stop()
        return self.proc.returncode, err


class Pipe(Session):
    """The binary as pdns runs it over the pipe connector: one session, requests on stdin,
    replies on stdout, the log in a file (stderr)."""
    kind = "pipe"
    where = rb"pipe"

    def __init__(self, binary, tmp, store, *extra):
        self.errpath = os.path.join(tmp, f"pipe-{time.monotonic_ns()}.log")
        with open(self.errpath, "wb") as err:
            self.proc = subprocess.Popen(
                [binary, *ROOT, "--config", store, "--state-dir", os.path.join(tmp, "state"),
                 *extra], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
        self.pid = self.proc.pid
        self.budget = LogBudget()
        self.bystander = None

    def conn(self):
        return self

    def stderr(self):
        with open(self.errpath, "rb") as f:
            return f.read()

    def send(self, data):
        self.proc.stdin.write(data if isinstance(data, bytes) else data.encode())
        self.proc.stdin.flush()

    def recv(self, timeout):
        fd = self.proc.stdout.fileno()
        if not select.select([fd], [], [], timeout)[0]:
            return None
        chunk = os.read(fd, 1 << 20)
        check(chunk, "the co-process closed its stdout: " +
              self.stderr()[-2000:].decode(errors="replace"))
        return chunk

    def close(self):
        pass  # the session is the process

    def finish(self):
        """EOF on stdin, as when pdns stops; returns (exit status, stderr)."""
        self.proc.stdin.close()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            stop(self.proc)
            raise Failure("the co-process did not exit at EOF")
        self.proc.stdout.close()
        return self.proc.returncode, self.stderr()


def expect_log(d, mark, msg, timeout=3):
    """Waits for the daemon's log line for a refused request: 'proto: WHERE: msg'."""
    pat = re.compile(rb"warning proto: " + d.where + rb": " + re.escape(msg.encode()))
    try:
        wait_for(lambda: pat.search(d.stderr()[mark:]), timeout, "the log line")
    except Failure:
        raise Failure(f"no log line '{d.kind} ...: {msg}' in:\n" +
                      d.stderr()[mark:][-1500:].decode(errors="replace")) from None


def served(d, c=None):
    """(b) and (c): the daemon runs and answers a lookup on the connection that misbehaved (if it
    is still open), on the other connections (unix), and on a new one."""
    check(d.proc.poll() is None, f"the daemon exited ({d.proc.returncode}): " +
          d.stderr()[-2000:].decode(errors="replace"))
    if c is not None:
        www_ok(c.ask(LOOKUP), "lookup on the same connection afterwards")
    if d.bystander is not None:
        www_ok(d.bystander.ask(LOOKUP), "lookup on another connection")
        fresh = d.conn()
        try:
            www_ok(fresh.ask(LOOKUP), "lookup on a new connection")
        finally:
            fresh.close()


def bad_request(d, c, req, *words, log=True):
    """Sends one bad request; asserts the refusal, its log line, and service afterwards."""
    d.budget.take()
    mark = len(d.stderr())
    text = refused(c.ask(req), *words)
    if log:
        expect_log(d, mark, text)
    served(d, c)
    return text


def run_pipe_once(binary, store, tmp, data, *extra):
    """A short-lived co-process fed `data` then EOF: returns (stdout lines, stderr); asserts a
    zero exit status and no sanitizer report."""
    r = subprocess.run([binary, *ROOT, "--config", store, "--state-dir",
                        os.path.join(tmp, "state"), *extra], input=data, capture_output=True,
                       timeout=60)
    no_sanitizer(r.stderr, "the co-process")
    eq(r.returncode, 0, "exit status of the co-process at EOF: " +
       r.stderr[-1500:].decode(errors="replace"))
    check(r.stdout.endswith(b"\n"), f"output ends in a newline: {r.stdout[-200:]!r}")
    return [l + b"\n" for l in r.stdout[:-1].split(b"\n")], r.stderr


def asan_build(binary):
    with open(binary, "rb") as f:
        return b"__asan_init" in f.read()


# ---- protocol entries (both connectors) ---------------------------------------------------------

PROTOCOL = []


def protocol(fn):
    PROTOCOL.append(fn)
    return fn


NOT_AN_OBJECT = 'bad request: expected {"method": "...", "parameters": {...}}'

# Entries that are a list of (request, what its refusal says): each is refused with that in the
# reply's log and the daemon's log, and the daemon goes on serving.
SIMPLE = {
    "malformed_json": [
        ('{"method": lookup, "parameters": {}}', "bad request: unexpected character at byte 11"),
        ('{"method": "lookup", "parameters": {"qname": "www.example.com.",}}',
         "bad request: unexpected character at byte 64"),
        ('{"method": "lookup"} {"method": "lookup"}',
         "bad request: unexpected character at byte 21")],
    "empty_line": [("", "empty request line"), (" \t \r", "empty request line")],
    "empty_object_and_other_non_objects": [
        (r, NOT_AN_OBJECT) for r in ("{}", "[]", "null", "17", '"lookup"')],
    "ten_mb_line_with_the_default_max_line": [
        ("y" * (10 * MB), "bad request: unexpected character at byte 0"),
        # over the default --max-line (16 MiB): refused without being buffered
        ("y" * (17 * MB), "request line longer than 16777216 bytes, discarded")],
    "deeply_nested_json": [
        ("[" * 100000, "bad request: nesting too deep at byte 16"),
        ('{"a":' * 100000, "bad request: nesting too deep at byte 80"),
        ('{"method":"lookup","parameters":{"qname":' + "[" * 100000,
         "bad request: nesting too deep at byte 55")],
    "nul_bytes_inside_a_line": [
        (b'{"method":"lookup","parameters":{"qname":"www.exa\x00mple.com.","qtype":"A"}}',
         "request contains a NUL byte"),
        (b"\x00", "request contains a NUL byte")],
    "invalid_utf8_in_strings_and_keys": [
        (b'{"method":"lookup","parameters":{"qname":"www.ex\xffample.com.","qtype":"A"}}',
         "bad request: invalid utf-8 string at byte 48"),
        (b'{"method":"lookup","parameters":{"q\xc3name":"www.example.com.","qtype":"A"}}',
         "bad request: invalid utf-8 string at byte 36"),
        (b'{"method":"look\x80up","parameters":{}}',  # a lone continuation byte
         "bad request: invalid utf-8 string at byte 15")],
    "method_not_a_string": [
        ('{"method":%s,"parameters":{}}' % m, NOT_AN_OBJECT)
        for m in ("5", "null", "[]", "{}", "true")] + [
        ('{"parameters":{"qname":"www.example.com.","qtype":"A"}}', NOT_AN_OBJECT)],
    "parameters_not_an_object": [
        ('{"method":"lookup","parameters":%s}' % p, "bad request: 'parameters' must be an object")
        for p in ("[1]", '"x"', "5", "true")] + [
        # null or missing parameters are an empty object: the method names what it misses
        ('{"method":"getDomainInfo","parameters":null}', "getDomainInfo: missing parameter 'name'"),
        ('{"method":"getDomainInfo"}', "getDomainInfo: missing parameter 'name'")],
}


def refuses_each(name, cases):
    def entry(g, d):
        c = d.conn()
        for req, *words in cases:
            bad_request(d, c, req, *words)
    entry.__name__ = name
    return entry


for _name, _cases in SIMPLE.items():
    protocol(refuses_each(_name, _cases))


@protocol
def truncated_json_then_more_lines(g, d):
    c = d.conn()
    d.budget.take()
    mark = len(d.stderr())
    c.send('{"method":"lookup","parameters":{"qname":"www.exa\n' + LOOKUP + "\n")
    refused(c.reply(), "bad request: unexpected end of JSON at byte 49")
    www_ok(c.reply(), "the next line's answer")
    expect_log(d, mark, "bad request: unexpected end of JSON at byte 49")
    served(d, c)


@protocol
def truncated_json_then_eof(g, d):
    part = b'{"method":"lookup","parameters":{"qname":"www.exa'
    want = "bad request: unexpected end of JSON at byte 49"
    if d.kind == "pipe":  # pdns closes stdin: the co-process answers the last line and exits
        lines, err = run_pipe_once(g.binary, g.store, g.tmp,
                                   LOOKUP.encode() + b"\n" + part)
        eq(len(lines), 2, f"replies: {lines}")
        www_ok(lines[0])
        refused(lines[1], want)
        check(b"warning proto: pipe: " + want.encode() in err, err)
        served(d)
        return
    # unix: the client shuts down its sending side; the unterminated request is answered, then
    # the daemon closes the connection.
    c = d.conn()
    d.budget.take()
    mark = len(d.stderr())
    c.send(LOOKUP + "\n")
    c.send(part)
    c.s.shutdown(socket.SHUT_WR)
    www_ok(c.reply())
    refused(c.reply(), want)
    check(c.closed_by_peer(), "the daemon closes the connection after EOF")
    c.close()
    expect_log(d, mark, want)
    served(d)


@protocol
def huge_valid_json(g, d):
    """A 10 MB string value and a 100,000-element array inside a lookup (under the default
    --max-line): answered; memory goes back once answered."""
    c = d.conn()
    rss0 = rss_mb(d.pid)
    pad = '{"method":"lookup","parameters":{"qname":"www.example.com.","qtype":"A","pad":%s}}'
    www_ok(c.ask(pad % json.dumps("x" * (10 * MB))), "lookup with a 10 MB string value")
    grown = rss_mb(d.pid) - rss0
    # The connection stays open: its 10 MB input buffer must not stay with it.
    check(grown < 8, f"RSS grew by {grown:.0f} MB after the request was answered")
    www_ok(c.ask(pad % json.dumps(list(range(100000)))), "lookup with a 100,000-element array")
    www_ok(c.ask(pad % json.dumps({f"k{i}": i for i in range(50000)})),
           "lookup with a 50,000-member object")
    served(d, c)


@protocol
def too_many_json_values(g, d):
    """7 million values in 15 MB (json-c would spend 500 MB and seconds on them)."""
    c = d.conn()
    t0 = time.monotonic()
    req = ('{"method":"lookup","parameters":{"qname":"www.example.com.","qtype":"A","pad":[' +
           "1," * (7 * MB) + "1]}}")
    bad_request(d, c, req, "bad request: more than 200000 JSON values")
    took = time.monotonic() - t0
    check(took < 5, f"refusing took {took:.1f}s")
    check(rss_mb(d.pid) < 100, f"RSS {rss_mb(d.pid):.0f} MB after refusing")


@protocol
def ten_mb_line_with_a_small_max_line(g, d):
    want = "request line longer than 65536 bytes, discarded"
    line = b'{"method":"lookup","parameters":{"qname":"' + b"x" * (10 * MB) + b'"}}'
    if d.kind == "pipe":
        lines, err = run_pipe_once(g.binary, g.store, g.tmp,
                                   line + b"\n" + LOOKUP.encode() + b"\n", "--max-line", "65536")
        eq(len(lines), 2, f"replies: {lines}")
        refused(lines[0], want)
        www_ok(lines[1])
        check(b"warning proto: pipe: " + want.encode() in err, err)
        served(d)
        return
    small = Unix(g.binary, g.tmp, g.store, "--max-line", "65536")
    try:
        c = small.conn()
        rss0 = rss_mb(small.pid)
        bad_request(small, c, line, want)
        grown = rss_mb(small.pid) - rss0
        check(grown < 8, f"RSS grew by {grown:.0f} MB: the discarded line was buffered")
    finally:
        rc, err = small.finish()
    no_sanitizer(err, "the --max-line daemon")
    eq(rc, 0, "exit status of the --max-line daemon")
    served(d)


@protocol
def unknown_methods(g, d):
    """Documented: plain {"result":false}, which pdns reads as "not supported" (it calls some of
    these itself, so they are not logged as errors)."""
    c = d.conn()
    for m in ("frobnicate", "getDomainKeys", "searchRecords", "setNotified", ""):
        eq(c.ask(json.dumps({"method": m, "parameters": {}})), b'{"result":false}\n', m)
    served(d, c)


LONG_NAME = ".".join(["abcdefghi"] * 26) + ".example.com."    # 273 bytes
LONG_LABEL = "a" * 64 + ".example.com."


@protocol
def names_over_255_bytes_and_labels_over_63(g, d):
    c = d.conn()
    for name, why in ((LONG_NAME, "is longer than 255 bytes"),
                      (LONG_LABEL, "has a label longer than 63 bytes")):
        bad_request(d, c, json.dumps({"method": "lookup", "parameters": {
            "qname": name, "qtype": "A", "zone-id": -1}}), "lookup: parameter 'qname':", why)
        bad_request(d, c, json.dumps({"method": "list", "parameters": {
            "domain_id": -1, "zonename": name}}), "list: parameter 'zonename':", why)
        bad_request(d, c, json.dumps({"method": "getDomainInfo", "parameters": {"name": name}}),
                    "getDomainInfo: parameter 'name':", why)
        eq(c.ask('{"method":"startTransaction","parameters":{"domain":"example.com.",'
                 '"domain_id":-1}}'), b'{"result":true}\n', "startTransaction")
        bad_request(d, c, json.dumps({"method": "replaceRRSet", "parameters": {
            "qname": name, "qtype": "A", "rrset": []}}), "replaceRRSet: '", why)
        rr = {"qname": name, "qtype": "A", "content": "192.0.2.1", "ttl": 60}
        bad_request(d, c, json.dumps({"method": "replaceRRSet", "parameters": {
            "qname": "www.example.com.", "qtype": "A", "rrset": [rr]}}),
            "replaceRRSet: rrset[0]: '", why)
        eq(c.ask('{"method":"abortTransaction","parameters":{}}'), b'{"result":true}\n', "abort")


# ---- wrong types for every parameter of every method ------------------------------------------

RR = {"qname": "www.example.com.", "qtype": "A", "content": "192.0.2.77", "ttl": 300, "auth": True}
STR, OPT_STR, INT, ARRAY, OBJECT = "str", "optional str", "int", "array", "object"
TXN = {"replaceRRSet", "feedRecord", "feedEnts", "feedEnts3", "commitTransaction"}


def method_table(kind, store):
    """Every method the dispatcher knows (backend/dispatch.c's table), a valid request of it that
    changes nothing, and the type of each parameter it reads (None: ignored)."""
    return {
        "initialize": ({"config": store, "path": "x", "timeout": "2000"},
                       {"config": OPT_STR if kind == "pipe" else None, "path": None,
                        "timeout": None}),
        "lookup": ({"qname": "www.example.com.", "qtype": "A", "zone-id": -1, "remote": "127.0.0.1",
                    "real-remote": "127.0.0.1/32", "local": "127.0.0.1"},
                   {"qname": STR, "qtype": STR, "zone-id": INT, "remote": None,
                    "real-remote": None, "local": None}),
        "list": ({"domain_id": -1, "zonename": "example.com.", "include_disabled": False},
                 {"domain_id": INT, "zonename": STR, "include_disabled": None}),
        "getAllDomains": ({"include_disabled": True}, {"include_disabled": None}),
        "getDomainInfo": ({"name": "example.com."}, {"name": STR}),
        "getAllDomainMetadata": ({"name": "example.com."}, {"name": STR}),
        "getDomainMetadata": ({"name": "example.com.", "kind": "ALLOW-AXFR-FROM"},
                              {"name": STR, "kind": STR}),
        # An unknown zone, so that no variant writes the store.
        "setDomainMetadata": ({"name": "nosuch.example.", "kind": "X-TEST", "value": ["1"]},
                              {"name": STR, "kind": STR, "value": ARRAY}),
        "directBackendCmd": ({"query": "version"}, {"query": STR}),
        "startTransaction": ({"domain": "example.com.", "domain_id": -1, "trxid": 1},
                             {"domain": STR, "domain_id": INT, "trxid": None}),
        "replaceRRSet": ({"domain_id": -1, "qname": "www.example.com.", "qtype": "A",
                          "rrset": [RR], "trxid": 1},
                         {"domain_id": None, "qname": STR, "qtype": STR, "rrset": ARRAY,
                          "trxid": None, ("rrset", 0, "qname"): STR, ("rrset", 0, "qtype"): STR,
                          ("rrset", 0, "content"): STR, ("rrset", 0, "ttl"): INT,
                          ("rrset", 0, "auth"): None}),
        "feedRecord": ({"rr": RR, "trxid": 1},
                       {"rr": OBJECT, "trxid": None, ("rr", "qname"): STR, ("rr", "qtype"): STR,
                        ("rr", "content"): STR, ("rr", "ttl"): INT, ("rr", "auth"): None}),
        "feedEnts": ({"domain_id": -1, "nonterm": ["a.b"], "trxid": 1},
                     {"domain_id": None, "nonterm": None, "trxid": None}),
        "feedEnts3": ({"domain_id": -1, "domain": "example.com.", "times": 1, "salt": "",
                       "narrow": False, "nonterm": ["a.b"], "trxid": 1},
                      {k: None for k in ("domain_id", "domain", "times", "salt", "narrow",
                                         "nonterm", "trxid")}),
        "commitTransaction": ({"trxid": 1}, {"trxid": None}),
        "abortTransaction": ({"trxid": 1}, {"trxid": None}),
    }


VALUES = [("null", None), ("a number", 7), ("a string", "s"), ("an array", []),
          ("an object", {}), ("a bool", True), ("missing", ...)]


def wrong_for(want, value):
    """Whether value is of the wrong type for a parameter of type want (None/missing: only
    where the parameter is required)."""
    if want == INT:  # null or missing: the default
        return value is not ... and value is not None and (
            isinstance(value, bool) or not isinstance(value, int))
    if want == STR:
        return not isinstance(value, str)
    if want == OPT_STR:
        return value is not ... and not isinstance(value, str)
    if want == ARRAY:
        return not isinstance(value, list)
    return not isinstance(value, dict)


def wrong_types(g, d, method):
    """Every parameter of `method` set to null, a number, a string, an array, an object, a bool,
    and left out: one well-formed reply line each; a wrong type is refused with a log naming the
    parameter; an ignored parameter changes nothing; the session keeps answering."""
    c = d.conn()
    good, types = method_table(d.kind, g.store)[method]

    def ask(params):
        if method in TXN:
            eq(c.ask('{"method":"startTransaction","parameters":{"domain":"example.com.",'
                     '"domain_id":-1}}'), b'{"result":true}\n', "startTransaction")
        line = c.ask(json.dumps({"method": method, "parameters": params}))
        if method in TXN:
            c.ask('{"method":"abortTransaction","parameters":{}}')
        return line

    baseline = ask(good)
    reply_obj(baseline, f"{method} with valid parameters")
    n = 0
    for path, want in types.items():
        path = path if isinstance(path, tuple) else (path,)
        name = path[-1]
        where = ("rrset[0]: " if path[0] == "rrset" and len(path) > 1 else "")
        for vname, value in VALUES:
            params = json.loads(json.dumps(good))
            o = params
            for k in path[:-1]:
                o = o[k]
            if value is ...:
                del o[path[-1]]
            else:
                o[path[-1]] = value
            what = f"{method} with {'.'.join(map(str, path))} {vname}"
            line = ask(params)
            r = reply_obj(line, what)
            n += 1
            if want is None:
                eq(line, baseline, f"{what} (an ignored parameter)")
            elif wrong_for(want, value):
                text = refused(line, what=what)
                check(text.startswith(method + ": " + where),
                      f"{what}: the log does not name the method{' and record' * bool(where)}: "
                      f"{text!r}")
                check(f"'{name}'" in text or want == OBJECT and "a record must be an object"
                      in text, f"{what}: the log does not name '{name}': {text!r}")
            else:
                check(r["result"] is not None or method == "commitTransaction", what)
            www_ok(c.ask(LOOKUP), f"lookup after {what}")
    served(d, c)
    return n


# ---- unix socket clients that misbehave -------------------------------------------------------

class Drip(threading.Thread):
    """A client that sends its request one byte a second, while another connection of its own
    measures how long lookups take meanwhile."""
    REQ = b'{"method":"getAllDomains"}\n'

    def __init__(self, d):
        super().__init__(daemon=True)
        self.c, self.probe = d.conn(), d.conn()
        self.worst, self.lookups, self.error = 0.0, 0, None
        self.t0 = time.monotonic()

    def run(self):
        try:
            for i in range(len(self.REQ)):
                self.c.send(self.REQ[i:i + 1])
                t = time.monotonic()
                www_ok(self.probe.ask(LOOKUP, timeout=5))
                self.worst = max(self.worst, time.monotonic() - t)
                self.lookups += 1
                time.sleep(max(0.0, self.t0 + i + 1 - time.monotonic()))
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e


def client_sends_nothing(g, d, notes):
    """Connected at the start of the group and silent since: still connected (there is no idle
    timeout) and served when it finally asks."""
    idle = time.monotonic() - g.idle_since
    check(not g.idle.closed_by_peer(timeout=0.05), "the idle connection was closed")
    www_ok(g.idle.ask(LOOKUP), "the idle client's lookup")
    notes.append(f"idle for {idle:.0f}s")
    g.idle.close()


def client_sends_one_byte_a_second(g, d, notes):
    drip = g.drip
    drip.join(len(Drip.REQ) + 10)
    check(not drip.is_alive(), "the dripping client did not finish")
    if drip.error:
        raise drip.error
    r = reply_obj(drip.c.reply(timeout=5), "the dripping client's getAllDomains")
    eq(sorted(z["zone"] for z in r["result"]), ["example.com.", "example.net.", "lab.example.com."],
       "zones")
    notes.append(f"{len(Drip.REQ)} bytes in {time.monotonic() - drip.t0:.0f}s; "
                 f"{drip.lookups} lookups meanwhile, the slowest {drip.worst * 1000:.0f} ms")
    check(drip.worst < 1.0, f"a lookup took {drip.worst:.2f}s while the client dripped")
    drip.c.close()
    drip.probe.close()


def client_never_reads_replies(g, d, notes):
    c = d.conn()
    rss0 = rss_mb(d.pid)
    batch = (LOOKUP + "\n").encode() * 1000
    sent, stalled = 0, False
    c.s.settimeout(1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and sent < 256 * MB:
        try:
            sent += c.s.send(batch)
        except socket.timeout:
            stalled = True
            break
    grown = rss_mb(d.pid) - rss0
    notes.append(f"the daemon stopped reading after {sent / MB:.1f} MB; RSS +{grown:.1f} MB")
    check(stalled, f"the daemon kept reading ({sent / MB:.0f} MB) from a client that never reads")
    check(grown < 32, f"RSS grew by {grown:.0f} MB")
    served(d)
    c.close()
    served(d)


def settled_fds(pid):
    """The daemon's descriptor count once it stops changing (closes still being noticed)."""
    last, since = fds(pid), time.monotonic()
    deadline = since + 5
    while time.monotonic() < deadline and time.monotonic() - since < 0.3:
        time.sleep(0.05)
        n = fds(pid)
        if n != last:
            last, since = n, time.monotonic()
    return last


def client_connects_and_disconnects_1000_times(g, d, notes):
    fd0 = settled_fds(d.pid)
    t0 = time.monotonic()
    refused_ = 0
    for i in range(1000):
        s = d.connect()
        try:
            if i % 3 == 1:
                s.sendall(b'{"method":"lookup","parameters":{"qn')  # half a request
            elif i % 3 == 2:
                s.sendall((LOOKUP + "\n").encode())  # a request whose reply nobody reads
        except OSError:
            refused_ += 1  # over --max-connections for a moment (closes not yet seen)
        s.close()
    took = time.monotonic() - t0

    def answered():  # then every connection before this one has been accepted
        try:
            c = d.conn()
            try:
                www_ok(c.ask(LOOKUP, timeout=2))
            finally:
                c.close()
            return True
        except (OSError, Failure):
            return False  # refused: the limit still counts closed ones not yet seen closing
    wait_for(answered, 10, "a new connection answered after the 1000")
    wait_for(lambda: fds(d.pid) <= fd0, 5, f"the daemon's descriptors back to {fd0}")
    # Every connection was accounted for: a daemon limited to 64 takes 40 more at once.
    mark = len(d.stderr())
    conns = [d.conn() for _ in range(40)]
    try:
        for c in conns:
            www_ok(c.ask(LOOKUP))
    except OSError as e:
        raise Failure(f"{e}; log: {d.stderr()[mark:][-500:]!r}") from None
    for c in conns:
        c.close()
    served(d)
    notes.append(f"1000 connections in {took:.1f}s ({refused_} closed at once: the limit)")


# ---- invalid store files ----------------------------------------------------------------------

def base_store():
    return {"zones": {"example.com.": {"records": {
        "@": [{"type": "SOA", "content": SOA}, {"type": "NS", "content": "ns1"}],
        "ns1": [{"type": "A", "content": "192.0.2.53"}],
        "www": [{"type": "A", "content": w} for w in WWW]}}}}


def pool_store(members=None, check="web", checks=None, **pool):
    s = base_store()
    s["checks"] = checks if checks is not None else {
        "web": {"type": "http", "port": 80, "interval": 5, "timeout": 2}}
    p = {"check": check, "members": members if members is not None else [
        {"name": "a", "address": "192.0.2.1"}]}
    p.update(pool)
    s["pools"] = {"web": p}
    s["zones"]["example.com."]["records"]["pool"] = [{"type": "A", "pool": "web"}]
    return s


def records(**r):
    s = base_store()
    s["zones"]["example.com."]["records"].update(r)
    return s


def dump(o):
    return json.dumps(o, indent=1).encode()


ZONE = 'zones["example.com."]'
REC = ZONE + ".records"


def store_catalogue():
    """name -> (file content, or "dir"/"unreadable"; errors expected, each after '<file>: ')."""
    good = dump(base_store())
    s = base_store()
    s["zones"]["example.com."]["recrods"] = {}
    s["zones"]["example.com."]["records"]["www"][0]["contnet"] = "x"
    unknown_zone_record = dump(s)
    soa = base_store()
    soa["zones"]["example.com."]["records"]["@"][0]["content"] = "ns1 hostmaster 1 2 3"
    nosoa = base_store()
    del nosoa["zones"]["example.com."]["records"]["@"][0]
    return {
        "not JSON": (b"zones: {example.com: {}}\n",
                     ["line 1, column 1: JSON syntax error: unexpected character"]),
        "truncated": (good[:len(good) * 2 // 3],
                      ["JSON syntax error: unexpected end of input (truncated file?)"]),
        "empty file": (b"", ["line 1, column 1: JSON syntax error: unexpected end of input"]),
        "a directory": ("dir", ["not a regular file"]),
        "unreadable": ("unreadable", ["cannot open the store file (Permission denied)"]),
        "duplicate keys": (
            good.replace(b'"ns1": [', b'"www": [{"type": "A", "content": "192.0.2.99"}],\n'
                                      b'  "ns1": ['),
            ['duplicate key "www" in one object (the one at line ']),
        "wrong types at each level": (dump({
            "zones": {"example.com.": {"ttl": "1h", "metadata": {"X": "y"}, "records": {
                "@": {"type": "SOA"}, "www": ["192.0.2.1"],
                "x": [{"type": 1, "content": 2, "ttl": "60"}]}},
                "example.net.": "zone"},
            "checks": {"web": "http"}, "pools": {"web": {"check": 5, "members": [
                "192.0.2.1", {"name": 5, "address": "192.0.2.2", "tier": "1", "weight": -1}]}}}), [
            f'{ZONE}.ttl: ttl must be a whole number from 0 to 2147483647, got "1h"',
            f'{ZONE}.metadata["X"]: expected an array of strings, got "y"',
            f'{REC}["@"]: expected an array of records, got {{"type":"SOA"}}',
            f'{REC}["www"][0]: expected a record object',
            f'{REC}["x"][0].type: expected a type name such as "A", got 1',
            f'{REC}["x"][0].content: expected a string, got 2',
            f'{REC}["x"][0].ttl: ttl must be a whole number from 0 to 2147483647, got "60"',
            'zones["example.net."]: expected a zone object, got "zone"',
            'checks["web"]:', 'pools["web"].check:', 'pools["web"].members[0]:',
            'pools["web"].members[1].name:', 'pools["web"].members[1].tier:',
            'pools["web"].members[1].weight:']),
        "the top level not an object": (b"[]", ['the top level must be an object like {"zones"']),
        "unknown keys": (dump(dict(pool_store(
            members=[{"name": "a", "adress": "192.0.2.1"}], checks={"web": {
                "type": "http", "intervall": 5}}, polcy="all"), zone="x")), [
            '["zone"]: unknown key (expected one of: zones, checks, pools, notify, pdns)',
            'checks["web"]["intervall"]: unknown key (expected one of: type, port,',
            'pools["web"]["polcy"]: unknown key (expected one of: policy, check,',
            'pools["web"].members[0]["adress"]: unknown key (expected one of: name, address,']),
        "unknown keys in a zone and a record": (unknown_zone_record, [
            f'{ZONE}["recrods"]: unknown key (expected one of: ttl, records, metadata)',
            f'{REC}["www"][0]["contnet"]: unknown key (expected one of: type, content, pool, '
            'ttl)']),
        "bad record content of every type": (dump(records(**{
            "a": [{"type": "A", "content": "192.0.2.300"}],
            "aaaa": [{"type": "AAAA", "content": "2001:db8::zz"}],
            "ns": [{"type": "NS", "content": "a..b"}],
            "cname": [{"type": "CNAME", "content": "x y"}],
            "ptr": [{"type": "PTR", "content": ""}],
            "mx": [{"type": "MX", "content": "70000 mail"}],
            "txt": [{"type": "TXT", "content": "\"unbalanced"}],
            "srv": [{"type": "SRV", "content": "1 2 port sip"}],
            "caa": [{"type": "CAA", "content": "0 is-sue \"x\""}],
            "naptr": [{"type": "NAPTR", "content": "1 2 S SIP x"}],
            "sshfp": [{"type": "SSHFP", "content": "4 2 abc"}],
            "tlsa": [{"type": "TLSA", "content": "3 1 1 xyz"}],
            "ds": [{"type": "DS", "content": "1 13 2 00"}],
            "https": [{"type": "HTTPS", "content": "1 . alpn="}],
            "svcb": [{"type": "SVCB", "content": "x . port=1"}],
            "bogus": [{"type": "BOGUS", "content": "x"}]})), [
            f"{REC}[\"a\"][0].content: '192.0.2.300' is not an IPv4 address",
            f"{REC}[\"aaaa\"][0].content: '2001:db8::zz' is not an IPv6 address",
            f"{REC}[\"ns\"][0].content: 'a..b' has an empty label",
            f'{REC}["cname"][0].content: CNAME needs 1 field (target name), got 2',
            f'{REC}["ptr"][0].content: PTR needs 1 field (target name), got 0',
            f"{REC}[\"mx\"][0].content: MX preference '70000' is not a number from 0 to 65535",
            f"{REC}[\"txt\"][0].content: '\"unbalanced' has an unbalanced quote",
            f"{REC}[\"srv\"][0].content: SRV port 'port' is not a number from 0 to 65535",
            f"{REC}[\"caa\"][0].content: CAA tag 'is-sue' is not 1 to 15 letters and digits",
            f'{REC}["naptr"][0].content: NAPTR needs 6 fields',
            f"{REC}[\"sshfp\"][0].content: 'abc' is not a hex string",
            f"{REC}[\"tlsa\"][0].content: 'xyz' is not a hex string",
            f'{REC}["ds"][0].content: DS digest type 2 needs 32 bytes (64 hex digits), got 1',
            f"{REC}[\"https\"][0].content: SvcParam 'alpn' needs a value",
            f"{REC}[\"svcb\"][0].content: SVCB priority 'x' is not a number from 0 to 65535",
            f"{REC}[\"bogus\"][0].type: 'BOGUS' is not a supported record type",
            "16 errors"]),
        "a bad SOA": (dump(soa), [f'{REC}["@"][0].content: SOA needs 7 fields']),
        "bad names": (dump(records(**{
            "a" * 64: [{"type": "A", "content": "192.0.2.1"}],
            LONG_NAME[:-len(".example.com.")]: [{"type": "A", "content": "192.0.2.1"}],
            "a..b": [{"type": "A", "content": "192.0.2.1"}],
            "www.example.org.": [{"type": "A", "content": "192.0.2.1"}],
            "alias": [{"type": "CNAME", "content": "x" * 64}]})), [
            f'{REC}["{"a" * 64}"]: \'{"a" * 64}\' has a label longer than 63 bytes',
            "' is longer than 255 bytes",
            f"{REC}[\"a..b\"]: 'a..b' has an empty label",
            f"{REC}[\"www.example.org.\"]: 'www.example.org.' is not inside zone 'example.com.'",
            f'{REC}["alias"][0].content:']),
        "a zone without an SOA": (dump(nosoa), [
            f"{REC}: the zone needs exactly one SOA record at '@', found 0"]),
        "a pool with an unknown check": (dump(pool_store(check="nosuch")), [
            "pools[\"web\"].check: there is no check 'nosuch' in \"checks\""]),
        "bad member addresses": (dump(pool_store(members=[
            {"name": "a", "address": "web.unresolvable.invalid"},
            {"name": "b", "address": "192.0.2.300"},
            {"name": "c", "address": "192.0.2.3", "check_address": "::zz"}])), [
            "pools[\"web\"].members[0].address: 'web.unresolvable.invalid' is not an IPv4 or IPv6",
            "pools[\"web\"].members[1].address: '192.0.2.300' is not an IPv4 or IPv6 address",
            "pools[\"web\"].members[2].check_address: '::zz' is not an IPv4 or IPv6 address"]),
        "bad durations": (dump(pool_store(checks={
            "web": {"type": "http", "interval": "fast", "timeout": -1},
            "w2": {"type": "http", "interval": 1, "timeout": 5},
            "w3": {"type": "tcp", "port": 1, "interval": 1e9}})), [
            'checks["web"].interval: interval must be a number of seconds from 0.1 to 86400, '
            'got "fast"',
            'checks["web"].timeout: timeout must be a number of seconds from 0.05 to 3600, got -1',
            'checks["w2"].timeout: 5 s must be less than the interval (1 s)',
            'checks["w3"].interval: interval must be a number of seconds from 0.1 to 86400']),
        "duplicate member names": (dump(pool_store(members=[
            {"name": "a", "address": "192.0.2.1"}, {"name": "a", "address": "192.0.2.2"}])), [
            "pools[\"web\"].members[1].name: 'a' is already a member of this pool"]),
        "too many members (--max-members 4)": (dump(pool_store(members=[
            {"name": f"m{i}", "address": f"192.0.2.{i + 1}"} for i in range(5)])), [
            'pools["web"].members: 5 members; a pool has at most 4 (--max-members)']),
        "too big (--max-store-bytes 65536)": (dump(records(big=[
            {"type": "TXT", "content": f'"{i:03} ' + "x" * 200 + '"'} for i in range(500)])), [
            "the limit is 65536 (--max-store-bytes)"]),
        "deep nesting": (b'{"zones": ' + b"[" * 60000, ["JSON syntax error: nesting too deep"]),
        "a NUL byte": (good.replace(b"192.0.2.10", b"192.0\x00.2.10"), [
            "JSON syntax error: NUL byte in the file"]),
        "invalid UTF-8 in a string": (good.replace(b"192.0.2.10", b"192.0\xff.2.10"), [
            "JSON syntax error: invalid utf-8 string"]),
        "invalid UTF-8 in a key": (good.replace(b'"www"', b'"w\xc3w"'), [
            "JSON syntax error: invalid utf-8 string"]),
    }


STORE_LIMITS = ["--max-members", "4", "--max-store-bytes", "65536"]


def as_nobody():
    """The command prefix that drops root (reading files is what "unreadable" needs to fail)."""
    if os.geteuid() != 0:
        return []
    check(shutil.which("setpriv"), "setpriv (util-linux) is needed to run as nobody")
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]


def put_store(path, content):
    """Puts a catalogue entry at path: atomically (a rename) for a file."""
    if os.path.isdir(path):
        os.rmdir(path)
    if content == "dir":
        os.unlink(path)
        os.mkdir(path)
        return
    tmp = path + ".new"
    with open(tmp, "wb") as f:
        f.write(dump(base_store()) + b" " if content == "unreadable" else content)
    os.chmod(tmp, 0o000 if content == "unreadable" else 0o644)
    os.replace(tmp, path)


def check_config_entry(g, name, content, wants):
    path = os.path.join(g.open_dir, "check-" + re.sub(r"\W+", "-", name) + ".json")
    if content == "dir":
        os.mkdir(path)
    else:
        put_store(path, content)
    r = subprocess.run([*as_nobody(), g.binary, *STORE_LIMITS, "--check-config", path],
                       capture_output=True, timeout=60)
    err = r.stderr.decode(errors="replace")
    no_sanitizer(r.stderr, "--check-config")
    eq(r.returncode, 1, f"exit status of --check-config ({err[-500:]})")
    eq(r.stdout, b"", "stdout of --check-config")
    lines = err.splitlines()
    for w in wants:
        check(any(l.startswith(path + ": ") and w in l for l in lines),
              f"no line '{path}: ...{w}...' in:\n{err[-3000:]}")
    m = re.search(r": (\d+) errors?$", lines[-1]) if lines else None
    check(m and lines[-1].startswith(path + ": "), f"last line is the count: {lines[-1:]}")
    check(int(m.group(1)) >= sum(1 for w in wants if not w.endswith(" errors")),
          f"count {m.group(1)} for {len(wants)} expected errors")


def reload_entry(g, name, content, wants):
    d = g.reloader
    n0 = d.stderr().count(b"reload failed")
    mark = len(d.stderr())
    put_store(g.reload_store, content)
    wait_for(lambda: d.stderr().count(b"reload failed") > n0, 10, "the reload's failure")
    log = d.stderr()[mark:].decode(errors="replace")
    for w in wants:
        check(re.search(r"error store: " + re.escape(g.reload_store) + r": .*" + re.escape(w), log),
              f"no log line 'error store: {g.reload_store}: ...{w}...' in:\n{log[-3000:]}")
    check(re.search(re.escape(g.reload_store) + r": reload failed \(\d+ errors?\); still serving "
                    r"the previous store", log), log[-2000:])
    www_ok(d.conn_ask(LOOKUP), "lookup while the file is bad")
    eq(d.generation(), g.generation, "store generation (the previous store serves)")


class NobodyUnix:
    """A unix-mode daemon run as nobody when we are root (so that a file mode 000 cannot be
    read), in a directory nobody may use."""

    def __init__(self, binary, d, store, *extra):
        self.sock = os.path.join(d, "reload.sock")
        self.errpath = os.path.join(d, "reload.log")
        state = os.path.join(d, "state")
        os.mkdir(state)
        os.chmod(state, 0o777)
        with open(self.errpath, "wb") as err:
            self.proc = subprocess.Popen(
                [*as_nobody(), binary, "--config", store, "--listen", self.sock,
                 "--state-dir", state, *extra], stdout=subprocess.DEVNULL, stderr=err)
        wait_for(lambda: os.path.exists(self.sock) or self.proc.poll() is not None, 10, "socket")
        check(self.proc.poll() is None, "the daemon did not start: " +
              self.stderr().decode(errors="replace"))
        self.pid = self.proc.pid

    def stderr(self):
        with open(self.errpath, "rb") as f:
            return f.read()

    def conn_ask(self, req):
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.sock)
        c = Conn(s)
        try:
            return c.ask(req)
        finally:
            c.close()

    def generation(self):
        r = reply_obj(self.conn_ask('{"method":"directBackendCmd","parameters":{"query":"stats"}}'))
        m = re.search(r"store generation: (\d+)", r["result"])
        check(m, f"no store generation in stats: {r['result']!r}")
        return int(m.group(1))

    def finish(self):
        stop(self.proc)
        return self.proc.returncode, self.stderr()


# ---- endpoints that misbehave -----------------------------------------------------------------

class RawServer:
    """A TCP server on addr (a thread) that misbehaves: silent (accepts and never answers),
    endless (a 200 status and a chunked body that never ends), reset (reads the request and
    resets the connection)."""

    def __init__(self, addr, mode):
        self.mode, self.stopped = mode, False
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind((addr, 0))
        self.ls.listen(64)
        self.ls.settimeout(0.2)
        self.addr, self.port = addr, self.ls.getsockname()[1]
        self.held, self.bytes_sent, self.accepted = [], 0, 0
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                s, _ = self.ls.accept()
            except (socket.timeout, OSError):
                continue
            with self.lock:
                self.accepted += 1
            threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    def _serve(self, s):
        try:
            s.settimeout(5)
            if self.mode == "silent":
                with self.lock:
                    self.held.append(s)  # open until stop(), never a byte
                return
            s.recv(65536)
            if self.mode == "reset":
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
                return
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n")
            chunk = b"%x\r\n%s\r\n" % (16384, b"x" * 16384)
            while not self.stopped:
                s.sendall(chunk)
                with self.lock:
                    self.bytes_sent += len(chunk)
        except OSError:
            pass  # the prober gave up
        finally:
            if self.mode != "silent":
                s.close()

    def stop(self):
        self.stopped = True
        self.ls.close()
        with self.lock:
            for s in self.held:
                s.close()


def make_expired_cert(certdir):
    """A www.example.com certificate from the suite's CA, valid in January 2020 only."""
    def run(*args):
        r = subprocess.run(["openssl", *args], cwd=certdir, capture_output=True, text=True,
                           timeout=60)
        check(r.returncode == 0, f"openssl {' '.join(args)}: {r.stderr}")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
        "expired.key", "-out", "expired.csr", "-subj", "/CN=www.example.com")
    with open(os.path.join(certdir, "expired.ext"), "w") as f:
        f.write("subjectAltName=DNS:www.example.com\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n")
    with open(os.path.join(certdir, "ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca = ca_default\n[ca_default]\ndatabase = index.txt\n"
                "new_certs_dir = .\ncertificate = ca.pem\nprivate_key = ca.key\nserial = serial\n"
                "default_md = sha256\npolicy = policy_any\n[policy_any]\ncommonName = supplied\n")
    open(os.path.join(certdir, "index.txt"), "w").close()
    with open(os.path.join(certdir, "serial"), "w") as f:
        f.write("1000\n")
    run("ca", "-batch", "-config", "ca.cnf", "-in", "expired.csr", "-out", "expired.pem",
        "-startdate", "20200101000000Z", "-enddate", "20200201000000Z", "-extfile",
        "expired.ext", "-notext")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(certdir, "expired.pem"), os.path.join(certdir, "expired.key"))
    return ctx


NET_INTERVAL, NET_TIMEOUT, NET_FALL = 0.5, 0.4, 2


class Net:
    """The endpoints and the store of the network group: pool P answers tier 1 (address
    127.0.0.N, probed at the misbehaving endpoint) while it is up, else tier 2 (127.0.1.N, probed
    at a healthy server)."""

    def __init__(self, tmp, certdir):
        ctxs, ca = pools.make_certs(certdir)
        ctxs["expired"] = make_expired_cert(certdir)
        self.S = {
            "hub": pools.TestServer("127.0.0.131"),
            "count": pools.TestServer("127.0.0.132"),
            "badhost": pools.TestServer("127.0.0.133"),
            "silent": RawServer("127.0.0.134", "silent"),
            "endless": RawServer("127.0.0.135", "endless"),
            "reset": RawServer("127.0.0.136", "reset"),
            "expired": pools.TestServer("127.0.0.137", ctxs["expired"]),
            "selfsigned": pools.TestServer("127.0.0.138", ctxs["self"]),
            "wrongname": pools.TestServer("127.0.0.139", ctxs["wrong"]),
            "tlsgood": pools.TestServer("127.0.0.140", ctxs["good"]),
            "tlsbadhost": pools.TestServer("127.0.0.141", ctxs["good"]),
        }
        http = {"type": "http", "path": "/health", "body": "ok", "interval": NET_INTERVAL,
                "timeout": NET_TIMEOUT, "rise": 2, "fall": NET_FALL}
        https = dict(http, type="https", host="www.example.com", ca_file=ca)
        checks = {"http": http, "count": dict(http, path="/count"),
                  "http_badhost": dict(http, host="probe.unresolvable.invalid"),
                  "https": https, "https_badhost": dict(https, host="www.unresolvable.invalid")}
        self.pool_check = {"badhost": "http_badhost", "expired": "https", "selfsigned": "https",
                           "wrongname": "https", "tlsgood": "https",
                           "tlsbadhost": "https_badhost", "count": "count"}
        self.labels, self.tier1, self.tier2 = {}, {}, {}
        recs = base_store()["zones"]["example.com."]["records"]
        pools_ = {}
        for name, srv in self.S.items():
            if name == "hub":
                continue
            n = int(srv.addr.rsplit(".", 1)[1])
            chk = self.pool_check.get(name, "http")
            hub = self.S["tlsgood" if chk.startswith("https") else "hub"]  # passes the check
            self.tier1[name], self.tier2[name] = f"127.0.0.{n}", f"127.0.1.{n}"
            self.labels[name] = f"{srv.addr}:{srv.port}"
            members = [{"name": name + "1", "address": self.tier1[name], "tier": 1,
                        "check_port": srv.port},
                       {"name": name + "2", "address": self.tier2[name], "tier": 2,
                        "check_address": hub.addr, "check_port": hub.port}]
            if name == "tlsbadhost":  # no endpoint passes that check: one member
                members = members[:1]
            pools_[name] = {"policy": "failover", "check": chk, "members": members}
            recs[name] = [{"type": "A", "pool": name, "ttl": 5}]
        self.store = {"checks": checks, "pools": pools_,
                      "zones": {"example.com.": {"records": recs}}}
        self.store_path = os.path.join(tmp, "net-store.json")
        with open(self.store_path, "w") as f:
            json.dump(self.store, f, indent=1)

    def stop(self):
        for s in self.S.values():
            s.stop()


def lookup_pool(d, name):
    c = d.conn()
    try:
        r = reply_obj(c.ask(json.dumps({"method": "lookup", "parameters": {
            "qname": f"{name}.example.com.", "qtype": "A", "zone-id": -1}})))
    finally:
        c.close()
    return sorted(x["content"] for x in r["result"])


def ctl(g, *args):
    r = subprocess.run([g.binary, "ctl", "--socket", g.netd.path, *args], capture_output=True,
                       text=True, timeout=20)
    eq(r.returncode, 0, f"ctl {' '.join(args)}: {r.stderr}")
    return r.stdout


def endpoint_down(g, name, reason, notes, answer=None):
    """The endpoint goes down with `reason` (a regex) in the transition log and in `ctl explain`;
    the pool answers tier 2 (or `answer`); the daemon keeps answering."""
    net, d = g.net, g.netd
    label = net.labels[name]

    def seen():
        return [r for t, r in pools.transitions(d.stderr().decode(errors="replace"), label)
                if t.endswith("-> down")]
    wait_for(seen, NET_INTERVAL * NET_FALL + NET_TIMEOUT + 4, f"'{label} ... -> down' in the log")
    logged = seen()[0]
    check(re.fullmatch(f"{reason}(; {NET_FALL} of {NET_FALL} failed)?", logged),
          f"logged reason {logged!r}, want {reason!r}")
    out = ctl(g, "explain", f"{name}.example.com", "A")
    line = [l for l in out.splitlines() if l.strip().startswith(name + "1 ")]
    check(line and re.search(r"\bdown\b.*\(" + reason, line[0]) and "not eligible" in line[0],
          f"explain: {out}")
    eq(lookup_pool(d, name), answer or [net.tier2[name]], f"{name}: the answer")
    served(d)
    notes.append(logged)


# ---- the runner -------------------------------------------------------------------------------

class Group:
    pass


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--only", default="", help="run tests whose name contains this")
    ap.add_argument("--groups", default="unix,pipe,store,reload,network")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    g = Group()
    g.binary = os.path.abspath(args.binary)
    g.asan = asan_build(g.binary)
    if g.asan:
        # ASan holds freed memory in a quarantine of 256 MB, which would hide whether the daemon
        # gives memory back: a small one keeps the RSS checks meaningful (and still catches a
        # use after free of anything recent).
        os.environ["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=4"
    work = tempfile.mkdtemp(prefix="pf-badinput-")
    results = []
    t_start = time.monotonic()

    def run(name, fn, *a):
        if args.only and args.only not in name and not name.endswith("sanitizer report"):
            return True
        t0 = time.monotonic()
        notes = []
        try:
            r = fn(*a, notes) if "notes" in fn.__code__.co_varnames[:fn.__code__.co_argcount] \
                else fn(*a)
            if isinstance(r, int) and not isinstance(r, bool):
                notes.append(f"{r} requests")
            results.append((name, None))
            extra = f"; {'; '.join(notes)}" if notes else ""
            print(f"ok {len(results)} - {name} ({time.monotonic() - t0:.2f}s{extra})", flush=True)
            return True
        except Exception as e:  # noqa: BLE001 - every kind of failure is a test failure
            results.append((name, e))
            print(f"not ok {len(results)} - {name}", flush=True)
            where = [] if isinstance(e, Failure) else traceback.format_exc().splitlines()[-6:-1]
            for line in (f"{type(e).__name__}: {e}".splitlines() + where + notes)[:60]:
                print(f"#   {line}", flush=True)
            return False

    def finish_daemon(label, d, store=None, digest0=None):
        def end():
            rc, err = d.finish()
            no_sanitizer(err, label)
            eq(rc, 0, f"exit status of {label}: " + err[-1500:].decode(errors="replace"))
            if store:
                eq(digest(store), digest0, "the store file (nothing may change it)")
        run(f"{label}: exits 0 with no sanitizer report", end)

    groups = args.groups.split(",")
    try:
        g.tmp = work
        g.store = os.path.join(work, "store.json")
        shutil.copyfile(e2e.STORE, g.store)
        store_digest = digest(g.store)

        # -- protocol over the unix connector, and misbehaving unix clients. The idle and the
        # dripping client stay connected while the pipe and store groups run (27 s of drip).
        unix_d = None
        if "unix" in groups:
            d = unix_d = Unix(g.binary, work, g.store, "--max-connections", "64")
            try:
                g.idle, g.idle_since = d.conn(), time.monotonic()
                g.drip = Drip(d)
                g.drip.start()
                for fn in PROTOCOL:
                    run(f"unix: {fn.__name__}", fn, g, d)
                for m in method_table("unix", g.store):
                    run(f"unix: wrong types: {m}", wrong_types, g, d, m)
                d.budget.flood()
                run("unix client: sends requests and never reads replies",
                    client_never_reads_replies, g, d)
                run("unix client: connects and disconnects 1000 times",
                    client_connects_and_disconnects_1000_times, g, d)
            except BaseException:
                finish_daemon("unix daemon", d, g.store, store_digest)
                raise

        def unix_tail():
            try:
                run("unix client: connects and sends nothing", client_sends_nothing, g, unix_d)
                run("unix client: sends one byte a second", client_sends_one_byte_a_second, g,
                    unix_d)
            finally:
                finish_daemon("unix daemon", unix_d, g.store, store_digest)

        # -- protocol over the pipe connector
        if "pipe" in groups:
            d = Pipe(g.binary, work, g.store)
            try:
                eq(d.ask('{"method":"initialize","parameters":{"command":"x","timeout":"2000"}}'),
                   b'{"result":true}\n', "initialize")
                for fn in PROTOCOL:
                    run(f"pipe: {fn.__name__}", fn, g, d)
                for m in method_table("pipe", g.store):
                    run(f"pipe: wrong types: {m}", wrong_types, g, d, m)
            finally:
                finish_daemon("pipe co-process", d, g.store, store_digest)

        # -- invalid store files: --check-config, then a running daemon's reload
        if "store" in groups or "reload" in groups:
            g.open_dir = tempfile.mkdtemp(prefix="pf-badinput-nobody-")
            os.chmod(g.open_dir, 0o777)  # run as nobody: the work directory is root's
            catalogue = store_catalogue()
        if "store" in groups:
            for name, (content, wants) in catalogue.items():
                run(f"--check-config: {name}", check_config_entry, g, name, content, wants)
        if "reload" in groups:
            g.reload_store = os.path.join(g.open_dir, "store.json")
            put_store(g.reload_store, dump(base_store()))
            d = g.reloader = NobodyUnix(g.binary, g.open_dir, g.reload_store, *STORE_LIMITS)
            try:
                g.generation = d.generation()
                for name, (content, wants) in catalogue.items():
                    run(f"reload: {name}", reload_entry, g, name, content, wants)

                def fixed_file_is_served():
                    fixed = records(www=[{"type": "A", "content": "192.0.2.12"}])
                    put_store(g.reload_store, dump(fixed))
                    wait_for(lambda: d.generation() > g.generation, 10, "the fixed file served")
                    r = reply_obj(d.conn_ask(LOOKUP))
                    eq([x["content"] for x in r["result"]], ["192.0.2.12"], "the new answer")
                run("reload: a fixed file is served after all that", fixed_file_is_served)
            finally:
                finish_daemon("reload daemon", d)
            shutil.rmtree(g.open_dir, ignore_errors=True)

        if unix_d:
            unix_tail()
            unix_d = None

        # -- health-check endpoints that misbehave
        if "network" in groups:
            certdir = os.path.join(work, "certs")
            os.makedirs(certdir)
            net = g.net = Net(work, certdir)
            try:
                d = g.netd = Unix(g.binary, work, net.store_path)
                t_up = time.monotonic()
                rss0 = rss_mb(d.pid)
                cnt = net.S["count"]
                c0 = cnt.count("/count")
                try:
                    def check_host_that_does_not_resolve(notes):
                        # Checks never resolve names: the probe goes to the member's address
                        # with the name in Host (http) or SNI and the certificate check (https).
                        srv = net.S["badhost"]
                        wait_for(lambda: srv.count("/health") >= 2, 5, "probes with the name")
                        eq(srv.hosts["/health"], f"probe.unresolvable.invalid:{srv.port}",
                           "Host header")
                        eq(lookup_pool(d, "badhost"), [net.tier1["badhost"]], "http: up")
                        # Its only member down: when_all_down "all" answers it anyway.
                        endpoint_down(g, "tlsbadhost", r"tls: certificate is not for "
                                      r"'www\.unresolvable\.invalid'", notes,
                                      answer=[net.tier1["tlsbadhost"]])
                        check("www.unresolvable.invalid" in notes[-1], notes[-1])
                    run("endpoint: a check host that does not resolve (.invalid)",
                        check_host_that_does_not_resolve)
                    run("endpoint: accepts and never answers", endpoint_down, g, "silent",
                        r"timeout after 0\.4 s")
                    run("endpoint: resets the connection", endpoint_down, g, "reset",
                        r"recv failure: Connection reset by peer")
                    run("endpoint: an endless chunked body", endpoint_down, g, "endless",
                        r"body 'ok' not found")
                    run("endpoint: an expired certificate", endpoint_down, g, "expired",
                        r"tls: certificate has expired")
                    run("endpoint: a self-signed certificate", endpoint_down, g, "selfsigned",
                        r"tls: self-signed certificate")
                    run("endpoint: a certificate for another name", endpoint_down, g,
                        "wrongname", r"tls: certificate is not for 'www\.example\.com'")

                    def memory_bounded_and_probes_on_time(notes):
                        eq(lookup_pool(d, "tlsgood"), [net.tier1["tlsgood"]], "https control")
                        # 10 s of endless bodies (and silent and resetting endpoints).
                        time.sleep(max(0.0, t_up + 10 - time.monotonic()))
                        took = time.monotonic() - t_up
                        rss = rss_mb(d.pid)
                        n = cnt.count("/count") - c0
                        sent = net.S["endless"].bytes_sent
                        notes.append(f"after {took:.1f}s: RSS {rss:.0f} MB (from {rss0:.0f}), "
                                     f"{sent / MB:.1f} MB of endless body sent, {n} probes of a "
                                     f"healthy endpoint at interval {NET_INTERVAL}s")
                        check(rss < 100 and rss - rss0 < 50, f"RSS {rss:.0f} MB")
                        expect = took / NET_INTERVAL
                        check(expect - 3 <= n <= expect + 2, f"{n} probes of a healthy "
                              f"endpoint in {took:.1f}s at interval {NET_INTERVAL}s")
                        eq(lookup_pool(d, "count"), [net.tier1["count"]], "healthy: tier 1")
                        served(d)
                    run("endpoint: memory stays bounded; other probes are not delayed",
                        memory_bounded_and_probes_on_time)
                finally:
                    finish_daemon("network daemon", d)
            finally:
                net.stop()
    finally:
        if unix_d:  # an exception on the way
            stop(unix_d.proc)
        if args.keep:
            print(f"# work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    failed = sum(1 for _, e in results if e)
    print(f"1..{len(results)}")
    print(f"# badinput: {len(results) - failed} passed, {failed} failed in "
          f"{time.monotonic() - t_start:.0f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
