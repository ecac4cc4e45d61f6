"""orch's remote runtime: ``bootstrap`` (the first stage) and ``core`` (the file pushed to hosts)."""
