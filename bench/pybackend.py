#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A plain Python PowerDNS remote backend, the yardstick for bench/compare.

Usage: pybackend.py --config STORE              pipe mode (pdns runs it; stdin/stdout)
       pybackend.py --config STORE --listen SOCK  unix mode (one thread per connection)

It serves the zones of a pdns-failover store (the JSON file of bench/compare): the static
records, and at names with pool records the A/AAAA addresses of the pool's tier-1 members, a
fixed list (no health checks), with a scopeMask so pdns never caches them. It is written the
way a first Python remote backend is usually written (json.loads, a dict, json.dumps per
request), on purpose: it stands for "a Python remote backend", not for an optimised one.

Methods: initialize, getAllDomains, getDomainInfo, lookup, getAllDomainMetadata,
getDomainMetadata; anything else is answered {"result": false}.
"""

import argparse
import ipaddress
import json
import os
import socketserver
import sys


def absolute(owner, zone):
    if owner == "@":
        return zone
    if owner.endswith("."):
        return owner.lower()
    return (owner + "." + zone).lower()


class Store:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        pools = data.get("pools", {})
        self.zones = {}   # name -> {"id", "zone", "kind", "serial"}
        self.names = {}   # absolute lower-case name -> [record dicts as pdns wants them]
        for zid, (zname, z) in enumerate(sorted(data["zones"].items()), start=1):
            zname = zname.lower() if zname.endswith(".") else zname.lower() + "."
            zttl = z.get("ttl", 3600)
            serial = 0
            for owner, recs in z["records"].items():
                name = absolute(owner, zname)
                out = self.names.setdefault(name, [])
                scoped = any("pool" in r for r in recs)
                for r in recs:
                    if "pool" in r:
                        fam = 4 if r["type"] == "A" else 6
                        members = pools[r["pool"]]["members"]
                        best = min(m.get("tier", 1) for m in members)
                        addrs = [m["address"] for m in members if m.get("tier", 1) == best
                                 and ipaddress.ip_address(m["address"]).version == fam]
                        contents = addrs
                        ttl = r.get("ttl", 30)
                    else:
                        contents = [r["content"]]
                        ttl = r.get("ttl", zttl)
                    for c in contents:
                        rec = {"qtype": r["type"], "qname": name, "content": c, "ttl": ttl,
                               "domain_id": zid}
                        if scoped:
                            rec["scopeMask"] = 32
                        out.append(rec)
                    if r["type"] == "SOA":
                        serial = int(r["content"].split()[2])
            self.zones[zname] = {"id": zid, "zone": zname, "kind": "native", "serial": serial}

    def handle(self, req):
        method = req.get("method", "").lower()
        p = req.get("parameters", {})
        if method == "initialize":
            return True
        if method == "lookup":
            recs = self.names.get(p["qname"].lower(), [])
            qtype = p.get("qtype", "ANY")
            if qtype != "ANY":
                recs = [r for r in recs if r["qtype"] == qtype]
            return recs
        if method == "getalldomains":
            return list(self.zones.values())
        if method == "getdomaininfo":
            return self.zones.get(p["name"].lower(), False)
        if method == "getalldomainmetadata":
            return {}
        if method == "getdomainmetadata":
            return []
        return False

    def answer(self, line):
        try:
            result = self.handle(json.loads(line))
        except Exception as e:  # noqa: BLE001 - a bad request must not end the backend
            return json.dumps({"result": False, "log": ["pybackend: %s" % e]}) + "\n"
        return json.dumps({"result": result}) + "\n"


def serve_pipe(store):
    for line in sys.stdin:
        sys.stdout.write(store.answer(line))
        sys.stdout.flush()


def serve_unix(store, path):
    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            for line in self.rfile:
                self.wfile.write(store.answer(line).encode())

    class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True

    if os.path.exists(path):
        os.unlink(path)
    with Server(path, Handler) as srv:
        try:
            srv.serve_forever()
        finally:
            os.unlink(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True, help="the store (JSON)")
    ap.add_argument("--listen", help="unix socket path (default: pipe mode)")
    a = ap.parse_args()
    store = Store(a.config)
    if a.listen:
        import signal
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        serve_unix(store, a.listen)
    else:
        serve_pipe(store)


if __name__ == "__main__":
    main()
