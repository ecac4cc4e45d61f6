"""Inputs the controller resolves before a request leaves: local files and templates.

An input declared ``"controller": "local_file"`` names a file on the controller. The controller
reads it (at most ``maxsize`` bytes), and sends its bytes base64-encoded in the input named by
``"into"``; the input itself never reaches the host. When a boolean input declared
``"controller": "template"`` is true, or the file name ends in ``.j2``, the file is a Jinja2
template rendered for each host with that host's facts and inventory variables (Jinja2's
sandbox, undefined names are errors), so one call can send every host its own content::

    "src": {"type": "string", "optional": True, "controller": "local_file",
            "into": "content_b64", "maxsize": 1048576},
    "template": {"type": "boolean", "optional": True, "default": False,
                 "controller": "template"},

The file is read when the request is prepared (a missing or too big file is bad input, exit 2,
before any host is contacted); a template that fails for one host fails that host only.
"""

from __future__ import annotations

import base64
import functools
import os
from collections.abc import Mapping

from orch.errors import InputError, Where

LOCAL_FILE = "local_file"
TEMPLATE = "template"
KINDS = (LOCAL_FILE, TEMPLATE)
DEFAULT_MAXSIZE = 1024 * 1024
MAX_RENDERED = 16 * 1024 * 1024  # characters a template may build in one expression


def controller_inputs(action_spec: Mapping) -> dict[str, dict]:
    """The inputs of an action the controller resolves, by name."""
    inputs = action_spec.get("inputs") or {}
    return {name: spec for name, spec in inputs.items() if spec.get("controller")}


def _read(path: str, limit: int, where: Where) -> bytes:
    try:
        size = os.stat(path).st_size
        if size > limit:
            raise InputError(f"{path} is {size} bytes, over this input's limit of {limit} bytes",
                             where)
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}", where) from None
    if len(data) > limit:
        raise InputError(f"{path} is over this input's limit of {limit} bytes", where)
    return data


def _local_file(action_spec: Mapping, args: Mapping) -> tuple[str, dict] | None:
    for name, spec in controller_inputs(action_spec).items():
        if spec["controller"] == LOCAL_FILE and args.get(name) is not None:
            return name, spec
    return None


def _templated(action_spec: Mapping, args: Mapping, path: str) -> bool:
    if path.endswith(".j2"):
        return True
    return any(spec["controller"] == TEMPLATE and args.get(name)
               for name, spec in controller_inputs(action_spec).items())


def check(module: str, action: str, action_spec: Mapping, args: Mapping) -> None:
    """Fail early (InputError) when a local file cannot be read, is too big, or would be
    sent alongside the input it fills."""
    found = _local_file(action_spec, args)
    if found is None:
        return
    name, spec = found
    where = Where(None, None, f"{module}.{action} {name}")
    if args.get(spec["into"]) is not None:
        raise InputError(f"give {name} or {spec['into']}, not both", where)
    data = _read(str(args[name]), int(spec.get("maxsize") or DEFAULT_MAXSIZE), where)
    if _templated(action_spec, args, str(args[name])):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"template {args[name]} is not UTF-8 text", where) from None


def for_host(module: str, action: str, action_spec: Mapping, args: Mapping, host) -> dict:
    """The arguments one host receives: local file read (and rendered for ``host``) into its
    ``into`` input, the controller-only inputs dropped. InputError when rendering fails."""
    resolved = dict(args)
    found = _local_file(action_spec, args)
    for name in controller_inputs(action_spec):
        resolved.pop(name, None)
    if found is None:
        return resolved
    name, spec = found
    path = str(args[name])
    limit = int(spec.get("maxsize") or DEFAULT_MAXSIZE)
    where = Where(path, None, f"{module}.{action} {name}")
    data = _read(path, limit, where)
    if _templated(action_spec, args, path):
        data = render(data.decode("utf-8"), host, where).encode("utf-8")
        if len(data) > limit:
            raise InputError(f"rendered for {host.name}: {len(data)} bytes, over this input's "
                             f"limit of {limit} bytes", where)
    resolved[spec["into"]] = base64.b64encode(data).decode("ascii")
    return resolved


@functools.lru_cache(maxsize=1)
def _environment():
    """Jinja2's sandbox (no ``_`` attributes, no unsafe calls), undefined names are errors,
    text kept as is (no autoescape, trailing newline kept)."""
    import jinja2
    import jinja2.sandbox

    class Bounded(jinja2.sandbox.SandboxedEnvironment):
        """``*`` and ``**`` refuse results far bigger than a file may be (checked at run
        time: constant folding, which would compute them first, is off)."""

        intercepted_binops = frozenset({"*", "**"})

        def call_binop(self, context, op, left, right):
            if op == "**" and isinstance(right, int) and abs(right) > 10_000:
                raise OverflowError("exponent too large")
            if op == "*":
                for count, other in ((left, right), (right, left)):
                    if isinstance(count, int) and isinstance(other, str | list | tuple) and \
                            count * max(len(other), 1) > MAX_RENDERED:
                        raise OverflowError("repetition too large")
            return super().call_binop(context, op, left, right)

    return Bounded(undefined=jinja2.StrictUndefined, autoescape=False,
                   keep_trailing_newline=True, optimized=False)


def render(text: str, host, where: Where) -> str:
    """``text`` rendered with the host's variables at top level, plus ``facts``, ``vars`` and
    ``inventory_hostname``; Jinja2's sandbox with strict undefined names."""
    import jinja2

    variables = dict(getattr(host, "vars", None) or {})
    context = {**variables, "vars": variables, "facts": dict(getattr(host, "facts", None) or {}),
               "inventory_hostname": host.name}
    try:
        return _environment().from_string(text).render(context)
    except jinja2.TemplateSyntaxError as error:
        raise InputError(f"template syntax: {error.message}",
                         Where(where.file, error.lineno, where.path)) from None
    except jinja2.TemplateError as error:
        raise InputError(f"template error for {host.name}: {error}", where) from None
    except Exception as error:  # noqa: BLE001 - a template's run-time failure is its error
        raise InputError(f"template failed for {host.name}: {type(error).__name__}: {error}",
                         where) from None
