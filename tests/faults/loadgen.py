"""A small real HTTP load generator for the fault suite: threads with ``http.client``, half on
keep-alive connections, half opening a new connection per request, paced to a total rate.

Every request is counted: sent, answered 200 with a revision, failed (a connection error, a
timeout, a non-200 answer or a body that is not a revision), each failure kept with its time
and cause. Load goes to loopback only (the lab's HAProxy frontend).
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Counts:
    sent: int = 0
    ok: int = 0
    failures: list[tuple[float, str]] = field(default_factory=list)  # (monotonic time, cause)
    by_server: Counter = field(default_factory=Counter)  # X-Orch-Host of the 200 answers
    new_connections: int = 0

    @property
    def failed(self) -> int:
        return len(self.failures)


class Load:
    """``GET /`` through ``address:port`` from ``workers`` threads at about ``rate`` per second."""

    def __init__(self, address: str, port: int, *, workers: int = 8, rate: float = 400,
                 timeout: float = 10.0):
        self.address, self.port, self.timeout = address, port, timeout
        self.interval = workers / rate  # each worker's pause between two requests
        self.counts = Counts()
        self.sent_at: list[float] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._worker, args=(index % 2 == 0,),
                                          daemon=True, name=f"load-{index}")
                         for index in range(workers)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> Counts:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 5)
        return self.counts

    def _connect(self) -> http.client.HTTPConnection:
        with self._lock:
            self.counts.new_connections += 1
        return http.client.HTTPConnection(self.address, self.port, timeout=self.timeout)

    def _worker(self, keep_alive: bool) -> None:
        conn = None
        next_at = time.monotonic()
        while not self._stop.is_set():
            pause = next_at - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            next_at = max(next_at + self.interval, time.monotonic() - self.interval)
            if conn is None:
                conn = self._connect()
            moment = time.monotonic()
            with self._lock:
                self.counts.sent += 1
                self.sent_at.append(moment)
            try:
                conn.request("GET", "/", headers={} if keep_alive else {"Connection": "close"})
                response = conn.getresponse()
                body = response.read()
                server = response.getheader("X-Orch-Host") or "?"
                closing = response.will_close
            except (OSError, http.client.HTTPException) as error:
                self._failed(moment, f"{type(error).__name__}: {error}")
                conn.close()
                conn = None
                continue
            if response.status != 200 or not body.strip().isdigit():
                self._failed(moment, f"HTTP {response.status}: {body[:60]!r}")
            else:
                with self._lock:
                    self.counts.ok += 1
                    self.counts.by_server[server] += 1
            if closing or not keep_alive:
                conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def _failed(self, moment: float, cause: str) -> None:
        with self._lock:
            self.counts.failures.append((moment, cause))
