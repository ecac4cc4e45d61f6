"""The lab's app service: a tiny HTTP server that answers with the revision it runs.

Runs on the hosts' interpreter (/usr/bin/python3, standard library only, Python 3.6+). It
stands in for a real application behind HAProxy: it reads its revision once at start, takes
about half a second to come up (so a restart is visible, as with a real app), writes its own
pidfile so ``appmgr`` can restart it, and answers ``GET /`` with the revision and a newline.
The ``X-Orch-Host`` header names the lab host, so a request through HAProxy shows which
server answered.

    python3 appserver.py --name dev1 --address 127.0.1.3 --port 8080 \
        --revision-file STATE/app/revision --pidfile STATE/app/app.pid --log STATE/app/app.log
"""

import argparse
import errno
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import ThreadingMixIn

START_DELAY = 0.5


class Server(ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def make_handler(name, revision):
    body = (revision + "\n").encode()

    class Handler(BaseHTTPRequestHandler):
        server_version = "orch-lab-app/1"
        # Each answer leaves in one write (headers and body together, flushed after the
        # handler), as real servers send a small answer: killed mid-request, the app either
        # answered whole or not at all, and HAProxy retries a request with no answer elsewhere
        # (retry-on empty-response). Unbuffered, a kill between the headers and the body left
        # a truncated answer already on its way to the client, which no proxy can take back.
        wbufsize = 65536

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Orch-Host", name)
            self.send_header("X-Revision", revision)
            self.end_headers()
            self.wfile.write(body)

        def do_HEAD(self):
            self.send_response(200)
            self.send_header("X-Orch-Host", name)
            self.send_header("X-Revision", revision)
            self.end_headers()

        def log_message(self, format, *args):
            pass

    return Handler


def bind(address, port, handler, patience):
    """Bind, retrying while the previous instance (being stopped) still holds the port."""
    deadline = time.time() + patience
    while True:
        try:
            return Server((address, port), handler)
        except OSError as error:
            if error.errno != errno.EADDRINUSE or time.time() > deadline:
                raise
            time.sleep(0.1)


def main(argv=None):
    parser = argparse.ArgumentParser(description="orch lab app service")
    parser.add_argument("--name", required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--revision-file", required=True)
    parser.add_argument("--pidfile", required=True)
    parser.add_argument("--log", default=None)
    args = parser.parse_args(argv)

    if args.log:
        log = open(args.log, "a")
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    with open(args.pidfile + ".tmp", "w") as handle:
        handle.write(f"{os.getpid()}\n")
    os.rename(args.pidfile + ".tmp", args.pidfile)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    try:
        with open(args.revision_file) as handle:
            revision = handle.read().strip() or "0"
    except OSError:
        revision = "0"
    time.sleep(START_DELAY)
    server = bind(args.address, args.port, make_handler(args.name, revision), patience=10.0)
    sys.stdout.write(f"{args.name}: serving revision {revision} on {args.address}:{args.port} "
                     f"(pid {os.getpid()})\n")
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
        try:
            with open(args.pidfile) as handle:
                if handle.read().strip() == str(os.getpid()):
                    os.unlink(args.pidfile)
        except OSError:
            pass


if __name__ == "__main__":
    main()
