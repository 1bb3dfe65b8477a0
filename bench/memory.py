#!/usr/bin/env python3
"""The memory budgets (issue 14, "Bounded resources"), measured on a running handler binary.
Standard library only; everything on 127.0.0.1; every loop bounded.

  memory.py [--binary target/release/handler] [--azurite CONNECTION_STRING] [--smoke]
            [--env NAME=VALUE]... [--label NAME] [--tsv FILE]

Three handler processes, each in a fresh temporary DATA_DIR, with LOG_FORMAT=json to /dev/null:

  1. embedded storage:
     idle      VmRSS 2 s after the first 200 on GET /api/hello
     hello     VmHWM during GET /api/hello, 64 connections, 5 s (wrk -t2; Python without wrk)
     churn     VmRSS 5 s after 2,000 connections were opened (two waves of 1,000 held open at
               once, one keep-alive GET each) and closed
     login     VmHWM during 200 concurrent POST /api/users/login (50 accounts signed up first,
               4 logins each, one connection each: the lockout counts every check), then
               VmRSS 5 s after the last one ended (with the status counts: 503 is the bounded
               hashing queue refusing work)
  2. embedded storage, fresh: VmHWM during a 100 MB PUT /api/upload/... then GET of it back
     (byte-compared)
  3. the same on Azurite, when --azurite is given (bench/run and bench/memory.sh pass it)

Peaks are per phase: VmHWM is reset (`echo 5 > /proc/PID/clear_refs`) when the phase starts,
so each peak is the highest RSS the phase reached, from whatever the process held before it.
Prints one line per figure and `BUDGET key=value ...`; --tsv appends `memory_budget LABEL KEY
VALUE` rows for bench/report.py. --smoke shrinks every load (seconds) to check the script only.
--env sets variables for the handler (e.g. LD_PRELOAD or GLIBC_TUNABLES to try an allocator
without rebuilding).
"""

import argparse
import asyncio
import hashlib
import http.client
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

MIB = 1024 * 1024
LOGINS_PER_ACCOUNT = 4
BUDGET_MB = {  # the table
    "idle_rss": 10,
    "hello_hwm": 16,
    "churn_rss_over_idle": 8,
    "login_hwm": 64,
    "login_rss_over_idle": 8,
    "upload_hwm": 32,
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_kib(pid):
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key = line.split(":", 1)[0]
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                values[key] = int(line.split()[1])
    return values


def rss(pid):
    return status_kib(pid)["VmRSS"]


def hwm(pid):
    return status_kib(pid)["VmHWM"]


def reset_hwm(pid):
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


class Handler:
    def __init__(self, binary, extra_env, connection=None):
        self.work = tempfile.mkdtemp(prefix="memory.")
        self.port = free_port()
        env = dict(os.environ, LOG_FORMAT="json", DATA_DIR=f"{self.work}/data", PORT=str(self.port))
        env.pop("STORAGE_CONNECTION_STRING", None)
        if connection:
            env["STORAGE_CONNECTION_STRING"] = connection
        env.update(extra_env)
        self.proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL,
                                     stderr=open(f"{self.work}/stderr", "w"))
        self.pid = self.proc.pid
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"handler exited ({self.proc.returncode}): "
                                 + open(f"{self.work}/stderr").read()[-2000:])
            try:
                if self.get("/api/hello")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.02)
        self.stop()
        raise SystemExit("handler did not answer within 30 s")

    def get(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def post_json(self, path, body, timeout=60):
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return json.loads(reply.read() or b"null")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.work, ignore_errors=True)


# --- loads ------------------------------------------------------------------------------------

def hello_load(port, seconds, connections):
    url = f"http://127.0.0.1:{port}/api/hello"
    if shutil.which("wrk"):
        out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", url],
                             capture_output=True, text=True, timeout=seconds + 30).stdout
        line = next((l for l in out.splitlines() if "Requests/sec" in l), "")
        return f"wrk {line.split(':')[-1].strip()} req/s"
    return asyncio.run(python_hello(port, seconds, connections))


async def python_hello(port, seconds, connections):
    done = [0]
    end = time.monotonic() + seconds
    request = f"GET /api/hello HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()

    async def one():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.monotonic() < end:
                writer.write(request)
                await read_response(reader)
                done[0] += 1
        finally:
            writer.close()

    await asyncio.gather(*(one() for _ in range(connections)), return_exceptions=True)
    return f"python {done[0] / seconds:.0f} req/s"


async def read_response(reader):
    """One HTTP/1.1 response with a Content-Length (what the handler sends here); its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)
    return int(head.split(b" ", 2)[1])


async def churn(port, waves, per_wave, timeout=30):
    """Waves of connections held open together, one GET each, then all closed. Connections past
    MAX_CONNECTIONS wait in the backlog until earlier ones close, so each wave closes its
    connections once every one of them is answered (or at its timeout)."""
    answered = 0
    request = f"GET /api/hello HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    for _ in range(waves):
        writers = []

        async def one():
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writers.append(writer)
            writer.write(request)
            return await read_response(reader)

        results = await asyncio.wait_for(
            asyncio.gather(*(one() for _ in range(per_wave)), return_exceptions=True), timeout)
        answered += sum(1 for r in results if r == 200)
        for writer in writers:
            writer.close()
        await asyncio.sleep(0.2)
    return answered


def register(handler, bodies, parallel=4):
    """Signs the accounts up, a few at a time (sign-up hashes too, on the same bounded queue)."""
    pending = list(bodies)
    errors = []

    def worker():
        while pending:
            body = pending.pop()
            for _ in range(50):  # retried while the hashing queue refuses (503)
                try:
                    handler.post_json("/api/users", body)
                    break
                except urllib.error.HTTPError as error:
                    if error.code != 503:
                        errors.append(error.code)
                        break
                    time.sleep(0.1)

    threads = [threading.Thread(target=worker) for _ in range(parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    if errors:
        raise SystemExit(f"sign-up failed: {errors[:5]}")


async def logins(port, bodies, timeout=120):
    """Every login at once, each on its own connection."""
    start = asyncio.Event()

    async def one(body):
        payload = json.dumps(body).encode()
        request = (f"POST /api/users/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                   f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
                   "Connection: close\r\n\r\n").encode() + payload
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            await start.wait()  # every connection is open before any request goes out
            writer.write(request)
            return await read_response(reader)
        finally:
            writer.close()

    tasks = [asyncio.ensure_future(one(body)) for body in bodies]
    await asyncio.sleep(0.5)
    start.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout)
    statuses = {}
    for r in results:
        key = str(r) if isinstance(r, int) else type(r).__name__
        statuses[key] = statuses.get(key, 0) + 1
    return statuses


def upload_download(handler, size):
    """PUT SIZE random bytes (streamed from a file), GET them back; byte-compared by SHA-256."""
    body = {"username": f"mem{os.getpid()}", "password": "memory budget passphrase 42"}
    handler.post_json("/api/users", body)
    token = handler.post_json("/api/users/login", body)["token"]
    auth = {"Authorization": f"Bearer {token}"}
    path = f"{handler.work}/upload.bin"
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, MIB))
            digest.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    time.sleep(1)
    reset_hwm(handler.pid)
    before = rss(handler.pid)
    c = http.client.HTTPConnection("127.0.0.1", handler.port, timeout=600)
    started = time.perf_counter()
    with open(path, "rb") as f:
        c.request("PUT", "/api/upload/memory.bin", f,
                  {"Content-Length": str(size), "Content-Type": "application/octet-stream", **auth})
        r = c.getresponse()
        r.read()
    if r.status != 201:
        raise SystemExit(f"upload answered {r.status}")
    up = time.perf_counter() - started
    up_hwm = hwm(handler.pid)
    os.remove(path)
    started = time.perf_counter()
    c.request("GET", "/api/upload/memory.bin", headers=auth)
    r = c.getresponse()
    back = hashlib.sha256()
    got = 0
    while chunk := r.read(MIB):
        back.update(chunk)
        got += len(chunk)
    down = time.perf_counter() - started
    c.close()
    if r.status != 200 or back.digest() != digest.digest():
        raise SystemExit(f"download answered {r.status} with {got} bytes that differ")
    return {"before_kib": before, "upload_hwm_kib": up_hwm, "hwm_kib": hwm(handler.pid),
            "up_s": up, "down_s": down}


# --- the run ----------------------------------------------------------------------------------

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", default="target/release/handler")
    p.add_argument("--azurite", help="Azurite connection string: measure the upload there too")
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--env", action="append", default=[], help="NAME=VALUE for the handler")
    p.add_argument("--label", default="handler")
    p.add_argument("--tsv", help="append the figures to this bench/run results file")
    a = p.parse_args()
    extra_env = dict(item.split("=", 1) for item in a.env)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    if a.smoke:
        hello_s, waves, per_wave, login_n, upload_bytes, settle = 1, 2, 50, 8, 8 * MIB, 1
    else:
        hello_s, waves, per_wave, login_n, upload_bytes, settle = 5, 2, 1000, 200, 100 * MIB, 5

    figures, counts = {}, {}
    # The loads' sizes, for bench/report.py's labels (smoke mode shrinks them).
    counts.update(hello_s=hello_s, churn_total=waves * per_wave, churn_at_once=per_wave,
                  logins=login_n, upload_mb=upload_bytes // MIB)

    def report(key, kib, note=""):
        figures[key] = kib
        print(f"{a.label}: {key:<22} {kib / 1024:7.1f} MB  {note}", file=sys.stderr, flush=True)

    h = Handler(a.binary, extra_env)
    try:
        time.sleep(2)
        idle = status_kib(h.pid)
        report("idle_rss", idle["VmRSS"],
               f"anonymous {idle['RssAnon'] / 1024:.1f} MB, file-backed (mostly the binary's code) "
               f"{idle['RssFile'] / 1024:.1f} MB")
        counts.update(idle_anon_kib=idle["RssAnon"], idle_file_kib=idle["RssFile"])
        reset_hwm(h.pid)
        note = hello_load(h.port, hello_s, 64)
        report("hello_hwm", hwm(h.pid), note)
        reset_hwm(h.pid)
        answered = asyncio.run(churn(h.port, waves, per_wave))
        counts["churn_answered"] = answered
        churn_hwm = hwm(h.pid)
        time.sleep(settle)
        report("churn_rss", rss(h.pid),
               f"{waves}x{per_wave} connections, {answered} answered; peak {churn_hwm / 1024:.1f} MB")
        # Every password check counts against its account's lockout allowance (5 per 15
        # minutes, the fifth locking it), so each account logs in LOGINS_PER_ACCOUNT times.
        accounts = [{"username": f"memory-login-{n}", "password": "memory budget passphrase 42"}
                    for n in range(-(-login_n // LOGINS_PER_ACCOUNT))]
        started = time.monotonic()
        register(h, accounts)
        print(f"{a.label}: signed {len(accounts)} accounts up in {time.monotonic() - started:.1f} s",
              file=sys.stderr)
        time.sleep(settle)
        reset_hwm(h.pid)
        statuses = asyncio.run(logins(h.port, [accounts[n % len(accounts)] for n in range(login_n)]))
        report("login_hwm", hwm(h.pid), f"{login_n} concurrent logins: {statuses}")
        counts["login_ok"] = statuses.get("200", 0)
        counts["login_refused"] = statuses.get("503", 0)
        time.sleep(settle)
        report("login_rss", rss(h.pid))
    finally:
        h.stop()

    backends = [("embedded", None)] + ([("azurite", a.azurite)] if a.azurite else [])
    for name, connection in backends:
        h = Handler(a.binary, extra_env, connection)
        try:
            result = upload_download(h, upload_bytes)
            report(f"upload_{name}_hwm", result["hwm_kib"],
                   f"{upload_bytes // MIB} MB up {result['up_s']:.2f} s (peak {result['upload_hwm_kib'] / 1024:.1f} MB), "
                   f"down {result['down_s']:.2f} s; {result['before_kib'] / 1024:.1f} MB before")
        finally:
            h.stop()

    print("BUDGET " + " ".join(f"{k}_kib={v}" for k, v in figures.items())
          + "".join(f" {k}={v}" for k, v in counts.items()))
    idle = figures["idle_rss"]
    checks = [
        ("idle RSS", figures["idle_rss"], BUDGET_MB["idle_rss"] * 1024),
        ("hello peak", figures["hello_hwm"], BUDGET_MB["hello_hwm"] * 1024),
        ("after churn", figures["churn_rss"], idle + BUDGET_MB["churn_rss_over_idle"] * 1024),
        ("login peak", figures["login_hwm"], BUDGET_MB["login_hwm"] * 1024),
        ("after logins", figures["login_rss"], idle + BUDGET_MB["login_rss_over_idle"] * 1024),
    ] + [(f"upload {name}", figures[f"upload_{name}_hwm"], BUDGET_MB["upload_hwm"] * 1024)
         for name, _ in backends]
    for what, kib, budget in checks:
        print(f"{a.label}: {what:<16} {kib / 1024:6.1f} MB  budget {budget / 1024:5.1f} MB  "
              f"{'met' if kib <= budget else 'MISSED'}", file=sys.stderr)
    if a.tsv:
        with open(a.tsv, "a") as f:
            for key, kib in figures.items():
                f.write(f"memory_budget\t{a.label}\t{key}_kib\t{kib}\n")
            for key, count in counts.items():
                f.write(f"memory_budget\t{a.label}\t{key}\t{count}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
