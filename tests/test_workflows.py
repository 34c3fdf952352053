"""The GitHub workflow files validate against GitHub's workflow schema (vendored by check-jsonschema, offline)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

WORKFLOWS = sorted((Path(__file__).resolve().parents[1] / ".github" / "workflows").glob("*.yml"))


def test_there_are_workflows_for_tests_site_and_gpu():
    text = "\n".join(w.read_text() for w in WORKFLOWS)
    assert len(WORKFLOWS) >= 2
    for needle in ("windows-latest", "macos-latest", "self-hosted", "--device cuda", "deploy-pages", "make test"):
        assert needle in text


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_github_schema(workflow):
    exe = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) or shutil.which("check-jsonschema")
    if exe is None:
        pytest.skip("check-jsonschema is not installed (pip install -e .[dev])")
    done = subprocess.run([exe, "--builtin-schema", "vendor.github-workflows", str(workflow)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
