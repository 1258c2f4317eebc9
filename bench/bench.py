#!/usr/bin/python3
"""Runs the Testino benchmark (bench/run.sh builds first, then calls this).

Starts the floor server, testino-server (memory store, then, when the plugin is built,
the Redis store on one redis-server and on a 3-primary Redis Cluster, and the Postgres store
on a private PostgreSQL) on 127.0.0.1, drives them with wrk and the Lua scripts in bench/lua, prints a
Markdown table with medians and ratios to the floor, and writes it into bench/RESULTS.md
between the GENERATED markers (everything else in that file is kept as written).

Knobs (environment): BENCH_BUILD_DIR, BENCH_DURATION (seconds per measured run, 3),
BENCH_REPS (runs per row and Connection-header variant, odd, 3), BENCH_WARMUP (seconds,
1), BENCH_CONNECTIONS (32), BENCH_THREADS (wrk threads, 2), BENCH_FILL (pending codes
for the memory figure, 1000000), BENCH_NO_WRITE=1 (print only, leave RESULTS.md alone), BENCH_KEEP_LOGS=1 (keep
the server logs and verify pools in bench/results/; by default they are emptied at the end),
BENCH_STORES (the store targets to run, comma-separated: memory,redis,redis-cluster,postgres;
default all), BENCH_POSTGRES_POOL_SIZE (store.postgres.pool_size; default the store's),
BENCH_POSTGRES_SETTINGS (more postgres -c settings, comma-separated, e.g. synchronous_commit=off).
"""

import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
BUILD = os.environ.get("BENCH_BUILD_DIR", os.path.join(REPO, "build-bench"))
RESULTS_DIR = os.path.join(BENCH_DIR, "results")
LUA = os.path.join(BENCH_DIR, "lua")
DURATION = int(os.environ.get("BENCH_DURATION", "3"))
REPS = int(os.environ.get("BENCH_REPS", "3"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "1"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
FILL = int(os.environ.get("BENCH_FILL", "1000000"))
WRITE_RESULTS = os.environ.get("BENCH_NO_WRITE", "") != "1"
STORES = [t for t in os.environ.get("BENCH_STORES", "memory,redis,redis-cluster,postgres").split(",") if t]
POSTGRES_POOL_SIZE = os.environ.get("BENCH_POSTGRES_POOL_SIZE", "")
POSTGRES_SETTINGS = [t for t in os.environ.get("BENCH_POSTGRES_SETTINGS", "").split(",") if t]

SERVER = os.path.join(BUILD, "bin", "testino-server")
FLOOR = os.path.join(BUILD, "bin", "bench_floor_server")
REDIS_PLUGIN = os.path.join(BUILD, "lib", "testino", "plugins", "store_redis.so")
POSTGRES_PLUGIN = os.path.join(BUILD, "lib", "testino", "plugins", "store_postgres.so")
PLUGIN_DIR = os.path.join(BUILD, "lib", "testino", "plugins")

# Connection-header variants: wrk sends HTTP/1.1; "none" sends no Connection header
# (the server must keep the connection open by itself), "keep-alive" asks for it.
VARIANTS = [("none", "0"), ("keep-alive", "1")]
SCHEME = "http"  # https_bench.py sets "https" for its TLS rows
SPAN = 4_000_000  # phone numbers reserved per wrk thread per run (see lua/send_otp.lua)

# Environment variables the server reads; cleared so the bench config is what runs.
SERVER_ENV_OVERRIDES = [
    "HOST", "PORT", "SERVER_THREADS", "ALLOWED_ORIGINS", "SERVER_MAX_BODY_BYTES", "DEBUG",
    "LOG_LEVEL", "OTP_LENGTH", "OTP_EXPIRY_SECONDS", "OTP_MAX_ATTEMPTS", "OTP_HMAC_SECRET",
    "TOKEN_SECRET", "TOKEN_ALGORITHM", "TOKEN_PRIVATE_KEY", "TOKEN_PRIVATE_KEY_FILE", "TOKEN_KID",
    "TOKEN_SIGNING_KID", "TOKEN_ISSUER", "TOKEN_TTL_SECONDS", "SMS_PROVIDER", "SMS_TIMEOUT_MS",
    "STORE_BACKEND", "TESTINO_PLUGIN_DIR"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes

class Process:
    """A child process whose stdout goes to a file; knows its pid, ports and memory."""

    def __init__(self, name, argv, listening_event, cwd=None, env=None):
        self.name = name
        self.stdout_path = os.path.join(RESULTS_DIR, name + ".stdout.log")
        self.stderr_path = os.path.join(RESULTS_DIR, name + ".stderr.log")
        self.stdout = open(self.stdout_path, "wb")
        self.stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self.stdout, stderr=self.stderr,
                                     cwd=cwd or RESULTS_DIR, env=env)
        self.port, self.admin_port = (self._wait_listening(listening_event) if listening_event
                                      else (None, None))

    def _wait_listening(self, event, timeout=30.0):
        """The ports the listening line names: the port, and the admin listener's (or None)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with open(self.stdout_path, "rb") as f:
                for line in f:
                    if event.encode() in line:
                        listening = json.loads(line)
                        return int(listening["port"]), listening.get("admin_port")
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} before "
                                   f"listening: {self.tail(self.stderr_path)}")
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not log {event} within {timeout}s")

    @staticmethod
    def tail(path, n=600):
        with open(path, "rb") as f:
            return f.read()[-n:].decode(errors="replace").strip()

    def status_kib(self, field):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise RuntimeError(f"no {field} for {self.name}")

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stdout.close()
        self.stderr.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(name="redis", extra=(), directory=RESULTS_DIR, port=None):
    """A redis-server on 127.0.0.1 with persistence off, answering PING; `extra` are more
    arguments (the cluster's), `directory` its --dir."""
    if not shutil.which("redis-server"):
        raise RuntimeError("redis-server not installed")
    port = port or free_port()
    argv = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
            "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no",
            "--dir", directory, *extra]
    redis = Process(name, argv, None)
    redis.port = port
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            if redis_command(port, "PING").startswith("+PONG"):
                return redis
        except OSError:
            time.sleep(0.05)
    redis.stop()
    raise RuntimeError(f"{name} did not answer PING: {Process.tail(redis.stderr_path)}")


def free_cluster_port():
    """A free port whose cluster bus port (port + 10000) is free too, so at most 55535."""
    for _ in range(1000):
        port = free_port()
        if port <= 55535 and port_free(port + 10000):
            return port
    raise RuntimeError("no free port pair for a cluster node")


def port_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def start_redis_cluster(primaries=3):
    """`primaries` cluster-enabled redis-servers (no replicas), each with its own directory
    under bench/results/, joined by redis-cli --cluster create; returns them once every
    node's CLUSTER INFO says cluster_state:ok."""
    if not shutil.which("redis-cli"):
        raise RuntimeError("redis-cli not installed (Debian's redis-tools)")
    nodes = []
    try:
        for i in range(1, primaries + 1):
            directory = os.path.join(RESULTS_DIR, f"redis-cluster-{i}")
            shutil.rmtree(directory, ignore_errors=True)  # a nodes.conf of an earlier run
            os.makedirs(directory)
            extra = ["--cluster-enabled", "yes", "--cluster-node-timeout", "5000",
                     "--cluster-config-file", os.path.join(directory, "nodes.conf")]
            nodes.append(start_redis(f"redis-cluster-{i}", extra, directory,
                                     free_cluster_port()))
        create_cluster(nodes)
        wait_cluster_ok(nodes)
        return nodes
    except Exception:
        stop_all(nodes)
        raise


def create_cluster(nodes):
    argv = ["redis-cli", "--cluster", "create", *cluster_seeds(nodes).split(","),
            "--cluster-yes"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"redis-cli --cluster create failed: {done.stdout[-400:]} "
                           f"{done.stderr[-400:]}")


def wait_cluster_ok(nodes, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if all("cluster_state:ok" in redis_command(n.port, "CLUSTER", "INFO") for n in nodes):
            return
        time.sleep(0.1)
    raise RuntimeError(f"the cluster did not reach cluster_state:ok within {timeout}s")


def cluster_seeds(nodes):
    return ",".join(f"127.0.0.1:{n.port}" for n in nodes)


def stop_all(nodes):
    for node in nodes:
        node.stop()


def redis_command(port, *words):
    """One RESP command over a fresh socket; returns the raw reply text."""
    payload = f"*{len(words)}\r\n" + "".join(f"${len(w)}\r\n{w}\r\n" for w in words)
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(payload.encode())
        data = b""
        s.settimeout(0.5)
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                if data.startswith((b"+", b"-", b":")) and data.endswith(b"\r\n"):
                    break
                if data.startswith(b"$") and b"\r\n" in data:
                    header, _, body = data.partition(b"\r\n")
                    length = int(header[1:])  # -1: nil
                    if length < 0 or len(body) >= length + 2:
                        break
        except socket.timeout:
            pass
        return data.decode(errors="replace")


def server_env():
    env = {k: v for k, v in os.environ.items() if k not in SERVER_ENV_OVERRIDES}
    return env


def write_config(name, store, server=None):
    """bench.yaml with plugins.dir set, the store section replaced by `store` (when not
    None), the keys of `server` set in the server section, and the admin listener (health
    details) on a free port: its default one may be another server's."""
    import yaml  # here, not at the top: fraud_sim.py imports this module with the stdlib only

    with open(os.path.join(BENCH_DIR, "bench.yaml")) as f:
        config = yaml.safe_load(f)
    config.setdefault("plugins", {})["dir"] = PLUGIN_DIR
    if store is not None:
        config["store"] = store
    config.setdefault("server", {})["admin_port"] = free_port()
    if server:
        config["server"].update(server)
    path = os.path.join(RESULTS_DIR, name + ".yaml")
    with open(path, "w") as f:
        f.write("# Generated by bench/bench.py from bench/bench.yaml. Bench only.\n")
        yaml.safe_dump(config, f, sort_keys=False)
    return path


def start_server(name, config_path):
    return Process(name, [SERVER, "--config", config_path], '"server.listening"',
                   env=server_env())


def get_json(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return json.loads(r.read())


def pending_codes(server):
    """The store's pending-code count from the admin listener's GET /health ("N pending
    codes")."""
    try:
        health = get_json(server.admin_port, "/health")
    except Exception:  # noqa: BLE001 - reported as unknown
        return None
    for plugin in health.get("plugins", []):
        if plugin.get("kind") == "otp_store":
            m = re.search(r"(\d+)\s+pending", plugin.get("detail", ""))
            if m:
                return int(m.group(1))
    return None


# ---------------------------------------------------------------- wrk

def run_wrk(port, script, args, duration, connections=CONNECTIONS, process=None):
    """One wrk run; returns the BENCHJSON dict plus rps and server CPU per request."""
    argv = ["wrk", f"-t{THREADS}", f"-c{connections}", f"-d{duration}s", "--timeout", "5s",
            "-s", os.path.join(LUA, script), f"{SCHEME}://127.0.0.1:{port}", "--", *args]
    cpu_before = process.cpu_seconds() if process else None
    busy_before, children_before = machine_busy_seconds(), children_cpu_seconds()
    wrk = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    result, stops = None, 0
    for line in wrk.stdout:
        if line.startswith("BENCHSTOP"):
            stops += 1
            if stops == THREADS:  # every thread is done: end the run now
                wrk.send_signal(signal.SIGINT)
        elif line.startswith("BENCHJSON "):
            result = json.loads(line[len("BENCHJSON "):])
    err = wrk.stderr.read()
    wrk.wait()
    if result is None:
        raise RuntimeError(f"wrk gave no result ({' '.join(argv)}): {err.strip()}")
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    e = result["errors"]
    result["socket_errors"] = e["connect"] + e["read"] + e["write"] + e["timeout"]
    busy = machine_busy_seconds() - busy_before
    wrk_cpu = children_cpu_seconds() - children_before
    server_cpu = 0.0
    if process:
        server_cpu = process.cpu_seconds() - cpu_before
        result["server_cpu_us_per_req"] = server_cpu * 1e6 / max(result["requests"], 1)
    # CPU the machine spent on anything but wrk and the server under test (a build, say):
    # figures taken while it is high are not to be trusted.
    wall = result["duration_us"] / 1e6
    result["wrk_cpu_pct"] = 100 * wrk_cpu / wall
    result["background_cpu_pct"] = max(0.0, 100 * (busy - wrk_cpu - server_cpu) / wall)
    return result


def machine_busy_seconds():
    """Busy CPU time of the whole machine (all cores) from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class NumberBlocks:
    """Hands every send-otp run its own block of phone-number indexes."""

    def __init__(self):
        self.next = 0

    def take(self):
        start = self.next
        self.next += THREADS * SPAN
        return start


def measure_row(port, script, make_args, process, label, after_run=None):
    """A warm-up, then REPS runs per Connection-header variant, interleaved.
    after_run(result) is called after every run, the warm-up included."""
    def run(args, duration):
        r = run_wrk(port, script, args, duration, process=process)
        if after_run:
            after_run(r)
        return r

    log(f"  {label}: warm-up {WARMUP}s")
    run(make_args("0") + ["expect=0"], WARMUP)
    runs = {name: [] for name, _ in VARIANTS}
    for rep in range(REPS):
        for name, flag in VARIANTS:
            r = run(make_args(flag), DURATION)
            log(f"  {label} [{name}] run {rep + 1}/{REPS}: {r['rps']:.0f} req/s, "
                f"p99 {r['latency_us']['p99'] / 1000:.2f} ms, unexpected {r['unexpected']}, "
                f"socket errors {r['socket_errors']}")
            runs[name].append(r)
    return runs


def send_otp_args(blocks, expect="200"):
    return lambda flag: [f"start={blocks.take()}", f"span={SPAN}", f"keepalive={flag}",
                         f"expect={expect}"]


def health_args(flag):
    return [f"keepalive={flag}", "expect=200"]


class Pool:
    """Numbers with a pending code, read from the console SMS log, one file per wrk thread.
    Each verify mode keeps its own per-thread position so runs use fresh entries."""

    def __init__(self, name, log_path):
        self.prefix = os.path.join(RESULTS_DIR, name + ".pool")
        entries = {}
        to_re = re.compile(rb'"to":"\+1(\d{10})"')
        code_re = re.compile(rb'"text":"[^"]*?(\d{4,10})')
        with open(log_path, "rb") as f:
            for line in f:
                if b"sms.console.message" not in line:
                    continue
                to, code = to_re.search(line), code_re.search(line)
                if to and code:
                    entries[to.group(1)] = code.group(1)
        files = [open(f"{self.prefix}.{t}", "wb") for t in range(THREADS)]
        for i, (number, code) in enumerate(entries.items()):
            # Fixed-width records (lua/verify.lua seeks to its offset).
            files[i % THREADS].write(number + b" " + code.ljust(10) + b"\n")
        for f in files:
            f.close()
        self.size = len(entries)
        self.offsets = {"wrong": [0] * THREADS, "right": [0] * THREADS}

    def args(self, mode, expect):
        def make(flag):
            offsets = ",".join(str(o) for o in self.offsets[mode])
            return [f"pool={self.prefix}", f"mode={mode}", f"offset={offsets}",
                    f"keepalive={flag}", f"expect={expect}"]
        return make

    def advance(self, mode, result):
        for t in range(THREADS):
            self.offsets[mode][t] += result["extra"].get(f"consumed_{t}", 0)


def measure_verify(port, pool, mode, expect, process, label):
    return measure_row(port, "verify.lua", pool.args(mode, expect), process, label,
                       after_run=lambda r: pool.advance(mode, r))


# ---------------------------------------------------------------- scenarios

def bench_floor(rows):
    floor = Process("floor", [FLOOR, "0", "2"], '"floor.listening"')
    try:
        blocks = NumberBlocks()
        rows.append(("floor", "send-otp", "200",
                     measure_row(floor.port, "send_otp.lua", send_otp_args(blocks), floor,
                                 "floor send-otp")))
    finally:
        floor.stop()


def bench_fill(name, config_path, memory):
    """A fresh server: idle RSS, then FILL pending codes as fast as wrk can send them."""
    server = start_server(name, config_path)
    try:
        time.sleep(1.0)
        memory["idle_rss_kib"] = server.status_kib("VmRSS")
        before_codes = pending_codes(server) or 0
        before_rss = server.status_kib("VmRSS")
        per_thread = (FILL + THREADS - 1) // THREADS
        log(f"  {name}: filling {FILL} pending codes")
        started = time.time()
        fill = run_wrk(server.port, "send_otp.lua",
                       ["start=0", f"span={SPAN}", f"quota={per_thread}", "expect=200"],
                       600, connections=CONNECTIONS, process=server)
        memory["fill_seconds"] = time.time() - started
        memory["fill_rps"] = fill["rps"]
        memory["fill_unexpected"] = fill["unexpected"] + fill["socket_errors"]
        time.sleep(1.0)
        after_codes = pending_codes(server)
        if after_codes is None:  # health gave no count: fall back to the 200s wrk saw
            after_codes = before_codes + fill["statuses"].get("200", 0)
        memory["pending_codes"] = after_codes - before_codes
        memory["after_fill_rss_kib"] = server.status_kib("VmRSS")
        memory["bytes_per_code"] = ((memory["after_fill_rss_kib"] - before_rss) * 1024
                                    / max(memory["pending_codes"], 1))
        log(f"  {name}: {memory['pending_codes']} pending codes in {memory['fill_seconds']:.1f}s,"
            f" {memory['bytes_per_code']:.0f} bytes each")
    except Exception:
        server.stop()
        raise
    return server


def redis_used_memory(nodes):
    """used_memory (INFO memory) summed over the Redis nodes, or None."""
    total = 0
    for node in nodes:
        m = re.search(r"used_memory:(\d+)", redis_command(node.port, "INFO", "memory"))
        if not m:
            return None
        total += int(m.group(1))
    return total


def redis_keys(nodes):
    """Keys in db 0 (INFO keyspace) summed over the Redis nodes."""
    total = 0
    for node in nodes:
        m = re.search(r"db0:keys=(\d+)", redis_command(node.port, "INFO", "keyspace"))
        total += int(m.group(1)) if m else 0
    return total


def redis_memory_after_sends(nodes, memory):
    """Redis bytes per pending code after the send-otp rows: the growth of used_memory
    over the pending codes (health's count; else the keys, one per code with the bench's
    limits off)."""
    pending = memory.get("load_pending") or redis_keys(nodes)
    memory["redis_keys"] = pending
    used = redis_used_memory(nodes)
    if pending and used is not None and memory.get("redis_used_before") is not None:
        memory["redis_bytes_per_code"] = (used - memory["redis_used_before"]) / pending


def bench_server(target, config_path, rows, memory, fill, redis=None, after_sends=None):
    """health and send-otp on one server; verify rows on the pool its sends left.
    `redis`: the Redis nodes behind the store (for the Redis memory figure), or None;
    `after_sends(memory)`: called after the send-otp rows (another store's memory figure)."""
    name = f"server-{target}"
    blocks = NumberBlocks()
    if fill:
        # Memory store: the fill instance gives the bytes-per-code figure and the verify
        # pool (1,000,000 codes, never exhausted); a second instance runs health and
        # send-otp, so its pending codes stay under store.memory.max_codes.
        server = bench_fill(name + "-fill", config_path, memory)
        try:
            pool = Pool(name + "-fill", server.stdout_path)
            memory["pool"] = pool.size
            verify_rows(target, server, pool, rows)
            memory["fill_peak_kib"] = server.status_kib("VmHWM")
        finally:
            server.stop()
    server = start_server(name, config_path)
    try:
        time.sleep(1.0)
        memory.setdefault("idle_rss_kib", server.status_kib("VmRSS"))
        rows.append((target, "health", "200",
                     measure_row(server.port, "health.lua", health_args, server,
                                 f"{target} health")))
        rows.append((target, "send-otp", "200",
                     measure_row(server.port, "send_otp.lua", send_otp_args(blocks), server,
                                 f"{target} send-otp")))
        memory["load_peak_kib"] = server.status_kib("VmHWM")
        memory["load_pending"] = pending_codes(server)
        if redis:
            redis_memory_after_sends(redis, memory)
        if after_sends:
            after_sends(memory)
        if not fill:
            time.sleep(0.5)
            pool = Pool(name, server.stdout_path)
            memory["pool"] = pool.size
            verify_rows(target, server, pool, rows)
            memory["load_peak_kib"] = server.status_kib("VmHWM")
    finally:
        server.stop()


def verify_rows(target, server, pool, rows):
    log(f"  {target}: verify pool of {pool.size} pending codes")
    rows.append((target, "verify-otp (wrong code)", "400",
                 measure_verify(server.port, pool, "wrong", "400", server,
                                f"{target} verify wrong")))
    rows.append((target, "verify-otp (right code)", "200",
                 measure_verify(server.port, pool, "right", "200", server,
                                f"{target} verify right")))


# ---------------------------------------------------------------- report

def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(runs):
    return {
        "rps": median(r["rps"] for r in runs),
        "p50": median(r["latency_us"]["p50"] for r in runs),
        "p99": median(r["latency_us"]["p99"] for r in runs),
        "p999": median(r["latency_us"]["p999"] for r in runs),
        "cpu": median(r.get("server_cpu_us_per_req") for r in runs),
        "wrk_cpu": median(r["wrk_cpu_pct"] for r in runs),
        "background": max(r["background_cpu_pct"] for r in runs),
        "unexpected": sum(r["unexpected"] for r in runs),
        "socket_errors": sum(r["socket_errors"] for r in runs),
        "requests": sum(r["requests"] for r in runs),
        "statuses": merge_statuses(runs),
        "exhausted": any(r["extra"].get("exhausted") for r in runs),
        "wrapped": any(r["extra"].get("wrapped") for r in runs),
    }


def merge_statuses(runs):
    total = {}
    for r in runs:
        for status, n in r["statuses"].items():
            total[status] = total.get(status, 0) + n
    return total


def ratio(value, base):
    return f"{value / base:.2f}" if value is not None and base else "-"


def ms(us):
    return f"{us / 1000:.2f}" if us is not None else "-"


def build_report(rows, skipped, memories, started, elapsed):
    floor = {}
    for target, row, _, runs in rows:
        if target == "floor":
            floor = {v: summarize(runs[v]) for v, _ in VARIANTS}
    lines = []
    lines.append(f"Run {time.strftime('%Y-%m-%d %H:%M:%S %Z', time.localtime(started))}, "
                 f"took {elapsed:.0f} s, source {source_revision()}. Machine: {machine()}.")
    lines.append("")
    lines.append(f"wrk {THREADS} threads, {CONNECTIONS} connections, {DURATION} s per run, "
                 f"{REPS} runs per row and header variant (interleaved, after a {WARMUP} s "
                 "warm-up); figures are medians; ratios are to the floor with the same "
                 "Connection header, measured in this run (latency ratio > 1 = slower). "
                 "wrk shares the 2 cores with the server. Server CPU = user+sys CPU time "
                 "of the server process per request; wrk CPU = wrk's share of one core; "
                 "other CPU = what the machine spent on anything else during the run, in "
                 "% of one core (a high value means another job disturbed the figures). "
                 f"Load average at the start: {' '.join(START_LOADAVG)}.")
    lines.append("")
    lines.append("| target | row | Connection header | expected | req/s | × floor | "
                 "p50 ms | × | p99 ms | × | p99.9 ms | × | server CPU µs/req | wrk CPU % | "
                 "other CPU % (max) | unexpected / socket errors |")
    lines.append("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for target, row, expect, runs in rows:
        for variant, _ in VARIANTS:
            s = summarize(runs[variant])
            f = floor.get(variant, {})
            note = row_note(s, expect)
            cpu = f"{s['cpu']:.1f}" if s["cpu"] is not None else "-"
            lines.append(
                f"| {target} | {row} | {variant} | {expect} | {s['rps']:,.0f} | "
                f"{ratio(s['rps'], f.get('rps'))} | {ms(s['p50'])} | "
                f"{ratio(s['p50'], f.get('p50'))} | {ms(s['p99'])} | "
                f"{ratio(s['p99'], f.get('p99'))} | {ms(s['p999'])} | "
                f"{ratio(s['p999'], f.get('p999'))} | {cpu} | {s['wrk_cpu']:.0f} | "
                f"{s['background']:.0f} | {note} |")
    for line in skipped:
        lines.append(f"| {line} |||||||||||||||")
    lines.append("")
    lines.append("| store | idle RSS | RSS after fill | pending codes filled | bytes per code |"
                 " fill rate | peak RSS (VmHWM) under load | verify pool |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    for target, m in memories.items():
        lines.append(
            f"| {target} | {mib(m.get('idle_rss_kib'))} | {mib(m.get('after_fill_rss_kib'))} | "
            f"{fmt_int(m.get('pending_codes'))} | {fmt_num(m.get('bytes_per_code'))} | "
            f"{fmt_num(m.get('fill_rps'))} req/s | {mib(m.get('load_peak_kib'))} "
            f"({fmt_int(m.get('load_pending'))} codes pending after send-otp) | "
            f"{fmt_int(m.get('pool'))} |")
    m = memories.get("postgres", {})
    if m.get("postgres_bytes_per_code") is not None:
        lines.append("")
        lines.append(f"postgres: testino_codes holds {m['postgres_bytes_per_code']:,.0f} bytes per "
                     f"pending code (pg_total_relation_size: heap, indexes, TOAST; "
                     f"{fmt_int(m.get('postgres_codes'))} codes, after the send-otp rows).")
    for target, servers in (("redis", "redis-server"),
                            ("redis-cluster", "the 3 cluster primaries' summed")):
        m = memories.get(target, {})
        if m.get("redis_bytes_per_code") is not None:
            lines.append("")
            lines.append(f"{target}: {servers} used_memory grew by "
                         f"{m['redis_bytes_per_code']:,.0f} bytes per pending code "
                         f"(INFO memory, after the send-otp rows; {fmt_int(m.get('redis_keys'))}"
                         " codes, counted as keys in INFO keyspace when health gives no count).")
    lines.append("")
    lines.extend(targets(rows, floor, memories))
    for target, base, title in (("redis-cluster", "redis", "Cluster vs single Redis"),
                                ("postgres", "redis", "Postgres vs Redis"),
                                ("postgres", "memory", "Postgres vs memory")):
        line = store_ratio_line(rows, target, base, title)
        if line:
            lines.extend(["", line])
    return "\n".join(lines)


def row_rps(rows, target, row, variant):
    for t, r, _, runs in rows:
        if t == target and r == row:
            return summarize(runs[variant])["rps"]
    return None


def store_ratio_line(rows, target, base, title):
    """`title`: req/s of `target` ÷ `base`, per store row and Connection header."""
    parts = []
    for row in ("send-otp", "verify-otp (wrong code)", "verify-otp (right code)"):
        ratios = [ratio(row_rps(rows, target, row, v), row_rps(rows, base, row, v))
                  for v, _ in VARIANTS]
        if any(r != "-" for r in ratios):
            parts.append(f"{row} {' / '.join(ratios)}")
    if not parts:
        return None
    return (f"{title} ({target} req/s ÷ {base} req/s, Connection header "
            f"{' / '.join(v for v, _ in VARIANTS)}): " + "; ".join(parts) + ".")


def mib(kib):
    return f"{kib / 1024:.1f} MiB" if kib is not None else "-"


def fmt_int(v):
    return f"{v:,}" if v is not None else "-"


def fmt_num(v):
    return f"{v:,.0f}" if v is not None else "-"


def row_note(s, expect):
    """The table's last column: unexpected / socket errors, other statuses, pool events."""
    note = f"{s['unexpected']} / {s['socket_errors']}"
    others = {k: v for k, v in s["statuses"].items() if k != expect}
    if others:
        note += " (" + ", ".join(f"{k}×{v}" for k, v in sorted(others.items())) + ")"
    if s["exhausted"]:
        note += "; pool ran out, run ended early"
    if s["wrapped"]:
        note += "; pool wrapped"
    return note


def targets(rows, floor, memories):
    out = ["| target | goal | measured | met |", "|---|---|---|---|"]

    def rps_ratio(target, row_prefix):
        worst = None
        for t, row, _, runs in rows:
            if t == target and row.startswith(row_prefix):
                for variant, _ in VARIANTS:
                    base = floor.get(variant, {}).get("rps")
                    if base:
                        r = summarize(runs[variant])["rps"] / base
                        worst = r if worst is None else min(worst, r)
        return worst

    def add(name, goal, value, ok, fmt):
        if value is None:
            out.append(f"| {name} | {goal} | not measured | - |")
        else:
            out.append(f"| {name} | {goal} | {fmt(value)} | {'yes' if ok(value) else 'NO'} |")

    pct = lambda v: f"{v * 100:.0f}% of floor (worst variant)"  # noqa: E731
    # Issue 14's goals (issue 3 asked 70 % and 40 %).
    for store, goal in (("memory", 0.60), ("redis", 0.45)):
        name = "memory" if store == "memory" else "Redis"
        for row in ("send-otp", "verify-otp"):
            add(f"{row}, {name}", f">= {goal * 100:.0f}% of floor req/s", rps_ratio(store, row),
                lambda v, goal=goal: v >= goal, pct)
    worst_p99 = None
    for t, row, _, runs in rows:
        if t == "memory":
            for variant, _ in VARIANTS:
                p = summarize(runs[variant])["p99"]
                worst_p99 = p if worst_p99 is None else max(worst_p99, p)
    add(f"p99 latency, memory, {CONNECTIONS} connections", "< 5 ms (every row)", worst_p99,
        lambda v: v < 5000, lambda v: f"{v / 1000:.2f} ms (worst row)")
    m = memories.get("memory", {})
    add("idle RSS", "< 20 MiB", m.get("idle_rss_kib"), lambda v: v < 20 * 1024, mib)
    add("bytes per pending code, memory", "< 200", m.get("bytes_per_code"),
        lambda v: v < 200, lambda v: f"{v:.0f}")
    return out


def machine():
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs (nproc {nproc()}), {cpu}, Linux {os.uname().release}"


def source_revision():
    """The commit the build came from, marked when the checkout had local changes."""
    try:
        rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--",
                                "core", "plugins", "bench", "CMakeLists.txt", "cmake"],
                               capture_output=True, text=True).stdout.strip()
        return f"{rev}{' + local changes' if dirty else ''}" if rev else "unknown"
    except OSError:
        return "unknown"


def nproc():
    try:
        return subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


BEGIN = "<!-- BEGIN GENERATED: bench/run.sh rewrites this part -->"
END = "<!-- END GENERATED -->"


def write_results(report, begin=BEGIN, end=END):
    """Replaces what is between the markers `begin` and `end` in RESULTS.md (appending
    the markers when the file has none)."""
    path = os.path.join(BENCH_DIR, "RESULTS.md")
    text = open(path).read() if os.path.exists(path) else f"# Benchmark results\n\n{begin}\n{end}\n"
    if begin not in text or end not in text:
        text += f"\n{begin}\n{end}\n"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w") as f:
        f.write(f"{head}{begin}\n{report}\n{end}{tail}")


START_LOADAVG = open("/proc/loadavg").read().split()[:3]


def bench_redis(target, start, url, rows, skipped, memories):
    """The Redis store's rows against the nodes start() returns (stopped afterwards, also
    on failure), with store.redis.url = url(nodes); a failure becomes a skipped line."""
    log(f"bench: testino-server, Redis store ({target})")
    memories[target] = {}
    nodes = []
    try:
        nodes = start()
        store = {"backend": "redis", "redis": {"url": url(nodes)}}
        memories[target]["redis_used_before"] = redis_used_memory(nodes)
        bench_server(target, write_config(f"bench-{target}", store), rows, memories[target],
                     fill=False, redis=nodes)
    except RuntimeError as e:
        skipped.append(f"{target}: failed: {e}".replace("|", "/").replace("\n", " "))
        log(f"bench: {target} failed: {e}")
    finally:
        stop_all(nodes)


def bench_postgres(rows, skipped, memories):
    """The Postgres store's rows against a private PostgreSQL (postgres_bench.py); a failure
    becomes a skipped line."""
    import postgres_bench  # beside this file

    if not os.path.exists(POSTGRES_PLUGIN):
        skipped.append("skipped: store_postgres plugin not built")
        return
    if not postgres_bench.bin_dir():
        skipped.append("skipped: postgres not installed (Debian's postgresql)")
        return
    log("bench: testino-server, Postgres store")
    memories["postgres"] = {}
    postgres = None
    try:
        postgres = postgres_bench.Postgres(free_port(), POSTGRES_SETTINGS)
        store = {"backend": "postgres", "postgres": {"dsn": postgres.dsn()}}
        if POSTGRES_POOL_SIZE:
            store["postgres"]["pool_size"] = int(POSTGRES_POOL_SIZE)

        def table_size(memory):
            memory["postgres_codes"], memory["postgres_bytes_per_code"] = \
                postgres_bench.code_table_bytes(postgres)

        bench_server("postgres", write_config("bench-postgres", store), rows, memories["postgres"],
                     fill=False, after_sends=table_size)
    except RuntimeError as e:
        skipped.append(f"postgres: failed: {e}".replace("|", "/").replace("\n", " "))
        log(f"bench: postgres failed: {e}")
    finally:
        if postgres:
            postgres.stop()


def main():
    started = time.time()
    os.makedirs(RESULTS_DIR, exist_ok=True)
    rows, skipped, memories = [], [], {}
    log(f"bench: floor server ({FLOOR})")
    bench_floor(rows)

    if not os.path.exists(SERVER):
        skipped.append("skipped: testino-server not built")
    else:
        if "memory" in STORES:
            log("bench: testino-server, memory store")
            memories["memory"] = {}
            try:
                bench_server("memory", write_config("bench-memory", None), rows,
                             memories["memory"], fill=FILL > 0)
            except RuntimeError as e:
                skipped.append(f"memory: failed: {e}".replace("|", "/").replace("\n", " "))

        if not os.path.exists(REDIS_PLUGIN):
            skipped.append("skipped: store_redis plugin not built")
            log("bench: skipped: store_redis plugin not built")
        else:
            if "redis" in STORES:
                bench_redis("redis", lambda: [start_redis()],
                            lambda nodes: f"redis://127.0.0.1:{nodes[0].port}/0",
                            rows, skipped, memories)
            if "redis-cluster" in STORES:
                bench_redis("redis-cluster", start_redis_cluster,
                            lambda nodes: f"redis-cluster://{cluster_seeds(nodes)}",
                            rows, skipped, memories)
        if "postgres" in STORES:
            bench_postgres(rows, skipped, memories)

    if os.environ.get("BENCH_KEEP_LOGS") != "1":
        # The fill leaves about a gigabyte of log; what is worth keeping is in the table.
        for name in os.listdir(RESULTS_DIR):
            if name.endswith(".stdout.log") or ".pool." in name:
                os.truncate(os.path.join(RESULTS_DIR, name), 0)
    report = build_report(rows, skipped, memories, started, time.time() - started)
    print(report)
    if WRITE_RESULTS:
        write_results(report)
        log(f"bench: table written to {os.path.join(BENCH_DIR, 'RESULTS.md')}")


if __name__ == "__main__":
    main()
