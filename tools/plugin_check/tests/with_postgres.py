#!/usr/bin/env python3
"""Runs testino-plugin-check on store_postgres.so against a private, throw-away PostgreSQL.

    with_postgres.py <testino-plugin-check> <store_postgres.so> [more testino-plugin-check arguments]

Starts PostgreSQL the way the benchmark does (bench/postgres_bench.py: initdb into a temp dir,
the postmaster on a free 127.0.0.1 port, as nobody when root), runs the check with
--set dsn=... (and a 5 s query_timeout_ms, fsync off), stops PostgreSQL, and exits with the check's status. Every wait is bounded.
Exits 77 (skipped) when the PostgreSQL server binaries are not installed.
"""
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "bench"))
import postgres_bench  # noqa: E402  (the one PostgreSQL launcher, shared with the benchmark)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main():
    check, plugin, more = sys.argv[1], sys.argv[2], sys.argv[3:]
    if not postgres_bench.bin_dir():
        print("with_postgres.py: SKIPPED: PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin")
        return 77
    postgres = None
    for _ in range(3):  # the free port may be taken before postgres binds it
        try:
            # fsync off: the kit checks behaviour, not the disk's flush time.
            postgres = postgres_bench.Postgres(free_port(), ("fsync=off",))
            break
        except RuntimeError as error:
            last = error
    if postgres is None:
        sys.exit(f"with_postgres.py: postgres did not start: {last}")
    try:
        # The kit runs 400 verifies of one key at once: they take the key's row lock in
        # turn, so on a loaded machine the last ones need longer than the default 1 s deadline
        # (Redis, in memory, answers them all within its default).
        return subprocess.run([check, "--set", f"dsn={postgres.dsn()}", "--set", "sweep_interval_ms=0",
                               "--set", "query_timeout_ms=5000", *more, plugin], timeout=240).returncode
    finally:
        postgres.stop()


if __name__ == "__main__":
    sys.exit(main())
