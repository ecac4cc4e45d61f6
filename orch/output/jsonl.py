"""``--json``: one JSON object per event, the source every other view is rendered from."""

from __future__ import annotations

import json
from typing import TextIO


class JsonLinesRenderer:
    def __init__(self, stream: TextIO):
        self.stream = stream

    def __call__(self, event) -> None:
        self.stream.write(json.dumps(event.to_dict(), default=str, sort_keys=False) + "\n")
        self.stream.flush()
