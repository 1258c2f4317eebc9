#!/usr/bin/python3
"""The Grafana dashboard and the alert rules under deploy/ use only what the server exposes.

Starts the real testino-server of the build tree on loopback, drives a few requests so that
most series have samples (a send that fails over, one that fails, a 422, a verify), scrapes
the admin /metrics, then checks every PromQL expression of the dashboard (panels and template
variables) and of the alert rules: each metric name is exposed, each label a matcher or a
`by (...)` uses is one that metric has, and each literal value a positive matcher asks for
is one the server sent. The dashboard's expressions must also parse: promtool check rules
reads them as recording rules. Exit code 1 with a list of findings, else 0.

Families without samples in the drive (PENDING) are checked against the labels given here.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

# Families the drive leaves without samples, so the scrape cannot tell their labels: a
# channel fallback needs a channel workflow (exposed only once one happened).
PENDING = {"testino_channel_fallbacks_total": {"from", "to"}}
TARGET_LABELS = {"job", "instance"}  # Prometheus adds them to every scraped series
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"}
STRING = r'"(?:[^"\\]|\\.)*"'
SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)?\s*\{((?:[^{}\"]|" + STRING + r")*)\}")
MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!=|!~|=)\s*(" + STRING + ")")
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
IDENT = re.compile(r"(?<![\w$:.])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?")


# Unverified sends to +44 7400 9...: the third meets min_sends at 0% conversion and is refused.
FRAUD_GUARD = {"enabled": True, "prefix_digits": 7, "min_sends": 3, "min_conversion": 0.5}


def drive(server):
    """A failover (+44), a failure (+1: test_sink only), a 422, a right and a wrong verify,
    and a fraud-guard block."""
    server.provider_down(True)
    statuses = [server.send("+44", "7400123456"), server.send("+1", "2025550123"), server.send("+1", "12")]
    statuses += [server.send("+44", f"740090000{i}") for i in range(4)]
    codes = [code for _, to, code in server.codes() if to == "+447400123456"]
    if not codes:
        raise SystemExit("check_dashboard: no code reached test_sink_b's outbox")
    statuses.append(server.verify("+44", "7400123456", codes[-1]))
    statuses.append(server.verify("+44", "7400123456", "000000"))
    if statuses != [200, 502, 422, 200, 200, 429, 429, 200, 400]:
        raise SystemExit(f"check_dashboard: unexpected statuses {statuses}")


class Checker:
    def __init__(self, families):
        self.families = families
        self.findings = []

    def labels_of(self, name):
        """The labels `name` has (None when its series had no samples to tell)."""
        if name in self.families:
            labels = set(self.families[name]["labels"])
            return labels or PENDING.get(name)
        return PENDING.get(name)

    def check(self, where, expr):
        expr = expr.replace("$__rate_interval", "5m").replace("$__range", "1h")
        used_labels = set(TARGET_LABELS)
        rest = expr
        for m in SELECTOR.finditer(expr):
            name = m.group(1)
            labels = self.labels_of(name) if name else None
            if labels is not None:
                used_labels |= labels | ({"le"} if name.endswith("_bucket") else set())
            for label, op, raw in MATCHER.findall(m.group(2)):
                self.check_matcher(where, name, labels, label, op, json.loads(raw))
            rest = rest.replace(m.group(0), f" {name or ''} ", 1)
        for m in IDENT.finditer(re.sub(r"\[[^\]]*\]", " ", re.sub(STRING, " ", GROUPING.sub(" ", rest)))):
            if not m.group(2) and m.group(1) in self.families:
                used_labels |= self.labels_of(m.group(1)) or set()
        for m in GROUPING.finditer(rest):
            for label in filter(None, (s.strip() for s in m.group(2).split(","))):
                if label not in used_labels and not label.endswith("_bucket"):
                    self.findings.append(f"{where}: {m.group(1)} ({label}): no metric of the expression has it")
        rest = GROUPING.sub(" ", rest)
        rest = re.sub(STRING, " ", rest)
        rest = re.sub(r"\[[^\]]*\]", " ", rest)
        for m in IDENT.finditer(rest):
            word, call = m.group(1), m.group(2)
            if call or word in KEYWORDS or re.fullmatch(r"\d+\w*", word):
                continue
            if word not in self.families and word not in PENDING:
                self.findings.append(f"{where}: metric {word} is not exposed by the server")

    def check_matcher(self, where, name, labels, label, op, value):
        if name is None:
            self.findings.append(f"{where}: a selector without a metric name")
            return
        if name not in self.families and name not in PENDING:
            self.findings.append(f"{where}: metric {name} is not exposed by the server")
            return
        if label in TARGET_LABELS or labels is None:
            return
        if label not in labels:
            self.findings.append(f"{where}: {name} has no label {label} (it has {sorted(labels)})")
            return
        seen = self.families.get(name, {}).get("labels", {}).get(label)
        if not seen or "$" in value or op not in ("=", "=~"):
            return
        pattern = re.compile(value if op == "=~" else re.escape(value))
        if not any(pattern.fullmatch(v) for v in seen):
            self.findings.append(f"{where}: {name}{{{label}{op}{json.dumps(value)}}} matches none of {sorted(seen)}")


def panels_of(dashboard):
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def check_dashboard_shape(dashboard, findings):
    if dashboard.get("schemaVersion", 0) < 36:
        findings.append("dashboard: schemaVersion below 36")
    variables = {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}
    source = variables.get("datasource", {})
    if source.get("type") != "datasource" or source.get("query") != "prometheus":
        findings.append("dashboard: no `datasource` variable of type datasource for prometheus")
    for name in ("job", "instance"):
        if variables.get(name, {}).get("type") != "query":
            findings.append(f"dashboard: no `{name}` query variable")
    ids = [p["id"] for p in panels_of(dashboard)]
    if len(ids) != len(set(ids)):
        findings.append("dashboard: panel ids repeat")
    for panel in panels_of(dashboard):
        if panel["type"] == "row":
            continue
        if panel.get("datasource", {}).get("uid") != "${datasource}":
            findings.append(f"panel {panel['title']!r}: its datasource is not ${{datasource}}")
        if not panel.get("targets"):
            findings.append(f"panel {panel['title']!r}: no query")
        for target in panel.get("targets", []):
            # A legend names labels the query keeps: those of its by (...) clauses.
            kept = {x.strip() for m in GROUPING.finditer(target["expr"]) if m.group(1) == "by"
                    for x in m.group(2).split(",")}
            for label in re.findall(r"\{\{\s*(\w+)\s*\}\}", target.get("legendFormat", "")):
                if label not in kept:
                    findings.append(f"panel {panel['title']!r}: legend {{{{{label}}}}} is not a label the query keeps")
            for selector in SELECTOR.finditer(target["expr"]):
                if 'job=~"$job"' not in selector.group(2) or 'instance=~"$instance"' not in selector.group(2):
                    findings.append(f"panel {panel['title']!r}: {selector.group(0)} ignores $job or $instance")
    return variables


def dashboard_exprs(dashboard, variables):
    for panel in panels_of(dashboard):
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r} {target['refId']}", target["expr"]
    for name, variable in variables.items():
        query = variable.get("definition") or ""
        m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", query)
        if m:
            yield f"variable {name}", m.group(1)


def alert_exprs(rules):
    for group in rules["groups"]:
        for rule in group["rules"]:
            yield f"alert {rule.get('alert') or rule.get('record')}", rule["expr"]


def promtool_parses(exprs, findings):
    """The dashboard's expressions, variables filled in, as recording rules for promtool."""
    promtool = shutil.which("promtool")
    if promtool is None:
        findings.append("promtool not found: install Debian's prometheus package (scripts/setup.sh)")
        return
    rules = {"groups": [{"name": "dashboard", "rules": []}]}
    for i, (_, expr) in enumerate(exprs):
        filled = expr.replace("$__rate_interval", "5m").replace("$job", ".+").replace("$instance", ".+")
        rules["groups"][0]["rules"].append({"record": f"dashboard:expr_{i}", "expr": filled})
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
        yaml.safe_dump(rules, f)
        f.flush()
        result = subprocess.run([promtool, "check", "rules", f.name], capture_output=True, text=True)
    if result.returncode != 0:
        findings.append("promtool does not parse the dashboard's expressions:\n" + result.stdout + result.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--build-dir", required=True)
    args = parser.parse_args()
    sys.path.insert(0, os.path.join(args.source_dir, "deploy", "grafana"))
    from live_server import LiveServer, parse_exposition

    with open(os.path.join(args.source_dir, "deploy", "grafana", "testino-dashboard.json")) as f:
        dashboard = json.load(f)
    with open(os.path.join(args.source_dir, "deploy", "prometheus", "testino-alerts.yml")) as f:
        rules = yaml.safe_load(f)

    with tempfile.TemporaryDirectory(prefix="testino-check-dashboard-") as work:
        server = LiveServer(args.build_dir, work, {"fraud_guard": FRAUD_GUARD}).start()
        try:
            drive(server)
            families = parse_exposition(server.metrics())
        finally:
            server.stop()

    findings = []
    variables = check_dashboard_shape(dashboard, findings)
    checker = Checker(families)
    exprs = list(dashboard_exprs(dashboard, variables))
    for where, expr in exprs + list(alert_exprs(rules)):
        checker.check(where, expr)
    findings += list(dict.fromkeys(checker.findings))  # one line per finding, not per mention
    promtool_parses([e for e in exprs if not e[0].startswith("variable")], findings)
    exposed = sorted(n for n in PENDING if n in families)
    print(f"check_dashboard: {len(families)} series names exposed; {len(exprs)} dashboard and "
          f"{sum(1 for _ in alert_exprs(rules))} alert expressions checked; pending names now exposed: {exposed}")
    for finding in findings:
        print("FAIL " + finding)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
