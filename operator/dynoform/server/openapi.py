"""The OpenAPI description of what the server serves, generated from the app (committed as
docs/platform-api.openapi.json; a unit test fails when it is stale).

Usage: python -m dynoform.server.openapi docs/platform-api.openapi.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from dynoform.server.app import create_app


def document() -> str:
    return json.dumps(create_app().openapi(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(document())
