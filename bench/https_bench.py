#!/usr/bin/python3
"""The HTTPS benchmark (bench/run.sh --https builds first, then calls this).

What TLS on the public listener (server.tls) costs: the same testino-server config (memory
store, console SMS, bench.yaml) served over plain HTTP and over HTTPS with a self-signed
P-256 certificate that this script makes with the openssl CLI into bench/results/. Rows:
GET /api/v1/health and POST send-otp, each on reused connections (no Connection header:
one handshake per wrk connection) and with "Connection: close" (a new TCP connection, and
over HTTPS a new full handshake, per request). Each HTTPS row's ratio is to the same row
over HTTP in the same run. Writes its table into bench/RESULTS.md between its own
GENERATED markers.

Uses bench.py's machinery and knobs (BENCH_DURATION, BENCH_REPS, BENCH_WARMUP,
BENCH_CONNECTIONS, BENCH_THREADS, BENCH_NO_WRITE). wrk does not verify the certificate;
the handshake and the encryption are what is measured.
"""

import os
import subprocess
import time

import bench
from bench import log, ms

# measure_row and summarize read these from the module.
bench.VARIANTS = [("reused", "0"), ("new per request", "close")]

BEGIN = "<!-- BEGIN GENERATED: bench/run.sh --https rewrites this part -->"
END = "<!-- END GENERATED: HTTPS -->"

ROWS = [("health", "health.lua", "200"), ("send-otp", "send_otp.lua", "200")]


def make_certificate():
    """A self-signed P-256 certificate for 127.0.0.1 in bench/results/; (cert, key)."""
    cert = os.path.join(bench.RESULTS_DIR, "https-bench.crt")
    key = os.path.join(bench.RESULTS_DIR, "https-bench.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


def bench_scheme(scheme, tls):
    """Every row on one server over `scheme`; {row: {variant: summary}}."""
    bench.SCHEME = scheme
    server_keys = {"tls": tls} if tls else None
    config = bench.write_config(f"https-bench-{scheme}", None, server=server_keys)
    server = bench.start_server(f"https-bench-{scheme}", config)
    results = {}
    try:
        time.sleep(0.5)
        blocks = bench.NumberBlocks()
        for row, script, expect in ROWS:
            if script == "send_otp.lua":
                make_args = bench.send_otp_args(blocks, expect)
            else:
                make_args = lambda flag, expect=expect: [f"keepalive={flag}", f"expect={expect}"]
            runs = bench.measure_row(server.port, script, make_args, server, f"{scheme} {row}")
            results[row] = {name: bench.summarize(runs[name]) for name, _ in bench.VARIANTS}
    finally:
        server.stop()
        bench.SCHEME = "http"
    return results


def build_report(plain, tls, started, elapsed, end_loadavg):
    lines = [
        f"Run {time.strftime('%Y-%m-%d %H:%M:%S %Z', time.localtime(started))}, took "
        f"{elapsed:.0f} s, source {bench.source_revision()}. Machine: {bench.machine()}. "
        f"Load average at the start: {' '.join(bench.START_LOADAVG)}; at the end: "
        f"{' '.join(end_loadavg)}.",
        "",
        f"testino-server on bench.yaml (memory store, console SMS, `server.threads: 2`), over "
        f"plain HTTP and over HTTPS (`server.tls`, self-signed P-256 certificate; TLS 1.3 is "
        f"negotiated), on 127.0.0.1. wrk {bench.THREADS} threads, {bench.CONNECTIONS} "
        f"connections, {bench.DURATION} s per run, {bench.REPS} runs per row and connection "
        f"style after a {bench.WARMUP} s warm-up, interleaved; medians. \"reused\": no "
        "Connection header, so each wrk connection makes one handshake and then keeps "
        "alive; \"new per request\": `Connection: close`, a new TCP connection (and over "
        "HTTPS a full handshake, run by Pistache on its single accepting thread) per request. "
        "× HTTP = HTTPS ÷ the same row and style over HTTP.",
        "",
        "| row | connections | HTTP req/s | HTTPS req/s | × HTTP | HTTP p99 ms | HTTPS p99 ms | "
        "HTTP CPU µs/req | HTTPS CPU µs/req | other CPU % (max) | unexpected / socket errors (HTTPS) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row, _, expect in ROWS:
        for variant, _ in bench.VARIANTS:
            p, t = plain.get(row, {}).get(variant), tls.get(row, {}).get(variant)
            if not p or not t:
                continue
            lines.append(
                f"| {row} | {variant} | {p['rps']:,.0f} | {t['rps']:,.0f} | "
                f"{bench.ratio(t['rps'], p['rps'])} | {ms(p['p99'])} | {ms(t['p99'])} | "
                f"{p['cpu']:.1f} | {t['cpu']:.1f} | {max(p['background'], t['background']):.0f} | "
                f"{bench.row_note(t, expect)} |")
    return "\n".join(lines)


def main():
    started = time.time()
    os.makedirs(bench.RESULTS_DIR, exist_ok=True)
    if not os.path.exists(bench.SERVER):
        raise SystemExit(f"https_bench: testino-server not built ({bench.SERVER}); run bench/run.sh --https")
    cert, key = make_certificate()
    log("bench: HTTPS vs HTTP, plain HTTP")
    plain = bench_scheme("http", None)
    log("bench: HTTPS vs HTTP, HTTPS")
    tls = bench_scheme("https", {"cert_file": cert, "key_file": key})
    end_loadavg = open("/proc/loadavg").read().split()[:3]
    report = build_report(plain, tls, started, time.time() - started, end_loadavg)
    print(report)
    if bench.WRITE_RESULTS:
        bench.write_results(report, BEGIN, END)
        log(f"bench: wrote {os.path.join(bench.BENCH_DIR, 'RESULTS.md')}")


if __name__ == "__main__":
    main()
