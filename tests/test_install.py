"""The README's install commands, run for real in a fresh venv: a wheel from `make dist`, a git URL and a checkout.

One venv serves all three (dependencies resolve once, from PyPI or pip's cache; each form then reinstalls only
fake-llm), and builds use the hatchling of that venv (`--no-build-isolation`), so the test stays quick.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from fake_llm import __version__

ROOT = Path(__file__).resolve().parent.parent
#: Bound on every step: a cold pip cache downloads the dependencies once (a few MB), a warm one takes seconds.
STEP_TIMEOUT = 300

pytestmark = pytest.mark.install


def run(*args: str | Path, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "COVERAGE", "PYTEST"))}
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT, check=False
    )
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def check_installed(bin_dir: Path, project: Path) -> None:
    """`fake-llm --version` works, and pytest in another project lists the `fake_llm` fixture."""
    assert run(bin_dir / "fake-llm", "--version", cwd=project).strip() == f"fake-llm {__version__}"
    fixtures = run(bin_dir / "python", "-m", "pytest", "--fixtures", "-p", "no:cacheprovider", cwd=project)
    assert "fake_llm [session scope]" not in fixtures  # the per-test fixture, listed with its docstring
    assert "\nfake_llm -- " in fixtures or "\nfake_llm\n" in fixtures
    assert "fake_llm_server [session scope]" in fixtures


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git for the git URL form")
def test_the_readme_install_commands_work_in_a_fresh_venv(tmp_path: Path) -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the git URL form cannot be tried")
    project = tmp_path / "project"  # another project, so nothing is imported from this checkout
    project.mkdir()
    (project / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bin_dir = env_dir / ("Scripts" if sys.platform == "win32" else "bin")
    pip = (bin_dir / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check")
    # The pip a venv starts with may predate `name @ git+file://` URLs (pip < 23.3 rejects them); users upgrade too.
    run(*pip, "--upgrade", "pip", cwd=project)

    # 1. The wheel `make dist` builds (the same pip command), installed with its dependencies.
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", dist, ROOT, cwd=ROOT)
    (wheel,) = dist.glob("fake_llm-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    # The bundled pack, the payload file it reads and the specs `fake-llm lint` checks against ship; our golden
    # transcripts do not.
    assert "fake_llm/_bundled/scenarios/basics.yaml" in names
    assert "fake_llm/_bundled/fixtures/essay.txt" in names
    assert "fake_llm/_bundled/fixtures/specs/openai/openapi.yaml" in names
    assert not [name for name in names if "/golden/" in name]
    run(*pip, wheel, "pytest", "hatchling", cwd=project)
    check_installed(bin_dir, project)

    # 2. A git URL: `pip install "fake-llm @ git+https://..."`, here the local repository's committed HEAD.
    commit = run("git", "rev-parse", "HEAD", cwd=ROOT).strip()
    run(bin_dir / "python", "-m", "pip", "uninstall", "-q", "-y", "fake-llm", cwd=project)
    run(*pip, "--no-build-isolation", f"fake-llm @ git+file://{ROOT}@{commit}", cwd=project)
    check_installed(bin_dir, project)

    # 3. A checkout: `pip install .` from the clone.
    run(bin_dir / "python", "-m", "pip", "uninstall", "-q", "-y", "fake-llm", cwd=project)
    run(*pip, "--no-build-isolation", ROOT, cwd=project)
    check_installed(bin_dir, project)


def test_the_readme_gives_the_tested_install_forms_and_warns_about_the_index_name() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Install") : readme.index("## Contents")]
    assert 'pip install "fake-llm @ git+https://' in section
    assert "pip install .  " in section
    assert "make dist && pip install dist/fake_llm-*.whl" in section
    assert "not on PyPI yet" in section
    assert "`fakellm`" in section


def test_make_run_installs_the_package_only() -> None:
    """`make run` on a fresh clone: the package (what serving needs), not the test and lint tools."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("needs make")
    planned = run(make, "-n", "run", "VENV=/nonexistent/.venv", cwd=ROOT)
    installs = [line for line in planned.splitlines() if "pip install" in line and "--upgrade pip" not in line]
    assert installs == ["/nonexistent/.venv/bin/python -m pip install -q -e ."]
    for target, extra in (("test", "test"), ("lint", "lint")):
        planned = run(make, "-n", target, "VENV=/nonexistent/.venv", cwd=ROOT)
        assert f"/nonexistent/.venv/bin/python -m pip install -q -e '.[{extra}]'" in planned
