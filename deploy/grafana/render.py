#!/usr/bin/python3
"""Pictures of the Grafana dashboard's key panels, from a real run: a healthy one and an incident.

    /usr/bin/python3 deploy/grafana/render.py [--build-dir build] [--out docs/images]

Starts testino-server from the build tree (deploy/grafana/live_server.py: two test-sink SMS
providers, +44 failing over from test_sink to test_sink_b, +1 on test_sink alone) and Debian's
prometheus on loopback scraping its admin /metrics every second, and drives traffic: sends
to +1 and +44 numbers, a verify for most codes the sinks received, some wrong codes,
repeated numbers (the per-number cooldown), invalid numbers, and a pumping bot on
+44 7400 9... that never verifies (the fraud guard blocks it). After --healthy seconds
test_sink goes down (answers `unavailable`): +44 fails over, +1 sends fail with 502. The
simulated users also receive only 40% of the codes test_sink_b carries then (its sender
filtered by a carrier), so conversion drops too. Then every panel below is queried from
prometheus with the dashboard's own expressions ($__rate_interval = --rate-window) and drawn
with matplotlib: dashboard-healthy.png covers the healthy part, dashboard-incident.png all of
it. Needs the build (testino-server, sms_test_sink, sms_test_sink_b, store_memory) and the
Debian packages prometheus and python3-matplotlib.
"""

import argparse
import http.client
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from live_server import LiveServer, free_port  # noqa: E402

PANELS = [
    "Request rate by route",
    "Errors by status code",
    "Latency p50 / p99 by route",
    "SMS sent by provider",
    "SMS failures by provider and reason",
    "Failovers and channel fallbacks",
    "Conversion (verified / sent)",
    "Rate-limit refusals by limit",
    "Store operation latency p99",
]
# Metrics of other branches, not on every build yet: stand-ins with the same meaning for SMS.
STAND_INS = {
    "testino_codes_verified_total{": 'testino_otp_verify_total{outcome="verified",',
    "testino_codes_sent_total{": "testino_sms_sent_total{",
}
FRAUD_GUARD = {"enabled": True, "prefix_digits": 7, "min_sends": 10, "min_conversion": 0.2, "block_seconds": 60}


class Traffic:
    """Users who send, receive most codes and verify them; a pumping bot that never does."""

    def __init__(self, server, seed=7):
        self.server = server
        self.random = random.Random(seed)
        self.stop = threading.Event()
        self.incident = False
        self.recent = []
        self.errors = []

    def run_senders(self, per_second):
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        serial = 0
        while not self.stop.is_set():
            started = time.monotonic()
            serial += 1
            self.one_send(connection, serial)
            time.sleep(max(0.0, 1.0 / per_second - (time.monotonic() - started)))

    def one_send(self, connection, serial):
        r = self.random.random()
        if r < 0.04 and self.recent:
            country, number = self.random.choice(self.recent)  # a user asking again: cooldown
        elif r < 0.06:
            country, number = "+1", "555"  # not a number: 422
        elif r < 0.14:
            country, number = "+44", f"74009{serial % 100000:05d}"  # the pumping bot
        elif r < 0.55:
            country, number = "+1", f"202555{serial % 10000:04d}"
        else:
            country, number = "+44", f"74001{serial % 100000:05d}"
        try:
            self.server.send(country, number, connection)
        except (OSError, http.client.HTTPException) as e:
            self.errors.append(repr(e))
            connection.close()
        if not number.startswith("74009"):
            self.recent = (self.recent + [(country, number)])[-50:]

    def run_verifier(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        while not self.stop.is_set():
            for sink, to, code in self.server.codes():
                if to.startswith("+4474009") or (self.incident and sink == 0):
                    continue  # the bot never verifies; a sink that is down sent nothing
                delivered = 0.4 if self.incident and sink == 1 else 0.9
                if self.random.random() > delivered:
                    continue
                country, number = ("+44", to[3:]) if to.startswith("+44") else ("+1", to[2:])
                try:
                    if self.random.random() < 0.1:
                        self.server.verify(country, number, "000000", connection)  # a typo first
                    self.server.verify(country, number, code, connection)
                except (OSError, http.client.HTTPException) as e:
                    self.errors.append(repr(e))
                    connection.close()
            time.sleep(0.2)


class Prometheus:
    def __init__(self, work_dir, target_port, scrape_seconds):
        self.port = free_port()
        config = os.path.join(work_dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write(
                f"global: {{scrape_interval: {scrape_seconds}s, evaluation_interval: {scrape_seconds}s}}\n"
                "scrape_configs:\n"
                f"  - job_name: testino\n    static_configs: [{{targets: ['127.0.0.1:{target_port}']}}]\n"
            )
        self.log = open(os.path.join(work_dir, "prometheus.log"), "w")
        self.process = subprocess.Popen(
            [shutil.which("prometheus") or "/usr/bin/prometheus", f"--config.file={config}",
             f"--storage.tsdb.path={os.path.join(work_dir, 'tsdb')}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if self.get("/-/ready")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.close()
        raise SystemExit("render: prometheus did not become ready (see its log in the work dir)")

    def get(self, path):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()

    def query_range(self, expr, start, end, step):
        query = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step})
        status, body = self.get("/api/v1/query_range?" + query)
        if status != 200:
            raise SystemExit(f"render: prometheus refused {expr}: {body[:300]!r}")
        return json.loads(body)["data"]["result"]

    def close(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


def panel_series(prometheus, panel, window, start, end, step):
    """[(legend, [(t, value)])] for each target of the panel, and whether a stand-in was used."""
    out, stood_in = [], False
    for target in panel["targets"]:
        expr = target["expr"].replace("$__rate_interval", window).replace("$job", ".+").replace("$instance", ".+")
        result = prometheus.query_range(expr, start, end, step)
        if not result and any(name in expr for name in STAND_INS):
            if "by (channel)" in expr:
                continue  # no per-channel stand-in
            for name, stand_in in STAND_INS.items():
                expr = expr.replace(name, stand_in)
            result, stood_in = prometheus.query_range(expr, start, end, step), True
        for series in result:
            legend = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: series["metric"].get(m.group(1), ""),
                            target.get("legendFormat") or "")
            points = [(float(t) - start, float(v)) for t, v in series["values"]]
            out.append((legend.strip() or expr[:40], points))
    return out, stood_in


def draw(path, panels, data, incident_at, until, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(3, 3, figsize=(15, 9.5), dpi=64)
    figure.suptitle(title, fontsize=13)
    for ax, panel in zip(axes.flat, panels):
        series, stood_in = data[panel["title"]]
        unit = panel["fieldConfig"]["defaults"].get("unit", "short")
        per_second = "/s" if unit in ("reqps", "ops") else ""
        scale, suffix = {"s": (1000, " ms"), "percentunit": (100, " %")}.get(unit, (1, per_second))
        for legend, points in sorted(series, key=lambda s: s[0]):
            points = [(t, v) for t, v in points if t <= until and v == v]  # NaN: no traffic to judge
            if any(v for _, v in points):  # Grafana draws the zero series too; here they only crowd
                ax.plot([t for t, _ in points], [v * scale for _, v in points], label=legend, linewidth=1.3)
        name = panel["title"] + (" [sms, stand-in]" if stood_in else "")
        ax.set_title(name, fontsize=10)
        ax.set_xlim(0, until)
        top = max((line.get_ydata().max() for line in ax.get_lines()), default=1.0)
        ax.set_ylim(0, top * 1.15 or 1.0)  # room above a flat line, which would sit on the frame
        if "max" in panel["fieldConfig"]["defaults"]:
            ax.set_ylim(0, panel["fieldConfig"]["defaults"]["max"] * scale)
        if not ax.get_lines():
            ax.text(0.5, 0.5, "No data", transform=ax.transAxes, ha="center", va="center", color="gray")
        ax.tick_params(labelsize=8)
        ax.set_ylabel(suffix.strip(), fontsize=8)
        ax.grid(alpha=0.3)
        if incident_at is not None and incident_at < until:
            ax.axvspan(incident_at, until, color="red", alpha=0.08)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="best")
    for ax in axes[-1]:
        ax.set_xlabel("seconds", fontsize=8)
    figure.tight_layout(rect=(0, 0, 1, 0.96))
    figure.savefig(path, dpi=64)
    plt.close(figure)
    print(f"render: wrote {path} ({os.path.getsize(path) // 1024} KiB)")


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", default=os.path.join(root, "build"))
    parser.add_argument("--out", default=os.path.join(root, "docs", "images"))
    parser.add_argument("--healthy", type=int, default=150, help="seconds of healthy traffic")
    parser.add_argument("--incident", type=int, default=120, help="seconds with test_sink down")
    parser.add_argument("--sends-per-second", type=float, default=12)
    parser.add_argument("--rate-window", default="20s", help="what $__rate_interval stands for")
    args = parser.parse_args()
    with open(os.path.join(root, "deploy", "grafana", "testino-dashboard.json")) as f:
        by_title = {p["title"]: p for p in json.load(f)["panels"]}
    panels = [by_title[t] for t in PANELS]

    work = tempfile.mkdtemp(prefix="testino-render-")
    server = LiveServer(args.build_dir, work, {"number_cooldown_seconds": 30, "fraud_guard": FRAUD_GUARD}).start()
    prometheus = None
    try:
        prometheus = Prometheus(work, server.admin_port, 1)
        traffic = Traffic(server)
        threads = [threading.Thread(target=traffic.run_senders, args=(args.sends_per_second,)),
                   threading.Thread(target=traffic.run_verifier)]
        start = time.time()
        for t in threads:
            t.start()
        print(f"render: {args.healthy} s healthy, then {args.incident} s with test_sink down", flush=True)
        time.sleep(args.healthy)
        server.provider_down(True)
        traffic.incident = True
        time.sleep(args.incident)
        traffic.stop.set()
        for t in threads:
            t.join()
        time.sleep(2)  # the last scrape
        end = time.time()
        if traffic.errors:
            print(f"render: {len(traffic.errors)} client errors, first: {traffic.errors[0]}")
        data = {p["title"]: panel_series(prometheus, p, args.rate_window, start, end, 2) for p in panels}
    finally:
        if prometheus:
            prometheus.close()
        server.stop()
    os.makedirs(args.out, exist_ok=True)
    draw(os.path.join(args.out, "dashboard-healthy.png"), panels, data, None, args.healthy,
         "Healthy: +1 and +44 sends, 90% verified, a pumping bot blocked by the fraud guard")
    draw(os.path.join(args.out, "dashboard-incident.png"), panels, data, args.healthy, args.healthy + args.incident,
         f"Incident (shaded): test_sink down at {args.healthy} s; +44 fails over to test_sink_b, +1 gets 502")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
