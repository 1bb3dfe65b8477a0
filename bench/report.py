#!/usr/bin/env python3
"""Turns bench/run's measurements (TSV: section, server, key, value) into the markdown table,
with every ratio taken from the same run. `--out FILE` writes it (full mode); `--check` fails
when a server answered nothing, or the handler or bare hyper answered errors (smoke mode, so the
harness cannot rot)."""

import argparse
import datetime
import platform
import statistics
import sys
from collections import defaultdict

NAMES = {
    "handler": "handler (Rust)",
    "handler_azurite": "handler (Rust), Azurite",
    "bare": "bare hyper",
    "gunicorn": "Flask, gunicorn -w {cores}",
    "flask": "Flask, flask run",
}
TARGETS = {
    "hello_vs_bare": 0.9,
    "hello_vs_gunicorn": 20.0,
    "cold_ms": 20.0,
    "idle_mb": 15.0,
    "status_vs_hello": 0.8,
    "upload_mb": 64.0,
}

# Issue 14 ("Bounded resources"), in MB; "after" is over the idle RSS of the same process.
MEMORY_BUDGETS = {"idle": 10, "hello": 16, "after": 8, "login": 64, "upload": 32}


def load(path):
    data = defaultdict(lambda: defaultdict(dict))
    with open(path) as f:
        for line in f:
            section, server, key, value = line.rstrip("\n").split("\t")
            try:
                value = float(value)
            except ValueError:
                pass
            data[section][server][key] = value
    return data


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def x(value):
    return f"{value:.2f}×" if value < 10 else f"{value:.0f}×"


def mb(kib):
    return f"{kib / 1024:.1f}"


def us_per_request(r):
    if "cpu_s" not in r or not r["requests"]:
        return ""
    return f"{r['cpu_s'] * 1e6 / r['requests']:.1f}"


def verdict(ok):
    return "✅ met" if ok else "❌ missed"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("results")
    for name in ("mode", "command", "cores", "connections", "duration", "rounds", "cold-runs", "driver"):
        p.add_argument(f"--{name}", required=True)
    p.add_argument("--out")
    p.add_argument("--check", action="store_true")
    a = p.parse_args()
    data = load(a.results)
    name = lambda server: NAMES.get(server, server).format(cores=a.cores)
    out = []
    w = out.append

    # hello: the round with each server's median requests/s
    rounds = sorted((s for s in data if s.startswith("hello.")), key=lambda s: int(s.split(".")[1]))
    hello = {}
    for server in ("handler", "bare", "gunicorn", "flask"):
        runs = [data[r][server] for r in rounds if server in data[r]]
        if runs:
            runs.sort(key=lambda r: r["rps"])
            median = runs[len(runs) // 2]
            hello[server] = dict(median, all=[r["rps"] for r in runs], errors=sum(r["errors"] for r in runs))
    h = hello["handler"]["rps"]

    def paired(other, key="rps"):
        """Median over rounds of handler / other, each from one round: the two ran back to back."""
        ratios = [data[r]["handler"][key] / data[r][other][key] for r in rounds
                  if other in data[r] and "handler" in data[r] and data[r][other][key]]
        return statistics.median(ratios)

    def cpu_ratio(other):
        """Median over rounds of other's server CPU per request / the handler's."""
        per = lambda r, s: data[r][s]["cpu_s"] / data[r][s]["requests"]
        return statistics.median(per(r, other) / per(r, "handler") for r in rounds
                                 if other in data[r] and data[r]["handler"]["cpu_s"] > 0)
    cold = data.get("cold", {})
    memory = data.get("memory", {})
    status = data.get("status", {})
    status_hello = data.get("status-hello", {})

    load_start = data["meta"]["machine"].get("load_start", "?")
    load_end = data["meta"]["machine"].get("load_end", "?")
    w("# Benchmark results\n")
    w(f"Produced by `{a.command}` on {datetime.date.today().isoformat()}, on this project's machine: "
      f"{a.cores} cores ({cpu_model()}), Linux {platform.release()}. Load average (1, 5, 15 min) "
      f"{load_start} at the start and {load_end} at the end: the machine is shared with other builds, "
      f"so absolute numbers move between runs; the ratios, each taken from the same run with the servers "
      f"measured in turn, are the figures to read.\n")
    w(f"Load: {a.driver}, {a.cores} threads, {a.connections} connections, {a.rounds} round(s) of "
      f"{a.duration} per server, the servers taking turns each round. "
      f"Client and server share the {a.cores} cores. Every server listens on 127.0.0.1. The handler runs as "
      f"deployed: `LOG_FORMAT=json`, one log line per request to stdout (here `/dev/null`).\n")

    w("## Targets (issue 8)\n")
    w("| figure | measured | target | |")
    w("|---|---|---|---|")
    vs_bare = paired("bare")
    vs_gunicorn = paired("gunicorn")
    w(f"| hello requests/s, handler / bare hyper | {x(vs_bare)} | ≥ {TARGETS['hello_vs_bare']}× | {verdict(vs_bare >= TARGETS['hello_vs_bare'])} |")
    w(f"| hello requests/s, handler / gunicorn-Flask | {x(vs_gunicorn)} | ≥ {TARGETS['hello_vs_gunicorn']:.0f}× | {verdict(vs_gunicorn >= TARGETS['hello_vs_gunicorn'])} |")
    w(f"| hello server CPU per request, bare hyper / handler (not a target: the cost of the stack without the shared client) | {x(cpu_ratio('bare'))} | | |")
    w(f"| hello server CPU per request, gunicorn-Flask / handler | {x(cpu_ratio('gunicorn'))} | | |")
    if "handler" in cold:
        c = cold["handler"]["median_ms"]
        w(f"| cold start (exec → first 200), handler median | {c:.1f} ms | ≤ {TARGETS['cold_ms']:.0f} ms | {verdict(c <= TARGETS['cold_ms'])} |")
    if "handler" in memory:
        idle = memory["handler"]["idle_rss_kib"] / 1024
        w(f"| idle RSS, handler | {idle:.1f} MB | ≤ {TARGETS['idle_mb']:.0f} MB | {verdict(idle <= TARGETS['idle_mb'])} |")
    if "handler" in status:
        ratio = status["handler"]["rps"] / status_hello["handler"]["rps"]
        w(f"| warm status / hello requests/s, handler | {x(ratio)} | ≥ {TARGETS['status_vs_hello']}× | {verdict(ratio >= TARGETS['status_vs_hello'])} |")
    else:
        w(f"| warm status / hello requests/s, handler | not measured: `/api/status` is not in this build | ≥ {TARGETS['status_vs_hello']}× | — |")
    if "upload" in data and "handler" in data["upload"]:
        peak = data["upload"]["handler"]["hwm_kib"] / 1024
        w(f"| 100 MB upload, handler peak RSS | {peak:.1f} MB | ≤ {TARGETS['upload_mb']:.0f} MB | {verdict(peak <= TARGETS['upload_mb'])} |")
        if "put_block" in data["upload"]:
            base = data["upload"]["put_block"]
            ratio = float(data["upload"]["handler"]["mb_per_s"]) / float(base["mb_per_s"])
            w(f"| 100 MB upload into Azurite, handler / direct `put_block` loop (not a target) | "
              f"{x(ratio)} throughput ({data['upload']['handler']['mb_per_s']} vs {base['mb_per_s']} MB/s); "
              f"peak RSS {peak:.1f} vs {float(base['hwm_kib']) / 1024:.1f} MB | | |")
    else:
        w(f"| 100 MB upload, handler peak RSS | not measured: `/api/upload` is not in this build | ≤ {TARGETS['upload_mb']:.0f} MB | — |")
    w("")

    w(f"## hello: `GET /api/hello`, {a.connections} connections\n")
    w("| server | requests/s | handler / this | p50 ms | p99 ms | server CPU µs / request | errors | requests/s of each round |")
    w("|---|---:|---:|---:|---:|---:|---:|---|")
    for server, r in hello.items():
        w(f"| {name(server)} | {r['rps']:,.0f} | {x(paired(server))} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
          f"{us_per_request(r)} | {r['errors']:.0f} | {', '.join(f'{v:,.0f}' for v in r['all'])} |")
    w("")
    w("A server's row is its median round; \"handler / this\" is the median over rounds of the two "
      "servers' ratio in the same round (they ran back to back), so a load spike from a neighbour "
      "does not land on one side only.\n")
    w(f"Latency, handler / bare hyper: p50 {paired('bare', 'p50_ms'):.2f}×, p99 {paired('bare', 'p99_ms'):.2f}×; "
      f"handler / gunicorn-Flask: p50 {paired('gunicorn', 'p50_ms'):.3f}×, p99 {paired('gunicorn', 'p99_ms'):.3f}× "
      f"(medians of same-round ratios; below 1 is faster).\n")
    w("Server CPU per request is the server's own user + system time (its process tree, from "
      "/proc) over the requests it answered in that round: the client's share is not in it.")
    w("")

    if status or "status-peer" in data:
        w(f"## status: `GET /api/status?mode=tube,overground` against a local TfL replay server\n")
        w("The handler caches TfL's answer (warm here); the classic Flask app calls TfL on every request.\n")
        w("| server | status requests/s | hello requests/s, same run | status / hello | p50 ms | p99 ms | errors |")
        w("|---|---:|---:|---:|---:|---:|---:|")
        for server, r in status.items():
            hr = status_hello[server]["rps"]
            w(f"| {name(server)} | {r['rps']:,.0f} | {hr:,.0f} | {x(r['rps'] / hr)} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']:.0f} |")
        for server, r in data.get("status-peer", {}).items():
            w(f"| {name(server)} | {r['rps']:,.0f} | | | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']:.0f} |")
        w("")

    records = data.get("records", {})
    if records:
        w(f"## records: create + get, {a.connections} connections\n")
        w("Each connection POSTs `/api/records` and then GETs the `Location` it was given: half the "
          "requests write, half read what was written. The handler writes through its storage layer "
          "(embedded SQLite, or Azure Table storage on Azurite); Flask writes sqlite3 with a "
          "connection per request, as the classic example does.\n")
        base = records["handler"]["rps"] if "handler" in records else None
        w("| server | requests/s | handler (embedded) / this | p50 ms | p99 ms | server CPU µs / request | created | read | errors |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for server, r in records.items():
            ratio = x(base / r["rps"]) if base and r["rps"] else ""
            w(f"| {name(server)} | {r['rps']:,.0f} | {ratio} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
              f"{us_per_request(r)} | {r.get('created', 0):.0f} | {r.get('read', 0):.0f} | {r['errors']:.0f} |")
        w("")
        w("Azurite runs on the same 2 cores (Node.js) and its CPU is not in the handler's figure.")
        w("")

    if cold:
        w(f"## cold start: exec → first `200` on `GET /api/hello`, {a.cold_runs} runs\n")
        w("From just before the process is spawned to the first 200, polling every 0.2 ms.\n")
        w("| server | median ms | min ms | max ms | this / handler |")
        w("|---|---:|---:|---:|---:|")
        hc = cold["handler"]["median_ms"]
        for server, r in cold.items():
            w(f"| {name(server)} | {r['median_ms']:.1f} | {r['min_ms']:.1f} | {r['max_ms']:.1f} | {x(r['median_ms'] / hc)} |")
        w("")

    if memory:
        w("## memory\n")
        w("VmRSS after start (idle) and VmHWM (peak) after the hello load, summed over the server's "
          "processes (gunicorn: the master and its workers; shared pages counted in each).\n")
        w("| server | idle RSS MB | peak RSS under load MB |")
        w("|---|---:|---:|")
        for server, r in memory.items():
            w(f"| {name(server)} | {mb(r['idle_rss_kib'])} | {mb(r['hello_hwm_kib'])} |")
        w("")

    budgets = data.get("memory_budget", {}).get("handler")
    if budgets:
        w("## Memory budgets (issue 14)\n")
        w("From [`memory.py`](memory.py), on the release binary, embedded storage unless the row says "
          "Azurite: a fresh handler for the first five rows, taken in this order in one process, and "
          "a fresh one per backend for the uploads. A peak is the VmHWM of its phase alone "
          "(reset through `/proc/PID/clear_refs` when the phase starts); \"after\" is VmRSS 5 s "
          "after the load ended.\n")
        w("| figure | measured | budget | |")
        w("|---|---:|---:|---|")
        idle = budgets["idle_rss_kib"]
        n = lambda key: f"{budgets.get(key, 0):,.0f}"
        rows = [
            (f"idle RSS after start ({mb(budgets.get('idle_anon_kib', 0))} MB anonymous, "
             f"{mb(budgets.get('idle_file_kib', 0))} MB file-backed: mostly the binary's code)",
             idle, MEMORY_BUDGETS["idle"] * 1024, ""),
            (f"peak RSS, 64-connection hello load ({n('hello_s')} s)", budgets["hello_hwm_kib"],
             MEMORY_BUDGETS["hello"] * 1024, ""),
            (f"RSS 5 s after {n('churn_total')} connections were opened ({n('churn_at_once')} at a time) "
             f"and closed ({n('churn_answered')} answered)",
             budgets["churn_rss_kib"], idle + MEMORY_BUDGETS["after"] * 1024, "idle + "),
            (f"peak RSS during {n('logins')} concurrent logins ({n('login_ok')} signed in, "
             f"{n('login_refused')} refused with 503 by the bounded hashing queue)",
             budgets["login_hwm_kib"], MEMORY_BUDGETS["login"] * 1024, ""),
            ("RSS 5 s after those logins end", budgets["login_rss_kib"],
             idle + MEMORY_BUDGETS["after"] * 1024, "idle + "),
        ]
        for backend, label in (("embedded", "embedded"), ("azurite", "Azurite")):
            if f"upload_{backend}_hwm_kib" in budgets:
                rows.append((f"peak RSS, {n('upload_mb')} MB upload then download, {label}",
                             budgets[f"upload_{backend}_hwm_kib"], MEMORY_BUDGETS["upload"] * 1024, ""))
        for figure, kib, budget_kib, relative in rows:
            shown = f"≤ {mb(budget_kib)} MB" + (f" ({relative}{MEMORY_BUDGETS['after']} MB)" if relative else "")
            w(f"| {figure} | {mb(kib)} MB | {shown} | {verdict(kib <= budget_kib)} |")
        w("")

    binary = data.get("binary", {})
    if binary:
        w("## binary\n")
        w("| file | bytes | MB |")
        w("|---|---:|---:|")
        w(f"| `target/release/handler` (fat LTO, stripped; the deployed musl build differs a little) | {binary['handler']['bytes']:,.0f} | {binary['handler']['bytes'] / 1e6:.1f} |")
        w(f"| `target/release/examples/bare_hyper`, for scale | {binary['bare']['bytes']:,.0f} | {binary['bare']['bytes'] / 1e6:.1f} |")
        w("")

    text = "\n".join(out)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    if a.check:
        bad = []
        for section, servers in data.items():
            for server, r in servers.items():
                # Errors fail only our servers (handler, bare hyper); the Flask peers may time out under
                # load on a busy machine, which is theirs to report, not a broken harness.
                ours = server in ("handler", "handler_azurite", "bare")
                if "requests" in r and (r["requests"] <= 0 or (ours and r["errors"] > 0)):
                    bad.append(f"{section} {server}: {r['requests']:.0f} requests, {r['errors']:.0f} errors")
        if bad:
            print("smoke check failed:\n  " + "\n  ".join(bad), file=sys.stderr)
            return 1
        print("smoke check: every server answered, without errors", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
