#!/usr/bin/python3
"""Instructions per request under valgrind callgrind: a repeatable figure on a shared
machine, where wall-clock req/s and CPU time move with other people's jobs.

    /usr/bin/python3 bench/callgrind.py [BUILD_DIR]      (default: <repo>/build)

Starts testino-server from BUILD_DIR on bench/bench.yaml (memory store, console provider)
under callgrind with collection on, warms it up, then for each phase zeroes the counters
(callgrind_control -z), drives one request type with wrk (1 thread, 4 connections,
CG_SECONDS seconds, default 4), dumps (callgrind_control -d) and divides the dump's total
by the requests wrk completed. Phases: send-otp (new numbers), verify-otp with a wrong
code and with the right one (numbers from the send-otp phase, so the same number is
sent and then verified, as a real user does), health. The dumps stay in
bench/results/callgrind/ for callgrind_annotate. User-space instructions only.
"""

import glob
import os
import subprocess
import sys
import time

os.environ.setdefault("BENCH_THREADS", "1")
os.environ.setdefault("BENCH_CONNECTIONS", "4")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
if len(sys.argv) > 1:
    os.environ["BENCH_BUILD_DIR"] = os.path.abspath(sys.argv[1])
else:
    os.environ.setdefault("BENCH_BUILD_DIR", os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "build"))

import bench  # noqa: E402  (after the environment it reads)

SECONDS = int(os.environ.get("CG_SECONDS", "4"))
OUT_DIR = os.path.join(bench.RESULTS_DIR, "callgrind")


def dump_total(server, label):
    """Dumps the counters since the last zero and returns the dump's instruction total."""
    pid = server.proc.pid
    before = set(glob.glob(os.path.join(OUT_DIR, f"cg.{pid}*")))
    # callgrind acts on the request when the process next runs code: an idle server
    # needs a poke (one health request, noise against thousands measured).
    # (callgrind_control passes the label through a shell: keep it to [a-z-].)
    tag = "".join(c if c.isalnum() or c == "-" else "-" for c in label)
    control = subprocess.Popen(["callgrind_control", "-d", tag, str(pid)],
                               stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    bench.pending_codes(server)
    control.wait()
    deadline = time.time() + 30
    while time.time() < deadline:
        new = set(glob.glob(os.path.join(OUT_DIR, f"cg.{pid}*"))) - before
        for path in new:
            with open(path) as f:
                for line in f:
                    if line.startswith(("totals:", "summary:")):
                        return path, int(line.split()[1])
        time.sleep(0.2)
    raise RuntimeError("callgrind wrote no dump")


def phase(server, label, script, args):
    subprocess.run(["callgrind_control", "-z", str(server.proc.pid)], check=True,
                   stdout=subprocess.DEVNULL)
    time.sleep(0.5)  # taken when the server next runs (wrk's first request)
    result = bench.run_wrk(server.port, script, args, SECONDS)
    path, total = dump_total(server, label)
    requests = result["requests"]
    print(f"| {label} | {requests:,} | {result['unexpected']} | {total / max(requests, 1):,.0f} | "
          f"{os.path.basename(path)} |", flush=True)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    for old in glob.glob(os.path.join(OUT_DIR, "cg.*")):
        os.remove(old)
    config = bench.write_config("callgrind", None)
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={OUT_DIR}/cg.%p",
            bench.SERVER, "--config", config]
    server = bench.Process("callgrind", argv, '"server.listening"', env=bench.server_env())
    try:
        blocks = bench.NumberBlocks()
        bench.run_wrk(server.port, "send_otp.lua", [f"start={blocks.take()}", f"span={bench.SPAN}",
                                                   "expect=200"], 2)  # warm-up: lazy set-up
        bench.run_wrk(server.port, "health.lua", ["expect=200"], 1)
        print("| request | requests | unexpected | instructions / request | dump |")
        print("|---|---:|---:|---:|---|")
        phase(server, "send-otp", "send_otp.lua",
              [f"start={blocks.take()}", f"span={bench.SPAN}", "expect=200"])
        pool = bench.Pool("callgrind", server.stdout_path)
        phase(server, "verify-otp (wrong code)", "verify.lua", pool.args("wrong", "400")("0"))
        phase(server, "verify-otp (right code)", "verify.lua", pool.args("right", "200")("0"))
        phase(server, "health", "health.lua", ["expect=200"])
    finally:
        server.stop()


if __name__ == "__main__":
    main()
