"""The fact cache (SQLite by default, Redis when shared) and fact records.

``open_cache(url)`` returns a FactCache; ``store_gathered(config, {host: facts})`` records what
a gather run found. Importing this package loads neither sqlite3 nor redis.
"""

from orch.facts.cache import CLASSES_KEY, FactCache, StaleFacts, open_cache, store_gathered
from orch.facts.records import MISSING, HostRecord, deep_merge, lookup

__all__ = ["CLASSES_KEY", "MISSING", "FactCache", "HostRecord", "StaleFacts", "deep_merge", "lookup",
           "open_cache", "store_gathered"]
