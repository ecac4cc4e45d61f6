"""The aggregate summaries a step prints, computed over its OK replies."""

from __future__ import annotations

from orch.rpc.result import StepResult


def summaries(declaration: dict, action: str, result: StepResult) -> list[tuple[str, list]]:
    """``[(title, lines)]`` for every aggregate the action declares."""
    from orch.agents.aggregate import summarize

    replies = [reply.data for reply in result.ok.values()]
    return [(item.title, item.lines) for item in summarize(declaration, action, replies)]
