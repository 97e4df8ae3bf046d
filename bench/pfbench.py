# SPDX-License-Identifier: MIT
"""Helpers shared by bench/scale-probes and bench/failover-timing.

Building, free ports, starting and stopping processes (always by PID, always bounded), the
bench/http_responder endpoint, the pdns-failover daemon in unix mode, and /proc readings. Only
the Python standard library.
"""
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


class BenchError(Exception):
    pass


def log(msg):
    print(f"# {msg}", file=sys.stderr, flush=True)


# ---- build -----------------------------------------------------------------------------------

def binaries(names):
    """Paths of build/pdns-failover and of the bench helpers `names`, building first unless
    PF_BIN (and the helpers' env overrides) are set. A failed build with binaries already there
    gives a warning and uses those (as bench/run does)."""
    build = os.environ.get("BUILD", os.path.join(ROOT, "build"))
    paths = {"pdns-failover": os.environ.get("PF_BIN", os.path.join(build, "pdns-failover"))}
    for n in names:
        paths[n] = os.environ.get(n.upper() + "_BIN", os.path.join(build, "bench", n))
    if not os.environ.get("PF_BIN"):
        if not os.path.exists(os.path.join(build, "build.ninja")):
            r = subprocess.run(["meson", "setup", build, ROOT], capture_output=True, text=True,
                               timeout=600)
            if r.returncode != 0:
                raise BenchError("meson setup failed:\n" + r.stdout[-2000:] + r.stderr[-2000:])
        r = subprocess.run(["meson", "compile", "-C", build], capture_output=True, text=True,
                           timeout=1800)
        if r.returncode != 0:
            if all(os.access(p, os.X_OK) for p in paths.values()):
                log("WARNING: the build failed; measuring the binaries already in " + build +
                    ", which may be stale:\n" + r.stdout[-1500:])
            else:
                raise BenchError("the build failed:\n" + r.stdout[-3000:] + r.stderr[-1000:])
    for n, p in paths.items():
        if not os.access(p, os.X_OK):
            raise BenchError(f"{p}: no {n} binary")
    return {n: os.path.realpath(p) for n, p in paths.items()}


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs, {cpu}, Linux {platform.release()}"


# ---- ports and processes ----------------------------------------------------------------------

def free_port(addr="127.0.0.1", udp=True):
    """A port free on addr for TCP (and UDP)."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind((addr, 0))
        port = t.getsockname()[1]
        if udp:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                u.bind((addr, port))
            except OSError:
                t.close()
                u.close()
                continue
            u.close()
        t.close()
        return port
    raise BenchError("no free port found")


def stop(proc, timeout=5):
    """SIGTERM, then SIGKILL after `timeout` s, to a process we started (by its PID)."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)
    except ProcessLookupError:
        pass


def wait_for(pred, timeout, what, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise BenchError(f"timed out after {timeout} s waiting for {what}")


class Responder:
    """bench/http_responder on addr:port (0: any free port), with a stats line every second read
    by a thread (so its stdout pipe never fills)."""

    def __init__(self, binary, addr="0.0.0.0", port=0, stats=True):
        args = [binary, "--addr", addr, "--port", str(port)]
        if stats:
            args += ["--stats", "1"]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.pid = self.proc.pid
        line = self.proc.stdout.readline()  # the responder prints it at once, or exits
        if not line.startswith("listening "):
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            stop(self.proc)
            raise BenchError(f"http_responder on {addr}:{port} did not start: {line!r} {err}")
        self.addr = addr
        self.port = int(line.split()[1].rsplit(":", 1)[1])
        self.last = None  # (t_ms, served, errors, open)
        self.series = []  # every stats line, in order
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            f = line.split()
            if len(f) == 5 and f[0] == "stats":
                with self.lock:
                    self.last = tuple(int(x) for x in f[1:])
                    self.series.append(self.last)

    def stats(self):
        with self.lock:
            return self.last

    def window(self, t0_ms, t1_ms):
        """Requests served per second, for every stats interval inside [t0_ms, t1_ms]
        (CLOCK_MONOTONIC ms, as time.monotonic() * 1000)."""
        with self.lock:
            s = [x for x in self.series if t0_ms <= x[0] <= t1_ms]
        return [(b[1] - a[1]) * 1000.0 / (b[0] - a[0]) for a, b in zip(s, s[1:]) if b[0] > a[0]]

    def stop(self):
        stop(self.proc)


class Daemon:
    """build/pdns-failover --config STORE --listen SOCK --state-dir DIR [--metrics ...] in a
    directory of its own; stderr to DIR/daemon.log."""

    def __init__(self, binary, store, workdir, metrics_port=None, nofile=None, extra=()):
        self.dir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.sock = os.path.join(workdir, "pf.sock")
        self.state = os.path.join(workdir, "state")
        self.logpath = os.path.join(workdir, "daemon.log")
        self.metrics_port = metrics_port
        args = [binary, *(["--allow-root"] if os.geteuid() == 0 else []), "--config", store,
                "--listen", self.sock, "--state-dir", self.state,
                *extra]
        if metrics_port:
            args += ["--metrics", f"127.0.0.1:{metrics_port}"]

        def limits():
            if nofile:
                import resource
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.t_start = time.monotonic()
        with open(self.logpath, "w") as logf:
            self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=logf,
                                         preexec_fn=limits if nofile else None)
        self.pid = self.proc.pid
        try:
            wait_for(lambda: os.path.exists(self.sock) or self.proc.poll() is not None, 120,
                     "the daemon's socket")
        except BenchError:
            self.stop()
            raise
        if self.proc.poll() is not None:
            raise BenchError("pdns-failover exited:\n" + self.log()[-3000:])
        self.t_socket = time.monotonic()

    def log(self):
        try:
            with open(self.logpath, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def http(self, path, timeout=30):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}{path}",
                                    timeout=timeout) as r:
            return r.read().decode()

    def status(self):
        return json.loads(self.http("/status"))["members"]

    def metrics(self, prefix="pdns_failover_probes_total"):
        """{sample line name with labels: value} for the samples starting with prefix."""
        out = {}
        for line in self.http("/metrics").splitlines():
            if line.startswith(prefix):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
        return out

    def stop(self):
        stop(self.proc)


# ---- /proc -----------------------------------------------------------------------------------

def proc_stat(pid, tid=None):
    """(comm, utime+stime in seconds) of a process or one of its threads; None if gone."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    try:
        with open(path) as f:
            s = f.read()
    except OSError:
        return None
    comm = s[s.index("(") + 1:s.rindex(")")]
    fields = s[s.rindex(")") + 2:].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15
    return comm, (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_seconds(pid):
    st = proc_stat(pid)
    return st[1] if st else None


def cpu_split(pid):
    """(utime, stime) of a process in seconds, or (None, None)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None, None
    fields = s[s.rindex(")") + 2:].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def thread_cpu(pid):
    """{thread name: cpu seconds summed over the threads of that name}."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        st = proc_stat(pid, tid)
        if st:
            out[st[0]] = out.get(st[0], 0.0) + st[1]
    return out


def system_busy():
    """(busy, total) jiffies of all CPUs from /proc/stat (busy: everything but idle and iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    total = sum(v[:8])  # guest time is already in user
    return total - v[3] - v[4], total


def status_kb(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def nofile_limit(pid):
    """(soft, hard) 'Max open files' of a process."""
    try:
        with open(f"/proc/{pid}/limits") as f:
            for line in f:
                if line.startswith("Max open files"):
                    f2 = line.split()
                    return f2[3], f2[4]
    except OSError:
        pass
    return None, None


def percentile(sorted_vals, p):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_vals:
        return float("nan")
    import math
    rank = max(1, math.ceil(p / 100 * len(sorted_vals)))
    return sorted_vals[rank - 1]
