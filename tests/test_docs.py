"""The generated docs (docs/schema.md, docs/cli.md) match the code they are generated from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_generated_docs_are_current() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_docs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr + "\nrun: python tools/gen_docs.py"


def test_every_doc_the_index_names_exists() -> None:
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    names = [part.split(")")[0] for part in index.split("](")[1:]]
    assert names
    for name in names:
        assert (ROOT / "docs" / name).is_file(), name
