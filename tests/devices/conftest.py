"""The device tests reuse the wire server helpers (tests/resolver/wire)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "resolver" / "wire"))
