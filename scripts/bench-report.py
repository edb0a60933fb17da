#!/usr/bin/env python3
"""Writes the measured part of docs/benchmarks.md (between its report markers) and the plot
docs/benchmarks-throughput.svg, from runs made here and now:

- the load generator (release build, everything local on real PostgreSQL, Redis and the
  broker) closed loop at several concurrency levels, then paced: votes/s, latency
  percentiles, errors, accepted = recorded, result lag, and the share of the raw grouped
  ceiling (svc-voting's group commit straight to PostgreSQL) measured in the same run;
- the same load against the mesh run as separate `votemesh <service>` processes, with two
  svc-voting and two svc-result instances behind one registry and one edge;
- each service at rest as its own `votemesh <service>` process: time from spawn to SERVING
  (grpc.health.v1, on a migrated database) and resident memory;
- the machine.

Usage: scripts/bench-report.py            (needs PostgreSQL, Redis and the broker running,
                                           as scripts/test.sh leaves them)
Settings (environment): BENCH_SECONDS (20), BENCH_CONCURRENCY (64,128,256,512),
BENCH_PACED_RATE (2500), BENCH_VOTERS (15000), BENCH_PROCESSES_CONCURRENCY (512),
CARGO_TARGET_DIR, BENCH_SKIP_BUILD=1 (use the release binaries already in CARGO_TARGET_DIR).
"""

import contextlib
import os
import pathlib
import re
import socket
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/votemesh-target")))
SECONDS = int(os.environ.get("BENCH_SECONDS", "20"))
LEVELS = [int(x) for x in os.environ.get("BENCH_CONCURRENCY", "64,128,256,512").split(",")]
PACED_RATE = float(os.environ.get("BENCH_PACED_RATE", "2500"))
VOTERS = int(os.environ.get("BENCH_VOTERS", "15000"))
PROCESSES_CONCURRENCY = int(os.environ.get("BENCH_PROCESSES_CONCURRENCY", "512"))
POSTGRES = "postgres://postgres@127.0.0.1:5432"
SERVICES = ["registry", "user", "candidate", "voting", "result", "notify", "edge"]
BEGIN, END = "<!-- report:begin -->", "<!-- report:end -->"


def build():
    if os.environ.get("BENCH_SKIP_BUILD") == "1":
        return
    subprocess.run(["cargo", "build", "--release", "--locked", "-p", "loadgen", "-p", "votemesh"],
                   cwd=ROOT, check=True, env={**os.environ, "CARGO_TARGET_DIR": str(TARGET)})


def loadgen(*args):
    """One load generator run; its figures parsed from what it prints."""
    command = [str(TARGET / "release" / "votemesh-loadgen"), "--voters", str(VOTERS), *args]
    out = subprocess.run(command, capture_output=True, text=True,
                         env={**os.environ, "VOTEMESH_LOG": "error"}).stdout
    figures = {"command": " ".join(args)}
    patterns = {
        "throughput": r"accepted: \d+ in [\d.]+ s = (\d+) votes/s",
        "p50": r"latency: p50 ([\d.]+) ms",
        "p95": r"p95 ([\d.]+) ms",
        "p99": r"  p99 ([\d.]+) ms  max",
        "lag_p50": r"result lag .*?: p50 ([\d.]+) ms",
        "lag_p99": r"result lag .*?  p99 ([\d.]+) ms",
        "ceiling": r"(\d+) votes/s; votemesh/ceiling",
        "share": r"votemesh/ceiling = ([\d.]+)",
    }
    for key, pattern in patterns.items():
        found = re.search(pattern, out)
        figures[key] = float(found.group(1)) if found else None
    errors = re.search(r"errors by code: (.*)", out)
    figures["errors"] = errors.group(1) if errors else "?"
    check = re.search(r"check: accepted (\d+) vs recorded (\d+)", out)
    figures["equal"] = bool(check) and check.group(1) == check.group(2)
    figures["accepted"] = int(check.group(1)) if check else 0
    if figures["throughput"] is None:
        sys.exit(f"the load generator printed no figures:\n{out}")
    return figures


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serving(url, timeout=30.0):
    """Seconds until grpc.health.v1 answers SERVING at url."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        probe = subprocess.run([str(TARGET / "release" / "votemesh"), "health", url],
                               capture_output=True)
        if probe.returncode == 0:
            return time.monotonic() - started
        time.sleep(0.005)
    sys.exit(f"{url} never served")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@contextlib.contextmanager
def scratch_database(name):
    """A database of this run's own on the local PostgreSQL, dropped afterwards."""
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc"]
    subprocess.run(psql + [f'CREATE DATABASE "{name}"'], check=True)
    try:
        yield
    finally:
        subprocess.run(psql + [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'])


@contextlib.contextmanager
def stopped_at_the_end(running):
    """Terminates every process in `running` (filled in meanwhile) and waits for each."""
    try:
        yield
    finally:
        for process in running:
            process.terminate()
        for process in running:
            process.wait()


def process_base_env():
    """What every `votemesh` process the script starts shares: quiet logs, fresh secrets for
    this run, and a short drain."""
    secret = os.urandom(16).hex()
    return {**os.environ, "VOTEMESH_LOG": "error", "VOTEMESH_INTERNAL_TOKEN": secret,
            "VOTEMESH_RECEIPT_SECRET": secret + "r", "VOTEMESH_SIGNING_KEY_SECRET": secret + "s",
            "VOTEMESH_DRAIN_SECONDS": "2", "VOTEMESH_DEREGISTER_GRACE_MS": "0"}


def at_rest():
    """(service, seconds to SERVING, RSS MiB) for each service, on a database already migrated."""
    database = f"bench_{os.getpid()}"
    base = process_base_env()
    mail = tempfile.mkdtemp()
    rows, running = [], []
    registry = f"http://127.0.0.1:{free_port()}"
    with scratch_database(database), stopped_at_the_end(running):
        for service in SERVICES:
            port = free_port()
            env = {**base, "VOTEMESH_LISTEN": f"127.0.0.1:{port}",
                   f"VOTEMESH_{service.upper()}_DATABASE_URL": f"{POSTGRES}/{database}",
                   "VOTEMESH_MAIL_DIR": mail}
            if service != "registry":
                env["VOTEMESH_REGISTRY_URL"] = registry
            else:
                port = int(registry.rsplit(":", 1)[1])
                env["VOTEMESH_LISTEN"] = f"127.0.0.1:{port}"
            url = f"http://127.0.0.1:{port}"
            # The first start migrates; the figure is the second, as every restart is. The
            # registry has nothing to migrate and the others need it, so it starts once.
            starts = 1 if service == "registry" else 2
            for attempt in range(starts):
                process = subprocess.Popen([str(TARGET / "release" / "votemesh"), service], env=env)
                seconds = serving(url)
                if attempt < starts - 1:
                    process.terminate()
                    process.wait()
            running.append(process)
            time.sleep(2)
            rows.append((service, seconds, rss_mib(process.pid)))
    return rows


# The multi-process mesh: every service its own `votemesh` process, two of svc-voting and of
# svc-result, so the figures include the hops a deployment makes between processes. It needs
# the `votemesh` binary that build() makes in the same cargo invocation as the load generator:
# that one has svc-user's bench-only switches (the load generator turns the feature on), which
# the set-up's cheap hashes and trusted addresses need; a release built on its own has neither.
PROCESS_PLAN = [("registry", 1), ("user", 1), ("candidate", 1), ("voting", 2), ("result", 2),
                ("edge", 1)]
PROCESS_ADMIN = ("bench-admin@votemesh.test", "bench admin password")


def process_env(database, registry, run):
    """What every process of the multi-process mesh shares: the secrets, the registry, this
    run's own topics and consumer group (so runs never read each other's events), cheap set-up
    hashes and limits that the load generator's one address cannot reach."""
    env = {**process_base_env(),
           "VOTEMESH_REGISTRY_URL": registry, "VOTEMESH_REDIS_URL": "redis://127.0.0.1:6379",
           "VOTEMESH_KAFKA_BROKERS": "127.0.0.1:9092",
           "VOTEMESH_BALLOT_TOPIC": f"votemesh.bench.ballots.{run}",
           "VOTEMESH_VOTE_TOPIC": f"votemesh.bench.votes.{run}",
           "VOTEMESH_ELECTION_STATUS_TOPIC": f"votemesh.bench.status.{run}",
           "VOTEMESH_RESULT_CONSUMER_GROUP": f"bench-{run}",
           "VOTEMESH_RESULT_REDIS_NAMESPACE": f"bench-{run}",
           "VOTEMESH_BOOTSTRAP_ADMIN_EMAIL": PROCESS_ADMIN[0],
           "VOTEMESH_BOOTSTRAP_ADMIN_PASSWORD": PROCESS_ADMIN[1],
           "VOTEMESH_ACCESS_TOKEN_TTL_SECONDS": "3600",
           "VOTEMESH_BENCH_ONLY_INSECURE_PASSWORD_HASH": "true",
           "VOTEMESH_BENCH_ONLY_TRUST_REGISTERED_EMAILS": "true",
           "VOTEMESH_MIX_MIN_BATCH": "10"}
    for name in ["PER_IP_PER_SECOND", "PER_IP_BURST", "PER_USER_PER_SECOND", "PER_USER_BURST",
                 "CREDENTIALS_PER_MINUTE", "CREDENTIALS_BURST"]:
        env[f"VOTEMESH_EDGE_{name}"] = "1000000000"
    for service in ["USER", "CANDIDATE", "VOTING", "RESULT"]:
        env[f"VOTEMESH_{service}_DATABASE_URL"] = f"{POSTGRES}/{database}"
    return env


def processes():
    """The closed-loop load against the mesh as separate processes; its figures."""
    run = os.urandom(6).hex()
    database = f"bench_processes_{run}"
    registry = f"http://127.0.0.1:{free_port()}"
    env = process_env(database, registry, run)
    running, edge = [], None
    with scratch_database(database), stopped_at_the_end(running):
        for service, count in PROCESS_PLAN:
            for _ in range(count):
                port = int(registry.rsplit(":", 1)[1]) if service == "registry" else free_port()
                url = f"http://127.0.0.1:{port}"
                process = subprocess.Popen([str(TARGET / "release" / "votemesh"), service],
                                           env={**env, "VOTEMESH_LISTEN": f"127.0.0.1:{port}"})
                running.append(process)
                serving(url)
                edge = url
        # Every instance registered and every watch settled before the clock starts.
        time.sleep(3)
        figures = loadgen("--edge", edge, "--admin-email", PROCESS_ADMIN[0],
                          "--admin-password", PROCESS_ADMIN[1], "--seconds", str(SECONDS),
                          "--concurrency", str(PROCESSES_CONCURRENCY), "--baseline-seconds", "10")
        figures["concurrency"] = PROCESSES_CONCURRENCY
        return figures


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as info:
        total = int(info.readline().split()[1]) / 1024 / 1024
    return f"{os.cpu_count()} cores ({model}), {total:.0f} GiB"


def plot(runs, path):
    """votes/s and p99 latency against concurrency, side by side, as a plain SVG."""
    width, height, pad = 320, 220, 40

    def panel(x0, key, label, colour):
        values = [r[key] for r in runs]
        top = max(values) * 1.15 or 1
        xs = [x0 + pad + i * (width - 2 * pad) / max(len(runs) - 1, 1) for i in range(len(runs))]
        ys = [height - pad - v / top * (height - 2 * pad) for v in values]
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
        parts = [f'<text x="{x0 + width / 2}" y="20" text-anchor="middle">{label}</text>',
                 f'<line x1="{x0 + pad}" y1="{height - pad}" x2="{x0 + width - pad}" y2="{height - pad}" stroke="black"/>',
                 f'<line x1="{x0 + pad}" y1="{pad}" x2="{x0 + pad}" y2="{height - pad}" stroke="black"/>',
                 f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>']
        for x, y, v, r in zip(xs, ys, values, runs):
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>')
            parts.append(f'<text x="{x:.1f}" y="{y - 8:.1f}" text-anchor="middle" font-size="11">{v:.0f}</text>')
            parts.append(f'<text x="{x:.1f}" y="{height - pad + 15}" text-anchor="middle" font-size="11">{r["concurrency"]}</text>')
        parts.append(f'<text x="{x0 + width / 2}" y="{height - 5}" text-anchor="middle" font-size="11">concurrent callers</text>')
        return "\n".join(parts)

    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * width}" height="{height}" '
           f'font-family="sans-serif" font-size="13">\n<rect width="100%" height="100%" fill="white"/>\n'
           f'{panel(0, "throughput", "accepted votes/s (closed loop)", "#1f6feb")}\n'
           f'{panel(width, "p99", "cast latency p99 (ms)", "#d1242f")}\n</svg>\n')
    path.write_text(svg)


def report(runs, paced, separate, rest):
    best = max(runs, key=lambda r: r["throughput"])
    lines = [BEGIN, "",
             f"Generated by `scripts/bench-report.py` on {time.strftime('%Y-%m-%d')}; machine: {machine()}. "
             "Release build, everything local (PostgreSQL 15, Redis, Tansu 0.6.0 on sqlite), the whole mesh in "
             "one process (one svc-voting, one svc-result) unless the row says separate processes, "
             f"{SECONDS} s per run, RANKED ballots cast over native gRPC through the edge. "
             "Figures move by about ±10 % between runs on this machine: compare ratios taken together.",
             "", "![throughput and p99 by concurrency](benchmarks-throughput.svg)", "",
             "| callers | votes/s | p50 | p95 | p99 | result lag p50 / p99 | errors | accepted = recorded | grouped ceiling | share |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]

    def ms(value):
        return "—" if value is None else f"{value:.1f} ms"

    for r in runs + [paced, separate]:
        callers = f'{r["concurrency"]}' + (f' (paced {PACED_RATE:.0f}/s)' if r is paced else "")
        if r is separate:
            callers += " (separate processes: 2 svc-voting, 2 svc-result)"
        ceiling = "—" if r["ceiling"] is None else f'{r["ceiling"]:.0f}/s'
        share = "—" if r["share"] is None else f'{r["share"]:.2f}'
        lines.append(f'| {callers} | {r["throughput"]:.0f} | {ms(r["p50"])} | {ms(r["p95"])} | {ms(r["p99"])} | '
                     f'{ms(r["lag_p50"])} / {ms(r["lag_p99"])} | {r["errors"]} | '
                     f'{"yes" if r["equal"] else "NO"} ({r["accepted"]}) | {ceiling} | {share} |')
    lines += ["", "Each service at rest, as its own process on a migrated database (targets: under 300 ms to "
              "SERVING, under 50 MiB):", "", "| service | to SERVING | RSS |", "| --- | --- | --- |"]
    for service, seconds, rss in rest:
        lines.append(f"| {service} | {seconds * 1000:.0f} ms | {rss:.1f} MiB |")
    partitions = 3
    lines += ["", "### Capacity", "",
              f"- **Per svc-voting instance**: {best['throughput']:.0f} votes/s at best here, with the whole mesh, "
              "PostgreSQL and the broker sharing two cores; svc-voting itself is a small part of that "
              "(see \"Where the time goes\").",
              f"- **Per PostgreSQL primary**: the grouped ceiling, {best['ceiling'] or 0:.0f} votes/s at "
              f"{best['concurrency']} callers, is what one primary commits through svc-voting's group commit on "
              "this machine; the primary is the one component that does not scale out, so it sets the ceiling.",
              f"- **Per partition**: the ballot topic has {partitions} partitions by default, so about "
              f"{best['throughput'] / partitions:.0f} votes/s each at that rate; svc-result's consumers share the "
              "partitions, so more svc-result instances than partitions sit idle.",
              "- **What to scale first** when one machine is outgrown: give PostgreSQL its own machine (it takes "
              "about a quarter of the CPU at saturation), then the edge and svc-voting (stateless, behind the "
              "registry), then raise the ballot topic's partitions and add svc-result instances to match; "
              "Redis and the broker are far from their limits at these rates.",
              "", END]
    return "\n".join(lines)


def main():
    build()
    runs = []
    for level in LEVELS:
        figures = loadgen("--seconds", str(SECONDS), "--concurrency", str(level), "--baseline-seconds", "10")
        figures["concurrency"] = level
        runs.append(figures)
        print(f"concurrency {level}: {figures['throughput']:.0f} votes/s, p99 {figures['p99']} ms", flush=True)
    paced = loadgen("--seconds", str(SECONDS), "--concurrency", "512", "--rate", str(PACED_RATE),
                    "--baseline-seconds", "0")
    paced["concurrency"] = 512
    separate = processes()
    print(f"separate processes: {separate['throughput']:.0f} votes/s, p99 {separate['p99']} ms", flush=True)
    rest = at_rest()
    plot(runs, ROOT / "docs" / "benchmarks-throughput.svg")
    document = ROOT / "docs" / "benchmarks.md"
    text = document.read_text()
    section = report(runs, paced, separate, rest)
    if BEGIN in text:
        text = text[:text.index(BEGIN)] + section + text[text.index(END) + len(END):]
    else:
        text = text.replace("# Benchmarks\n", "# Benchmarks\n\n## The latest report\n\n" + section + "\n", 1)
    document.write_text(text)
    print(section)


if __name__ == "__main__":
    main()
