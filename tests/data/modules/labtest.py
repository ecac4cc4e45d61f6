"""A module for the wire's integration tests: echo a sensitive input, sleep on request."""

import time

AGENT = {
    "name": "labtest",
    "description": "Test actions: echo with a secret, sleep",
    "version": "1.0",
    "author": "orch tests",
    "timeout": 30,
    "actions": {
        "echo": {
            "description": "Echo text; the secret only proves it arrived",
            "inputs": {
                "text": {"type": "string", "required": True, "validation": "^[a-z0-9 ]+$",
                         "maxlength": 40, "description": "text to echo"},
                "secret": {"type": "string", "required": False, "sensitive": True,
                           "description": "never shown anywhere"},
            },
            "outputs": {"text": {"display_as": "Text"}, "secret_length": {"display_as": "Secret length"}},
        },
        "sleep": {
            "description": "Sleep for a number of seconds",
            "inputs": {"seconds": {"type": "number", "required": True, "description": "how long"}},
            "outputs": {"slept": {"display_as": "Slept"}},
        },
    },
}


def echo(request):
    return {"text": request.args["text"], "secret_length": len(request.args.get("secret") or "")}


def sleep(request):
    time.sleep(float(request.args["seconds"]))
    return {"slept": request.args["seconds"]}
