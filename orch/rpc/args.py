"""Arguments checked on the controller exactly as the host will check them."""

from __future__ import annotations


def check_args(spec, action: str, args: dict) -> dict:
    """Coerce command-line strings to declared types, validate, fill defaults (InputError if bad).

    Values that already have their type (from a play) pass through coercion unchanged.
    """
    return spec.prepare_args(action, args, coerce=True)
