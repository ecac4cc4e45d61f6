"""Both journal backends: SQLite in a temporary folder, and a real redis-server."""

import pytest


@pytest.fixture(params=["sqlite", "redis"])
def journal_url(request, tmp_path):
    """A fresh, empty journal for each test (the Redis server is flushed)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/j/journal.db"
    url = request.getfixturevalue("redis_url")
    import redis

    client = redis.Redis.from_url(url)
    client.flushall()
    client.close()
    return url
