"""Turns the lines scripts/bench collected into the results section of
BENCHMARKS.md (between <!-- BEGIN RESULTS --> and <!-- END RESULTS -->)."""
import argparse
import datetime
import os
import platform
import re
import subprocess


def parse(path):
    rows = {}
    for line in open(path):
        name, _, rest = line.strip().partition(" ")
        rows[name] = dict(kv.split("=", 1) for kv in rest.split() if "=" in kv)
    return rows


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        return "?"


def machine():
    cpu = sh("lscpu | sed -n 's/^Model name: *//p' | head -1") or platform.processor()
    mem = sh("free -g | awk '/^Mem:/ {print $2}'")
    pg = sh("pgbench --version")
    return (f"{os.cpu_count()} cores ({cpu}), {mem} GiB RAM, Linux {platform.release()}, "
            f"{pg.replace('pgbench (PostgreSQL) ', 'PostgreSQL ')}, default settings "
            f"(fsync on, synchronous_commit on)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    for k in ("idle", "load", "idle256", "idle256-refused", "soak", "soak-first", "soak-last", "seconds", "workers",
              "pool", "groups", "benchmarks", "command"):
        ap.add_argument("--" + k)
    a = ap.parse_args()
    r = parse(a.results)
    f = lambda row, k: float(r.get(row, {}).get(k, "nan"))
    lines = []
    lines.append(f"Run {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC on {machine()}; "
                 f"{a.seconds} s per scenario after 1 s of warm-up; daemon with {a.workers} workers and "
                 f"{a.pool} database connections, commit groups {a.groups}. Command: `{a.command or 'scripts/bench'}`.\n")
    lines.append("| Scenario | Conns | Requests/s | Units/s | p50 ms | p90 ms | p99 ms | max ms | Errors | "
                 "Daemon CPU µs/request | Daemon context switches/request | PostgreSQL CPU µs/unit | pgbench tps | "
                 "pgbench PostgreSQL CPU µs/unit | Ratio |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    names = [("a-1", "(a) upgradeLicense, 1 unit × 1 line item", 1), ("a-8", "(a) upgradeLicense, 1 unit × 1 line item", 8),
             ("a1-8", "(a) the same from a v1 client", 8),
             ("a-32", "(a) upgradeLicense, 1 unit × 1 line item", 32), ("b-8", "(b) upgradeLicense, 100 units", 8),
             ("c-8", "(c) getEntitlementsQuery by entitlementId", 8), ("c1-8", "(c) the same from a v1 client", 8),
             ("d-8", "(d) createSimpleEntitlement, 10 line items", 8),
             ("r-8", "(r) upgradeLicense, 1 unit, parent drawn from 2,000 (vs pgbench -N)", 8)]
    names += [("e-8", "(e) statusLog POST with an RS256 JWT", 8), ("f-8", "(f) statusLog poll (GET, done)", 8),
              ("g-8", "(g) device status POST, 5 nodes", 8)]
    for key, label, c in names:
        row = r.get(key)
        if row is None:
            continue
        pg = r.get(f"pgbench-{c}") if key.startswith("a") else r.get(f"pgbench-{key}")
        tps = f"{float(pg['tps']):.0f}" if pg else ""
        pgcpu = f"{float(pg['pg_cpu_us_per_unit']):.0f}" if pg and "pg_cpu_us_per_unit" in pg else ""
        ratio = f"{float(row['units_per_s']) / float(pg['tps']):.2f}" if pg and float(pg["tps"]) else ""
        cpu = lambda k: f"{float(row[k]):.0f}" if k in row else ""
        cs = f"{float(row['vcs_per_req']):.1f} + {float(row['ivcs_per_req']):.1f}" if "vcs_per_req" in row else ""
        lines.append(f"| {label} | {c} | {float(row['rps']):.0f} | {float(row['units_per_s']):.0f} | "
                     f"{row['p50_ms']} | {row['p90_ms']} | {row['p99_ms']} | {row['max_ms']} | {row['errors']} | "
                     f"{cpu('cpu_us_per_req')} | {cs} | {cpu('pg_cpu_us_per_unit')} | {tps} | {pgcpu} | {ratio} |")
    lines.append("")
    lines.append("pgbench runs the same SQL as the service on the same cluster at the same concurrency: "
                 "`bench/pgbench_upgrade_unit.sql` (the statements of one upgrade unit, prepared, one transaction) "
                 "for (a), `bench/pgbench_statuslog.sql` (the status log, its job and the NOTIFY in one statement; "
                 "the daemon's job workers process those jobs as they do the service's) for (e), "
                 "`bench/pgbench_poll.sql` for (f) and `bench/pgbench_device.sql` (one report of 5 nodes) for (g); "
                 "(r) is set against pgbench's built-in simple update (`pgbench -N`, scale 1, 8 clients, its "
                 "default protocol) instead; each scenario with a baseline runs right before it, both after a "
                 "`VACUUM (ANALYZE)` and a `CHECKPOINT`; ratio = service units/s ÷ pgbench tps. CPU columns: user + system "
                 "time from /proc over the measured seconds (bench/loadgen -C and -G), the daemon's per request "
                 "and the whole cluster's (postmaster and every backend) per unit or pgbench transaction; the "
                 "daemon's threads' context switches per request, voluntary (sleeping) + involuntary.")
    h = r.get("h-8")
    if h:
        lines.append(f"- (h) statusLog POST followed by polls every 1 ms until 200, 8 connections: "
                     f"{float(h['rps']):.0f} status logs/s, POST p99 {h['p99_ms']} ms; from the POST to the 200: "
                     f"p50 {h.get('done_p50_ms', '?')} ms, p99 {h.get('done_p99_ms', '?')} ms, "
                     f"max {h.get('done_max_ms', '?')} ms ({h.get('polls', '?')} polls)")
    for c in ("1", "8", "32", "r-8", "e-8", "f-8", "g-8"):
        pg = r.get(f"pgbench-{c}")
        if pg:
            lines.append(f"- pgbench {c} clients: {float(pg['tps']):.0f} tps, latency {pg['avg_ms']} ms average, "
                         f"p50 {pg.get('p50_ms', '?')} ms, p99 {pg.get('p99_ms', '?')} ms, max {pg.get('max_ms', '?')} ms, "
                         f"{pg['failed']} failed"
                         + (f", PostgreSQL CPU {float(pg['pg_cpu_us_per_unit']):.0f} µs per transaction"
                            if "pg_cpu_us_per_unit" in pg else ""))
    bare = r.get("bare-8")
    if bare and "cpu_us_per_req" in bare:
        lines.append(f"- gSOAP's bare server (`bench/soap_bare.c`: the same stubs, (a)'s upgrades answered without a "
                     f"database, one thread per keep-alive connection), 8 connections: {float(bare['rps']):.0f} "
                     f"requests/s, p99 {bare['p99_ms']} ms, its CPU {float(bare['cpu_us_per_req']):.0f} µs per request, "
                     f"context switches {float(bare['vcs_per_req']):.1f} + {float(bare['ivcs_per_req']):.1f} per request")
    lines.append("")
    lines.append("Memory (VmRSS of entitlementd):")
    lines.append(f"- idle after start: {a.idle} MiB")
    lines.append(f"- under load (maximum during scenario a): {a.load} MiB")
    lines.append(f"- with 256 idle keep-alive connections: {a.idle256} MiB ({a.idle256_refused} of them refused)")
    lines.append(f"- soak: {a.soak}")
    a8, b8 = r.get("a-8", {}), r.get("b-8", {})
    pg8 = r.get("pgbench-8", {})
    lines.append("")
    lines.append("Targets:")
    if a8 and pg8:
        ratio = float(a8["units_per_s"]) / float(pg8["tps"])
        lines.append(f"- (a) at 8 connections ≥ 1.5 × pgbench: {ratio:.2f} — {'met' if ratio >= 1.5 else 'missed'}; "
                     f"p99 < 3 ms: {a8['p99_ms']} ms — {'met' if float(a8['p99_ms']) < 3 else 'missed'}")
    if a8 and "cpu_us_per_req" in a8:
        cpu = float(a8["cpu_us_per_req"])
        line = (f"- (a) at 8 connections, daemon CPU ≤ 72 µs per request: {cpu:.0f} µs — "
                f"{'met' if cpu <= 72 else 'missed'}")
        if bare and "cpu_us_per_req" in bare and float(bare["cpu_us_per_req"]):
            # The 72 µs are twice the bare cost the issue measured; the same
            # run's yardstick says how far the daemon is from that today.
            line += (f" ({cpu / float(bare['cpu_us_per_req']):.1f} × gSOAP's bare server in this run, "
                     f"{float(bare['cpu_us_per_req']):.0f} µs)")
        lines.append(line)
    r8, pr8 = r.get("r-8"), r.get("pgbench-r-8")
    if r8 and pr8 and float(pr8["tps"]):
        ratio = float(r8["units_per_s"]) / float(pr8["tps"])
        lines.append(f"- (r) ≥ 0.5 × pgbench -N: {ratio:.2f} — {'met' if ratio >= 0.5 else 'missed'}")
    if b8:
        lines.append(f"- (b) ≥ 20,000 line items/s: {float(b8['units_per_s']):.0f} — "
                     f"{'met' if float(b8['units_per_s']) >= 20000 else 'missed'}")
    for key, label in (("e-8", "(e)"), ("g-8", "(g)")):
        row, pg = r.get(key), r.get(f"pgbench-{key}")
        if row and pg and float(pg["tps"]):
            ratio = float(row["units_per_s"]) / float(pg["tps"])
            lines.append(f"- {label} at 8 connections ≥ 0.8 × pgbench: {ratio:.2f} — "
                         f"{'met' if ratio >= 0.8 else 'missed'}; p99 < 5 ms: {row['p99_ms']} ms — "
                         f"{'met' if float(row['p99_ms']) < 5 else 'missed'}")
    if h and "done_p99_ms" in h:
        lines.append(f"- POST to done p99 < 100 ms: {h['done_p99_ms']} ms — "
                     f"{'met' if float(h['done_p99_ms']) < 100 else 'missed'}")
    lines.append(f"- memory < 64 MiB with 256 idle connections: {a.idle256} MiB, {a.idle256_refused} refused — "
                 f"{'met' if float(a.idle256) < 64 and a.idle256_refused == '0' else 'missed'}")
    if a.soak_first and a.soak_last:
        # Growth is judged on medians of the first and last tenth; 10 % or
        # 2 MiB is noise (allocator arenas, page cache of the binary).
        grew = float(a.soak_last) - float(a.soak_first)
        ok = grew <= max(2.0, 0.1 * float(a.soak_first))
        lines.append(f"- no memory growth over the soak: {a.soak_first} → {a.soak_last} MiB — "
                     f"{'met' if ok else 'missed'}")
    errs = sum(int(v.get("errors", 0)) for v in r.values())
    lines.append(f"- zero errors: {errs} — {'met' if errs == 0 else 'missed'}")
    table = "\n".join(lines)
    print(table)
    path = a.benchmarks
    if path == os.devnull:
        return
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n\n<!-- BEGIN RESULTS -->\n<!-- END RESULTS -->\n"
    new = re.sub(r"<!-- BEGIN RESULTS -->.*<!-- END RESULTS -->",
                 "<!-- BEGIN RESULTS -->\n" + table.replace("\\", "\\\\") + "\n<!-- END RESULTS -->", text, flags=re.S)
    open(path, "w").write(new)


if __name__ == "__main__":
    main()
