#!/usr/bin/python3
"""End-to-end tests for pdns-failover.

Starts a real pdns_server 4.7 (Debian's pdns-server + pdns-backend-remote) on loopback with
pdns-failover behind it, over the pipe connector and over the unix connector, and checks what
dig, pdnsutil and pdns_control see. Also drives the binary directly (command line, pipe and
socket behaviour). Prints TAP; exits 1 if anything failed. Every process started here is
stopped by its PID; every wait is bounded.
"""
import argparse
import grp
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

# The daemon refuses to run as root unless told to; the tests run as root on CI machines.
ROOT = ["--allow-root"] if os.geteuid() == 0 else []
ROOT_OPT = "".join(" " + a for a in ROOT)

HERE = os.path.dirname(os.path.abspath(__file__))
STORE = os.path.join(HERE, "store.json")


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def eq(got, want, what):
    if got != want:
        raise Failure(f"{what}: got {got!r}, want {want!r}")


def free_port():
    """A port free on 127.0.0.1 for both UDP and TCP."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
        except OSError:
            t.close()
            continue
        t.close()
        u.close()
        return port
    raise RuntimeError("no free port found")


def stop(proc, timeout=5):
    """Stops a process we started, by its PID: SIGTERM, then SIGKILL."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise Failure(f"timed out after {timeout}s waiting for {what}")


# What a sanitizer build (ASan, LSan, UBSan, TSan) prints when it finds something.
SANITIZER = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: ThreadSanitizer|"
                       r"runtime error:")


def check_no_sanitizer_report(top):
    """Fails with the first sanitizer report in a file under top, where the suites keep
    pdns-failover's stderr (a daemon's log; pdns.log for pipe co-processes). A report does not
    always fail a test: the process may go on (TSan, UBSan) or report at exit, and its exit
    status is lost when pdns or a SIGTERM from the test ends it."""
    for d, _dirs, names in os.walk(top):
        for name in sorted(names):
            path = os.path.join(d, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            try:
                with open(path, errors="replace") as f:
                    text = f.read()
            except OSError:
                continue
            m = SANITIZER.search(text)
            if m:
                raise Failure(f"sanitizer report in {path}:\n"
                              + text[max(0, m.start() - 200):m.start() + 3000])


# ---- dig -------------------------------------------------------------------------------------

class Answer:
    def __init__(self, text):
        self.text = text
        m = re.search(r"status: (\w+)", text)
        self.status = m.group(1) if m else None
        m = re.search(r";; flags: ([a-z ]*);", text)
        self.flags = set(m.group(1).split()) if m else set()
        self.sections = {"ANSWER": [], "AUTHORITY": [], "ADDITIONAL": []}
        cur = None
        for line in text.splitlines():
            m = re.match(r";; (\w+) SECTION:", line)
            if m:
                cur = m.group(1)
                continue
            if not line.strip():
                cur = None
                continue
            if cur in self.sections and not line.startswith(";"):
                f = line.split(None, 4)
                self.sections[cur].append((f[0].lower(), int(f[1]), f[3], f[4] if len(f) > 4 else ""))

    def rr(self, section="ANSWER", rtype=None):
        return [r for r in self.sections[section] if rtype is None or r[2] == rtype]

    def rdata(self, rtype, section="ANSWER"):
        return sorted(r[3] for r in self.rr(section, rtype))


class Pdns:
    """One pdns_server with pdns-failover behind it, in pipe or unix mode."""

    def __init__(self, binary, mode, workdir, store=STORE, extra_conf=""):
        self.binary, self.mode = binary, mode
        self.dir = tempfile.mkdtemp(prefix=f"pf-e2e-{mode}-", dir=workdir)
        if store == STORE:  # pdns can edit it now: never the file in the repository
            store = os.path.join(self.dir, "store.json")
            shutil.copyfile(STORE, store)
        self.store = store
        self.conf = os.path.join(self.dir, "conf")
        self.sockdir = os.path.join(self.dir, "run")
        os.makedirs(self.conf)
        os.makedirs(self.sockdir)
        self.port = free_port()
        self.daemon = None
        self.pdns = None
        self.sock = os.path.join(self.dir, "pf.sock")
        if mode == "pipe":
            conn = f"pipe:command={binary}{ROOT_OPT} --config {store},timeout=2000"
        elif mode == "pipe-option":  # the store given as a connection-string option
            conn = f"pipe:command={binary}{ROOT_OPT},config={store},timeout=2000"
        else:
            conn = f"unix:path={self.sock},timeout=2000"
        with open(os.path.join(self.conf, "pdns.conf"), "w") as f:
            f.write(f"""launch=remote
remote-connection-string={conn}
local-address=127.0.0.1
local-port={self.port}
socket-dir={self.sockdir}
guardian=no
daemon=no
cache-ttl=0
query-cache-ttl=0
negquery-cache-ttl=0
security-poll-suffix=
loglevel=4
{extra_conf}
""")

    def start(self):
        if self.mode == "unix":
            self.daemon_log = open(os.path.join(self.dir, "daemon.log"), "w")
            self.daemon = subprocess.Popen(
                [self.binary, *ROOT, "--config", self.store, "--listen", self.sock],
                stdout=self.daemon_log, stderr=subprocess.STDOUT)
            wait_for(lambda: os.path.exists(self.sock) or self.daemon.poll() is not None, 10,
                     "the unix socket")
            if self.daemon.poll() is not None:
                raise Failure("pdns-failover exited: " + self.log("daemon.log"))
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

    def log(self, name):
        try:
            with open(os.path.join(self.dir, name)) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def stop(self):
        stop(self.pdns)
        stop(self.daemon)

    def dig(self, name, rtype, tcp=False, timeout=2):
        cmd = ["dig", "@127.0.0.1", "-p", str(self.port), "+norecurse", f"+time={timeout}",
               "+tries=1", name, rtype]
        if tcp:
            cmd.insert(1, "+tcp")
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout * 3 + 5)
        return Answer(r.stdout)

    def pdnsutil(self, *args, ok=True):
        r = subprocess.run(["pdnsutil", f"--config-dir={self.conf}", *args], capture_output=True,
                           text=True, timeout=60)
        if ok:
            check(r.returncode == 0, f"pdnsutil {' '.join(args)} failed ({r.returncode}): "
                                     f"{r.stdout}{r.stderr}")
        return r

    def pdns_control(self, *args):
        r = subprocess.run(["pdns_control", f"--socket-dir={self.sockdir}", *args],
                           capture_output=True, text=True, timeout=30)
        check(r.returncode == 0, f"pdns_control {' '.join(args)} failed: {r.stdout}{r.stderr}")
        return r.stdout


# ---- DNS behaviour through pdns (run for both connectors) -----------------------------------

DNS_TESTS = []


def dns_test(fn):
    DNS_TESTS.append(fn)
    return fn


@dns_test
def a_with_several_records_is_authoritative(p):
    a = p.dig("www.example.com", "A")
    eq(a.status, "NOERROR", "status")
    check("aa" in a.flags, f"AA flag missing: {a.flags}")
    eq(a.rdata("A"), ["192.0.2.10", "192.0.2.11"], "A records")
    eq({r[1] for r in a.rr()}, {60}, "record ttl")


@dns_test
def aaaa_uses_the_zone_default_ttl(p):
    a = p.dig("www.example.com", "AAAA")
    eq(a.rdata("AAAA"), ["2001:db8::10"], "AAAA")
    eq(a.rr()[0][1], 3600, "ttl")


@dns_test
def mx_txt_srv_caa_answers(p):
    eq(p.dig("example.com", "MX").rdata("MX"), ["10 mail.example.com.", "20 mail2.example.net."],
       "MX")
    eq(p.dig("example.com", "TXT").rdata("TXT"), ['"v=spf1 mx -all"'], "TXT")
    eq(p.dig("_sip._tcp.example.com", "SRV").rdata("SRV"), ["10 60 5060 sip.example.com."], "SRV")
    eq(p.dig("example.com", "CAA").rdata("CAA"), ['0 issue "letsencrypt.org"'], "CAA")


@dns_test
def other_types_are_served(p):
    eq(p.dig("4.2.0.192.in-addr.example.com", "PTR").rdata("PTR"), ["www.example.com."], "PTR")
    check(p.dig("ssh.example.com", "SSHFP").rdata("SSHFP"), "SSHFP answer")
    check(p.dig("_443._tcp.www.example.com", "TLSA").rdata("TLSA"), "TLSA answer")
    check(p.dig("svc.example.com", "HTTPS").rdata("HTTPS"), "HTTPS answer")


@dns_test
def mx_additional_section_has_the_in_zone_address(p):
    a = p.dig("example.com", "MX")
    check(("mail.example.com.", 3600, "A", "192.0.2.25") in a.rr("ADDITIONAL"),
          f"glue for mail missing: {a.rr('ADDITIONAL')}")


@dns_test
def cname_chain_inside_the_zone_is_followed(p):
    a = p.dig("chain1.example.com", "A")
    eq(a.status, "NOERROR", "status")
    eq(a.rdata("CNAME"), ["chain2.example.com.", "www.example.com."], "CNAMEs")
    eq(a.rdata("A"), ["192.0.2.10", "192.0.2.11"], "A at the end of the chain")
    eq(p.dig("alias.example.com", "AAAA").rdata("AAAA"), ["2001:db8::10"], "alias AAAA")


@dns_test
def wildcard_answers_with_the_query_name(p):
    a = p.dig("anything.dyn.example.com", "TXT")
    eq(a.status, "NOERROR", "status")
    eq(a.rr(), [("anything.dyn.example.com.", 3600, "TXT", '"wildcard"')], "wildcard answer")
    a = p.dig("two.labels.dyn.example.com", "TXT")
    eq(a.rdata("TXT"), ['"wildcard"'], "wildcard two labels down")
    a = p.dig("anything.dyn.example.com", "A")
    eq((a.status, a.rr()), ("NOERROR", []), "wildcard NODATA for another type")


@dns_test
def delegation_gives_a_referral_with_glue(p):
    a = p.dig("host.sub.example.com", "A")
    eq(a.status, "NOERROR", "status")
    check("aa" not in a.flags, "a referral must not be authoritative")
    eq(a.rr(), [], "answer section")
    eq(a.rdata("NS", "AUTHORITY"), ["ns.sub.example.com."], "referral NS")
    eq(a.rdata("A", "ADDITIONAL"), ["192.0.2.100"], "glue")


@dns_test
def nxdomain_and_nodata_differ(p):
    a = p.dig("nope.example.com", "A")
    eq(a.status, "NXDOMAIN", "missing name")
    eq(len(a.rr("AUTHORITY", "SOA")), 1, "SOA in the authority section")
    eq(a.rr("AUTHORITY", "SOA")[0][1], 300, "negative TTL = min(SOA ttl, minimum)")
    a = p.dig("www.example.com", "MX")
    eq((a.status, a.rr()), ("NOERROR", []), "NODATA")
    eq(len(a.rr("AUTHORITY", "SOA")), 1, "SOA with NODATA")


@dns_test
def empty_non_terminals_are_nodata_not_nxdomain(p):
    for name in ("b.ent.example.com", "ent.example.com"):
        a = p.dig(name, "A")
        eq((a.status, a.rr()), ("NOERROR", []), name)
    eq(p.dig("a.b.ent.example.com", "A").rdata("A"), ["192.0.2.99"], "the name below")
    eq(p.dig("x.b.ent.example.com", "A").status, "NXDOMAIN", "below an ENT")


@dns_test
def apex_soa_and_ns(p):
    a = p.dig("example.com", "SOA")
    eq(a.rdata("SOA"), ["ns1.example.com. hostmaster.example.com. 2026113001 10800 3600 604800 300"],
       "SOA")
    a = p.dig("example.com", "NS")
    eq(a.rdata("NS"), ["ns1.example.com.", "ns2.example.net."], "NS")
    eq(a.rdata("A", "ADDITIONAL"), ["192.0.2.53"], "NS glue")


@dns_test
def mixed_case_and_escaped_names(p):
    a = p.dig("WwW.ExAmPlE.cOm", "A")
    eq(a.rdata("A"), ["192.0.2.10", "192.0.2.11"], "mixed case")
    eq(a.rr()[0][0], "www.example.com.", "owner")
    check("WwW.ExAmPlE.cOm." in a.text, "pdns keeps the query's case in the answer")
    eq(p.dig("sp\\032ace.example.com", "A").rdata("A"), ["192.0.2.32"], "\\032 escape")


@dns_test
def several_zones_and_the_deepest_zone_wins(p):
    eq(p.dig("www.example.net", "A").rdata("A"), ["203.0.113.80"], "example.net")
    a = p.dig("www.lab.example.com", "A")
    eq(a.rdata("A"), ["198.51.100.80"], "nested zone")
    a = p.dig("nope.lab.example.com", "A")
    eq(a.status, "NXDOMAIN", "nested zone NXDOMAIN")
    eq([r[0] for r in a.rr("AUTHORITY", "SOA")], ["lab.example.com."], "nested zone SOA")


@dns_test
def names_outside_our_zones_are_refused(p):
    eq(p.dig("www.example.org", "A").status, "REFUSED", "example.org")
    eq(p.dig("com", "SOA").status, "REFUSED", "com")


@dns_test
def any_over_tcp_returns_every_record(p):
    a = p.dig("www.example.com", "ANY", tcp=True)
    eq(a.status, "NOERROR", "status")
    eq(sorted((r[2], r[3]) for r in a.rr()),
       [("A", "192.0.2.10"), ("A", "192.0.2.11"), ("AAAA", "2001:db8::10")], "ANY")


@dns_test
def axfr_transfers_the_whole_zone(p):
    r = subprocess.run(["dig", "@127.0.0.1", "-p", str(p.port), "+time=5", "+tries=1",
                        "example.com", "AXFR"], capture_output=True, text=True, timeout=30)
    recs = [l.split(None, 4) for l in r.stdout.splitlines() if l and not l.startswith(";")]
    eq([x[3] for x in recs].count("SOA"), 2, "AXFR starts and ends with the SOA")
    eq(len(recs), 27 + 1, "records transferred (SOA twice)")
    check(["www.example.com.", "60", "IN", "A", "192.0.2.11"] in recs, "www A in the AXFR")


@dns_test
def pdnsutil_list_zone_shows_every_record(p):
    out = p.pdnsutil("list-zone", "example.com").stdout
    lines = [l for l in out.splitlines() if l and not l.startswith("$")]
    check(lines[0].startswith("example.com\t3600\tIN\tSOA\tns1.example.com. hostmaster."),
          f"SOA first: {lines[0]!r}")
    check("www.example.com\t60\tIN\tA\t192.0.2.10" in lines, "www A in list-zone")
    check("alias.example.com\t3600\tIN\tCNAME\twww.example.com." in lines, "alias in list-zone")
    check(not any("ENT" in l or "TYPE0" in l for l in lines), "no ENT pseudo-records listed")
    eq(len(lines), 27, "records listed")


@dns_test
def pdnsutil_list_all_zones(p):
    out = p.pdnsutil("list-all-zones").stdout.split()
    eq(sorted(out), ["example.com", "example.net", "lab.example.com"], "zones")


@dns_test
def pdnsutil_check_zone_finds_nothing(p):
    for zone in ("example.com", "example.net", "lab.example.com"):
        out = p.pdnsutil("check-zone", zone).stdout
        check(re.search(r"Checked \d+ records of '" + re.escape(zone) +
                        r"', 0 errors, 0 warnings\.", out), f"check-zone {zone}: {out}")


@dns_test
def pdnsutil_check_all_zones_finds_nothing(p):
    r = p.pdnsutil("check-all-zones")
    check("Checked 3 zones, 0 had errors." in r.stdout, f"check-all-zones: {r.stdout}{r.stderr}")
    check("[Warning]" not in r.stdout and "[Error]" not in r.stdout, r.stdout)


@dns_test
def pdns_control_rediscover_and_list_zones(p):
    eq(p.pdns_control("rediscover").strip(), "Ok", "rediscover")
    out = p.pdns_control("list-zones")
    for z in ("example.com.", "example.net.", "lab.example.com."):
        check(z in out, f"{z} in list-zones: {out}")
    eq(p.dig("www.example.com", "A").status, "NOERROR", "still answering")


@dns_test
def backend_cmd_commands(p):
    out = p.pdnsutil("backend-cmd", "remote", "version").stdout
    check(re.search(r"pdns-failover \d+\.\d+\.\d+", out), f"version: {out}")
    out = p.pdnsutil("backend-cmd", "remote", "zones").stdout
    check(re.search(r"example\.com\. id=\d+ serial=2026113001 records=27", out), f"zones: {out}")
    out = p.pdnsutil("backend-cmd", "remote", "help").stdout
    check("zones" in out and "version" in out, f"help: {out}")
    out = p.pdnsutil("backend-cmd", "remote", "frobnicate").stdout
    check("frobnicate" in out, f"unknown command echoed: {out}")


@dns_test
def zone_ids_are_stable_across_restarts(p):
    out1 = p.pdnsutil("backend-cmd", "remote", "zones").stdout
    p.stop()
    p.start()
    out2 = p.pdnsutil("backend-cmd", "remote", "zones").stdout
    eq(out2, out1, "zone ids after a restart")


# ---- the binary on its own --------------------------------------------------------------------

CLI_TESTS = []


def cli_test(fn):
    CLI_TESTS.append(fn)
    return fn


def run_bin(binary, *args, input=None, timeout=20):
    return subprocess.run([binary, *ROOT, *args], input=input, capture_output=True, timeout=timeout)


@cli_test
def help_and_version(b, tmp):
    r = run_bin(b, "--help")
    eq(r.returncode, 0, "--help exit")
    check(b"--listen" in r.stdout and b"--check-config" in r.stdout, "--help text")
    r = run_bin(b, "--version")
    eq(r.returncode, 0, "--version exit")
    check(re.match(rb"pdns-failover \d+\.\d+\.\d+\n$", r.stdout), f"version: {r.stdout!r}")


@cli_test
def bad_command_lines_are_usage_errors(b, tmp):
    for args, text in ((["--bogus"], b"unknown option '--bogus'"),
                       (["--listen"], b"needs a value"),
                       (["--listen", "/x.sock"], b"--listen needs --config"),
                       (["--max-connections", "0"], b"not a number from 1"),
                       (["--socket-mode", "999"], b"not a number"),
                       (["stray"], b"unexpected argument 'stray'")):
        r = run_bin(b, *args)
        eq(r.returncode, 2, f"exit of {args}")
        check(text in r.stderr, f"{args}: {r.stderr!r}")
        eq(r.stdout, b"", f"stdout of {args}")


@cli_test
def check_config_accepts_the_example_stores(b, tmp):
    for store in (STORE, os.path.join(HERE, "..", "..", "pdns-conf", "example-store.json")):
        r = run_bin(b, "--check-config", store)
        eq(r.returncode, 0, f"exit for {store}: {r.stderr!r}")
        check(b"OK" in r.stdout, f"summary: {r.stdout!r}")


@cli_test
def check_config_prints_every_error_with_its_path(b, tmp):
    bad = os.path.join(tmp, "bad.json")
    with open(bad, "w") as f:
        f.write('{"zones": {"example.com.": {"records": {'
                '"@": [{"type": "SOA", "content": "ns1 hostmaster 1 2 3 4 5"}],'
                '"www": [{"type": "A", "content": "192.0.2.300"}, {"type": "BOGUS", "content": "x"}],'
                '"x": [{"type": "A", "content": "192.0.2.1", "ttl": -5}]}}}}')
    r = run_bin(b, "--check-config", bad)
    eq(r.returncode, 1, "exit")
    err = r.stderr.decode()
    for want in ("zones[\"example.com.\"].records[\"www\"][0].content: '192.0.2.300' is not an IPv4 address",
                 "zones[\"example.com.\"].records[\"www\"][1].type: 'BOGUS' is not a supported record type",
                 "zones[\"example.com.\"].records[\"x\"][0].ttl: ttl must be a whole number from 0 to 2147483647, got -5",
                 "4 errors"):
        check(want in err, f"missing {want!r} in:\n{err}")
    r = run_bin(b, "--check-config", os.path.join(tmp, "missing.json"))
    eq(r.returncode, 1, "exit for a missing file")
    check(b"missing.json: cannot open the store file (No such file or directory)" in r.stderr,
          r.stderr)
    with open(bad, "w") as f:
        f.write('{"zones": {\n  "example.com.": [1,\n}')
    r = run_bin(b, "--check-config", bad)
    eq(r.returncode, 1, "exit for a syntax error")
    check(b"line 3, column 1: JSON syntax error: unexpected character" in r.stderr and b"JSON syntax error" in r.stderr, r.stderr)


def pipe_lines(binary, store, requests):
    data = "".join(q + "\n" for q in requests).encode()
    r = run_bin(binary, "--config", store, input=data)
    return r


@cli_test
def pipe_answers_one_line_per_request_and_exits_at_eof(b, tmp):
    reqs = ['{"method":"initialize","parameters":{"command":"x","timeout":"2000"}}',
            'not json at all',
            '{"method":"lookup","parameters":{"qname":"www.example.com.","qtype":"A","zone-id":-1}}',
            '{"method": "noSuchMethod", "parameters": {}}',
            '[1,2,3]',
            '{"method":"lookup","parameters":{"qname":5,"qtype":"A"}}',
            '{"method":"getAllDomains","parameters":{"include_disabled":true}}',
            '\x00\x01\x02',
            '{"method":"lookup","parameters":{"qname":"' + "a" * 70 + '.example.com.","qtype":"A"}}']
    r = pipe_lines(b, STORE, reqs)
    eq(r.returncode, 0, "exit status at EOF")
    lines = r.stdout.split(b"\n")
    eq(lines[-1], b"", "output ends in a newline")
    lines = lines[:-1]
    eq(len(lines), len(reqs), f"one reply per request: {r.stdout!r}")
    eq(lines[0], b'{"result":true}', "initialize")
    check(lines[1].startswith(b'{"result":false,"log":["bad request'), lines[1])
    check(b'"192.0.2.10"' in lines[2] and b'"192.0.2.11"' in lines[2], lines[2])
    eq(lines[3], b'{"result":false}', "unknown method")
    for i in (4, 5, 7, 8):
        check(lines[i].startswith(b'{"result":false,"log":['), f"reply {i}: {lines[i]!r}")
    check(b'"zone":"example.com."' in lines[6], lines[6])
    check(b"longer than 63" in lines[8], lines[8])


@cli_test
def pipe_survives_a_huge_line(b, tmp):
    big = '{"method":"lookup","parameters":{"qname":"' + "x" * (10 * 1024 * 1024) + '"}}'
    r = run_bin(b, "--config", STORE, "--max-line", "65536",
                input=(big + "\n" + '{"method":"lookup","parameters":{"qname":"www.example.com.","qtype":"AAAA"}}\n').encode())
    eq(r.returncode, 0, "exit")
    lines = r.stdout.split(b"\n")[:-1]
    eq(len(lines), 2, "two replies")
    check(b"longer than 65536 bytes" in lines[0], lines[0])
    check(b"2001:db8::10" in lines[1], lines[1])


@cli_test
def pipe_with_a_broken_store_stays_up_and_answers_false(b, tmp):
    bad = os.path.join(tmp, "broken.json")
    with open(bad, "w") as f:
        f.write("{")
    r = run_bin(b, "--config", bad, input=b'{"method":"initialize","parameters":{}}\n'
                b'{"method":"getAllDomains","parameters":{}}\n'
                b'{"method":"lookup","parameters":{"qname":"www.example.com.","qtype":"ANY"}}\n')
    eq(r.returncode, 0, "exit at EOF")
    eq(r.stdout, b'{"result":true}\n{"result":[]}\n{"result":false}\n', "replies")
    check(b"JSON syntax error" in r.stderr, r.stderr)


@cli_test
def pipe_takes_config_from_initialize(b, tmp):
    r = run_bin(b, input=('{"method":"initialize","parameters":{"command":"x","config":"' + STORE +
                          '"}}\n{"method":"getDomainInfo","parameters":{"name":"example.net."}}\n').encode())
    lines = r.stdout.split(b"\n")
    eq(lines[0], b'{"result":true}', "initialize")
    check(b'"zone":"example.net."' in lines[1], lines[1])
    r = run_bin(b, input=b'{"method":"initialize","parameters":{"config":"/nonexistent.json"}}\n')
    check(r.stdout.startswith(b'{"result":false,"log":["cannot open the store file'), r.stdout)


class UnixDaemon:
    """pdns-failover in unix mode; its stderr goes to a file (a full pipe would block it)."""

    def __init__(self, binary, tmp, *extra, store=STORE):
        tag = f"d{os.getpid()}-{time.monotonic_ns()}"
        self.path = os.path.join(tmp, tag + ".sock")
        self.errpath = os.path.join(tmp, tag + ".log")
        self.outpath = os.path.join(tmp, tag + ".out")
        with open(self.errpath, "wb") as err, open(self.outpath, "wb") as out:
            self.proc = subprocess.Popen(
                [binary, *ROOT, "--config", store, "--listen", self.path, *extra], stdout=out,
                stderr=err)
        wait_for(lambda: os.path.exists(self.path) or self.proc.poll() is not None, 10, "socket")
        if self.proc.poll() is not None:
            raise Failure("daemon died: " + self.stderr().decode())

    def stderr(self):
        with open(self.errpath, "rb") as f:
            return f.read()

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.path)  # blocking: waits while the accept backlog is full
        s.settimeout(5)
        return s

    def stop(self):
        """Stops the daemon; returns (stdout, stderr) bytes."""
        stop(self.proc)
        with open(self.outpath, "rb") as f:
            return f.read(), self.stderr()


def ask(s, req):
    s.sendall(req.encode() + b"\n")
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        check(chunk, "connection closed before the reply")
        buf += chunk
    return buf


@cli_test
def unix_stalled_client_does_not_delay_others(b, tmp):
    d = UnixDaemon(b, tmp)
    try:
        stalled = d.connect()
        stalled.sendall(b'{"method":"lookup","parameters":{"qname":"www.exa')  # and nothing more
        slow = d.connect()
        slow.sendall(b'{')
        others = [d.connect() for _ in range(50)]
        t0 = time.monotonic()
        for s in others:
            eq(ask(s, '{"method":"initialize","parameters":{"path":"x"}}'), b'{"result":true}\n', "init")
            check(b"192.0.2.10" in ask(s, '{"method":"lookup","parameters":{"qname":"www.example.com.","qtype":"ANY","zone-id":-1}}'), "lookup")
        check(time.monotonic() - t0 < 5, "answers did not wait for the stalled clients")
        # The stalled client finishes its request and gets its answer too.
        stalled.sendall(b'mple.com.","qtype":"A"}}\n')
        buf = stalled.recv(4096)
        check(b"192.0.2.10" in buf, buf)
        # A client that sends requests without reading replies is not served faster than it reads.
        for s in others + [stalled, slow]:
            s.close()
    finally:
        out, err = d.stop()
    eq(out, b"", "nothing on stdout")
    eq(d.proc.returncode, 0, "clean exit on SIGTERM")
    check(not os.path.exists(d.path), "socket removed at exit")


@cli_test
def unix_socket_errors(b, tmp):
    d = UnixDaemon(b, tmp)
    try:
        r = run_bin(b, "--config", STORE, "--listen", d.path)
        eq(r.returncode, 1, "second daemon on the same socket")
        check(b"is in use" in r.stderr, r.stderr)
        check(os.path.exists(d.path), "the first daemon's socket is left alone")
    finally:
        d.stop()
    long_path = os.path.join(tmp, "x" * 120 + ".sock")
    r = run_bin(b, "--config", STORE, "--listen", long_path)
    eq(r.returncode, 1, "too long")
    check(b"the limit is 107 bytes" in r.stderr, r.stderr)
    plain = os.path.join(tmp, "plainfile")
    open(plain, "w").close()
    r = run_bin(b, "--config", STORE, "--listen", plain)
    eq(r.returncode, 1, "not a socket")
    check(b"exists and is not a socket" in r.stderr, r.stderr)
    # A stale socket from a dead process is replaced.
    stale = os.path.join(tmp, "stale.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(stale)
    s.close()
    p = subprocess.Popen([b, *ROOT, "--config", STORE, "--listen", stale], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        wait_for(lambda: _connectable(stale), 10, "stale socket replaced")
    finally:
        stop(p)
        p.communicate(timeout=5)


def _connectable(path):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


@cli_test
def unix_socket_mode_and_connection_limit(b, tmp):
    d = UnixDaemon(b, tmp, "--max-connections", "3", "--socket-mode", "0600")
    try:
        eq(oct(os.stat(d.path).st_mode & 0o777), "0o600", "socket mode")
        conns = [d.connect() for _ in range(3)]
        for s in conns:
            eq(ask(s, '{"method":"initialize","parameters":{}}'), b'{"result":true}\n', "init")
        extra = d.connect()
        try:
            extra.sendall(b'{"method":"initialize","parameters":{}}\n')
            got = extra.recv(100)
        except OSError:
            got = b""
        eq(got, b"", "a connection over the limit is closed")
        conns[0].close()
        time.sleep(0.2)
        s = d.connect()
        eq(ask(s, '{"method":"initialize","parameters":{}}'), b'{"result":true}\n', "room again")
    finally:
        out, err = d.stop()
    check(b"refusing a connection" in err, err)


def lookup_www(sock):
    """One lookup of www.example.com on a fresh connection to a unix-mode daemon."""
    c = socket.socket(socket.AF_UNIX)
    try:
        c.connect(sock)
        c.settimeout(5)
        return ask(c, '{"method":"lookup","parameters":{"qname":"www.example.com.","qtype":"ANY"}}')
    finally:
        c.close()


@cli_test
def root_is_refused_unless_allowed(b, tmp):
    if os.geteuid() != 0:
        return  # nothing to refuse; the CI machines run this as root
    sock = os.path.join(tmp, "root.sock")
    for args in (["--config", STORE], ["--config", STORE, "--listen", sock]):
        r = subprocess.run([b, *args], input=b'{"method":"initialize","parameters":{}}\n',
                           capture_output=True, timeout=20)
        eq(r.returncode, 2, f"exit of {args} as root")
        check(b"refusing to run as root" in r.stderr and b"--allow-root" in r.stderr, r.stderr)
        eq(r.stdout, b"", "nothing on stdout")
        check(not os.path.exists(sock), "no socket created")
    # The tools that only read or edit files still run as root.
    r = subprocess.run([b, "--check-config", STORE], capture_output=True, timeout=20)
    eq(r.returncode, 0, r.stderr)
    # As an unprivileged user (setpriv, as in the systemd unit's User=), no flag is needed.
    if shutil.which("setpriv"):
        nd = tempfile.mkdtemp(prefix="pf-nobody-")  # tmp's parents are not open to nobody
        os.chmod(nd, 0o777)
        sock = os.path.join(nd, "s.sock")
        state = os.path.join(nd, "state")
        store = os.path.join(nd, "store.json")  # the checkout may be closed to nobody
        shutil.copy(STORE, store)
        os.chmod(store, 0o644)
        exe = os.path.join(nd, "pdns-failover")
        shutil.copy2(b, exe)
        with open(os.path.join(tmp, "nobody.log"), "wb") as err:
            p = subprocess.Popen(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                  "--", exe, "--config", store, "--listen", sock, "--state-dir",
                                  state], stdout=subprocess.DEVNULL, stderr=err)
        try:
            wait_for(lambda: _connectable(sock) or p.poll() is not None, 10, "socket")
            if p.poll() is not None:
                raise Failure("the daemon did not run as nobody: " +
                              open(os.path.join(tmp, "nobody.log")).read())
            st = os.stat(sock)
            eq(oct(st.st_mode & 0o777), "0o660", "default socket mode")
            check(b"192.0.2.10" in lookup_www(sock), "answers")
        finally:
            stop(p)
            shutil.rmtree(nd, ignore_errors=True)


@cli_test
def socket_is_never_world_writable(b, tmp):
    for mode in ("0666", "0662", "0777", "2"):
        r = run_bin(b, "--config", STORE, "--listen", os.path.join(tmp, "w.sock"),
                    "--socket-mode", mode)
        eq(r.returncode, 2, f"exit for --socket-mode {mode}")
        check(b"every local user" in r.stderr and b"--socket-group" in r.stderr, r.stderr)
    grp_name = "nogroup"
    d = UnixDaemon(b, tmp, "--socket-group", grp_name, "--socket-mode", "0640")
    try:
        st = os.stat(d.path)
        eq(oct(st.st_mode & 0o777), "0o640", "socket mode")
        eq(grp.getgrgid(st.st_gid).gr_name, grp_name, "socket group")
    finally:
        d.stop()


@cli_test
def store_limits_are_configurable_with_clear_errors(b, tmp):
    size = os.path.getsize(STORE)
    r = run_bin(b, "--max-store-bytes", str(size - 1), "--check-config", STORE)
    eq(r.returncode, 1, "over --max-store-bytes")
    check(f"is {size} bytes; the limit is {size - 1} (--max-store-bytes)".encode() in r.stderr,
          r.stderr)
    r = run_bin(b, "--max-store-bytes", str(size), "--check-config", STORE)
    eq(r.returncode, 0, f"at the limit: {r.stderr!r}")
    example = os.path.join(HERE, "..", "..", "pdns-conf", "example-store.json")
    r = run_bin(b, "--max-members", "1", "--check-config", example)
    eq(r.returncode, 1, "over --max-members")
    check(b'pools["web"].members: 2 members; a pool has at most 1 (--max-members)' in r.stderr,
          r.stderr)
    for args, text in ((["--max-store-bytes", "12"], b"not a number from 1024"),
                       (["--max-members", "5000"], b"not a number from 1 to 4096"),
                       (["--max-line", "x"], b"not a number")):
        r = run_bin(b, *args, "--check-config", STORE)
        eq(r.returncode, 2, f"exit of {args}")
        check(text in r.stderr, f"{args}: {r.stderr!r}")
    # Pipe mode: the error is logged and lookups fail (as for any store that cannot be loaded).
    r = run_bin(b, "--config", STORE, "--max-store-bytes", str(size - 1),
                input=b'{"method":"initialize","parameters":{}}\n{"method":"lookup","parameters":'
                      b'{"qname":"www.example.com.","qtype":"ANY"}}\n')
    check(b"(--max-store-bytes)" in r.stderr, r.stderr)
    eq(r.stdout.split(b"\n")[1], b'{"result":false}', "lookup")
    # A reload past the limit keeps serving the store it has.
    store = os.path.join(tmp, "grow.json")
    shutil.copy(STORE, store)
    sock = os.path.join(tmp, "grow.sock")
    with open(os.path.join(tmp, "grow.log"), "wb") as err:
        p = subprocess.Popen([b, *ROOT, "--config", store, "--listen", sock,
                              "--max-store-bytes", str(size + 100)], stdout=subprocess.DEVNULL,
                             stderr=err)
    try:
        wait_for(lambda: _connectable(sock), 10, "socket")
        with open(store, "a") as f:
            f.write(" " * 200)
        wait_for(lambda: b"--max-store-bytes" in open(os.path.join(tmp, "grow.log"), "rb").read(),
                 10, "the reload's error")
        check(b"192.0.2.10" in lookup_www(sock), "still answers")
    finally:
        stop(p)


@cli_test
def unix_many_concurrent_connections(b, tmp):
    d = UnixDaemon(b, tmp)
    try:
        conns = [d.connect() for _ in range(300)]
        for s in conns:
            s.sendall(b'{"method":"lookup","parameters":{"qname":"www.example.net.","qtype":"A"}}\n')
        for s in conns:
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(4096)
                check(chunk, "closed")
                buf += chunk
            check(b"203.0.113.80" in buf, buf)
        for s in conns:
            s.close()
    finally:
        d.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--modes", default="pipe,unix,pipe-option")
    ap.add_argument("--only", default="", help="run tests whose name contains this")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    work = tempfile.mkdtemp(prefix="pf-e2e-")
    results = []

    def run(name, fn, *a):
        if args.only and args.only not in name:
            return
        t0 = time.monotonic()
        try:
            fn(*a)
            results.append((name, None))
            print(f"ok {len(results)} - {name} ({time.monotonic() - t0:.2f}s)", flush=True)
        except Exception as e:  # noqa: BLE001 - report every kind of failure as a test failure
            results.append((name, e))
            print(f"not ok {len(results)} - {name}", flush=True)
            for line in f"{type(e).__name__}: {e}".splitlines():
                print(f"#   {line}", flush=True)

    try:
        for fn in CLI_TESTS:
            d = tempfile.mkdtemp(dir=work)
            run(f"cli: {fn.__name__}", fn, binary, d)
        for mode in args.modes.split(","):
            p = Pdns(binary, mode, work)
            try:
                started = False
                try:
                    p.start()
                    started = True
                except Exception as e:  # noqa: BLE001
                    run(f"{mode}: pdns_server starts", lambda: (_ for _ in ()).throw(e))
                if started:
                    for fn in DNS_TESTS:
                        run(f"{mode}: {fn.__name__}", fn, p)
            finally:
                p.stop()
                failed_here = any(err for name, err in results if name.startswith(mode + ":"))
                if failed_here:
                    print(f"# {mode}: pdns log tail:\n# " + p.log("pdns.log").replace("\n", "\n# "))
                    if mode == "unix":
                        print("# daemon log tail:\n# " + p.log("daemon.log").replace("\n", "\n# "))
        run("no sanitizer report in the logs", check_no_sanitizer_report, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    failed = sum(1 for _, e in results if e)
    print(f"1..{len(results)}")
    print(f"# e2e: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
