#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Writes a synthetic pdns-failover store for the lookup benchmark.

Usage: gen-store.py [N] OUT [--zones Z]

OUT        the store (JSON), about N records (default 100000) spread over Z zones (default 4)
OUT.names  every owner name in the store, absolute, one per line: the names the benchmark
           queries (it makes up its own misses)

Zones are example0.test. .. example<Z-1>.test.; each apex has an SOA and two NS records, with
ns1/ns2/mail A records for them. Hosts are host<i>.example<i % Z>.test.: every host has an A
record, every 2nd an AAAA, every 5th a TXT and every 10th an MX, so the mix is about 56% A,
28% AAAA, 11% TXT and 6% MX. Every 7th host's A record has its own TTL. The AAAA address of
host i is 2001:db8:<z+1>::<i+1> while i+1 fits one hextet, 2001:db8:<z+1>:<high>::<low> past
that (beyond about 118,000 records), so every address is valid. The output depends on N and Z
only (no randomness, no clock).
"""

import argparse
import json
import sys


def zone_name(z):
    return "example%d.test." % z


def aaaa(z, i):
    """Host i's IPv6 address in zone z: 2001:db8:<z+1>::<i+1>, and once i+1 no longer fits one
    hextet, 2001:db8:<z+1>:<high 16 bits>::<low 16 bits>, so every address is valid and those of
    stores with up to 65,535 hosts stay as they always were."""
    n = i + 1
    if n <= 0xFFFF:
        return "2001:db8:%x::%x" % (z + 1, n)
    return "2001:db8:%x:%x::%x" % (z + 1, n >> 16, n & 0xFFFF)


def host_records(i, z):
    """The records of host i in zone z, as store record objects."""
    recs = []
    a = {"type": "A", "content": "10.%d.%d.%d" % (z, (i >> 8) & 255, i & 255)}
    if i % 7 == 0:
        a["ttl"] = 60
    recs.append(a)
    if i % 2 == 0:
        recs.append({"type": "AAAA", "content": aaaa(z, i)})
    if i % 5 == 0:
        recs.append({"type": "TXT", "content": '"benchmark host %d" "zone %d"' % (i, z)})
    if i % 10 == 0:
        recs.append({"type": "MX", "content": "10 mail.%s" % zone_name(z)})
    return recs


def apex_records(z):
    zn = zone_name(z)
    return {
        "@": [
            {
                "type": "SOA",
                "content": "ns1.%s hostmaster.%s 2026113001 10800 3600 604800 300" % (zn, zn),
            },
            {"type": "NS", "content": "ns1.%s" % zn},
            {"type": "NS", "content": "ns2.%s" % zn},
        ],
        "ns1": [{"type": "A", "content": "192.0.2.%d" % (2 * z + 1)}],
        "ns2": [{"type": "A", "content": "198.51.100.%d" % (2 * z + 1)}],
        "mail": [{"type": "A", "content": "203.0.113.%d" % (z + 1)}],
    }


def build(n, nzones):
    zones = []
    total = 0
    for z in range(nzones):
        recs = apex_records(z)
        total += sum(len(v) for v in recs.values())
        zones.append(recs)
    i = 0
    while total < n:
        z = i % nzones
        recs = host_records(i, z)
        zones[z]["host%d" % i] = recs
        total += len(recs)
        i += 1
    return zones, total


def write_store(path, zones):
    # One owner per line: a readable file that diffs well, and still plain JSON.
    with open(path, "w", encoding="ascii") as f:
        f.write('{"zones": {\n')
        for z, recs in enumerate(zones):
            f.write('%s: {"ttl": 3600, "records": {\n' % json.dumps(zone_name(z)))
            owners = list(recs)
            for k, owner in enumerate(owners):
                sep = "," if k + 1 < len(owners) else ""
                f.write("  %s: %s%s\n" % (json.dumps(owner), json.dumps(recs[owner]), sep))
            f.write("}}%s\n" % ("," if z + 1 < len(zones) else ""))
        f.write("}}\n")


def write_names(path, zones):
    with open(path, "w", encoding="ascii") as f:
        for z, recs in enumerate(zones):
            zn = zone_name(z)
            for owner in recs:
                f.write(zn if owner == "@" else "%s.%s" % (owner, zn))
                f.write("\n")


def main():
    ap = argparse.ArgumentParser(description="Write a synthetic store for bench/lookup_bench.")
    ap.add_argument("args", nargs="+", metavar="[N] OUT", help="record count and output file")
    ap.add_argument("--zones", type=int, default=4, help="number of zones (default 4)")
    o = ap.parse_args()
    if len(o.args) > 2:
        ap.error("expected [N] OUT")
    if len(o.args) == 2:
        try:
            n = int(o.args[0])
        except ValueError:
            ap.error("N must be a number, got %r" % o.args[0])
        out = o.args[1]
    else:
        n, out = 100000, o.args[0]
    if n < 1 or o.zones < 1 or o.zones > 255:
        ap.error("N must be at least 1 and --zones from 1 to 255")
    zones, total = build(n, o.zones)
    write_store(out, zones)
    write_names(out + ".names", zones)
    names = sum(len(r) for r in zones)
    print("%s: %d zones, %d records, %d names" % (out, len(zones), total, names), file=sys.stderr)


if __name__ == "__main__":
    main()
