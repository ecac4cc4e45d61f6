"""The controller's view of modules: the registry, declaration checks, aggregates and docs.

``load_registry(config)`` is the entry point (see ``registry.py``); ``aggregate`` computes the
declared summaries over replies; ``docs`` renders ``orch agents`` text.
"""

from orch.agents.registry import AgentSpec, Registry, load_registry

__all__ = ["AgentSpec", "Registry", "load_registry"]
