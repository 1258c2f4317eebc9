"""The real testino-server of a build tree, on loopback, with two test-sink SMS providers.

Used by tests/deploy/check_dashboard.py (which metrics the server really exposes) and by
deploy/grafana/render.py (the dashboard's pictures). Routes: +44 tries test_sink, then
test_sink_b (failover); +1 has test_sink only; every other code test_sink_b. test_sink
answers `unavailable` while the file `provider_down` exists in the work dir, so a running
server's provider can go down and come back.
"""

import http.client
import json
import os
import re
import socket
import subprocess
import time

SINK = "sms_test_sink.so"
SINK_B = "sms_test_sink_b.so"


class ServerError(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def quoted(text):
    return json.dumps(str(text))


class LiveServer:
    def __init__(self, build_dir, work_dir, limits=None):
        self.build_dir = os.path.abspath(build_dir)
        self.work_dir = os.path.abspath(work_dir)
        self.down_file = os.path.join(self.work_dir, "provider_down")
        self.outboxes = [os.path.join(self.work_dir, n) for n in ("outbox_a.jsonl", "outbox_b.jsonl")]
        self.limits = {
            "number_cooldown_seconds": 0,
            "number_sends_per_window": 0,
            "number_failed_verifies_per_window": 0,
            "number_failed_verifies_all_addresses_per_window": 0,
            "ip_sends_per_window": 0,
            "ip_verifies_per_window": 0,
            "ip_refreshes_per_window": 0,
            "budget_sends_per_hour": 0,
            "budget_sends_per_day": 0,
        }
        self.limits.update(limits or {})
        self.process = None
        self.port = None
        self.admin_port = None
        self._outbox_offsets = [0, 0]
        self._codes = {}

    def config_yaml(self, admin_port):
        server = os.path.join(self.build_dir, "bin", "testino-server")
        if not os.access(server, os.X_OK):
            raise ServerError(f"{server} is not built (cmake --build build --target testino-server)")
        plugins = os.path.join(self.build_dir, "lib", "testino", "plugins")
        sinks = os.path.join(self.build_dir, "lib", "testino", "test-plugins")
        a, b = (quoted(os.path.join(sinks, n)) for n in (SINK, SINK_B))
        limits = ", ".join(f"{k}: {json.dumps(v)}" for k, v in self.limits.items())
        return "\n".join(
            [
                f"server: {{host: 127.0.0.1, port: 0, admin_port: {admin_port}, threads: 2, docs_enabled: false}}",
                "token: {secret: " + quoted("render-and-check-only-0123456789abcdef0123456789") + "}",
                f"limits: {{{limits}}}",
                "sms:",
                f"  providers: [{b}]",
                f'  routes: {{"44": [{a}, {b}], "1": [{a}]}}',
                f"  test_sink: {{outbox: {quoted(self.outboxes[0])}, fail_with: unavailable,"
                f" fail_while_exists: {quoted(self.down_file)}}}",
                f"  test_sink_b: {{outbox: {quoted(self.outboxes[1])}}}",
                "store: {backend: memory}",
                f"plugins: {{dir: {quoted(plugins)}}}",
                "",
            ]
        )

    def start(self, attempts=3):
        os.makedirs(self.work_dir, exist_ok=True)
        for attempt in range(1, attempts + 1):
            admin_port = free_port()
            config = os.path.join(self.work_dir, "testino.yaml")
            with open(config, "w") as f:
                f.write(self.config_yaml(admin_port))
            log = open(os.path.join(self.work_dir, "server.log"), "w")
            self.process = subprocess.Popen(
                [os.path.join(self.build_dir, "bin", "testino-server"), "--config", config],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.work_dir,
            )
            listening = self._wait_listening(log.name)
            if listening:
                self.port, self.admin_port = listening["port"], listening["admin_port"]
                return self
            self.stop()
            if attempt == attempts:
                with open(log.name) as f:
                    raise ServerError("testino-server did not start:\n" + f.read()[-4000:])
        return self

    def _wait_listening(self, log_path, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(log_path) as f:
                for line in f:
                    if '"server.listening"' in line:
                        return json.loads(line)
            if self.process.poll() is not None:
                return None
            time.sleep(0.05)
        return None

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def provider_down(self, down):
        if down:
            open(self.down_file, "w").close()
        elif os.path.exists(self.down_file):
            os.remove(self.down_file)

    # --- HTTP -----------------------------------------------------------------------------

    def request(self, method, path, body=None, admin=False, connection=None):
        conn = connection or http.client.HTTPConnection("127.0.0.1", self.admin_port if admin else self.port, timeout=10)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = conn.getresponse()
        data = response.read()
        if connection is None:
            conn.close()
        return response.status, data

    def send(self, country_code, number, connection=None):
        body = {"country_code": country_code, "mobile_number": number}
        return self.request("POST", "/api/v1/auth/send-otp", body, connection=connection)[0]

    def verify(self, country_code, number, code, connection=None):
        body = {"country_code": country_code, "mobile_number": number, "otp": code}
        return self.request("POST", "/api/v1/auth/verify-otp", body, connection=connection)[0]

    def metrics(self):
        status, data = self.request("GET", "/metrics", admin=True)
        if status != 200:
            raise ServerError(f"GET /metrics answered {status}")
        return data.decode()

    def codes(self):
        """New messages in both outboxes since the last call: [(sink index, E.164 to, code)]."""
        found = []
        for i, path in enumerate(self.outboxes):
            if not os.path.exists(path):
                continue
            with open(path) as f:
                f.seek(self._outbox_offsets[i])
                chunk = f.read()
            complete = chunk[: chunk.rfind("\n") + 1]
            self._outbox_offsets[i] += len(complete.encode())
            for line in complete.splitlines():
                message = json.loads(line)
                found.append((i, message["to"], message["code"]))
        return found


SAMPLE = re.compile(r'^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text):
    """{metric name: {"type": ..., "labels": {label: {values seen}}}}, histograms as their
    _bucket, _sum and _count series (as PromQL sees them)."""
    families = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            names = [name + s for s in ("_bucket", "_sum", "_count")] if kind == "histogram" else [name]
            for n in names:
                families.setdefault(n, {"type": kind, "labels": {}})
        elif line and not line.startswith("#"):
            m = SAMPLE.match(line)
            if not m or m.group(1) not in families:
                raise ServerError(f"sample of an undeclared family: {line}")
            for label, value in LABEL.findall(m.group(2) or ""):
                families[m.group(1)]["labels"].setdefault(label, set()).add(value)
    return families
