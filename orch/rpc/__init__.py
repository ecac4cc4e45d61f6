"""Requests to hosts: the session that fans a call out, the channel to each host's runtime,
and the results and summaries a step returns."""
