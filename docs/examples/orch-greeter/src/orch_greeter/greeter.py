"""greeter: say hello, and keep the last greeting in a file on the host.

Runs on the hosts: Python 3.6+, standard library, orch_runtime and its declared helpers only.
"""

import os

from orch_runtime import Abort, action, atomic_write, run

import orchutil_greeting

AGENT = {
    "name": "greeter",
    "description": "Say hello and keep the last greeting on the host",
    "version": "1.0",
    "author": "you",
    "license": "MIT",
    "timeout": 30,
    "requires": ["orchutil_greeting"],
    "actions": {
        "greet": {
            "description": "Write a greeting to <state>/greeting (changed when it differs)",
            "check_mode": True,
            "inputs": {
                "name": {"type": "string", "required": True, "prompt": "Who",
                         "validation": "^[a-z]+$", "maxlength": 32},
            },
            "outputs": {
                "greeting": {"display_as": "Greeting", "default": None},
                "changed": {"display_as": "Changed", "default": False},
                "kernel": {"display_as": "Kernel", "default": None},
            },
            "aggregate": [{"function": "summary", "args": ["greeting"]}],
        },
    },
}


@action("greet")
def greet(request):
    text = orchutil_greeting.greeting(request.args["name"]) + "\n"
    path = os.path.join(request.host.state_dir, "greeting")
    try:
        with open(path) as handle:
            changed = handle.read() != text
    except FileNotFoundError:
        changed = True
    uname = run(["uname", "-s"])
    if not uname.ok:
        raise Abort("uname failed: " + uname.stderr_tail())
    if changed and not request.check_mode:
        atomic_write(path, text, mode=0o644)
    return {"greeting": text.strip(), "changed": changed, "kernel": uname.stdout.strip()}
