"""angelianotify: send a notification to the webhook this host is configured for.

Pushed to hosts and run there: standard library only, Python 3.6 compatible.

The endpoint comes from host.json's ``config.angelianotify`` (``url``, ``timeout``), never from
the caller, so a request cannot make a host post somewhere else. The message is POSTed as JSON
``{"recipient", "subject", "message", "sender"}`` with urllib; a connection failure or an HTTP
error status is Aborted with the reason.
"""

import json
import os
import urllib.error
import urllib.request

# Text without control characters other than tab and newline.
TEXT = "^[^\\x00-\\x08\\x0b-\\x1f\\x7f]*\\Z"

AGENT = {
    "name": "angelianotify",
    "description": "Send a notification through the host's configured webhook",
    "version": "1.0",
    "author": "orch",
    "license": "MIT",
    "timeout": 30,
    "actions": {
        "sendmsg": {
            "description": "POST a message for a recipient to the configured webhook",
            "inputs": {
                "recipient": {
                    "type": "string", "required": True, "prompt": "Recipient",
                    "description": "Who the message is for: a name, handle or e-mail address",
                    "validation": "^[a-zA-Z0-9_.@+#-]+\\Z", "maxlength": 128,
                },
                "message": {
                    "type": "string", "required": True, "prompt": "Message",
                    "description": "The message text",
                    "validation": TEXT, "maxlength": 4096,
                },
                "subject": {
                    "type": "string", "required": False, "default": "", "prompt": "Subject",
                    "description": "A subject line",
                    "validation": "^[^\\x00-\\x1f\\x7f]*\\Z", "maxlength": 256,
                },
            },
            "outputs": {
                "status": {"display_as": "Status", "description": "What the webhook answered",
                           "default": None},
                "code": {"display_as": "HTTP Code", "description": "The webhook's HTTP status",
                         "default": None},
            },
            "aggregate": [{"function": "summary", "args": ["code"]}],
        },
    },
}

DEFAULT_TIMEOUT = 10.0


def sendmsg(request):
    """POST the message; OK with the HTTP status, Aborted when the webhook fails or is down."""
    settings = request.host.config("angelianotify") or {}
    url = settings.get("url")
    if not url:
        host_json = os.path.join(getattr(request.host, "state_dir", None) or "/etc/orch",
                                 "host.json")
        request.abort("no webhook configured for this host: set config.angelianotify.url in "
                      + host_json)
        return {}
    if not (url.startswith("http://") or url.startswith("https://")):
        request.abort(f"webhook url {url!r} is not http(s)")
        return {}
    try:
        timeout = float(settings.get("timeout", DEFAULT_TIMEOUT))
    except (TypeError, ValueError):
        timeout = DEFAULT_TIMEOUT
    body = json.dumps({
        "recipient": request.args.get("recipient"),
        "subject": request.args.get("subject") or "",
        "message": request.args.get("message"),
        "sender": request.host.name,
    }).encode("utf-8")
    outgoing = urllib.request.Request(
        url, data=body, method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "orch-angelianotify/1.0"})
    try:
        response = urllib.request.urlopen(outgoing, timeout=timeout)
        try:
            answer = response.read(4096).decode("utf-8", "replace").strip()
            code = response.getcode()
        finally:
            response.close()
    except urllib.error.HTTPError as error:
        request.abort(f"webhook {url} answered HTTP {error.code} {error.reason}")
        return {}
    except (urllib.error.URLError, OSError) as error:
        request.abort("cannot reach webhook {}: {}".format(url, getattr(error, "reason", error)))
        return {}
    return {"status": answer[:200] or "sent", "code": code}
