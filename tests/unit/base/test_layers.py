"""The layer contracts of ARCHITECTURE.md, run by the real `lint-imports` on the real package and on copies
with one deliberate violation each (so a contract that stopped checking anything would fail here)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--config", str(project / ".importlinter")],
                          cwd=project, env={"PYTHONPATH": str(project), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("layers")
    shutil.copytree(ROOT / "imgsearch_core", copy / "imgsearch_core",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / ".importlinter", copy / ".importlinter")
    return copy


def test_the_package_keeps_every_contract() -> None:
    run = lint(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


@pytest.mark.parametrize(("module", "line", "broken"), [
    ("store/collection.py", "from imgsearch_core.models import embed", {"Layers"}),
    ("models/train.py", "from imgsearch_core.store import lock", {"Layers"}),
    ("text/bm25.py", "from imgsearch_core.evaluation import metrics", {"Layers"}),
    ("ingest/sources.py", "from imgsearch_core.search import fusion", {"Layers", "Ingest and search"}),
    ("media/images.py", "import streamlit", {"Streamlit"}),
    ("search/fusion.py", "import torch", {"torch"}),
])
def test_a_deliberate_violation_breaks_its_contract(project_copy: Path, module: str, line: str, broken: set[str]) -> None:
    path = project_copy / "imgsearch_core" / module
    original = path.read_text()
    try:
        path.write_text(original + f"\n{line}  # deliberate violation\n")
        run = lint(project_copy)
    finally:
        path.write_text(original)
    assert run.returncode == 1, run.stdout + run.stderr
    broken_lines = [text for text in run.stdout.splitlines() if text.rstrip().endswith("BROKEN")]
    assert {word for word in broken for text in broken_lines if word in text} == broken, run.stdout
    assert len(broken_lines) == len(broken), run.stdout
    assert module.replace("/", ".").removesuffix(".py") in run.stdout
