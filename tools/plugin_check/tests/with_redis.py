#!/usr/bin/env python3
"""Runs testino-plugin-check on store_redis.so against a private, throw-away redis-server.

    with_redis.py <testino-plugin-check> <store_redis.so> [more testino-plugin-check arguments]

Starts redis-server on a free 127.0.0.1 port (no persistence), waits for it to answer PING,
runs the check with --set url=redis://127.0.0.1:<port>, stops redis, and exits with the
check's status. Every wait is bounded.
"""
import socket
import subprocess
import sys
import time


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers_ping(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_redis():
    # The free port may be taken before redis-server binds it: try a few.
    for _ in range(5):
        port = free_port()
        redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                  "--save", "", "--appendonly", "no"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and redis.poll() is None:
            if answers_ping(port):
                return redis, port
            time.sleep(0.05)
        redis.kill()
        redis.wait()
    sys.exit("with_redis.py: redis-server did not start")


def main():
    check, plugin, more = sys.argv[1], sys.argv[2], sys.argv[3:]
    redis, port = start_redis()
    try:
        return subprocess.run([check, "--set", f"url=redis://127.0.0.1:{port}", *more, plugin],
                              timeout=240).returncode
    finally:
        redis.terminate()
        try:
            redis.wait(timeout=10)
        except subprocess.TimeoutExpired:
            redis.kill()
            redis.wait()


if __name__ == "__main__":
    sys.exit(main())
