#!/usr/bin/env python3
"""Benchmark harness: a whole migration against the simulators, measured against its lower bound.

For each run it starts `segbridge sim` as a process of its own (a generated workspace behind the
Config API, an empty Public API workspace, the real rate limits, a per-request latency, all
simulated time shrunk by --time-scale), then runs the migration with the release binary, either
as the four steps `export`, `plan`, `apply --include-iam --enable` and `audit` (default: each
step measured apart) or as one `migrate --include-iam --enable` (--migrate). It prints one JSON
line per run on stdout:

- size, seed, time_scale, latency_ms, mode;
- wall_seconds, cpu_seconds (user + system of the segbridge processes), peak_rss_mb (the
  largest of them);
- calls and rate_limited (429s) per API, as the simulators counted them; waited_on_limits_seconds
  as the export reports it;
- bound_seconds: the least real time the rate limits allow for the calls made. For each window
  of an API (the default one, which every request counts against, and each per-endpoint one), the
  requests counted against it divided by its limit, times its window, divided by the time scale;
  the largest of those is the API's bound. `sequential` adds up, step by step, the larger of the
  two APIs' bounds (what a run that finishes each step before the next can reach); `pipelined`
  is the larger of the two APIs' bounds over the whole run (what overlapping the steps could
  reach). ratio = wall / sequential bound (wall / pipelined bound for --migrate).
- minimum and made: the Config API requests an export of this workspace needs (one per page of
  every list, one per schema config) and the export made; the write requests the plan needs (one
  per payload, invitations fifty to a request) and the
  writes the Public API received.
- export_to_applied (--migrate): seconds from the start of the export to the end of `apply` (the
  ledger's runs), the export's bound (its minimum requests under the Config API's default
  window) and the import's (the plan's writes under the Public API's), and the seconds over the
  larger of those two; the same up to the last write before the sources are enabled
  (`enable_source`, which `migrate` sends last, once everything else is written).
- steps: the same figures per step (steps mode).

Usage:
  scripts/bench.py --size small --size medium
  scripts/bench.py --size large --counts sources=1600,tracking_plans=160,users=800 --label 50k
  scripts/bench.py --size medium --migrate

Needs python3 and cargo; builds the release binary unless --bin names one. Everything runs on
127.0.0.1. Linux only (peak RSS from wait4, in a small launcher process: see LAUNCHER).
"""

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build_binary():
    subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=HERE, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(HERE, "target"))
    return os.path.join(target, "release", "segbridge")


def fresh_copy(binary, directory):
    """`binary` copied into `directory`, to run it from there: the kernel maps a binary's pages
    around each page fault only when they are in the page cache, so a binary written long ago
    and partly evicted since shows less resident memory, and more CPU reading pages back, than
    one just written. A fresh copy puts every build measured in the same state."""
    copy = os.path.join(directory, os.path.basename(binary))
    shutil.copy2(binary, copy)
    return copy


def get_json(url):
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.load(response)


class Simulators:
    """`segbridge sim` as a process, and what its stdout says about it."""

    def __init__(self, binary, args):
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [binary, "sim", *args],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        self.env = {}
        for line in self.process.stdout:
            line = line.strip()
            if "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                self.env[key] = value
            if "SEGMENT_PUBLIC_WORKSPACE" in self.env:
                break
        if "SEGMENT_PUBLIC_API_URL" not in self.env:
            self.stop()
            self.log.seek(0)
            sys.exit("the simulators did not start:\n" + self.log.read().decode())

    def stats(self):
        return {
            "config": get_json(self.env["SEGMENT_CONFIG_API_URL"] + "/_sim/stats"),
            "public": get_json(self.env["SEGMENT_PUBLIC_API_URL"] + "/_sim/stats"),
        }

    def config_state(self):
        return get_json(self.env["SEGMENT_CONFIG_API_URL"] + "/_sim/state")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


# Runs a command from a fresh, small interpreter and writes its exit code, wall time and resource
# usage to the file named first. The peak RSS `wait4` reports for a process counts the memory of
# the process it was forked from (the forked copy's high-water mark survives `exec`), so a child
# forked from this harness, which holds whole workspaces as JSON, would be reported at least as
# large as the harness; the launcher is a few megabytes.
LAUNCHER = r"""
import json, os, sys, time
report, command = sys.argv[1], sys.argv[2:]
started = time.monotonic()
pid = os.fork()
if pid == 0:
    os.execvp(command[0], command)
_, status, usage = os.wait4(pid, 0)
wall = time.monotonic() - started
with open(report, "w") as f:
    json.dump({"code": os.waitstatus_to_exitcode(status), "wall": wall,
               "cpu": usage.ru_utime + usage.ru_stime, "maxrss_kb": usage.ru_maxrss}, f)
"""


def run_measured(command, env):
    """Runs `command`; its exit code, stdout, wall seconds, CPU seconds and peak RSS (MB)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as report:
        launcher = [sys.executable, "-c", LAUNCHER, report.name, *command]
        subprocess.run(launcher, stdout=out, stderr=err, env=env, check=True)
        usage = json.load(report)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode()
        stderr = err.read().decode()
    return {
        "code": usage["code"],
        "stdout": stdout,
        "stderr": stderr,
        "wall_seconds": usage["wall"],
        "cpu_seconds": usage["cpu"],
        "peak_rss_mb": usage["maxrss_kb"] / 1024,
    }


def requests_per_route(stats):
    return {
        route: sum(n for status, n in statuses.items())
        for route, statuses in stats["requests"].items()
    }


def delta(after, before):
    """Requests per API and route made between two stats snapshots, and the 429s."""
    out = {}
    for api in ("config", "public"):
        routes_after = requests_per_route(after[api])
        routes_before = requests_per_route(before[api])
        out[api] = {
            "routes": {
                route: n - routes_before.get(route, 0)
                for route, n in routes_after.items()
                if n - routes_before.get(route, 0) > 0
            },
            "calls": after[api]["requests_total"] - before[api]["requests_total"],
            "rate_limited": after[api]["rate_limited"] - before[api]["rate_limited"],
            "writes": sum(after[api]["writes"].values()) - sum(before[api]["writes"].values()),
        }
    return out


def api_bound(calls, limits, time_scale):
    """The least real seconds the API's windows allow for `calls` (per route)."""
    default = limits["default"]
    total = sum(calls["routes"].values())
    bound = total / default["limit"] * default["window_seconds"]
    for route, n in calls["routes"].items():
        own = limits["endpoints"].get(route)
        if own:
            bound = max(bound, n / own["limit"] * own["window_seconds"])
    return bound / time_scale


def export_minimum(state):
    """The fewest Config API requests an export of this workspace needs (see tests/export.rs)."""
    def pages(n):
        return max(1, -(-n // 100))

    def names(kind):
        return list(state.get(kind, {}).keys())

    total = 1 + sum(
        pages(len(names(kind)))
        for kind in (
            "catalog_sources",
            "catalog_destinations",
            "access_tokens",
            "sources",
            "tracking_plans",
            "roles",
            "policies",
            "invites",
            "users",
        )
    )
    functions = state.get("functions", {}).values()
    for kind in ("SOURCE", "DESTINATION"):
        total += pages(sum(1 for f in functions if f.get("type") == kind))
    destinations = names("destinations")
    filters = names("destination_filters")
    connections = names("tracking_plan_connections")
    for source in names("sources"):
        mine = [d for d in destinations if d.startswith(source + "/destinations/")]
        total += 1 + pages(len(mine))
        for destination in mine:
            total += pages(sum(1 for f in filters if f.startswith(destination + "/filters/")))
    for plan in names("tracking_plans"):
        total += pages(sum(1 for c in connections if c.startswith(plan + "/source-connections/")))
    return total


# Invitations the Public API takes in one `POST /invites` (segbridge's MAX_INVITES_PER_REQUEST).
INVITES_PER_REQUEST = 50


def planned_writes(ledger):
    """The write requests the stored plan needs: one per payload, invitations fifty at a time."""
    with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as db:
        (plan,) = db.execute("SELECT max(id) FROM plans").fetchone()
        (others,) = db.execute(
            "SELECT count(*) FROM plan_payloads WHERE plan = ? AND step != 'invite_user'", (plan,)
        ).fetchone()
        (invites,) = db.execute(
            "SELECT count(*) FROM plan_payloads WHERE plan = ? AND step = 'invite_user'", (plan,)
        ).fetchone()
    return others + -(-invites // INVITES_PER_REQUEST)


ENABLE_SOURCE = "enable_source"


def export_to_applied_seconds(ledger):
    """Seconds from the start of the export to the end of `apply`, from the ledger's runs (the
    part of one `migrate` that the goal on overlapping export and apply is about), and to the
    last write before the sources are enabled (which `migrate` does last, once everything else
    is written), from the payloads' `updated_at`."""
    from datetime import datetime

    with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as db:
        (started,) = db.execute("SELECT min(started_at) FROM runs WHERE command = 'export'").fetchone()
        (applied,) = db.execute("SELECT max(finished_at) FROM runs WHERE command = 'apply'").fetchone()
        (plan,) = db.execute("SELECT max(id) FROM plans").fetchone()
        (before_enabling,) = db.execute(
            "SELECT max(g.updated_at) FROM plan_payloads p JOIN payload_progress g"
            " ON g.plan = p.plan AND g.seq = p.seq AND g.ordinal = p.ordinal"
            " WHERE p.plan = ? AND p.step <> ?",
            (plan, ENABLE_SOURCE),
        ).fetchone()
    if not started or not applied:
        return None, None
    parse = lambda text: datetime.fromisoformat(text.replace("Z", "+00:00"))
    seconds = lambda end: None if end is None else (parse(end) - parse(started)).total_seconds()
    return seconds(applied), seconds(before_enabling)


def default_bound(calls, limits, time_scale):
    """Real seconds `calls` requests take under an API's default window alone."""
    default = limits["default"]
    return calls / default["limit"] * default["window_seconds"] / time_scale


def one_run(binary, options, size):
    sim_args = [
        "--size", size,
        "--seed", str(options.seed),
        "--time-scale", str(options.time_scale),
        "--faults", f"latency={options.latency_ms}ms",
    ]
    if options.counts:
        sim_args += ["--counts", options.counts]
    sims = Simulators(binary, sim_args)
    try:
        env = dict(os.environ)
        env.pop("NO_COLOR", None)
        env["SEGMENT_CONFIG_API_TOKEN"] = sims.env["SEGMENT_CONFIG_API_TOKEN"]
        env["SEGMENT_PUBLIC_API_TOKEN"] = sims.env["SEGMENT_PUBLIC_API_TOKEN"]
        workdir = tempfile.mkdtemp(prefix="segbridge-bench-")
        ledger = os.path.join(workdir, "bench.ledger")
        common = ["--time-scale", str(options.time_scale), "--ledger", ledger]
        config = ["--config-url", sims.env["SEGMENT_CONFIG_API_URL"]]
        public = ["--public-url", sims.env["SEGMENT_PUBLIC_API_URL"]]
        if options.migrate:
            steps = [("migrate", ["migrate", *common, *config, *public, "--include-iam", "--enable"])]
        else:
            steps = [
                ("export", ["export", *common, *config]),
                ("plan", ["plan", *common, *public]),
                ("apply", ["apply", *common, *config, *public, "--include-iam", "--enable"]),
                ("audit", ["audit", *common, *config, *public]),
            ]
        before = sims.stats()
        limits = {api: before[api]["rate_limits"] for api in ("config", "public")}
        measured = []
        waited = None
        export_calls = None
        for name, args in steps:
            result = run_measured([binary, *args, "--json", "-q"], env)
            if result["code"] != 0:
                kept = os.path.join(workdir, f"{name}.json")
                with open(kept, "w") as out:
                    out.write(result["stdout"])
                sys.exit(
                    f"`segbridge {name}` exited {result['code']} (its --json output: {kept}; "
                    f"the ledger: {ledger}):\n{result['stderr']}"
                )
            after = sims.stats()
            calls = delta(after, before)
            before = after
            bounds = {api: api_bound(calls[api], limits[api], options.time_scale) for api in calls}
            summary = json.loads(result["stdout"])
            if name == "export":
                waited = summary.get("waited_on_rate_limits_seconds")
                export_calls = calls["config"]["calls"]
            elif name == "migrate":
                waited = summary.get("export", {}).get("waited_on_rate_limits_seconds")
            measured.append({"step": name, **{k: result[k] for k in ("wall_seconds", "cpu_seconds", "peak_rss_mb")}, "calls": calls, "bound": bounds})
        state = sims.config_state()
        totals = sims.stats()
    finally:
        sims.stop()

    def total(api, field):
        return sum(step["calls"][api][field] for step in measured)

    wall = sum(s["wall_seconds"] for s in measured)
    whole = {
        api: {
            "routes": {},
            "calls": total(api, "calls"),
        }
        for api in ("config", "public")
    }
    for api in ("config", "public"):
        for step in measured:
            for route, n in step["calls"][api]["routes"].items():
                whole[api]["routes"][route] = whole[api]["routes"].get(route, 0) + n
    pipelined = max(api_bound(whole[api], limits[api], options.time_scale) for api in whole)
    overlap = None
    if options.migrate:
        # The export's and the import's own bounds: the least the export's requests and the
        # plan's writes need under each API's default window.
        export_bound = default_bound(export_minimum(state), limits["config"], options.time_scale)
        import_bound = default_bound(planned_writes(ledger), limits["public"], options.time_scale)
        seconds, before_enabling = export_to_applied_seconds(ledger)
        larger = max(export_bound, import_bound)
        overlap = {
            "seconds": None if seconds is None else round(seconds, 2),
            "export_bound": round(export_bound, 2),
            "import_bound": round(import_bound, 2),
            "ratio": None if seconds is None else round(seconds / larger, 3),
            "before_sources_enabled_seconds": None
            if before_enabling is None
            else round(before_enabling, 2),
            "before_sources_enabled_ratio": None
            if before_enabling is None
            else round(before_enabling / larger, 3),
        }
    sequential = sum(max(step["bound"].values()) for step in measured)
    bound = pipelined if options.migrate else sequential
    result = {
        "size": options.label or size,
        "seed": options.seed,
        "time_scale": options.time_scale,
        "latency_ms": options.latency_ms,
        "mode": "migrate" if options.migrate else "steps",
        "resources": totals["config"]["resources_total"],
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(sum(s["cpu_seconds"] for s in measured), 2),
        "peak_rss_mb": round(max(s["peak_rss_mb"] for s in measured), 1),
        "calls": {api: total(api, "calls") for api in ("config", "public")},
        "rate_limited": {api: total(api, "rate_limited") for api in ("config", "public")},
        "waited_on_limits_seconds": waited,
        # One process cannot be split into steps: only the pipelined bound applies to it.
        "bound_seconds": {
            "sequential": None if options.migrate else round(sequential, 2),
            "pipelined": round(pipelined, 2),
        },
        "ratio": round(wall / bound, 3) if bound > 0 else None,
        "export_to_applied": overlap,
        "minimum": {"config_export": export_minimum(state), "public_writes": planned_writes(ledger)},
        "made": {"config_export": export_calls, "public_writes": total("public", "writes")},
        "steps": [
            {
                "step": s["step"],
                "wall_seconds": round(s["wall_seconds"], 2),
                "cpu_seconds": round(s["cpu_seconds"], 2),
                "peak_rss_mb": round(s["peak_rss_mb"], 1),
                "calls": {api: s["calls"][api]["calls"] for api in ("config", "public")},
                "rate_limited": {api: s["calls"][api]["rate_limited"] for api in ("config", "public")},
                "bound_seconds": {api: round(b, 2) for api, b in s["bound"].items()},
            }
            for s in measured
        ],
    }
    # The ledger of a run that went well is not looked at again (a failed step's is kept and
    # named above): at `large` and beyond it is tens of megabytes a run.
    shutil.rmtree(workdir, ignore_errors=True)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", action="append", choices=["tiny", "small", "medium", "large"],
                        help="workspace preset; repeat for several runs (default: small)")
    parser.add_argument("--counts", help="counts on top of the preset, as for `segbridge sim --counts`")
    parser.add_argument("--label", help="name of the size in the output (e.g. 50k with --counts)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-scale", type=float, default=60.0)
    parser.add_argument("--latency-ms", type=int, default=80,
                        help="simulated latency of every request (scaled like all simulated time)")
    parser.add_argument("--migrate", action="store_true",
                        help="one `migrate` process instead of the four steps")
    parser.add_argument("--bin", help="the segbridge binary (default: build the release one)")
    options = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="segbridge-bench-bin-")
    try:
        binary = fresh_copy(options.bin or build_binary(), directory)
        for size in options.size or ["small"]:
            print(json.dumps(one_run(binary, options, size)), flush=True)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
