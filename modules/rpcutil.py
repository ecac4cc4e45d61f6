"""rpcutil: ask a host whether it is alive and what it knows about itself.

MCollective's rpcutil agent, for orch. Pushed to hosts: standard library only, Python 3.6+.
"""

import sys
import time

AGENT = {
    "name": "rpcutil",
    "description": "General helpful actions: liveness, the host's facts, classes and modules",
    "version": "1.0",
    "author": "orch",
    "license": "MIT",
    "timeout": 10,
    "actions": {
        "ping": {
            "description": "Answer with the host's clock: proves the host runs requests",
            "inputs": {},
            "outputs": {
                "pong": {"display_as": "Timestamp", "description": "The host's time (epoch seconds)"},
            },
            "aggregate": [],
        },
        "inventory": {
            "description": "The host's facts, classes and modules, and the runtime's Python",
            "inputs": {},
            "outputs": {
                "facts": {"display_as": "Facts", "description": "Facts from the host's host.json"},
                "classes": {"display_as": "Classes", "description": "Classes the host has"},
                "agents": {"display_as": "Agents", "description": "Modules the host offers"},
                "python": {"display_as": "Python", "description": "Version of the host's python3"},
                "platform": {"display_as": "Platform", "description": "Operating system and machine"},
                "host": {"display_as": "Host", "description": "The host's name"},
            },
            "aggregate": [{"function": "summary", "args": ["python"]}],
        },
        "get_fact": {
            "description": "One fact's value (dotted keys reach nested facts)",
            "inputs": {
                "fact": {
                    "type": "string", "required": True, "prompt": "Fact",
                    "description": "The fact to get, e.g. cluster or os.family",
                    "validation": "^[\\w.-]+$", "maxlength": 200,
                },
            },
            "outputs": {
                "fact": {"display_as": "Fact", "description": "The fact asked for"},
                "value": {"display_as": "Value", "description": "Its value (null when missing)"},
            },
            "aggregate": [{"function": "summary", "args": ["value"]}],
        },
    },
}


def ping(request):
    return {"pong": int(time.time())}


def inventory(request):
    host = request.host
    return {
        "facts": host.facts,
        "classes": sorted(host.classes),
        "agents": sorted(host.agents),
        "python": "%d.%d.%d" % tuple(sys.version_info[:3]),
        "platform": _platform(),
        "host": host.name,
    }


def get_fact(request):
    name = request.args["fact"]
    return {"fact": name, "value": request.host.fact(name)}


def _platform():
    """``Linux 6.1.0 x86_64``; ``platform`` is imported here, not for every ping."""
    import platform

    return "%s %s %s" % (platform.system(), platform.release(), platform.machine())
