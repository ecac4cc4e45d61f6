"""orch: an agentless fleet orchestrator over plain SSH."""

__version__ = "0.1.0"
