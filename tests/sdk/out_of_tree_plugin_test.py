#!/usr/bin/env python3
"""The installed SDK works from outside the tree.

1. `cmake --install` this build into a temporary prefix; the SDK headers and the
   TestinoPluginSdk package are there.
2. Copy examples/sms_webhook to its own folder, configure it with only the prefix on
   CMAKE_PREFIX_PATH, build it, and install it into the same prefix.
3. The installed testino-plugin-check passes it against a loopback receiver.
4. The installed testino-server lists it, starts with `sms.provider: webhook`, and a
   send-otp POSTs {"to","text","request_id"} (with the bearer token) to the receiver; the
   code in that text verifies with 200.

Loopback only; every wait is bounded. Exit status 0 on success, 1 with a message on failure.
"""
import argparse
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

BEARER_TOKEN = "sdk-test-bearer-token-0123456789"
TOKEN_SECRET = "sdk-test-token-secret-0123456789abcdef0123456789"


class Failure(Exception):
    pass


def run(command, **kwargs):
    """Runs a command to completion (bounded), failing with its output when it fails."""
    print("$ " + " ".join(command), flush=True)
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, timeout=240, **kwargs)
    if result.returncode != 0:
        raise Failure(f"exit status {result.returncode}:\n{result.stdout}")
    return result.stdout


class Receiver(http.server.ThreadingHTTPServer):
    """A webhook receiver on 127.0.0.1 that records each POST and answers 200."""

    def __init__(self):
        self.posts = []
        self.posted = threading.Condition()
        super().__init__(("127.0.0.1", 0), ReceiverHandler)

    def wait_for_post(self, timeout):
        with self.posted:
            self.posted.wait_for(lambda: self.posts, timeout)
            return self.posts[0] if self.posts else None


class ReceiverHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.server.posted:
            self.server.posts.append({"path": self.path, "headers": dict(self.headers),
                                      "body": body.decode("utf-8", "replace")})
            self.server.posted.notify_all()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def post_json(port, path, payload):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def wait_for_listening(server, log_path, timeout):
    """The port from the server's `server.listening` log line."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise Failure(f"the server exited with {server.returncode}:\n{open(log_path).read()}")
        with open(log_path) as log:
            for line in log:
                if line.endswith("\n") and "\"event\":\"server.listening\"" in line:
                    return json.loads(line)["port"]
        time.sleep(0.05)
    raise Failure(f"no server.listening within {timeout}s:\n{open(log_path).read()}")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--cmake", required=True)
    parser.add_argument("--generator", required=True)
    parser.add_argument("--cxx-compiler", required=True)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="testino-sdk-")
    prefix = os.path.join(work, "prefix")
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    server = None
    try:
        # 1. Install.
        run([args.cmake, "--install", args.build_dir, "--prefix", prefix])
        for installed in ["include/testino/plugin.hpp", "include/testino/sms_provider.hpp",
                          "lib/cmake/TestinoPluginSdk/TestinoPluginSdkConfig.cmake",
                          "lib/cmake/TestinoPluginSdk/TestinoPluginSdkConfigVersion.cmake",
                          "lib/cmake/TestinoPluginSdk/TestinoPluginSdkTargets.cmake",
                          "bin/testino-server", "bin/testino-plugin-check"]:
            if not os.path.exists(os.path.join(prefix, installed)):
                raise Failure(f"cmake --install did not install {installed}")

        # 2. The plugin, in a folder of its own, against the installed SDK only.
        source = os.path.join(work, "sms_webhook")
        shutil.copytree(os.path.join(args.source_dir, "examples", "sms_webhook"), source)
        build = os.path.join(work, "sms_webhook-build")
        configured = run([args.cmake, "-S", source, "-B", build, "-G", args.generator,
                          f"-DCMAKE_CXX_COMPILER={args.cxx_compiler}",
                          f"-DCMAKE_PREFIX_PATH={prefix}", f"-DCMAKE_INSTALL_PREFIX={prefix}",
                          "-DCMAKE_BUILD_TYPE=Release"])
        # The package reports the ABI the SDK headers define.
        with open(os.path.join(args.source_dir, "core", "include", "testino", "plugin.hpp")) as h:
            abi = re.search(r"kAbiVersion = (\d+);", h.read()).group(1)
        if f"plugin ABI {abi}," not in configured:
            raise Failure(f"the package does not report plugin ABI {abi}:\n{configured}")
        run([args.cmake, "--build", build])
        run([args.cmake, "--install", build])
        plugin = os.path.join(prefix, "lib", "testino", "plugins", "sms_webhook.so")
        if not os.path.exists(plugin):
            raise Failure(f"the plugin's install did not put it at {plugin}")

        url = f"http://127.0.0.1:{receiver.server_address[1]}/sms"
        # No proxy may stand between the server and the loopback receiver.
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        env.update({"TOKEN_SECRET": TOKEN_SECRET, "SMS_WEBHOOK_BEARER_TOKEN": BEARER_TOKEN})

        # 3. The conformance kit passes it.
        checked = run([os.path.join(prefix, "bin", "testino-plugin-check"), "--expect-status", "sent",
                       "--set", f"url={url}", plugin], env=env, cwd=work)
        print(checked)
        if "channels: sms\n" not in checked:  # the descriptor's channels (ABI 7)
            raise Failure(f"the kit does not report the webhook's channels (sms):\n{checked}")
        with receiver.posted:
            receiver.posts.clear()

        # 4. The installed server lists it and uses it.
        server_bin = os.path.join(prefix, "bin", "testino-server")
        config = os.path.join(work, "config.yaml")
        with open(config, "w") as out:
            # No admin listener: its default port (9464) may be another server's.
            out.write("server:\n  host: 127.0.0.1\n  port: 0\n  admin_port: 0\n"
                      "sms:\n  provider: webhook\n  timeout_ms: 10000\n"
                      f"  webhook:\n    url: \"{url}\"\n")
        listing = run([server_bin, "--config", config, "--list-plugins"], env=env, cwd=work)
        if "webhook" not in listing or "[channels: sms]" not in listing:
            raise Failure(f"--list-plugins does not show the webhook plugin:\n{listing}")
        log_path = os.path.join(work, "server.log")
        with open(log_path, "w") as log:
            server = subprocess.Popen([server_bin, "--config", config], stdout=log,
                                      stderr=subprocess.STDOUT, env=env, cwd=work)
        port = wait_for_listening(server, log_path, timeout=20)

        status, body = post_json(port, "/api/v1/auth/send-otp",
                                 {"country_code": "+1", "mobile_number": "2025550123"})
        if status != 200 or not body.get("success"):
            raise Failure(f"send-otp answered {status} {body}\n{open(log_path).read()}")
        post = receiver.wait_for_post(timeout=15)
        if post is None:
            raise Failure("the webhook received nothing")
        if post["headers"].get("Authorization") != f"Bearer {BEARER_TOKEN}":
            raise Failure(f"the webhook got Authorization {post['headers'].get('Authorization')!r}")
        if not post["headers"].get("Content-Type", "").startswith("application/json"):
            raise Failure(f"the webhook got Content-Type {post['headers'].get('Content-Type')!r}")
        sms = json.loads(post["body"])
        if sorted(sms) != ["request_id", "text", "to"] or sms["to"] != "+12025550123" \
                or not sms["request_id"]:
            raise Failure(f"the webhook got {sms}")
        code = re.search(r"\b(\d{6})\b", sms["text"])
        if code is None:
            raise Failure(f"no 6-digit code in {sms['text']!r}")

        status, body = post_json(port, "/api/v1/auth/verify-otp",
                                 {"country_code": "+1", "mobile_number": "2025550123",
                                  "otp": code.group(1)})
        if status != 200 or not body.get("access_token"):
            raise Failure(f"verify-otp with the webhook's code answered {status} {body}")
        print(f"sdk: the out-of-tree webhook plugin delivered code {code.group(1)}; verify-otp 200")

        server.send_signal(signal.SIGTERM)
        if server.wait(timeout=20) != 0:
            raise Failure(f"the server exited with {server.returncode} after SIGTERM")
        server = None
        return 0
    except (Failure, subprocess.TimeoutExpired) as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        if server is not None and server.poll() is None:
            server.kill()
            server.wait()
        receiver.shutdown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
