"""The host's own deadline cannot be swallowed by a module's ``except Exception``."""

import time

import pytest

from orch.runtime import core


def test_a_broad_except_in_a_module_does_not_swallow_the_timeout():
    def stubborn(request):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                time.sleep(0.01)
            except Exception:  # what a careless module does
                pass
        return {"finished": True}

    started = time.monotonic()
    with pytest.raises(core.ActionTimeout):
        core._call_with_timeout(stubborn, None, 0.2)
    assert time.monotonic() - started < 2
    assert not issubclass(core.ActionTimeout, Exception)


def test_an_exception_names_the_module_file_and_line():
    source = "AGENT = {'name': 'demo', 'actions': {}}\n\ndef go(request):\n    return 1 / 0\n"
    module = core.load_module("demo", source)
    try:
        module.go(None)
    except ZeroDivisionError as error:
        assert core.describe_error(error, module) == "demo.py:4: ZeroDivisionError: division by zero"
