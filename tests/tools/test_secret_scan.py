"""tools/secret_scan.sh in a scratch git repository: new secrets fail, the baseline allows."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tools/secret_scan.sh"

# Built at run time so that this file itself holds nothing a scanner would flag.
FAKE_KEY_ID = "AKIA" + "IOSFODNN7EXAMPLE"
FAKE_AWS_SIGNER = "".join(["wJalrXUtnFEMI/K7MDENG/", "bPxRfiCYEXAMPLEKEY"])


def run(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["VIRTUAL_ENV"] = sys.prefix  # where detect-secrets is installed (the project venv)
    return subprocess.run(
        ["bash", "tools/secret_scan.sh", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repo with a copy of the scan script, a clean source file and a hashed lock."""
    if shutil.which("git") is None:
        pytest.fail("git is required")
    root = tmp_path / "repo"
    (root / "tools").mkdir(parents=True)
    shutil.copy(SCRIPT, root / "tools/secret_scan.sh")
    (root / "app.py").write_text('def greet(name: str) -> str:\n    return f"hello {name}"\n')
    (root / "requirements.lock.txt").write_text(
        "jinja2==3.1.6 \\\n"
        "    --hash=sha256:85ece4451f492d0c13c5dd7c13a64681a86afae63a5f347908daf103ce6d2f67\n"
    )
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    result = run(root, "--update-baseline")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "with 0 accepted finding(s)" in result.stdout
    return root


def plant_aws_key(path: Path) -> None:
    path.write_text(f'AWS_ACCESS_KEY_ID = "{FAKE_KEY_ID}"\naws_secret_access_key = "{FAKE_AWS_SIGNER}"\n')


def test_clean_tree_passes(repo: Path) -> None:
    result = run(repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no new secrets" in result.stdout
    assert "2 files" in result.stdout  # app.py and the script; not the lock or the baseline
    assert "not scanned: .secrets.baseline requirements.lock.txt" in result.stdout


def test_clean_new_file_passes(repo: Path) -> None:
    (repo / "settings.py").write_text('TOKEN_TTL_SECONDS = 3600\nISSUER = "https://id.example.com"\n')
    result = run(repo)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("tracked", [True, False])
def test_planted_aws_key_fails(repo: Path, tracked: bool) -> None:
    plant_aws_key(repo / "config.py")
    if tracked:
        subprocess.run(["git", "-C", str(repo), "add", "config.py"], check=True)
    baseline = (repo / ".secrets.baseline").read_bytes()
    result = run(repo)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "AWS Access Key" in result.stdout
    assert "config.py" in result.stdout
    assert "FAILED" in result.stderr
    assert (repo / ".secrets.baseline").read_bytes() == baseline  # a check never rewrites it


def test_accepted_secret_in_baseline_passes(repo: Path) -> None:
    plant_aws_key(repo / "fixture.py")
    assert run(repo, "--update-baseline").returncode == 0
    result = run(repo)
    assert result.returncode == 0, result.stdout + result.stderr
    # ... but a second secret is still caught.
    (repo / "other.py").write_text(f'KEY = "{FAKE_KEY_ID[:-1]}Z"\n')
    assert run(repo).returncode == 1


def test_secret_in_lock_file_is_not_scanned(repo: Path) -> None:
    plant_aws_key(repo / "requirements.lock.txt")
    assert run(repo).returncode == 0


def test_missing_baseline_fails_closed(repo: Path) -> None:
    (repo / ".secrets.baseline").unlink()
    result = run(repo)
    assert result.returncode == 2
    assert ".secrets.baseline is missing" in result.stderr
