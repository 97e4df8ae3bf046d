#!/usr/bin/python3
"""End-to-end test of transition notifications: pdns-failover (unix mode) with a store whose
"notify" webhook points at a local receiver; a member going down and up must arrive as JSON
POSTs, in order. Prints TAP. Loopback only; every wait bounded; processes stopped by PID."""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e import check, eq, stop, wait_for  # noqa: E402


class Receiver(BaseHTTPRequestHandler):
    bodies = []

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        Receiver.bodies.append((self.headers.get("Content-Type"), json.loads(body)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


class Health(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *a):
        pass


def serve(addr, handler):
    s = HTTPServer(addr, handler)
    threading.Thread(target=s.serve_forever, daemon=True).start()
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="pf-webhook-")
    recv = serve(("127.0.0.1", 0), Receiver)
    web = serve(("127.0.0.61", 0), Health)
    port = web.server_address[1]
    store = {
        "notify": {"webhook": f"http://127.0.0.1:{recv.server_address[1]}/hook"},
        "checks": {"c": {"type": "http", "port": port, "interval": 0.5, "timeout": 0.2,
                         "rise": 1, "fall": 1}},
        "pools": {"web": {"check": "c", "members": [{"name": "web1", "address": "127.0.0.61"}]}},
        "zones": {"example.com.": {"records": {
            "@": [{"type": "SOA", "content": "ns1 hostmaster 1 3600 600 86400 60"},
                  {"type": "NS", "content": "ns1"}],
            "www": [{"type": "A", "pool": "web"}]}}},
    }
    path = os.path.join(tmp, "store.json")
    with open(path, "w") as f:
        json.dump(store, f)
    log = open(os.path.join(tmp, "daemon.log"), "w")
    root = ["--allow-root"] if os.geteuid() == 0 else []
    d = subprocess.Popen([os.path.abspath(args.binary), *root, "--config", path, "--listen",
                          os.path.join(tmp, "s.sock"), "--state-dir", os.path.join(tmp, "st")],
                         stdout=subprocess.DEVNULL, stderr=log)
    results = []

    def t(name, fn):
        try:
            fn()
            results.append(True)
            print(f"ok {len(results)} - {name}", flush=True)
        except Exception as e:  # noqa: BLE001
            results.append(False)
            print(f"not ok {len(results)} - {name}\n#   {e}", flush=True)

    try:
        def first_up():
            wait_for(lambda: len(Receiver.bodies) >= 1, 10, "the first notification")
            ctype, b = Receiver.bodies[0]
            eq(ctype, "application/json", "content type")
            eq((b["event"], b["member"], b["pool"], b["address"], b["port"], b["from"], b["to"]),
               ("transition", "web1", "web", "127.0.0.61", port, "unknown", "up"), "first body")
        t("the first verdict is POSTed as JSON", first_up)

        def down_then_up():
            web.shutdown()
            web.server_close()
            wait_for(lambda: len(Receiver.bodies) >= 2, 10, "the down notification")
            b = Receiver.bodies[1][1]
            eq((b["from"], b["to"]), ("up", "down"), "second body")
            check(b["reason"] and b["reason"] != "ok", f"reason: {b['reason']}")
            check(b["time"].endswith("Z") and "T" in b["time"], f"time: {b['time']}")
            serve(("127.0.0.61", port), Health)
            wait_for(lambda: len(Receiver.bodies) >= 3, 10, "the up notification")
            b = Receiver.bodies[2][1]
            eq((b["from"], b["to"]), ("down", "up"), "third body, in order")
        t("down and up arrive in order", down_then_up)

        def bad_url():
            bad = dict(store, notify={"webhook": "ftp://x"})
            p2 = os.path.join(tmp, "bad.json")
            with open(p2, "w") as f:
                json.dump(bad, f)
            r = subprocess.run([args.binary, "--check-config", p2], capture_output=True,
                               text=True, timeout=10)
            eq(r.returncode, 1, "exit")
            check("notify.webhook: 'ftp://x' is not an http:// or https:// URL" in r.stderr,
                  r.stderr)
        t("a webhook that is not http(s) is a store error", bad_url)
    finally:
        stop(d)
        log.close()
    t("no sanitizer report in the daemon's log", lambda: e2e.check_no_sanitizer_report(tmp))
    print(f"1..{len(results)}")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
