#!/usr/bin/env python3
"""A ProxyCommand for tests: ``tcp_relay.py LOG HOST PORT`` connects to HOST:PORT and relays
its stdin and stdout to that socket, as ``nc HOST PORT`` would, and appends one line naming
the target to LOG so a test can tell the connection really went through it."""

import os
import selectors
import socket
import sys


def main() -> None:
    log, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(log, "a") as out:
        out.write(f"{host}:{port}\n")
    sock = socket.create_connection((host, port), timeout=10)
    sock.settimeout(None)
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ)
    selector.register(sock, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            if key.fileobj == 0:
                data = os.read(0, 65536)
                if not data:
                    sock.shutdown(socket.SHUT_WR)
                    selector.unregister(0)
                    continue
                sock.sendall(data)
            else:
                data = sock.recv(65536)
                if not data:
                    return
                os.write(1, data)


if __name__ == "__main__":
    main()
