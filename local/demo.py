"""Demo data, loaded through the HTTP API exactly as an integration would."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def shared_dir() -> Path:
    """``shared/`` beside the repository root; ``DIRIGENT_SHARED_DIR`` overrides."""
    env = os.environ.get("DIRIGENT_SHARED_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared"


def network_documents() -> dict[str, Any]:
    """The raw documents of ``shared/data/network-eu.json`` (a fresh copy on every call)."""
    return json.loads((shared_dir() / "data" / "network-eu.json").read_text(encoding="utf-8"))
