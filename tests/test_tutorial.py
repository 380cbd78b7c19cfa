"""docs/tutorial.md runs as written: every shell block prints exactly the block shown after it.

The blocks run in order in a temporary directory that sees the repository's fixtures, with the
test's own Python environment first on PATH (the tutorial activates .venv). ``make demo`` is
replaced by the command the Makefile runs for it, which the test checks.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "docs" / "tutorial.md"
DEMO = "tracer investigate fixtures/evm-exchange-hack/case.toml --out out/demo"
BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.DOTALL)


def test_make_demo_runs_the_command_the_tutorial_names() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "DEMO_CASE := fixtures/evm-exchange-hack/case.toml" in makefile
    assert "DEMO_OUT := out/demo" in makefile
    assert "tracer investigate $(DEMO_CASE) --out $(DEMO_OUT)" in makefile
    assert f"`{DEMO}`" in TUTORIAL.read_text(encoding="utf-8")


def test_every_command_prints_what_the_tutorial_shows(tmp_path: Path) -> None:
    work = tmp_path.resolve()
    (work / "fixtures").symlink_to(ROOT / "fixtures")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    blocks = BLOCK.findall(TUTORIAL.read_text(encoding="utf-8"))
    ran = 0
    for i, (lang, body) in enumerate(blocks):
        if lang != "sh" or body.strip() == "source .venv/bin/activate":
            continue
        command = DEMO if body.strip() == "make demo" else body
        done = subprocess.run(
            ["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True, check=False
        )
        shown = blocks[i + 1] if i + 1 < len(blocks) else ("sh", "")
        ran += 1
        if shown[0] != "":  # no output shown: the command must just succeed
            assert done.returncode == 0, f"{body}\n{done.stdout}{done.stderr}"
            continue
        expected = shown[1].replace("/path/to/tracer", str(work))
        assert done.stdout + done.stderr == expected, f"docs/tutorial.md block:\n{body}"
    assert ran == 11
