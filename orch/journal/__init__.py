"""The run journal: every run, step, host and attempt, written from the event stream.

``open_journal(url)`` returns a ``Journal`` (SQLite at ``sqlite:///path``) or a
``RedisJournal`` (``redis://host:port/db``, shared by several controllers). A journal is a sink
(``journal(event)``), so it records exactly what the console shows, and a reader for
``orch runs`` and ``orch play --resume``.
"""

from __future__ import annotations

from orch.journal.store import Journal, open_journal

__all__ = ["Journal", "open_journal"]
