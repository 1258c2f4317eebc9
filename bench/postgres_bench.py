"""A private PostgreSQL for the benchmark's postgres rows (bench.py imports this).

initdb into a temporary directory (under $TMPDIR), then the postmaster on a free
loopback port (listen_addresses 127.0.0.1, its Unix socket in that directory), trust
authentication on loopback only. Durability is PostgreSQL's default (fsync and
synchronous_commit on), as a production database would run: each write waits for its WAL
flush. As root, initdb and postgres run as `nobody` (PostgreSQL refuses to run as root).
"""

import glob
import os
import shutil
import subprocess
import tempfile
import time

NOBODY = 65534  # Debian's nobody and nogroup
USER = "testino"


def bin_dir():
    """The newest /usr/lib/postgresql/<version>/bin with initdb and postgres, or None."""
    found = [d for d in glob.glob("/usr/lib/postgresql/*/bin")
             if os.access(os.path.join(d, "initdb"), os.X_OK)
             and os.access(os.path.join(d, "postgres"), os.X_OK)]
    found.sort(key=lambda d: float(os.path.basename(os.path.dirname(d))))
    return found[-1] if found else None


def _drop_root():
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)


class Postgres:
    """Started by the constructor (waits until it accepts connections); stop() ends it and
    removes its directory."""

    def __init__(self, port, settings=()):
        """`settings`: more postgres -c options, e.g. ("synchronous_commit=off",)."""
        binaries = bin_dir()
        if not binaries:
            raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin")
        self.port = port
        self.bin = binaries
        # Under $TMPDIR, not the checkout: `nobody` must be able to reach it.
        self.dir = tempfile.mkdtemp(prefix="testino-bench-postgres-")
        if os.geteuid() == 0:
            os.chown(self.dir, NOBODY, NOBODY)
        self.log_path = os.path.join(self.dir, "postgres.log")
        self._run(["initdb", "-D", self.data(), "-U", USER, "--auth=trust", "-E", "UTF8",
                   "--locale=C", "--no-sync"])
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [os.path.join(self.bin, "postgres"), "-D", self.data(), "-p", str(port),
                 "-k", self.dir, "-c", "listen_addresses=127.0.0.1",
                 *[arg for setting in settings for arg in ("-c", setting)]],
                stdout=log, stderr=log, preexec_fn=_drop_root)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited at start: {self.tail()}")
            if self.query("SELECT 1") == "1":
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"postgres did not accept connections within 30 s: {self.tail()}")

    def data(self):
        return os.path.join(self.dir, "data")

    def dsn(self):
        return f"host=127.0.0.1 port={self.port} dbname=postgres user={USER}"

    def tail(self, n=600):
        with open(self.log_path, "rb") as f:
            return f.read()[-n:].decode(errors="replace").strip()

    def _run(self, argv):
        done = subprocess.run([os.path.join(self.bin, argv[0]), *argv[1:]], capture_output=True,
                              text=True, preexec_fn=_drop_root)
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {done.stderr[-400:]}")

    def query(self, sql):
        """One statement through psql; its rows as text ("|" between columns), or None."""
        psql = shutil.which("psql") or os.path.join(self.bin, "psql")
        done = subprocess.run([psql, "-X", "-At", "-d", self.dsn(), "-c", sql],
                              capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(2)  # SIGINT: PostgreSQL's fast shutdown
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def code_table_bytes(postgres):
    """(pending codes, bytes per code): testino_codes's rows and its total size (heap,
    indexes, TOAST) per row; (None, None) when it cannot be read."""
    text = postgres.query("SELECT count(*), pg_total_relation_size('testino_codes') FROM testino_codes")
    if not text or "|" not in text:
        return None, None
    count, size = (int(v) for v in text.split("|"))
    return count, (size / count if count else None)
