#!/usr/bin/env python3
"""End-to-end tests of `pdns-failover zone add|delete|list` and `pdns-failover fmt`.

pdns 4.7 cannot create or delete zones through a remote backend, so zones are added to the store
file by our CLI, which then tells pdns over its control socket (rediscover, purge). Each test runs
a real pdns_server on loopback (pipe and unix connectors) on its own copy of the test store.
TAP output; exit status 1 when a test failed.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e import Failure, check, eq  # noqa: E402

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def cli(binary, *args, timeout=30):
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout)


def fresh_store(tmp, binary, extra=None):
    path = os.path.join(tmp, "store.json")
    with open(e2e.STORE) as f:
        doc = json.load(f)
    if extra:
        doc.update(extra)
    with open(path, "w") as f:
        json.dump(doc, f)
    r = cli(binary, "fmt", path)
    eq(r.returncode, 0, f"fmt: {r.stderr}")
    return path


def start(binary, mode, tmp, store):
    p = e2e.Pdns(binary, mode, tmp, store=store)
    p.start()
    return p


@test
def add_then_answer_at_once(binary, mode, tmp):
    store = fresh_store(tmp, binary)
    p = start(binary, mode, tmp, store)
    try:
        eq(p.dig("new.test", "SOA").status, "REFUSED", "before: not ours")
        r = cli(binary, "zone", "add", "New.Test", "--config", store, "--ns", "ns1.new.test",
                "--ns", "ns2.new.test", "--ttl", "600", "--pdns-socket", p.sockdir)
        eq(r.returncode, 0, f"zone add: {r.stdout}{r.stderr}")
        check("zone new.test. added" in r.stdout, r.stdout)
        check("rediscover" in r.stdout, r.stdout)
        # No waiting: rediscover makes pdns ask for the zone list, which is read fresh.
        a = p.dig("new.test", "SOA")
        eq(a.status, "NOERROR", "SOA of the new zone right after zone add")
        soa = a.rdata("SOA")[0].split()
        eq(soa[:2], ["ns1.new.test.", "hostmaster.new.test."], "default SOA names")
        check(soa[2] == time.strftime("%Y%m%d01", time.gmtime()), f"date serial: {soa}")
        eq(sorted(p.dig("new.test", "NS").rdata("NS")), ["ns1.new.test.", "ns2.new.test."], "NS")
        eq(str(p.dig("new.test", "NS").rr(rtype="NS")[0][1]), "600", "zone TTL")
        with open(store) as f:
            doc = json.load(f)
        eq(doc["zones"]["new.test."],
           {"ttl": 600, "records": {"@": [
               {"type": "SOA", "content": f"ns1.new.test. hostmaster.new.test. {soa[2]} "
                                          "10800 3600 604800 300"},
               {"type": "NS", "content": "ns1.new.test."},
               {"type": "NS", "content": "ns2.new.test."}]}}, "the zone in the store")
        # pdnsutil sees it and can edit it like any other zone
        out = p.pdnsutil("list-zone", "new.test").stdout
        check("ns2.new.test" in out, out)
        p.pdnsutil("add-record", "new.test", "www", "A", "300", "192.0.2.44")
        # pdnsutil wrote the file from its own co-process; pdns's backends reload it (< 1 s)
        e2e.wait_for(lambda: p.dig("www.new.test", "A").rdata("A") == ["192.0.2.44"], 1.5,
                     "the record added with pdnsutil")
    finally:
        p.stop()


@test
def delete_refuses_at_once_and_keeps_the_rest(binary, mode, tmp):
    store = fresh_store(tmp, binary)
    p = start(binary, mode, tmp, store)
    try:
        eq(p.dig("example.net", "SOA").status, "NOERROR", "before")
        r = cli(binary, "zone", "delete", "example.net.", "--config", store, "--pdns-socket",
                os.path.join(p.sockdir, "pdns.controlsocket"))
        eq(r.returncode, 0, f"zone delete: {r.stdout}{r.stderr}")
        eq(p.dig("example.net", "SOA").status, "REFUSED", "deleted zone right after")
        eq(p.dig("example.com", "SOA").status, "NOERROR", "other zones stay")
        with open(store) as f:
            zones = json.load(f)["zones"]
        eq(sorted(zones), ["example.com.", "lab.example.com."], "zones left in the store")
        out = p.pdns_control("list-zones")
        check("example.net" not in out and "example.com" in out, out)
    finally:
        p.stop()


@test
def control_socket_from_the_store(binary, mode, tmp):
    sockdir = os.path.join(tmp, "run")  # Pdns puts pdns's socket-dir here
    store = fresh_store(tmp, binary)
    p = e2e.Pdns(binary, mode, tmp, store=store)
    with open(store) as f:
        doc = json.load(f)
    doc["pdns"] = {"control_socket": os.path.join(p.sockdir, "pdns.controlsocket")}
    with open(store, "w") as f:
        json.dump(doc, f)
    del sockdir
    p.start()
    try:
        r = cli(binary, "zone", "add", "store-socket.test", "--config", store, "--ns",
                "ns1.example.com")
        eq(r.returncode, 0, f"zone add: {r.stdout}{r.stderr}")
        check("rediscover" in r.stdout, r.stdout)
        eq(p.dig("store-socket.test", "SOA").status, "NOERROR", "new zone served")
    finally:
        p.stop()


@test
def refused_edits_change_nothing(binary, mode, tmp):
    store = fresh_store(tmp, binary)
    with open(store, "rb") as f:
        before = f.read()
    cases = [
        (["add", "example.com", "--ns", "ns1.example.com"], 1, "already in the store"),
        (["add", "EXAMPLE.COM.", "--ns", "ns1.example.com"], 1, "already in the store"),
        (["delete", "missing.test"], 1, "is not in the store"),
        (["add", "bad..name", "--ns", "ns1.example.com"], 1, "zone name 'bad..name'"),
        (["add", "x.test", "--ns", "ns1", "--soa", "only three fields"], 1, "SOA"),
        (["add", "x.test"], 2, "needs at least one --ns"),
        (["add", "x.test", "--ns", "a", "--ttl", "-5"], 2, "--ttl"),
        (["delete", "x.test", "--ns", "a"], 2, "delete takes no --ns"),
        (["frobnicate", "x.test"], 2, "expected 'add NAME'"),
        ([], 2, "add, delete or list?"),
    ]
    for args, rc, text in cases:
        r = cli(binary, "zone", *args[:1], *args[1:], "--config", store)
        eq(r.returncode, rc, f"exit of zone {args}: {r.stderr}")
        check(text in r.stderr, f"zone {args}: stderr {r.stderr!r}")
        eq(r.stdout, "", f"zone {args}: stdout")
    r = cli(binary, "zone", "add", "x.test", "--ns", "a.test")
    eq(r.returncode, 2, "no --config")
    check("--config" in r.stderr, r.stderr)
    r = cli(binary, "zone", "add", "x.test", "--ns", "a.test", "--config",
            os.path.join(tmp, "missing.json"))
    eq(r.returncode, 1, "missing store")
    check("missing.json" in r.stderr and "No such file" in r.stderr, r.stderr)
    with open(store, "rb") as f:
        eq(f.read(), before, "store bytes after refused edits")


@test
def pdns_not_told_is_reported(binary, mode, tmp):
    store = fresh_store(tmp, binary)
    p = start(binary, mode, tmp, store)
    try:
        # no socket anywhere: done, with a note saying what to run
        r = cli(binary, "zone", "add", "quiet.test", "--config", store, "--ns", "ns1.quiet.test")
        eq(r.returncode, 0, f"exit: {r.stderr}")
        check("pdns_control rediscover" in r.stderr, r.stderr)
        p.pdns_control("rediscover")
        eq(p.dig("quiet.test", "SOA").status, "NOERROR", "served after a manual rediscover")
        # a socket that is not there: the store changed, exit 3 says pdns was not told
        r = cli(binary, "zone", "add", "lost.test", "--config", store, "--ns", "ns1.lost.test",
                "--pdns-socket", os.path.join(tmp, "nowhere"))
        eq(r.returncode, 3, f"exit: {r.stderr}")
        check("telling pdns failed" in r.stderr and "nowhere" in r.stderr, r.stderr)
        with open(store) as f:
            check("lost.test." in json.load(f)["zones"], "the zone was added anyway")
    finally:
        p.stop()


@test
def list_shows_every_zone(binary, mode, tmp):
    store = fresh_store(tmp, binary)
    r = cli(binary, "zone", "list", "--config", store)
    eq(r.returncode, 0, r.stderr)
    names = [line.split("\t")[0] for line in r.stdout.splitlines()]
    eq(names, ["example.com.", "lab.example.com.", "example.net."], "zone list")
    check("serial 2026113001" in r.stdout, r.stdout)


@test
def fmt_rewrites_and_checks(binary, mode, tmp):
    path = os.path.join(tmp, "hand.json")
    shutil.copyfile(os.path.join(e2e.HERE, "..", "..", "pdns-conf", "example-store.json"), path)
    with open(path) as f:
        doc = json.load(f)
    with open(path, "w") as f:  # hand-formatted: everything on one line
        json.dump(doc, f)
    os.chmod(path, 0o640)
    r = cli(binary, "fmt", "--check", path)
    eq(r.returncode, 1, "--check on a one-line file")
    check("not in the canonical layout" in r.stderr, r.stderr)
    r = cli(binary, "fmt", path)
    eq(r.returncode, 0, r.stderr)
    check("rewritten" in r.stdout, r.stdout)
    eq(os.stat(path).st_mode & 0o777, 0o640, "mode kept")
    check(not os.path.exists(path + ".tmp"), "no temp file left")
    with open(path) as f:
        text = f.read()
    eq(json.loads(text), doc, "same document")
    check('        {"name": "web1", "address": "127.0.0.11", "tier": 1},\n' in text, text)
    r = cli(binary, "fmt", "--check", path)
    eq(r.returncode, 0, f"--check after fmt: {r.stderr}")
    r = cli(binary, "fmt", path)
    check("already canonical" in r.stdout, r.stdout)
    # a broken file is refused with its position, and left alone
    bad = os.path.join(tmp, "bad.json")
    with open(bad, "w") as f:
        f.write('{"zones": {"a.": {"records": {}},\n  "a.": 1}}\n')
    r = cli(binary, "fmt", bad)
    eq(r.returncode, 1, "fmt of a file with a duplicate key")
    check("line 2, column 3: duplicate key" in r.stderr, r.stderr)
    with open(bad) as f:
        eq(f.read(), '{"zones": {"a.": {"records": {}},\n  "a.": 1}}\n', "bad file untouched")
    for args in ([], ["--bogus", path], [path, path]):
        eq(cli(binary, "fmt", *args).returncode, 2, f"fmt {args}")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--modes", default="pipe,unix")
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    work = tempfile.mkdtemp(prefix="pf-zones-")
    results = []
    try:
        for mode in args.modes.split(","):
            for fn in TESTS:
                name = f"{mode}: {fn.__name__}"
                if args.only and args.only not in name:
                    continue
                if mode != "pipe" and fn in (list_shows_every_zone, fmt_rewrites_and_checks,
                                             refused_edits_change_nothing):
                    continue  # no pdns involved: once is enough
                tmp = tempfile.mkdtemp(dir=work)
                t0 = time.monotonic()
                try:
                    fn(binary, mode, tmp)
                    results.append(None)
                    print(f"ok {len(results)} - {name} ({time.monotonic() - t0:.2f}s)",
                          flush=True)
                except Exception as e:  # noqa: BLE001
                    results.append(e)
                    print(f"not ok {len(results)} - {name}", flush=True)
                    for line in f"{type(e).__name__}: {e}".splitlines():
                        print(f"#   {line}", flush=True)
                    for log in ("pdns.log", "daemon.log"):
                        for d in os.listdir(tmp):
                            lp = os.path.join(tmp, d, log)
                            if os.path.exists(lp):
                                with open(lp) as f:
                                    tail = f.read()[-1500:]
                                print(f"# {log}:\n# " + tail.replace("\n", "\n# "))
        try:  # every daemon has exited: leak reports (at exit) are in the logs too
            e2e.check_no_sanitizer_report(work)
            results.append(None)
            print(f"ok {len(results)} - no sanitizer report in the logs", flush=True)
        except Exception as e:  # noqa: BLE001
            results.append(e)
            print(f"not ok {len(results)} - no sanitizer report in the logs\n#   {e}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    failed = sum(1 for e in results if e)
    print(f"1..{len(results)}")
    print(f"# zones: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
