#!/usr/bin/python3
"""End-to-end tests for health-checked pools.

A real pdns_server (through e2e.Pdns, over the unix and the pipe connector) answers A/AAAA for
pool records while pdns-failover probes real HTTP, HTTPS and TCP servers run by this script on
127.0.0.x (and ::1). The servers' behaviour is switched at run time (200, 503, wrong body, hang
past the timeout, wrong certificate, refuse = stop listening) and they count the requests they
get per path. Checks are fast (interval 0.5-1 s), so the whole file runs in about a minute.

Prints TAP like e2e.py; exits 1 if anything failed. Every wait is bounded; every process started
here is stopped by its PID; servers are threads of this process.
"""
import argparse
import collections
import json
import os
import re
import shutil
import signal
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import e2e  # noqa: E402
from e2e import Failure, check, eq, stop, wait_for  # noqa: E402

# Check timings (seconds). FAST is the failover check of the brief; its bounds are asserted.
INTERVAL, TIMEOUT, RISE, FALL = 1.0, 0.5, 2, 2
HANG = 1.2  # a "hang" server answers after this long: past TIMEOUT
FLAP_INTERVAL, FLAP_FALL = 0.5, 3
COUNT_INTERVAL = 0.5
RS_RISE = 4  # the restart test's check: slow to rise, so a kept DOWN state is visible


# ---- test servers -----------------------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: "refuse" really refuses

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(5)
            self.request.do_handshake()  # a failed handshake ends here (handle_error)
        super().setup()

    def do_GET(self):
        self._serve(True)

    def do_HEAD(self):
        self._serve(False)

    def _serve(self, with_body):
        owner = self.server.owner
        mode, n = owner.note(self.path, self.headers.get("Host"))
        status, body = 200, b"ok\n"
        if mode == "hang":
            time.sleep(owner.hang)
        elif mode == "503":
            status, body = 503, b"ok but unavailable\n"
        elif mode == "wrongbody":
            body = b"nothing to see\n"
        elif mode == "flap":
            status = 200 if n % 2 == 0 else 503
        try:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if with_body:
                self.wfile.write(body)
        except OSError:
            pass  # the prober gave up (timeout)

    def log_message(self, *args):
        pass


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def get_request(self):
        sock, addr = self.socket.accept()
        ctx = self.owner.ctx
        if ctx is not None:
            sock = ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        self.owner.errors += 1  # failed TLS handshakes, resets: expected, keep quiet


class _Server6(_Server):
    address_family = socket.AF_INET6


class TestServer:
    """An HTTP(S) server on (addr, port) in a thread. mode: ok | 503 | wrongbody | hang | flap.
    stop() closes the listening socket (connections are refused); start() listens again on the
    same port. ctx (an SSLContext, switchable at run time) makes it HTTPS."""

    def __init__(self, addr, ctx=None, listen=True):
        self.addr, self.ctx = addr, ctx
        self.mode, self.hang, self.errors = "ok", HANG, 0
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.hosts = {}
        self.flap_n = 0
        self.srv = None
        self.port = 0
        self.start()
        if not listen:
            self.stop()

    def start(self):
        cls = _Server6 if ":" in self.addr else _Server
        srv = cls((self.addr, self.port), _Handler)
        srv.owner = self
        self.port = srv.server_address[1]
        self.srv = srv
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def stop(self):
        if self.srv:
            self.srv.shutdown()
            self.srv.server_close()
            self.srv = None

    def set_mode(self, mode):
        with self.lock:
            self.mode, self.flap_n = mode, 0

    def note(self, path, host):
        path = path.split("?")[0]
        with self.lock:
            self.counts[path] += 1
            self.hosts[path] = host
            n = self.flap_n
            self.flap_n += 1
            return self.mode, n

    def count(self, path=None):
        with self.lock:
            return sum(self.counts.values()) if path is None else self.counts[path]


def refused_port(addrs):
    """A port on which nothing listens on any of addrs."""
    for _ in range(50):
        s = socket.socket()
        s.bind((addrs[0], 0))
        port = s.getsockname()[1]
        s.close()
        ok = True
        for a in addrs:
            c = socket.socket()
            c.settimeout(1)
            try:
                c.connect((a, port))
                ok = False
            except OSError:
                pass
            finally:
                c.close()
        if ok:
            return port
    raise RuntimeError("no refused port found")


# ---- certificates -----------------------------------------------------------------------------

def make_certs(d):
    """A throwaway CA; server certs for www.example.com and for a wrong name signed by it; a
    self-signed www.example.com cert. Returns {name: (cert, key)} and the CA file."""
    def run(*args):
        r = subprocess.run(["openssl", *args], cwd=d, capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, f"openssl {' '.join(args)}: {r.stderr}")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=pdns-failover e2e CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    certs = {}
    for name, cn in (("good", "www.example.com"), ("wrong", "wrong.example.net")):
        run("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}")
        with open(os.path.join(d, f"{name}.ext"), "w") as f:
            f.write(f"subjectAltName=DNS:{cn}\nbasicConstraints=CA:FALSE\n"
                    "extendedKeyUsage=serverAuth\n")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext")
        certs[name] = (os.path.join(d, f"{name}.pem"), os.path.join(d, f"{name}.key"))
    run("req", "-x509", *ec, "-keyout", "self.key", "-out", "self.pem", "-days", "2",
        "-subj", "/CN=www.example.com", "-addext", "subjectAltName=DNS:www.example.com")
    certs["self"] = (os.path.join(d, "self.pem"), os.path.join(d, "self.key"))
    ctxs = {}
    for name, (cert, key) in certs.items():
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        c.load_cert_chain(cert, key)
        ctxs[name] = c
    return ctxs, os.path.join(d, "ca.pem")


# ---- the world of one pdns instance: servers and store ----------------------------------------

SOA = "ns1.example.com. hostmaster.example.com. 2026113001 10800 3600 604800 300"


class World:
    """The test servers and the store for one pdns instance."""

    def __init__(self, tmp, ctxs, ca_file):
        self.ctxs = ctxs
        S = {}
        S["web1"] = TestServer("127.0.0.2")
        S["web2"] = TestServer("127.0.0.4")           # web2 answers 127.0.0.3, probed at .4
        S["hub"] = TestServer("127.0.0.9")            # always healthy (http)
        S["hub_tls"] = TestServer("127.0.0.8", ctxs["good"])
        S["slow"] = TestServer("127.0.0.10")
        S["s503"] = TestServer("127.0.0.11")
        S["body"] = TestServer("127.0.0.12")
        S["tlsbad"] = TestServer("127.0.0.13", ctxs["good"])  # switched to the wrong cert
        S["tlsok"] = TestServer("127.0.0.14", ctxs["good"])
        S["tcp"] = TestServer("127.0.0.15")
        S["tlsself"] = TestServer("127.0.0.16", ctxs["self"])
        S["tlsself2"] = TestServer("127.0.0.17", ctxs["self"])
        S["flap"] = TestServer("127.0.0.20")
        S["flap"].set_mode("flap")
        S["cnt"] = TestServer("127.0.0.70")
        S["rs1"] = TestServer("127.0.0.80", listen=False)  # starts down
        S["v6"] = TestServer("::1")
        self.S = S
        self.refused_addrs = ["127.0.0.250", "127.0.0.251", "127.0.0.252"]
        self.rport = refused_port(self.refused_addrs)
        self.labels = {}

        def m(name, addr, tier=1, srv=None, check_addr=None, port=None, **kw):
            """A member; probed at server srv, or at check_addr:port."""
            d = {"name": name, "address": addr, "tier": tier}
            if srv is not None:
                check_addr, port = S[srv].addr, S[srv].port
            if check_addr and check_addr != addr:
                d["check_address"] = check_addr
            d["check_port"] = port
            d.update(kw)
            ca = check_addr or addr
            # Logs name a target "<first member using it> <address>:<port>": match the latter.
            self.labels[name] = f"[{ca}]:{port}" if ":" in ca else f"{ca}:{port}"
            return d

        def hub(name, addr, tier=1, **kw):
            return m(name, addr, tier, srv="hub", **kw)

        def dead(name, addr, tier=1, which=0, **kw):
            return m(name, addr, tier, check_addr=self.refused_addrs[which], port=self.rport, **kw)

        def hub_tls(name, addr, tier=1):
            return m(name, addr, tier, srv="hub_tls")

        http = {"type": "http", "path": "/health", "host": "www.example.com", "expect": ["200"],
                "body": "ok", "interval": INTERVAL, "timeout": TIMEOUT, "rise": RISE, "fall": FALL}
        checks = {
            "fast": http,
            "tls": dict(http, type="https", ca_file=ca_file),
            "tls_noverify": dict(http, type="https", tls_verify=False),
            "tcp": {"type": "tcp", "interval": INTERVAL, "timeout": TIMEOUT, "rise": RISE,
                    "fall": FALL},
            "flap": dict(http, path="/flap", interval=FLAP_INTERVAL, timeout=0.3, rise=2,
                         fall=FLAP_FALL),
            "count": dict(http, path="/count", interval=COUNT_INTERVAL, timeout=0.3, rise=1,
                          fall=1),
            "slowrise": dict(http, path="/rs", rise=RS_RISE),
        }

        def fo(check, *members, **kw):
            p = {"policy": "failover", "check": check, "max_answers": 8, "min_healthy": 1,
                 "when_all_down": "all", "members": list(members)}
            p.update(kw)
            return p

        pools = {
            "fo": fo("fast", m("web1", "127.0.0.2", 1, srv="web1"),
                     m("web2", "127.0.0.3", 2, srv="web2")),
            "slow": fo("fast", m("slow1", "127.0.0.10", 1, srv="slow"), hub("slow2", "127.0.1.10", 2)),
            "s503": fo("fast", m("s5031", "127.0.0.11", 1, srv="s503"), hub("s5032", "127.0.1.11", 2)),
            "body": fo("fast", m("body1", "127.0.0.12", 1, srv="body"), hub("body2", "127.0.1.12", 2)),
            "tlsbad": fo("tls", m("tlsbad1", "127.0.0.13", 1, srv="tlsbad"),
                         hub_tls("tlsbad2", "127.0.1.13", 2)),
            "tlsok": fo("tls", m("tlsok1", "127.0.0.14", 1, srv="tlsok"),
                        hub_tls("tlsok2", "127.0.1.14", 2)),
            "tcp": fo("tcp", m("tcp1", "127.0.0.15", 1, srv="tcp"), hub("tcp2", "127.0.1.15", 2)),
            "tlsself": fo("tls", m("tlsself1", "127.0.0.16", 1, srv="tlsself"),
                          hub_tls("tlsself2", "127.0.1.16", 2)),
            "tlsnov": fo("tls_noverify", m("tlsnov1", "127.0.0.17", 1, srv="tlsself2"),
                         m("tlsnov2", "127.0.1.17", 2, srv="hub_tls")),
            "flap": fo("flap", m("flap1", "127.0.0.20", 1, srv="flap"), hub("flap2", "127.0.0.21", 2)),
            "dnall": fo("fast", dead("dn1", "127.0.0.30", 1, 0), dead("dn2", "127.0.0.31", 1, 1),
                        dead("dn3", "127.0.0.32", 2, 2)),
            "dnnone": fo("fast", dead("dn1", "127.0.0.30", 1, 0), dead("dn2", "127.0.0.31", 1, 1),
                         dead("dn3", "127.0.0.32", 2, 2), when_all_down="none"),
            "dnfb": fo("fast", dead("dn1", "127.0.0.30", 1, 0), dead("dn2", "127.0.0.31", 1, 1),
                       dead("dn3", "127.0.0.32", 2, 2),
                       when_all_down={"fallback": ["203.0.113.9"]}),
            "all": fo("fast", hub("all1", "127.0.0.40", 1), dead("all2", "127.0.0.41", 1),
                      hub("all3", "127.0.0.42", 2), hub("all4", "127.0.0.43", 3), policy="all"),
            "dual": fo("fast", hub("d4", "127.0.0.44", 1), hub("d6a", "2001:db8::1", 1),
                       dead("d6b", "2001:db8::2", 1), m("d6c", "::1", 2, srv="v6"),
                       hub("d4b", "127.0.0.45", 2), policy="all"),
            "dualfo": fo("fast", hub("f4", "127.0.0.46", 1), hub("f6a", "2001:db8::11", 1),
                         dead("f6b", "2001:db8::12", 1), m("f6c", "::1", 2, srv="v6")),
            "hashed": fo("fast", *(hub(f"h{i}", f"127.0.0.{50 + i}") for i in range(4)),
                         hub("h9", "127.0.0.59", 2), policy="hashed"),
            "weighted": fo("fast", hub("w1", "127.0.0.55", weight=1), hub("w2", "127.0.0.56", weight=1),
                           dead("w3", "127.0.0.57", weight=1000), policy="weighted", max_answers=1),
            "cnt": fo("count", m("cnt1", "127.0.0.70", 1, srv="cnt")),
            "rs": fo("slowrise", m("rs1", "127.0.0.80", 1, srv="rs1"), hub("rs2", "127.0.0.81", 2)),
        }
        records = {"@": [{"type": "SOA", "content": SOA}, {"type": "NS", "content": "ns1.example.com."}],
                   "ns1": [{"type": "A", "content": "192.0.2.53"}],
                   "static": [{"type": "A", "content": "192.0.2.10"}]}
        for name in pools:
            records[name] = [{"type": "A", "pool": name, "ttl": 30}]
        records["dual"].append({"type": "AAAA", "pool": "dual", "ttl": 30})
        records["dualfo"].append({"type": "AAAA", "pool": "dualfo", "ttl": 30})
        self.store = {"checks": checks, "pools": pools,
                      "zones": {"example.com.": {"records": records}}}
        self.store_path = os.path.join(tmp, "pools-store.json")
        with open(self.store_path, "w") as f:
            json.dump(self.store, f, indent=1)

    def stop(self):
        for s in self.S.values():
            s.stop()


# ---- pdns with --state-dir --------------------------------------------------------------------

class PoolPdns(e2e.Pdns):
    """e2e.Pdns with a --state-dir of its own, and the unix daemon restartable on its own."""

    def __init__(self, binary, mode, workdir, store, extra_conf="", cached=False):
        super().__init__(binary, mode, workdir, store=store, extra_conf=extra_conf)
        self.state_dir = os.path.join(self.dir, "state")
        self.daemon_logs = []
        path = os.path.join(self.conf, "pdns.conf")
        with open(path) as f:
            conf = f.read()
        if mode == "pipe":
            conn = (f"pipe:command={binary}{e2e.ROOT_OPT} --config {store} --state-dir {self.state_dir},"
                    "timeout=2000")
            conf = re.sub(r"(?m)^remote-connection-string=.*$",
                          lambda _: "remote-connection-string=" + conn, conf)
        if cached:  # pdns's default caches: pool answers must get through them
            conf = re.sub(r"(?m)^(cache-ttl|query-cache-ttl|negquery-cache-ttl)=0\n", "", conf)
        with open(path, "w") as f:
            f.write(conf)

    def start_daemon(self):
        name = f"daemon-{len(self.daemon_logs)}.log"
        self.daemon_logs.append(name)
        with open(os.path.join(self.dir, name), "w") as log:
            self.daemon = subprocess.Popen(
                [self.binary, *e2e.ROOT, "--config", self.store, "--listen", self.sock,
                 "--state-dir", self.state_dir], stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: os.path.exists(self.sock) or self.daemon.poll() is not None, 10,
                 "the unix socket")
        if self.daemon.poll() is not None:
            raise Failure("pdns-failover exited: " + self.log(name))

    def stop_daemon(self):
        stop(self.daemon)

    def start(self):
        if self.mode == "unix":
            self.start_daemon()
        self.pdns_log = open(os.path.join(self.dir, "pdns.log"), "w")
        self.pdns = subprocess.Popen(
            ["/usr/sbin/pdns_server", f"--config-dir={self.conf}", "--daemon=no", "--guardian=no"],
            stdout=self.pdns_log, stderr=subprocess.STDOUT)

        def ready():
            if self.pdns.poll() is not None:
                raise Failure("pdns_server exited: " + self.log("pdns.log"))
            return self.dig("example.com", "SOA", timeout=1).status == "NOERROR"
        wait_for(ready, 20, "pdns_server to answer")
        return self

    def read(self, name):
        try:
            with open(os.path.join(self.dir, name), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def health_log(self, which=None):
        """pdns-failover's log: the daemon's (unix; `which`: one run, default all) or pdns's,
        which the pipe co-processes share."""
        if self.mode != "unix":
            return self.read("pdns.log")
        names = self.daemon_logs if which is None else [self.daemon_logs[which]]
        return "".join(self.read(n) for n in names)

    def log_tail(self):
        text = self.health_log() if self.mode == "unix" else self.read("pdns.log")
        return "\n".join(text.splitlines()[-40:])

    def coprocesses(self):
        """PIDs of pdns-failover processes whose parent is pdns_server."""
        pids = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            if ppid == self.pdns.pid and comm.startswith("pdns-failover"):
                pids.append(int(d))
        return pids


def dig(p, name, rtype="A", src=None, tcp=False, timeout=2):
    cmd = ["dig", "@127.0.0.1", "-p", str(p.port), "+norecurse", f"+time={timeout}", "+tries=1",
           name, rtype]
    if src:
        cmd[1:1] = ["-b", src]
    if tcp:
        cmd.insert(1, "+tcp")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout * 3 + 5)
    return e2e.Answer(r.stdout)


def addrs(p, name, rtype="A", **kw):
    """(status, sorted addresses) of name's answer."""
    a = dig(p, name + ".example.com", rtype, **kw)
    return a.status, a.rdata(rtype)


def answer_is(p, name, want, rtype="A"):
    return addrs(p, name, rtype) == ("NOERROR", sorted(want))


def wait_answer(p, name, want, timeout, allowed=(), rtype="A"):
    """Polls dig until name answers exactly `want`; returns the seconds it took. Every answer
    seen on the way must be in `allowed` (lists of addresses) or `want`."""
    t0 = time.monotonic()
    allowed = [("NOERROR", sorted(a)) for a in allowed] + [("NOERROR", sorted(want))]
    last = None
    while time.monotonic() - t0 < timeout:
        got = addrs(p, name, rtype)
        if got == ("NOERROR", sorted(want)):
            return time.monotonic() - t0
        check(got in allowed, f"{name}: unexpected answer {got} while waiting for {want}")
        last = got
        time.sleep(0.05)
    raise Failure(f"{name}: no answer {want} within {timeout:.1f}s (last: {last})")


def transitions(text, label):
    """The health transitions logged for a target ("address:port"): [('unknown -> up', reason)]."""
    pat = re.compile(r"health: \S+ " + re.escape(label) + r" (\w+ -> \w+) \((.*)\)")
    return [(m.group(1), m.group(2)) for m in pat.finditer(text)]


def wait_transition(p, label, what, timeout, which=None):
    def seen():
        return any(t == what for t, _ in transitions(p.health_log(which), label))
    wait_for(seen, timeout, f"'{label} {what}' in the log")
    return [r for t, r in transitions(p.health_log(which), label) if t == what][-1]


# ---- the tests --------------------------------------------------------------------------------

TESTS = []


def pool_test(modes=("unix", "pipe")):
    def deco(fn):
        TESTS.append((fn, modes))
        return fn
    return deco


@pool_test(modes=("unix", "pipe", "unix-cached", "unix-purge", "pipe-purge"))
def failover_follows_the_primary(p, w, notes):
    web1 = w.S["web1"]
    eq(addrs(p, "fo"), ("NOERROR", ["127.0.0.2"]), "tier 1 while web1 is up")
    a = dig(p, "fo.example.com", "A")
    eq({r[1] for r in a.rr()}, {30}, "pool answer TTL")
    check("aa" in a.flags, "authoritative")
    eq(web1.hosts.get("/health"), f"www.example.com:{web1.port}", "Host header of the probe")
    eq(addrs(p, "fo", tcp=True), ("NOERROR", ["127.0.0.2"]), "over TCP")
    bound = INTERVAL * FALL + TIMEOUT + 1
    web1.stop()
    t_down = wait_answer(p, "fo", ["127.0.0.3"], bound + 3, allowed=[["127.0.0.2"]])
    reason = wait_transition(p, w.labels["web1"], "up -> down", 2)
    eq(reason, f"connect refused; {FALL} of {FALL} failed", "logged reason")
    # The answer stays on tier 2 while web1 is down.
    for _ in range(3):
        eq(addrs(p, "fo"), ("NOERROR", ["127.0.0.3"]), "stays on tier 2")
    web1.start()
    c0 = web1.count("/health")
    up_bound = INTERVAL * RISE + TIMEOUT + 1
    t_up = wait_answer(p, "fo", ["127.0.0.2"], up_bound + 3, allowed=[["127.0.0.3"]])
    probes = web1.count("/health") - c0
    reason = wait_transition(p, w.labels["web1"], "down -> up", 2)
    eq(reason, f"ok; {RISE} of {RISE} succeeded", "logged reason")
    notes.append(f"failover in {t_down:.2f}s (bound {bound:.1f}s), back in {t_up:.2f}s "
                 f"after {probes} probes (bound {up_bound:.1f}s)")
    check(t_down <= bound, f"failover took {t_down:.2f}s, more than {bound:.1f}s")
    check(t_up <= up_bound, f"return took {t_up:.2f}s, more than {up_bound:.1f}s")
    check(probes >= RISE, f"tier 1 back after {probes} successful probes, before rise={RISE}")
    check(t_up >= (RISE - 1) * INTERVAL - 0.2, f"tier 1 back after {t_up:.2f}s: too early")


@pool_test()
def bad_endpoints_are_down(p, w, notes):
    S = w.S
    cases = [  # pool, tier 1, tier 2, what breaks it, logged reason
        ("slow", "127.0.0.10", "127.0.1.10", lambda: S["slow"].set_mode("hang"), "timeout.*"),
        ("s503", "127.0.0.11", "127.0.1.11", lambda: S["s503"].set_mode("503"), "http status.*"),
        ("body", "127.0.0.12", "127.0.1.12", lambda: S["body"].set_mode("wrongbody"), "(bad response|body 'ok' not found).*"),
        ("tlsbad", "127.0.0.13", "127.0.1.13",
         lambda: setattr(S["tlsbad"], "ctx", w.ctxs["wrong"]), r"tls: .*(certificate|name).*"),
        ("tcp", "127.0.0.15", "127.0.1.15", lambda: S["tcp"].stop(), "connect refused.*"),
    ]
    for pool, t1, _, _, _ in cases:
        eq(addrs(p, pool), ("NOERROR", [t1]), f"{pool}: tier 1 while healthy")
    eq(addrs(p, "tlsok"), ("NOERROR", ["127.0.0.14"]), "https with the right cert and ca_file")
    eq(addrs(p, "tlsnov"), ("NOERROR", ["127.0.0.17"]), "tls_verify false with a self-signed cert")
    eq(addrs(p, "tlsself"), ("NOERROR", ["127.0.1.16"]), "a self-signed cert is down")
    tr = transitions(p.health_log(), w.labels["tlsself1"])
    check(len(tr) == 1 and tr[0][0] == "unknown -> down" and re.match(r"tls: .*certificate", tr[0][1]),
          f"self-signed transitions: {tr}")
    bound = INTERVAL * FALL + TIMEOUT + 1
    t0 = time.monotonic()
    for _, _, _, breaks, _ in cases:
        breaks()
    times, reasons = {}, []
    for pool, t1, t2, _, reason in cases:
        wait_answer(p, pool, [t2], max(0.5, bound + 3 - (time.monotonic() - t0)), allowed=[[t1]])
        times[pool] = time.monotonic() - t0
        got = wait_transition(p, w.labels[pool + "1"], "up -> down", 2)
        check(re.fullmatch(f"{reason}; {FALL} of {FALL} failed", got), f"{pool}: logged reason {got!r}")
        reasons.append(f"{pool}: {got}")
    notes.append("down after " + ", ".join(f"{k} {v:.1f}s" for k, v in times.items()))
    notes.append("reasons: " + " | ".join(reasons))
    for pool, v in times.items():
        check(v <= bound + 0.5, f"{pool}: down after {v:.2f}s, more than {bound + 0.5:.1f}s")
    eq(addrs(p, "tlsok"), ("NOERROR", ["127.0.0.14"]), "the right cert stays up")
    eq(transitions(p.health_log(), w.labels["tlsok1"]), [("unknown -> up", "ok")],
       "right cert: transitions")
    # Repaired, each comes back.
    S["slow"].set_mode("ok")
    S["s503"].set_mode("ok")
    S["body"].set_mode("ok")
    S["tlsbad"].ctx = w.ctxs["good"]
    S["tcp"].start()
    t0 = time.monotonic()
    for pool, t1, t2, _, _ in cases:
        wait_answer(p, pool, [t1], max(0.5, INTERVAL * RISE + TIMEOUT + 4 - (time.monotonic() - t0)),
                    allowed=[[t2]])


@pool_test()
def flapping_endpoint_never_goes_down(p, w, notes):
    flap, label = w.S["flap"], w.labels["flap1"]
    c0 = flap.count("/flap")
    want = 10
    deadline = time.monotonic() + want * FLAP_INTERVAL + 4
    digs = 0
    while flap.count("/flap") - c0 < want:
        check(time.monotonic() < deadline, f"only {flap.count('/flap') - c0} probes of the "
                                           f"flapping server in time")
        eq(addrs(p, "flap"), ("NOERROR", ["127.0.0.20"]), "flapping server stays tier 1")
        digs += 1
        time.sleep(0.2)
    total = flap.count("/flap")
    notes.append(f"{flap.count('/flap') - c0} probes watched, {total} in all, {digs} digs")
    tr = transitions(p.health_log(), label)
    eq(tr, [("unknown -> up", "ok")], "transitions of the flapping member")


@pool_test()
def all_down_modes(p, w, notes):
    for name in ("dn1", "dn2", "dn3"):
        wait_transition(p, w.labels[name], "unknown -> down", 3)
    eq(addrs(p, "dnall"), ("NOERROR", ["127.0.0.30", "127.0.0.31"]), "when_all_down all: tier 1")
    eq(addrs(p, "dnfb"), ("NOERROR", ["203.0.113.9"]), "when_all_down fallback")
    a = dig(p, "dnfb.example.com", "AAAA")
    eq((a.status, a.rr()), ("NOERROR", []), "fallback has no IPv6 address: NODATA for AAAA")
    a = dig(p, "dnnone.example.com", "A")
    eq((a.status, a.rr()), ("NOERROR", []), "when_all_down none: NODATA")
    eq(len(a.rr("AUTHORITY", "SOA")), 1, "NODATA carries the SOA")


@pool_test(modes=("unix", "pipe", "unix-cached", "unix-purge"))
def policy_all_answers_every_healthy_tier(p, w, notes):
    wait_transition(p, w.labels["all2"], "unknown -> down", 3)
    eq(addrs(p, "all"), ("NOERROR", ["127.0.0.40", "127.0.0.42", "127.0.0.43"]), "policy all")


@pool_test()
def aaaa_answers_only_ipv6_members(p, w, notes):
    wait_transition(p, w.labels["d6c"], "unknown -> up", 3)
    wait_transition(p, w.labels["d6b"], "unknown -> down", 3)
    check(w.S["v6"].count("/health") > 0, "the ::1 server was probed")
    eq(addrs(p, "dual", "AAAA"), ("NOERROR", ["2001:db8::1", "::1"]), "all: AAAA")
    eq(addrs(p, "dual", "A"), ("NOERROR", ["127.0.0.44", "127.0.0.45"]), "all: A")
    eq(addrs(p, "dualfo", "AAAA"), ("NOERROR", ["2001:db8::11"]), "failover: AAAA")
    eq(addrs(p, "dualfo", "A"), ("NOERROR", ["127.0.0.46"]), "failover: A")
    a = dig(p, "dual.example.com", "ANY", tcp=True)
    eq(sorted((r[2], r[3]) for r in a.rr()),
       [("A", "127.0.0.44"), ("A", "127.0.0.45"), ("AAAA", "2001:db8::1"), ("AAAA", "::1")], "ANY")
    # The ::1 member goes down: failover AAAA has only tier 1 left anyway; all loses it.
    w.S["v6"].stop()
    try:
        wait_answer(p, "dual", ["2001:db8::1"], INTERVAL * FALL + TIMEOUT + 3,
                    allowed=[["2001:db8::1", "::1"]], rtype="AAAA")
    finally:
        w.S["v6"].start()


@pool_test(modes=("unix", "pipe", "unix-cached", "unix-purge"))
def hashed_is_stable_per_client(p, w, notes):
    members = {f"127.0.0.{50 + i}" for i in range(4)}
    first = addrs(p, "hashed")
    eq(first[0], "NOERROR", "status")
    eq(len(first[1]), 1, "one answer")
    check(first[1][0] in members, f"a tier 1 member: {first}")
    for _ in range(6):
        eq(addrs(p, "hashed"), first, "same client, same answer")
    per_client = {}
    for i in range(12):
        src = f"127.0.0.{100 + i}"
        got = addrs(p, "hashed", src=src)
        eq(got[0], "NOERROR", f"status from {src}")
        eq(len(got[1]), 1, f"one answer for {src}")
        check(got[1][0] in members, f"{src}: {got}")
        for _ in range(2):
            eq(addrs(p, "hashed", src=src), got, f"same answer again for {src}")
        per_client[src] = got[1][0]
    notes.append(f"{len(set(per_client.values()))} distinct members for 12 clients")
    check(len(set(per_client.values())) >= 2, f"12 clients all hashed to one member: {per_client}")


def cache_hits(p):
    return int(p.pdns_control("show", "packetcache-hit").strip())


@pool_test(modes=("unix-purge", "pipe-purge"))
def purge_mode_caches_failover_answers_and_purges_them(p, w, notes):
    """Purge mode: a failover pool's answer sits in pdns's packet cache (no scopeMask) and is
    purged the moment an override or a transition changes it; a hashed pool stays uncached."""
    eq(addrs(p, "fo"), ("NOERROR", ["127.0.0.2"]), "tier 1")
    h0 = cache_hits(p)
    for _ in range(5):
        eq(addrs(p, "fo"), ("NOERROR", ["127.0.0.2"]), "tier 1 again")
    hits = cache_hits(p) - h0
    check(hits >= 4, f"failover answers come from pdns's packet cache: {hits} hits for 5 queries")
    addrs(p, "hashed")
    h0 = cache_hits(p)
    for _ in range(5):
        addrs(p, "hashed")
    eq(cache_hits(p) - h0, 0, "hashed answers are never cached (scopeMask)")
    # An override changes the answer without a transition: the purger notices (4 times a second).
    out = p.pdnsutil("backend-cmd", "remote", "drain fo/web1").stdout
    check(out.startswith("fo/web1 (127.0.0.2): drain"), out)
    t = wait_answer(p, "fo", ["127.0.0.3"], 2, allowed=[["127.0.0.2"]])
    out = p.pdnsutil("backend-cmd", "remote", "auto fo/web1").stdout
    check(out.startswith("fo/web1 (127.0.0.2): back to the health checks"), out)
    t2 = wait_answer(p, "fo", ["127.0.0.2"], 2, allowed=[["127.0.0.3"]])
    if p.mode == "unix":  # (in pipe mode, backend-cmd reaches pdnsutil's own co-process)
        stats = p.pdnsutil("backend-cmd", "remote", "stats").stdout
        check("purge mode: " in stats and "purge commands: 0\n" not in stats, stats)
    notes.append(f"drain seen in {t:.2f}s, auto in {t2:.2f}s; {hits} cache hits of 5")


@pool_test()
def weighted_never_answers_down_members(p, w, notes):
    wait_transition(p, w.labels["w3"], "unknown -> down", 3)
    seen = collections.Counter()
    for _ in range(30):
        st, got = addrs(p, "weighted")
        eq(st, "NOERROR", "status")
        eq(len(got), 1, "max_answers 1")
        seen[got[0]] += 1
    eq(set(seen), {"127.0.0.55", "127.0.0.56"}, "answered members")
    notes.append(", ".join(f"{k} x{v}" for k, v in sorted(seen.items())))


@pool_test()
def pdnsutil_check_zone_and_list_zone(p, w, notes):
    wait_transition(p, w.labels["all2"], "unknown -> down", 3)
    out = p.pdnsutil("check-zone", "example.com").stdout
    check(re.search(r"Checked \d+ records of 'example\.com', 0 errors, 0 warnings\.", out),
          f"check-zone: {out}")
    out = p.pdnsutil("list-zone", "example.com").stdout
    lines = [l for l in out.splitlines() if l and not l.startswith("$")]
    for want in ("all.example.com\t30\tIN\tA\t127.0.0.40", "all.example.com\t30\tIN\tA\t127.0.0.42",
                 "all.example.com\t30\tIN\tA\t127.0.0.43", "fo.example.com\t30\tIN\tA\t127.0.0.2",
                 "dual.example.com\t30\tIN\tAAAA\t2001:db8::1",
                 "dnfb.example.com\t30\tIN\tA\t203.0.113.9"):
        check(want in lines, f"{want!r} missing in list-zone:\n{out}")
    for line in lines:  # down members, and tier 2 while tier 1 is up, are not listed
        for bad in ("\t127.0.0.41", "\t2001:db8::2", "\t127.0.0.16", "\t127.0.1.14"):
            check(not line.endswith(bad), f"{line!r} in list-zone")
        check(not line.startswith("fo.example.com\t") or line.endswith("\t127.0.0.2"),
              f"{line!r} in list-zone")
    check("tlsself.example.com\t30\tIN\tA\t127.0.1.16" in lines,
          f"tier 2 listed while tier 1 is down:\n{out}")
    notes.append(f"{len(lines)} records listed")


@pool_test(modes=("pipe",))
def one_probe_per_interval_across_coprocesses(p, w, notes):
    # A few queries (some over TCP) so that every distributor co-process has started.
    for i in range(12):
        dig(p, "static.example.com", "A", tcp=(i % 4 == 0))
    wait_for(lambda: len(p.coprocesses()) >= 3, 10, "3 co-processes")
    ncop = len(p.coprocesses())
    cnt, web2 = w.S["cnt"], w.S["web2"]
    duration = 5.0
    c0, w0 = cnt.count("/count"), web2.count("/health")
    time.sleep(duration)
    n, nw = cnt.count("/count") - c0, web2.count("/health") - w0
    expect, expect_w = duration / COUNT_INTERVAL, duration / INTERVAL
    notes.append(f"{ncop} co-processes; in {duration:.0f}s {n} probes at interval "
                 f"{COUNT_INTERVAL}s (expected {expect:.0f}), {nw} at interval {INTERVAL}s "
                 f"(expected {expect_w:.0f})")
    check(expect - 2 <= n <= expect + 2,
          f"{n} probes of one endpoint in {duration}s at interval {COUNT_INTERVAL}s "
          f"with {ncop} co-processes")
    check(expect_w - 2 <= nw <= expect_w + 2,
          f"{nw} probes of web2 in {duration}s at interval {INTERVAL}s with {ncop} co-processes")
    check(len(p.coprocesses()) >= 3, "co-processes still running")


@pool_test(modes=("unix",))
def restart_keeps_the_states(p, w, notes):
    rs1, label = w.S["rs1"], w.labels["rs1"]
    wait_transition(p, label, "unknown -> down", 3)
    eq(addrs(p, "rs"), ("NOERROR", ["127.0.0.81"]), "tier 2 while rs1 is down")
    # rs1 comes back, but needs RS_RISE successes: restart the daemon before that.
    rs1.start()
    c0 = rs1.count("/rs")
    p.stop_daemon()
    eq(p.daemon.returncode, 0, "clean exit on SIGTERM")
    before = rs1.count("/rs") - c0
    run = len(p.daemon_logs)
    t0 = time.monotonic()
    p.start_daemon()
    # The very first request after the restart, straight on the socket.
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(p.sock)
    try:
        e2e.ask(s, '{"method":"initialize","parameters":{}}')
        reply = e2e.ask(s, '{"method":"lookup","parameters":{"qname":"rs.example.com.",'
                           '"qtype":"A","zone-id":-1}}')
    finally:
        s.close()
    t_first = time.monotonic() - t0
    check(b"127.0.0.81" in reply and b"127.0.0.80" not in reply,
          f"first lookup after the restart: {reply!r}")
    # Through pdns: each pdns thread may lose one query (SERVFAIL) to the reconnection.
    first = None
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        got = addrs(p, "rs")
        if got[0] == "NOERROR":
            first = got
            break
        eq(got[0], "SERVFAIL", "status while pdns reconnects")
        time.sleep(0.05)
    eq(first, ("NOERROR", ["127.0.0.81"]), "first dig answer after the restart")
    reason = wait_transition(p, label, "down -> up", INTERVAL * RS_RISE + TIMEOUT + 2, which=run)
    eq(reason, f"ok; {RS_RISE} of {RS_RISE} succeeded", "logged reason")
    t_up = time.monotonic() - t0
    wait_answer(p, "rs", ["127.0.0.80"], 3, allowed=[["127.0.0.81"]])
    maps = [f for f in os.listdir(p.state_dir) if f.endswith(".map")]
    check(maps, f"a health map in the state dir: {os.listdir(p.state_dir)}")
    new_log = p.health_log(run)
    eq(transitions(new_log, label), [("down -> up", f"ok; {RS_RISE} of {RS_RISE} succeeded")],
       "rs1's transitions after the restart")
    others = [l for l in new_log.splitlines() if "unknown ->" in l]
    eq(others, [], "no target starts from unknown after a restart")
    notes.append(f"{before} probe(s) before the restart, first lookup {t_first:.2f}s after it, "
                 f"rs1 up after {t_up:.2f}s")


# ---- main -------------------------------------------------------------------------------------

@pool_test(modes=("pipe",))
def killed_prober_is_replaced_within_an_interval(p, w, notes):
    """SIGKILL the co-process that probes: another takes over, probing goes on within one
    interval, and the counters are kept (no state starts over at "unknown"). Runs last in pipe
    mode: pdns loses the killed co-process's thread (protocol doc 2.3)."""
    for i in range(12):
        dig(p, "static.example.com", "A", tcp=(i % 4 == 0))
    wait_for(lambda: len(p.coprocesses()) >= 3, 10, "3 co-processes")
    maps = [os.path.join(p.state_dir, f) for f in os.listdir(p.state_dir)
            if f.startswith("health-") and f.endswith(".map")]
    check(len(maps) == 1, f"one health map: {maps}")

    def leader():
        with open(maps[0], "rb") as f:
            head = f.read(64)
        return struct.unpack_from("<q", head, 32)[0]

    old = leader()
    check(old in p.coprocesses(), f"the leader {old} is one of pdns's co-processes")
    unknown_before = p.health_log().count("unknown ->")
    cnt = w.S["cnt"]
    os.kill(old, signal.SIGKILL)
    t0 = time.monotonic()
    c0 = cnt.count("/count")
    wait_for(lambda: cnt.count("/count") > c0, COUNT_INTERVAL + 1.0,
             "a probe by the new leader")
    took = time.monotonic() - t0
    wait_for(lambda: leader() not in (0, old), 2, "a new leader in the map")
    new_leader = leader()
    check(new_leader in p.coprocesses(), f"the new leader {new_leader} is a co-process")
    notes.append(f"probing resumed {took:.2f}s after SIGKILL of the leader")
    time.sleep(COUNT_INTERVAL * 2)
    eq(p.health_log().count("unknown ->"), unknown_before, "no state started over")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--modes", default="unix,pipe,unix-cached,unix-purge,pipe-purge",
                    help="unix, pipe, unix-cached (unix with pdns's default caches)")
    ap.add_argument("--only", default="", help="run tests whose name contains this")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    work = tempfile.mkdtemp(prefix="pf-pools-")
    results = []

    def run(name, fn, *a):
        t0 = time.monotonic()
        notes = []
        try:
            fn(*a, notes)
            results.append((name, None))
            extra = f"; {'; '.join(notes)}" if notes else ""
            print(f"ok {len(results)} - {name} ({time.monotonic() - t0:.2f}s{extra})", flush=True)
        except Exception as e:  # noqa: BLE001 - every kind of failure is a test failure
            results.append((name, e))
            print(f"not ok {len(results)} - {name}", flush=True)
            for line in f"{type(e).__name__}: {e}".splitlines() + notes:
                print(f"#   {line}", flush=True)
            return False
        return True

    t_start = time.monotonic()
    try:
        certdir = os.path.join(work, "certs")
        os.makedirs(certdir)
        ctxs, ca_file = make_certs(certdir)
        for mode in args.modes.split(","):
            w = World(tempfile.mkdtemp(dir=work), ctxs, ca_file)
            p = None
            try:
                def check_config(notes):
                    r = subprocess.run([binary, "--check-config", w.store_path],
                                       capture_output=True, text=True, timeout=20)
                    eq(r.returncode, 0, f"--check-config exit: {r.stderr}")
                ok = run(f"{mode}: the pool store passes --check-config", check_config)
                purge = mode.endswith("-purge")
                p = PoolPdns(binary, mode.split("-")[0], work, w.store_path,
                             extra_conf="distributor-threads=3",
                             cached=mode.endswith(("-cached", "-purge")))
                if purge:  # purge mode: the store names pdns's control socket
                    w.store["pdns"] = {"control_socket": os.path.join(p.sockdir,
                                                                      "pdns.controlsocket")}
                    with open(w.store_path, "w") as f:
                        json.dump(w.store, f, indent=1)
                if ok:
                    ok = run(f"{mode}: pdns_server starts", lambda notes: p.start())
                if ok:
                    for fn, modes in TESTS:
                        if mode in modes and (not args.only or args.only in fn.__name__):
                            if not run(f"{mode}: {fn.__name__}", fn, p, w):
                                print(f"# {mode}: log tail:\n# " +
                                      p.log_tail().replace("\n", "\n# "), flush=True)
            finally:
                if p:
                    p.stop()
                w.stop()
        run("no sanitizer report in the logs", lambda _notes: e2e.check_no_sanitizer_report(work))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"# work directory kept: {work}")
    failed = sum(1 for _, e in results if e)
    print(f"1..{len(results)}")
    print(f"# pools: {len(results) - failed} passed, {failed} failed in "
          f"{time.monotonic() - t_start:.0f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
