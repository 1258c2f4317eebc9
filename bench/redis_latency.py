#!/usr/bin/python3
"""The Redis-latency benchmark (bench/run.sh --redis-latency builds first, then calls this).

How throughput depends on the distance to Redis: testino-server on the Redis store
(server.threads 2, the default pool) runs the send-otp and verify-otp rows of bench.py
against one redis-server, reached directly and through bench_delay_proxy (delay_proxy.cpp)
adding +0, +0.25 and +1 ms of round trip (BENCH_LATENCY_RTTS, in ms). Everything stays on
127.0.0.1. Each row's ratio is to the same row at +0 ms through the proxy, so the ratio
isolates the added latency from the proxy's own cost (the direct row shows that cost).
Writes its table into bench/RESULTS.md between its own GENERATED markers.

Uses bench.py's machinery (processes, wrk, Lua scripts, pools, medians) and its knobs:
BENCH_DURATION, BENCH_REPS, BENCH_WARMUP, BENCH_CONNECTIONS, BENCH_THREADS,
BENCH_NO_WRITE, BENCH_KEEP_LOGS. One Connection-header variant (none): the header does not
change the store's work.
"""

import os
import re
import time

import bench
from bench import log, ms

bench.VARIANTS = [("none", "0")]  # measure_row and summarize read it from the module

PROXY = os.path.join(bench.BUILD, "bin", "bench_delay_proxy")
RTTS_MS = [float(x) for x in os.environ.get("BENCH_LATENCY_RTTS", "0,0.25,1").split(",")]
PROXY_LIFETIME_S = 1800  # the proxy exits by itself after this, whatever happens here
TARGET = 0.8  # after the asynchronous store: +1 ms reaches at least 0.8 of +0 ms

BEGIN = "<!-- BEGIN GENERATED: bench/run.sh --redis-latency rewrites this part -->"
END = "<!-- END GENERATED: Redis latency -->"

ROWS = [("send-otp", "200"), ("verify-otp (wrong code)", "400"), ("verify-otp (right code)", "200")]


def start_proxy(redis_port, rtt_ms):
    rtt_us = round(rtt_ms * 1000)
    return bench.Process(f"proxy-{rtt_us}us",
                         [PROXY, str(redis_port), str(rtt_us), str(PROXY_LIFETIME_S)],
                         '"proxy.listening"')


# The commands store_redis sends, one per round trip (blocking hiredis): its Lua scripts by
# EVALSHA, SCRIPT LOAD after a NOSCRIPT, PING for health. Counted by INFO commandstats, not
# INFO stats, which also counts the commands the scripts call inside Redis.
CLIENT_COMMANDS = ("evalsha", "eval", "script", "ping")


def redis_round_trips(redis):
    """Calls of CLIENT_COMMANDS redis-server has processed since it started."""
    stats = bench.redis_command(redis.port, "INFO", "commandstats")
    return sum(int(m.group(2)) for m in re.finditer(r"cmdstat_(\w+):calls=(\d+)", stats)
               if m.group(1) in CLIENT_COMMANDS)


def context_switches(process):
    """Voluntary + involuntary context switches of every thread of `process` so far: each
    time a thread slept (on epoll, a lock) and was woken, or was preempted."""
    total = 0
    task_dir = f"/proc/{process.proc.pid}/task"
    for tid in os.listdir(task_dir):
        try:
            with open(f"{task_dir}/{tid}/status") as f:
                total += sum(int(line.split()[1]) for line in f
                             if line.startswith(("voluntary_ctxt_switches",
                                                 "nonvoluntary_ctxt_switches")))
        except FileNotFoundError:  # a thread that ended meanwhile
            pass
    return total


def bench_setting(label, redis, redis_port, proxy=None):
    """One server on redis://127.0.0.1:<redis_port>: the send-otp row, then both verify
    rows on the codes its sends left. Returns {row: (summary, proxy CPU % of a core)}."""
    bench.redis_command(redis.port, "FLUSHALL")  # every setting starts from an empty Redis
    name = "latency-" + label.replace(" ", "").replace("+", "plus").replace(".", "_")
    store = {"backend": "redis", "redis": {"url": f"redis://127.0.0.1:{redis_port}/0"}}
    config = bench.write_config(name, store, server={"threads": 2})
    server = bench.start_server(name, config)
    results = {}

    def measured(row, script, make_args, advance=None):
        """measure_row, plus the proxy's CPU and Redis round trips per request over the row
        (its warm-up included)."""
        requests = []

        def after_run(r):
            requests.append(r["requests"])
            if advance:
                advance(r)

        cpu_before, started = (proxy.cpu_seconds() if proxy else 0.0), time.time()
        commands_before, switches_before = redis_round_trips(redis), context_switches(server)
        runs = bench.measure_row(server.port, script, make_args, server, f"{label} {row}",
                                 after_run)
        commands = redis_round_trips(redis) - commands_before
        switches = context_switches(server) - switches_before
        proxy_pct = (100 * (proxy.cpu_seconds() - cpu_before) / (time.time() - started)
                     if proxy else None)
        count = max(sum(requests), 1)
        results[row] = (bench.summarize(runs["none"]), proxy_pct, commands / count,
                        switches / count)

    try:
        time.sleep(1.0)
        blocks = bench.NumberBlocks()
        # Extra codes for the right-code row, which uses each code once and runs about as
        # fast as send-otp: without them it would run out during its last run.
        log(f"  {label}: pool top-up {bench.DURATION}s")
        bench.run_wrk(server.port, "send_otp.lua", bench.send_otp_args(blocks)("0"),
                      bench.DURATION)
        measured("send-otp", "send_otp.lua", bench.send_otp_args(blocks))
        time.sleep(0.5)
        pool = bench.Pool(name, server.stdout_path)
        log(f"  {label}: verify pool of {pool.size} pending codes")
        for row, mode, expect in [("verify-otp (wrong code)", "wrong", "400"),
                                  ("verify-otp (right code)", "right", "200")]:
            measured(row, "verify.lua", pool.args(mode, expect),
                     lambda r, mode=mode: pool.advance(mode, r))
    finally:
        server.stop()
    return results


def build_report(settings, started, elapsed, end_loadavg):
    base = dict(settings).get("+0 ms", {})
    lines = [
        f"Run {time.strftime('%Y-%m-%d %H:%M:%S %Z', time.localtime(started))}, took "
        f"{elapsed:.0f} s, source {bench.source_revision()}. Machine: {bench.machine()}. "
        f"Load average at the start: {' '.join(bench.START_LOADAVG)}; at the end: "
        f"{' '.join(end_loadavg)}.",
        "",
        f"testino-server on store_redis (`server.threads: 2`, default `pool_size`), one "
        f"redis-server, all on 127.0.0.1. \"+N ms\" = through `bench_delay_proxy`, which adds "
        f"N ms to every round trip (N/2 each way); \"direct\" = no proxy. wrk {bench.THREADS} "
        f"threads, {bench.CONNECTIONS} connections, no Connection header, {bench.DURATION} s "
        f"per run, {bench.REPS} runs per row after a {bench.WARMUP} s warm-up; medians. "
        "× +0 ms = this row ÷ the same row at +0 ms through the proxy. Proxy CPU = the "
        "proxy's share of one core during the row; Redis round trips / req = the "
        "store's commands (EVALSHA, PING, SCRIPT; INFO commandstats) ÷ requests, warm-up "
        "included; context switches / req = the server's threads' voluntary and involuntary "
        "switches (/proc/<pid>/task/*/status) ÷ requests, warm-up included; other CPU = the "
        "machine's CPU outside "
        "wrk and testino-server (redis-server and the proxy included), % of one core.",
        "",
        "| Redis at | row | expected | req/s | × +0 ms | p50 ms | p99 ms | × +0 ms (p99) | "
        "Redis round trips / req | server context switches / req | server CPU µs/req | "
        "proxy CPU % | other CPU % (max) | unexpected / socket errors |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for label, results in settings:
        for row, expect in ROWS:
            if row not in results:
                continue
            s, proxy_pct, per_request, switches = results[row]
            b = base[row][0] if row in base else {}
            note = bench.row_note(s, expect)
            lines.append(
                f"| {label} | {row} | {expect} | {s['rps']:,.0f} | "
                f"{bench.ratio(s['rps'], b.get('rps'))} | {ms(s['p50'])} | {ms(s['p99'])} | "
                f"{bench.ratio(s['p99'], b.get('p99'))} | {per_request:.2f} | {switches:.2f} | "
                f"{s['cpu']:.1f} | "
                f"{'-' if proxy_pct is None else f'{proxy_pct:.0f}'} | "
                f"{s['background']:.0f} | {note} |")
    lines += ["", "| target | goal | measured | met |", "|---|---|---|---|"]
    far = dict(settings).get("+1 ms", {})
    for row, _ in ROWS:
        if row in far and row in base and base[row][0]["rps"]:
            r = far[row][0]["rps"] / base[row][0]["rps"]
            lines.append(f"| {row}, Redis +1 ms | >= {TARGET} × +0 ms req/s | {r:.2f} | "
                         f"{'yes' if r >= TARGET else 'NO'} |")
        else:
            lines.append(f"| {row}, Redis +1 ms | >= {TARGET} × +0 ms req/s | not measured | - |")
    return "\n".join(lines)


def main():
    started = time.time()
    os.makedirs(bench.RESULTS_DIR, exist_ok=True)
    for path, what in [(bench.SERVER, "testino-server"), (bench.REDIS_PLUGIN, "store_redis"),
                       (PROXY, "bench_delay_proxy")]:
        if not os.path.exists(path):
            raise SystemExit(f"redis_latency: {what} not built ({path}); run bench/run.sh "
                             "--redis-latency")
    settings = []
    redis = bench.start_redis()
    try:
        log("bench: Redis latency, direct")
        settings.append(("direct", bench_setting("direct", redis, redis.port)))
        for rtt in RTTS_MS:
            label = f"+{rtt:g} ms"
            log(f"bench: Redis latency, {label} through the proxy")
            proxy = start_proxy(redis.port, rtt)
            try:
                settings.append((label, bench_setting(label, redis, proxy.port, proxy)))
            finally:
                proxy.stop()
    finally:
        redis.stop()
    if os.environ.get("BENCH_KEEP_LOGS") != "1":
        for name in os.listdir(bench.RESULTS_DIR):
            if name.startswith("latency-") and (name.endswith(".stdout.log") or ".pool." in name):
                os.truncate(os.path.join(bench.RESULTS_DIR, name), 0)
    end_loadavg = open("/proc/loadavg").read().split()[:3]
    report = build_report(settings, started, time.time() - started, end_loadavg)
    print(report)
    if bench.WRITE_RESULTS:
        bench.write_results(report, BEGIN, END)
        log(f"bench: table written to {os.path.join(bench.BENCH_DIR, 'RESULTS.md')}")


if __name__ == "__main__":
    main()
