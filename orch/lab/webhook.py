"""The lab's notification endpoint: an HTTP receiver that appends each POST to a file.

Runs on the hosts' interpreter (/usr/bin/python3, standard library only, Python 3.6+).
``angelianotify`` posts to it; tests read what arrived. Each POST body becomes one JSON line:
the body itself when it is a JSON object, else ``{"body": "<text>"}``. The reply is
``{"ok": true}`` once the line is written and flushed.

    python3 webhook.py --address 127.0.1.2 --port 8081 --out STATE/received.jsonl \
        --pidfile STATE/webhook.pid --log STATE/webhook.log
"""

import argparse
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import ThreadingMixIn

LOCK = threading.Lock()


class Server(ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_handler(out_path):
    class Handler(BaseHTTPRequestHandler):
        server_version = "orch-lab-webhook/1"

        def _reply(self, code, payload):
            body = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8", "replace")
            try:
                record = json.loads(raw)
            except ValueError:
                record = None
            if not isinstance(record, dict):
                record = {"body": raw}
            line = json.dumps(record, sort_keys=True) + "\n"
            with LOCK:
                with open(out_path, "a") as handle:
                    handle.write(line)
                    handle.flush()
            self._reply(200, {"ok": True})

        def do_GET(self):
            self._reply(200, {"ok": True, "file": out_path})

        def log_message(self, format, *args):
            sys.stdout.write(f"{self.address_string()} {format % args}\n")
            sys.stdout.flush()

    return Handler


def main(argv=None):
    parser = argparse.ArgumentParser(description="orch lab webhook receiver")
    parser.add_argument("--address", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--pidfile", required=True)
    parser.add_argument("--log", default=None)
    args = parser.parse_args(argv)
    if args.log:
        log = open(args.log, "a")
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = Server((args.address, args.port), make_handler(args.out))
    with open(args.pidfile, "w") as handle:
        handle.write(f"{os.getpid()}\n")
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
