#!/usr/bin/python3
"""SMS-pumping simulation for the fraud guard (issue 17): honest users and a pumping attack
replayed against the real testino-server, with the guard on, off and in shadow mode.

    /usr/bin/python3 bench/fraud_sim.py [--seed N] [--ticks N] [--server PATH] [--modes on,off,shadow]

Each mode starts its own build/bin/testino-server (memory store, console SMS provider, port 0,
an admin listener on a free port for /metrics) on 127.0.0.1 and replays the same traffic,
generated from random.Random(seed) before the first request:

- honest users in 21 countries (numbers libphonenumber 8.12 takes as mobile) ask for a code;
  80% verify it 1-4 ticks later, 10% ask a second time first ("no SMS yet"), the rest give up;
- bystanders: the same honest behaviour on the attacked prefix (+44 7400 0-8xxxxx), a few;
- from tick --attack-start on, a bot asks --attack-rate codes per tick for random numbers in
  +44 7400 9xxxxx and verifies none.

A tick is a step of the schedule, not a span of time: requests go one after the other as
fast as the server answers, and the whole run stays inside one guard window (600 s).

Prints a Markdown table on stdout, writes bench/results/fraud_sim-<date>.json (git-ignored)
and exits 1 when the guard-on run refused an honest user (bystanders apart: blocking the
prefix refuses them by design) or never blocked the attack. Stdlib only; loopback only.
"""

import argparse
import datetime
import http.client
import json
import os
import random
import re
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  Process, free_port, log, RESULTS_DIR (stdlib only when imported)

REPO = bench.REPO
BUILD = os.path.join(REPO, "build")

# The guard's thresholds for the run (the brief's): a window longer than the whole run.
GUARD = {"prefix_digits": 6, "window_seconds": 600, "min_sends": 20, "min_conversion": 0.2,
         "block_seconds": 600}
SECRET = "fraud-sim-only-not-a-real-secret-0123456789abcdef"  # BENCH ONLY, never a real secret

# Honest traffic: (calling code, weight, national-number templates). In a template a digit
# is itself, "x" any digit, "n" 2-9. Every template was checked against libphonenumber 8.12
# (3,000 random fills each, all MOBILE or FIXED_LINE_OR_MOBILE); the server answers 422 to a
# number it refuses, which the table would show as refused sends.
COUNTRIES = [
    ("1", 20, ["202nxxxxxx", "212nxxxxxx", "312nxxxxxx", "415nxxxxxx", "617nxxxxxx",
               "718nxxxxxx", "305nxxxxxx", "404nxxxxxx", "416nxxxxxx"]),
    ("91", 12, ["9xxxxxxxxx"]),
    ("55", 8, ["119xxxxxxxx", "219xxxxxxxx"]),
    ("44", 6, ["71xxxxxxxx", "72xxxxxxxx", "73xxxxxxxx", "75xxxxxxxx", "78xxxxxxxx"]),
    ("49", 6, ["151xxxxxxxx", "160xxxxxxx", "170xxxxxxx", "176xxxxxxxx"]),
    ("33", 5, ["60xxxxxxx", "61xxxxxxx", "62xxxxxxx", "64xxxxxxx", "66xxxxxxx", "67xxxxxxx"]),
    ("52", 5, ["55xxxxxxxx", "33xxxxxxxx"]),
    ("62", 5, ["812xxxxxxxx"]),
    ("234", 4, ["803xxxxxxx"]),  # one 6-digit prefix for the whole country: the busiest
    ("34", 3, ["6xxxxxxxx"]),
    ("39", 3, ["34xxxxxxxx"]),
    ("81", 3, ["901xxxxxxx", "902xxxxxxx", "908xxxxxxx"]),
    ("63", 3, ["917xxxxxxx"]),
    ("90", 3, ["53xxxxxxxx"]),
    ("20", 3, ["10xxxxxxxx"]),
    ("31", 2, ["61xxxxxxx", "62xxxxxxx", "63xxxxxxx", "64xxxxxxx"]),
    ("61", 2, ["40xxxxxxx", "41xxxxxxx", "42xxxxxxx", "43xxxxxxx"]),
    ("254", 2, ["7xxxxxxxx"]),
    ("27", 2, ["82xxxxxxx"]),
    ("48", 2, ["50xxxxxxx"]),
    ("46", 1, ["70xxxxxxx"]),
]
ATTACK = ("44", "74009xxxxx")     # prefix 447400: what the bot pumps
BYSTANDER_TEMPLATES = ["7400" + d + "xxxxx" for d in "012345678"]  # honest users on 447400

VERIFY_SHARE = 0.8   # honest users who verify
RESEND_SHARE = 0.1   # honest users who ask twice before they verify (or give up)


def expand(template, rng):
    digits = []
    for c in template:
        digits.append(str(rng.randrange(10)) if c == "x" else
                      str(rng.randrange(2, 10)) if c == "n" else c)
    return "".join(digits)


class User:
    """A phone number and what happened to it; kind is honest, bystander or attack."""

    def __init__(self, kind, cc, national):
        self.kind, self.cc, self.national = kind, cc, national
        self.e164 = "+" + cc + national
        self.code = None          # the latest code the console provider logged for it

    def prefix(self):
        return self.e164[1:1 + GUARD["prefix_digits"]]


FLASH = ("61", "4312xxxxx")  # --flash-crowd: a burst of honest users on one quiet prefix, 614312


def make_schedule(seed, ticks, attack_start, attack_rate, bystander_share, flash_crowd=0):
    """{tick: [(action, user), ...]}: the same for every mode. A user's verify always comes
    at a later tick than its sends, so the shuffle within a tick keeps each user's order."""
    rng = random.Random(seed)
    weights = [w for _, w, _ in COUNTRIES]
    events = {t: [] for t in range(ticks + 8)}
    taken = set()

    def new_user(kind, cc, template):
        while True:
            user = User(kind, cc, expand(template, rng))
            if user.e164 not in taken:
                taken.add(user.e164)
                return user

    def honest(kind, cc, template, t):
        user = new_user(kind, cc, template)
        events[t].append(("send", user))
        last = t
        if rng.random() < RESEND_SHARE:
            last = t + rng.randint(1, 2)
            events[last].append(("send", user))
        if rng.random() < VERIFY_SHARE:
            events[last + rng.randint(1, 4)].append(("verify", user))

    for t in range(ticks):
        for _ in range(rng.randint(2, 6)):
            cc, _, templates = rng.choices(COUNTRIES, weights)[0]
            honest("honest", cc, rng.choice(templates), t)
        if rng.random() < bystander_share:
            honest("bystander", ATTACK[0], rng.choice(BYSTANDER_TEMPLATES), t)
        if t >= attack_start:
            for _ in range(attack_rate):
                events[t].append(("send", new_user("attack", *ATTACK)))
        if flash_crowd and t == ticks // 2:
            for _ in range(flash_crowd):
                honest("honest", *FLASH, t)
    for t in events:
        rng.shuffle(events[t])
    return events


# ---------------------------------------------------------------- the server

def server_config(mode, admin_port):
    guard = dict(GUARD, enabled=mode != "off", shadow=mode == "shadow", safe_list=[])
    return {
        "server": {"host": "127.0.0.1", "port": 0, "admin_port": admin_port, "metrics_enabled": True},
        "plugins": {"dir": os.path.join(BUILD, "lib", "testino", "plugins")},
        "store": {"backend": "memory"},
        "sms": {"provider": "console"},
        "otp": {"hmac_secret": "otp-" + SECRET},
        "token": {"secret": SECRET},
        # A bot net defeats these: every request comes from 127.0.0.1, every number is new.
        "limits": {"number_cooldown_seconds": 0, "number_sends_per_window": 1000,
                   "number_failed_verifies_per_window": 0,
                   "number_failed_verifies_all_addresses_per_window": 0,
                   "ip_sends_per_window": 0, "ip_verifies_per_window": 0,
                   "country_sends_per_window": 0,
                   "budget_sends_per_hour": 0, "budget_sends_per_day": 0,
                   "fraud_guard": guard},
    }


def start_server(name, mode, server_binary):
    admin_port = bench.free_port()
    path = os.path.join(bench.RESULTS_DIR, name + ".yaml")
    with open(path, "w") as f:  # JSON is YAML; yaml-cpp reads it as such
        f.write("# Generated by bench/fraud_sim.py. Bench only: the secrets are not real ones.\n")
        json.dump(server_config(mode, admin_port), f, indent=2)
    # Only PATH from the environment: every other variable could override the config.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    server = bench.Process(name, [server_binary, "--config", path], '"server.listening"', env=env)
    server.admin_port = server.admin_port or admin_port
    return server


class ServerLog:
    """Reads the server's stdout as it grows: each number's latest code (from the
    sms.console.message lines) and the guard's block events."""

    CODE = re.compile(r"(\d{4,10})")

    def __init__(self, path):
        self.file = open(path, "rb")
        self.rest = b""
        self.codes = {}     # e164 -> (codes seen, latest code)
        self.blocks = []    # the fraud_guard.blocked / would_block lines

    def poll(self):
        data = self.file.read()
        if not data:
            return
        lines = (self.rest + data).split(b"\n")
        self.rest = lines.pop()
        for line in lines:
            if b"sms.console.message" in line:
                entry = json.loads(line)
                code = self.CODE.search(entry.get("text", ""))
                seen = self.codes.get(entry.get("to"), (0, None))[0]
                self.codes[entry.get("to")] = (seen + 1, code.group(1) if code else None)
            elif b'"fraud_guard.' in line:
                entry = json.loads(line)
                if entry.get("event") in ("fraud_guard.blocked", "fraud_guard.would_block"):
                    self.blocks.append(entry)

    def wait_code(self, e164, count, timeout=5.0):
        """The code of the count-th SMS to e164, once the server has logged it."""
        deadline = time.time() + timeout
        while True:
            self.poll()
            seen, code = self.codes.get(e164, (0, None))
            if seen >= count or time.time() > deadline:
                return code if seen >= count else None
            time.sleep(0.002)

    def close(self):
        self.file.close()


class Client:
    """One keep-alive HTTP/1.1 connection to the server (reopened if the server closes it)."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def post(self, path, body):
        payload = json.dumps(body)
        for attempt in (1, 2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                self.conn.request("POST", path, payload, {"Content-Type": "application/json"})
                response = self.conn.getresponse()
                data = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.close()
                return response.status, data
            except (http.client.HTTPException, ConnectionError):
                self.close()
                if attempt == 2:
                    raise

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def read_metrics(admin_port):
    """The fraud-guard series of /metrics: {name: {label text: value}}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    series = {}
    for line in text.splitlines():
        m = re.match(r'(testino_fraud_guard_\w+|testino_rate_limit_refusals_total)(\{[^}]*\})?\s+(\S+)$', line)
        if m:
            series.setdefault(m.group(1), {})[m.group(2) or ""] = float(m.group(3))
    return series


def metric_sum(series, name, **labels):
    total = 0.0
    for label_text, value in series.get(name, {}).items():
        if all(f'{k}="{v}"' in label_text for k, v in labels.items()):
            total += value
    return total


# ---------------------------------------------------------------- one run

def empty_counts():
    return {"sends": 0, "sent": 0, "refused": 0, "refused_by_status": {},
            "verifies": 0, "verified": 0, "verify_failed": 0}


def run_mode(mode, events, server_binary, keep_logs):
    name = f"fraud_sim-{mode}"
    started = time.time()
    server = start_server(name, mode, server_binary)
    slog = ServerLog(server.stdout_path)
    client = Client(server.port)
    counts = {k: empty_counts() for k in ("honest", "bystander", "attack")}
    sends_to = {}                 # e164 -> successful sends (which console line is its code)
    attack_sent_before_block = None
    attack_sent_before_event = None
    prefix_counts = {}            # honest prefix -> [sent, verified], as the server counts them
    lowest = None                 # the lowest honest-prefix conversion once it had min_sends
    requests = 0
    try:
        for t in sorted(events):
            for action, user in events[t]:
                c = counts[user.kind]
                requests += 1
                body = {"country_code": "+" + user.cc, "mobile_number": user.national}
                if action == "send":
                    c["sends"] += 1
                    if user.kind == "honest":
                        pc = prefix_counts.setdefault(user.prefix(), [0, 0])
                        if pc[0] + 1 >= GUARD["min_sends"]:
                            conversion = pc[1] / (pc[0] + 1)
                            if lowest is None or conversion < lowest[0]:
                                lowest = (conversion, user.prefix(), pc[0] + 1)
                    status, _ = client.post("/api/v1/auth/send-otp", body)
                    if status == 200:
                        c["sent"] += 1
                        sends_to[user.e164] = sends_to.get(user.e164, 0) + 1
                        if user.kind == "honest":
                            prefix_counts[user.prefix()][0] += 1
                        if user.kind != "attack":
                            user.code = slog.wait_code(user.e164, sends_to[user.e164])
                    else:
                        c["refused"] += 1
                        key = str(status)
                        c["refused_by_status"][key] = c["refused_by_status"].get(key, 0) + 1
                        if user.kind == "attack" and attack_sent_before_block is None:
                            attack_sent_before_block = counts["attack"]["sent"]
                else:
                    c["verifies"] += 1
                    status = None
                    if user.code is not None:
                        status, _ = client.post("/api/v1/auth/verify-otp", dict(body, otp=user.code))
                    if status == 200:
                        c["verified"] += 1
                        if user.kind == "honest":
                            prefix_counts[user.prefix()][1] += 1
                    else:
                        c["verify_failed"] += 1
                if user.kind == "attack" and attack_sent_before_event is None:
                    slog.poll()
                    if slog.blocks:
                        attack_sent_before_event = counts["attack"]["sent"]
        slog.poll()
        metrics = read_metrics(server.admin_port)
    finally:
        client.close()
        server.stop()
        slog.poll()
        slog.close()
        if not keep_logs:
            for path in (server.stdout_path, server.stderr_path):
                os.remove(path)
    attack = counts["attack"]
    return {
        "mode": mode,
        "seconds": round(time.time() - started, 1),
        "requests": requests,
        "counts": counts,
        "attack_sent_before_block": (attack_sent_before_block if attack_sent_before_block is not None
                                     else attack["sent"]),
        "attack_sent_before_block_event": attack_sent_before_event,
        "block_events": [{k: e.get(k) for k in ("event", "prefix", "country", "sends", "conversion")}
                         for e in slog.blocks],
        "metrics": {
            "blocks_block": metric_sum(metrics, "testino_fraud_guard_blocks_total", mode="block"),
            "blocks_shadow": metric_sum(metrics, "testino_fraud_guard_blocks_total", mode="shadow"),
            "refusals": metric_sum(metrics, "testino_fraud_guard_refusals_total"),
            "conversion": metrics.get("testino_fraud_guard_conversion", {}),
        },
        "lowest_honest_prefix_conversion": (
            {"conversion": round(lowest[0], 3), "prefix": lowest[1], "sends": lowest[2]}
            if lowest else None),
        "honest_prefixes_at_min_sends": sum(1 for s, _ in prefix_counts.values()
                                            if s >= GUARD["min_sends"]),
    }


# ---------------------------------------------------------------- report

def table(results):
    by = {r["mode"]: r for r in results}
    modes = [m for m in ("on", "off", "shadow") if m in by]
    head = {"on": "guard on", "off": "guard off", "shadow": "shadow mode"}

    def row(label, f):
        return "| " + label + " | " + " | ".join(str(f(by[m])) for m in modes) + " |"

    def refused(kind):
        def f(r):
            c = r["counts"][kind]
            detail = ", ".join(f"{n}× {s}" for s, n in sorted(c["refused_by_status"].items()))
            return f"{c['refused']} of {c['sends']}" + (f" ({detail})" if detail else "")
        return f

    def lowest(r):
        lo = r["lowest_honest_prefix_conversion"]
        return f"{lo['conversion']:.2f} (+{lo['prefix']}, at send {lo['sends']})" if lo else "none reached min_sends"

    lines = ["| | " + " | ".join(head[m] for m in modes) + " |",
             "|---|" + "---|" * len(modes),
             row("attack SMS sent before the block took effect",
                 lambda r: r["attack_sent_before_block"] if r["counts"]["attack"]["refused"] else "no block"),
             row("attack SMS sent in total", lambda r: f"{r['counts']['attack']['sent']} of {r['counts']['attack']['sends']}"),
             row("attack sends refused", lambda r: r["counts"]["attack"]["refused"]),
             row("honest users' sends refused (goal: 0)", refused("honest")),
             row("honest verifies that failed", lambda r: f"{r['counts']['honest']['verify_failed']} of {r['counts']['honest']['verifies']}"),
             row("bystanders' sends refused (honest users on the attacked prefix)", refused("bystander")),
             row("bystander verifies that failed", lambda r: f"{r['counts']['bystander']['verify_failed']} of {r['counts']['bystander']['verifies']}"),
             row("blocks (/metrics, mode=\"block\")", lambda r: int(r["metrics"]["blocks_block"])),
             row("would-block count (/metrics, mode=\"shadow\")", lambda r: int(r["metrics"]["blocks_shadow"])),
             row("attack SMS sent before the block was logged",
                 lambda r: r["attack_sent_before_block_event"] if r["attack_sent_before_block_event"] is not None else "-"),
             row("lowest honest-prefix conversion at ≥ min_sends", lowest),
             row("requests / wall time", lambda r: f"{r['requests']} / {r['seconds']} s")]
    return "\n".join(lines)


def failures(results):
    problems = []
    for r in results:
        if r["mode"] != "on":
            continue
        if r["counts"]["honest"]["refused"]:
            problems.append(f"guard on: {r['counts']['honest']['refused']} honest sends refused")
        if not r["counts"]["attack"]["refused"] or not r["metrics"]["blocks_block"]:
            problems.append("guard on: the attack was never blocked")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--ticks", type=int, default=1500)
    parser.add_argument("--attack-start", type=int, default=30, help="first tick of the attack")
    parser.add_argument("--attack-rate", type=int, default=8, help="attack sends per tick")
    parser.add_argument("--bystander-share", type=float, default=0.15,
                        help="chance per tick of a new honest user on the attacked prefix")
    parser.add_argument("--flash-crowd", type=int, default=0, metavar="N",
                        help="N honest users at once on a quiet prefix (+61 4312) at the middle tick: "
                             "shows the false positive of FRAUD_SIM.md (the guard-on run then fails)")
    parser.add_argument("--modes", default="on,off,shadow")
    parser.add_argument("--server", default=os.path.join(BUILD, "bin", "testino-server"))
    parser.add_argument("--no-write", action="store_true", help="print only, write no results file")
    parser.add_argument("--keep-logs", action="store_true", help="keep the servers' logs in bench/results/")
    args = parser.parse_args()

    if not os.access(args.server, os.X_OK):
        sys.exit(f"{args.server} not built: cmake --build build --target testino-server testino_plugins")
    os.makedirs(bench.RESULTS_DIR, exist_ok=True)
    events = make_schedule(args.seed, args.ticks, args.attack_start, args.attack_rate,
                           args.bystander_share, args.flash_crowd)
    started = time.time()
    results = []
    for mode in args.modes.split(","):
        bench.log(f"fraud_sim: guard {mode} ...")
        results.append(run_mode(mode, events, args.server, args.keep_logs))
        bench.log(f"fraud_sim: guard {mode}: {results[-1]['seconds']} s")
    report = table(results)
    params = {"seed": args.seed, "ticks": args.ticks, "attack_start": args.attack_start,
              "attack_rate": args.attack_rate, "bystander_share": args.bystander_share, "flash_crowd": args.flash_crowd,
              "verify_share": VERIFY_SHARE, "resend_share": RESEND_SHARE,
              "attack_numbers": "+" + ATTACK[0] + " " + ATTACK[1], "guard": GUARD}
    print(f"Fraud guard simulation, seed {args.seed}, {args.ticks} ticks, "
          f"{time.time() - started:.0f} s, {os.cpu_count()} CPUs\n")
    print(report)
    problems = failures(results)
    for p in problems:
        print(f"\nFAIL: {p}")
    if not args.no_write:
        path = os.path.join(bench.RESULTS_DIR,
                            f"fraud_sim-{datetime.date.today().isoformat()}.json")
        with open(path, "w") as f:
            json.dump({"params": params, "started": datetime.datetime.fromtimestamp(started).isoformat(),
                       "cpus": os.cpu_count(), "loadavg": os.getloadavg(), "results": results,
                       "table": report, "failures": problems}, f, indent=2)
        bench.log(f"fraud_sim: wrote {os.path.relpath(path, REPO)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
