"""Make ``tracer`` and ``heuristics`` resolve to the packages, not to the test folders.

pytest's ``prepend`` import mode puts ``tests/`` on ``sys.path``, where ``tests/tracer`` and
``tests/heuristics`` (no ``__init__.py``) would shadow the packages as namespace packages unless
the repository root is on ``sys.path`` too (a regular package wins over namespace portions).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[3])
if ROOT not in sys.path:
    sys.path.append(ROOT)
