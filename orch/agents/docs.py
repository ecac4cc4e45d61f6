"""``orch agents`` text, rendered from the declarations (so docs and validation cannot drift).

Plain text only, shaped like MCollective's ``mco plugin doc``: the CLI prints what these
functions return. Nothing here prints.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from orch.agents.registry import AgentSpec
from orch.runtime import core


def agents_table(specs: Iterable[AgentSpec]) -> str:
    """One line per module: name, version, description, in aligned columns."""
    rows = [("NAME", "VERSION", "DESCRIPTION")] + [
        (spec.name, spec.version, spec.description) for spec in specs]
    name_width = max(len(row[0]) for row in rows)
    version_width = max(len(row[1]) for row in rows)
    return "\n".join(f"{name:<{name_width}}  {version:<{version_width}}  {text}".rstrip()
                     for name, version, text in rows) + "\n"


def _field(label: str, value, width: int = 12) -> str:
    return f"{label.rjust(width)}: {value}"


def _show(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def agent_doc(spec: AgentSpec) -> str:
    """The full manual of one module: metadata, then every action's inputs, outputs, aggregates."""
    declaration = spec.declaration
    title = f"{spec.name.upper()} MODULE"
    out = [title, "=" * len(title), "", declaration.get("description", ""), ""]
    for label, key in (("Author", "author"), ("Version", "version"), ("License", "license"),
                       ("Timeout", "timeout"), ("Home Page", "url")):
        if declaration.get(key) not in (None, ""):
            out.append("   " + _field(label, declaration[key], 9))
    out.append("   " + _field("Source", spec.path, 9))
    actions = declaration["actions"]
    out += ["", "ACTIONS:", "========", "   " + ", ".join(sorted(actions)), ""]
    for name in sorted(actions):
        out += _action_doc(name, actions[name])
    return "\n".join(out).rstrip() + "\n"


def _action_doc(name: str, action: dict) -> list[str]:
    heading = f"{name} action:"
    out = ["   " + heading, "   " + "-" * len(heading)]
    if action.get("description"):
        out += ["       " + action["description"], ""]
    out.append("       INPUT:")
    inputs = action.get("inputs") or {}
    if not inputs:
        out += ["           This action does not have any inputs", ""]
    for input_name in sorted(inputs):
        spec = inputs[input_name]
        out.append(f"           {input_name}:")
        rows = [("Description", spec.get("description")), ("Prompt", spec.get("prompt")),
                ("Type", spec.get("type", "string")),
                ("Required", "yes" if core.input_required(spec) else "no")]
        if spec.get("default") is not None:
            rows.append(("Default", _show(spec["default"])))
        if spec.get("validation"):
            rows.append(("Validation", spec["validation"]))
        if spec.get("maxlength"):
            rows.append(("Length", spec["maxlength"]))
        if spec.get("sensitive"):
            rows.append(("Sensitive", "yes (masked in logs and output)"))
        out += ["              " + _field(label, value) for label, value in rows if value is not None]
        out.append("")
    out.append("       OUTPUT:")
    outputs = action.get("outputs") or {}
    if not outputs:
        out += ["           This action does not declare any outputs", ""]
    for output_name in sorted(outputs):
        spec = outputs[output_name] or {}
        out.append(f"           {output_name}:")
        rows = [("Description", spec.get("description")),
                ("Display As", spec.get("display_as") or output_name)]
        if spec.get("default") is not None:
            rows.append(("Default", _show(spec["default"])))
        out += ["              " + _field(label, value) for label, value in rows if value is not None]
        out.append("")
    aggregates = action.get("aggregate") or []
    if aggregates:
        out.append("       SUMMARIZE:")
        for item in aggregates:
            args = ", ".join(_show(arg) for arg in item.get("args") or [])
            extra = f" (format {item['format']})" if item.get("format") else ""
            out.append(f"           {item['function']}({args}){extra}")
        out.append("")
    return out


def agent_data(spec: AgentSpec) -> dict:
    """What ``orch agents NAME --json`` prints: the declaration plus where it came from."""
    return {"name": spec.name, "path": spec.path, "hash": spec.hash,
            "declaration": spec.declaration}
