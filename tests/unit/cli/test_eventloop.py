"""Which event loop a fleet run gets: uvloop by default, asyncio's own on request."""

from __future__ import annotations

import asyncio
import sys

import pytest

from orch.cli import eventloop
from orch.errors import InputError


async def _running_loop() -> str:
    await asyncio.sleep(0)
    return eventloop.loop_name(asyncio.get_running_loop())


def _run_with(environ: dict) -> str:
    return eventloop.run(_running_loop(), eventloop.loop_factory(environ))


def test_uvloop_by_default():
    pytest.importorskip("uvloop", reason="uvloop is a dependency; this venv lacks it")
    assert _run_with({}) == "uvloop"
    assert _run_with({"ORCH_EVENT_LOOP": "uvloop"}) == "uvloop"


def test_asyncio_on_request():
    assert eventloop.loop_factory({"ORCH_EVENT_LOOP": "asyncio"}) is None
    assert _run_with({"ORCH_EVENT_LOOP": " AsyncIO "}) == "asyncio"


def test_without_uvloop_auto_falls_back_and_uvloop_is_refused(monkeypatch):
    monkeypatch.setitem(sys.modules, "uvloop", None)  # None in sys.modules: import fails
    assert _run_with({}) == "asyncio"
    with pytest.raises(InputError) as raised:
        eventloop.loop_factory({"ORCH_EVENT_LOOP": "uvloop"})
    assert "ORCH_EVENT_LOOP" in str(raised.value) and "not installed" in str(raised.value)


def test_unknown_loop_is_bad_input_naming_the_variable():
    with pytest.raises(InputError) as raised:
        eventloop.loop_factory({"ORCH_EVENT_LOOP": "trio"})
    assert "ORCH_EVENT_LOOP" in str(raised.value) and "'trio'" in str(raised.value)


def test_run_returns_the_result_and_raises_what_main_raises():
    async def fails() -> None:
        raise ValueError("boom")

    loop = eventloop.loop_factory({})
    assert eventloop.run(asyncio.sleep(0, result=7), loop) == 7
    with pytest.raises(ValueError, match="boom"):
        eventloop.run(fails(), loop)
