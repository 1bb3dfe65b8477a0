#!/usr/bin/env python3
"""bench/run's helpers, standard library only.

  probe.py port                           a free loopback port
  probe.py wait URL [SECONDS]             until URL answers 200 (exit 1 on timeout)
  probe.py get URL                        "STATUS BODY" of one GET
  probe.py cpu PID                        CPU seconds (user + system) used so far by PID and its descendants
  probe.py rss PID                        "VmRSS VmHWM" in KiB, summed over PID and its descendants
  probe.py resethwm PID                   reset VmHWM to the current VmRSS (/proc/PID/clear_refs), so
                                          the next `rss` peak is the peak since now
  probe.py coldstart RUNS PATH -- CMD...  exec CMD RUNS times (PORT and FLASK_RUN_PORT set to a free
                                          port; {port} in CMD is replaced too), poll GET PATH until
                                          200, kill it; prints "median_ms min_ms max_ms"
  probe.py token BASE                     register a fresh user on the handler at BASE, log in,
                                          print the bearer token (records and upload need one)
  probe.py upload URL FILE                PUT FILE to URL (streamed, BENCH_TOKEN as bearer);
                                          prints "STATUS SECONDS"
  probe.py load URL REQUESTS CONNS MODE   the fallback load driver (MODE get|records) when wrk is
                                          missing; prints wrk.lua's RESULT line. Smoke mode only:
                                          Python cannot load a server to its limit.
"""

import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.error
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_status(host, port, path, timeout=1.0):
    """One GET on a fresh connection; the status, or None if nothing answers yet."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
            head = s.recv(64)
    except OSError:
        return None
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None


def wait(url, seconds=30.0):
    u = urllib.parse.urlsplit(url)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if get_status(u.hostname, u.port, u.path + (f"?{u.query}" if u.query else "")) == 200:
            return 0
        time.sleep(0.02)
    print(f"{url} did not answer 200 within {seconds} s", file=sys.stderr)
    return 1


def tree(pid):
    """pid and all its descendants, from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def rss(pid):
    total = {"VmRSS": 0, "VmHWM": 0}
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    key = line.split(":", 1)[0]
                    if key in total:
                        total[key] += int(line.split()[1])
        except OSError:
            pass
    print(total["VmRSS"], total["VmHWM"])
    return 0


def cpu(pid):
    ticks = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    print(f"{ticks / os.sysconf('SC_CLK_TCK'):.2f}")
    return 0


def coldstart(runs, path, cmd):
    times = []
    for _ in range(runs):
        port = free_port()
        env = dict(os.environ, PORT=str(port), FLASK_RUN_PORT=str(port))
        argv = [arg.replace("{port}", str(port)) for arg in cmd]
        started = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            while True:
                if get_status("127.0.0.1", port, path) == 200:
                    times.append((time.perf_counter() - started) * 1000)
                    break
                if proc.poll() is not None:
                    print(f"{argv[0]} exited with {proc.returncode} before answering", file=sys.stderr)
                    return 1
                if time.perf_counter() - started > 30:
                    print(f"{argv[0]} did not answer within 30 s", file=sys.stderr)
                    return 1
                time.sleep(0.0002)
        finally:
            # The whole group: gunicorn's workers and flask's reloader-less child alike.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    print(f"{statistics.median(times):.2f} {min(times):.2f} {max(times):.2f}")
    return 0


def auth_headers():
    token = os.environ.get("BENCH_TOKEN", "")
    return {"Authorization": f"Bearer {token}"} if token else {}


def post_json(base, path, body):
    request = urllib.request.Request(
        base + path, data=body.encode(), method="POST",
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        return reply.read().decode()


def token(base):
    """Registers a fresh user and logs in; retries while storage is still opening."""
    import json
    name = f"bench-{os.getpid()}-{int(time.time() * 1000) % 1000000}"
    body = json.dumps({"username": name, "password": "benchmark passphrase 42"})
    deadline = time.monotonic() + 30
    while True:
        try:
            post_json(base, "/api/users", body)
            print(json.loads(post_json(base, "/api/users/login", body))["token"])
            return 0
        except (OSError, urllib.error.HTTPError) as error:
            if time.monotonic() > deadline:
                print(f"cannot sign in at {base}: {error}", file=sys.stderr)
                return 1
            time.sleep(0.2)


def upload(url, path):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=300)
    size = os.path.getsize(path)
    started = time.perf_counter()
    with open(path, "rb") as body:
        headers = {"Content-Length": str(size), "Content-Type": "application/octet-stream"}
        headers.update(auth_headers())
        conn.request("PUT", u.path, body, headers)
        reply = conn.getresponse()
        reply.read()
    print(reply.status, f"{time.perf_counter() - started:.3f}")
    return 0


def load(url, requests, conns, mode):
    u = urllib.parse.urlsplit(url)
    latencies, errors, lock = [], [0], threading.Lock()
    per_conn = max(1, requests // conns)

    def worker(n):
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        mine, bad, location = [], 0, None
        for i in range(per_conn):
            t = time.perf_counter()
            try:
                if mode == "records" and i % 2 == 0:
                    body = f'{{"name": "fruit-{n}-{i}", "price": {i}}}'
                    conn.request("POST", "/api/records", body,
                                 {"Content-Type": "application/json", **auth_headers()})
                    r = conn.getresponse()
                    r.read()
                    location = r.getheader("Location")
                    ok = r.status == 201 and location
                elif mode == "records" and location:
                    conn.request("GET", location, headers=auth_headers())
                    r = conn.getresponse()
                    r.read()
                    ok = r.status == 200
                elif mode == "records":
                    ok = False  # the create before it failed
                else:
                    conn.request("GET", u.path + (f"?{u.query}" if u.query else ""))
                    r = conn.getresponse()
                    r.read()
                    ok = 200 <= r.status < 400
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
            mine.append(time.perf_counter() - t)
            bad += not ok
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    latencies.sort()
    pct = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    print(f"RESULT requests={len(latencies)} seconds={seconds:.3f} rps={len(latencies) / seconds:.1f} "
          f"p50_ms={pct(0.50):.3f} p99_ms={pct(0.99):.3f} errors={errors[0]}")
    return 0


def main(argv):
    command = argv[1] if len(argv) > 1 else ""
    if command == "port":
        print(free_port())
        return 0
    if command == "wait":
        return wait(argv[2], float(argv[3]) if len(argv) > 3 else 30.0)
    if command == "get":
        try:
            with urllib.request.urlopen(argv[2], timeout=10) as reply:
                print(reply.status, reply.read().decode())
        except urllib.error.HTTPError as error:
            print(error.code, error.read().decode())
        return 0
    if command == "resethwm":
        with open(f"/proc/{int(argv[2])}/clear_refs", "w") as f:
            f.write("5")
        return 0
    if command == "cpu":
        return cpu(int(argv[2]))
    if command == "rss":
        return rss(int(argv[2]))
    if command == "coldstart" and "--" in argv:
        split = argv.index("--")
        return coldstart(int(argv[2]), argv[3], argv[split + 1:])
    if command == "token":
        return token(argv[2])
    if command == "upload":
        return upload(argv[2], argv[3])
    if command == "load":
        return load(argv[2], int(argv[3]), int(argv[4]), argv[5])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
