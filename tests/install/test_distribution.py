"""The wheel and sdist `uv build` makes: complete metadata, and a wheel that installs and runs.

The install test puts the wheel (with `--no-deps`) into a fresh venv whose dependencies come from
the locked dev environment through a `.pth` line, so it runs offline in seconds and imports
batmux from the wheel, never from `src/`. The `dist` marker adds the real thing: plain `pip`
resolving the wheel's dependencies from the configured index
(`BATMUX_TEST_DIST=1 uv run pytest -m dist tests/install`).
"""

from __future__ import annotations

import email.parser
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

import batmux
from conftest import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [uv, "build", "--offline", "-q", "-o", str(out), str(REPO)],
        check=True,
        timeout=120,
        capture_output=True,
    )
    return out


def _wheel(dist: Path) -> Path:
    (wheel,) = dist.glob("batmux-*.whl")
    return wheel


def _metadata(dist: Path) -> email.message.Message:
    with zipfile.ZipFile(_wheel(dist)) as zf:
        text = zf.read(f"batmux-{VERSION}.dist-info/METADATA").decode()
    return email.parser.Parser().parsestr(text)


def test_one_version_everywhere() -> None:
    assert batmux.__version__ == VERSION
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert f"## [{VERSION}]" in changelog  # the released version has its entry


def test_wheel_metadata_is_complete(dist: Path) -> None:
    meta = _metadata(dist)
    assert meta["Name"] == "batmux" and meta["Version"] == VERSION
    assert meta["License-Expression"] == "MIT"
    assert meta["License-File"] == "LICENSE"
    assert meta["Requires-Python"] == ">=3.11"
    assert meta["Summary"] and "text/markdown" in meta["Description-Content-Type"]
    classifiers = meta.get_all("Classifier")
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert "Operating System :: POSIX :: Linux" in classifiers
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert {"Homepage", "Source", "Issues", "Changelog", "Documentation"} <= set(urls)
    requires = {r.split(">")[0].split("<")[0].strip() for r in meta.get_all("Requires-Dist")}
    assert {"pydantic", "bleak", "aiomqtt", "pymodbus"} <= requires


def test_wheel_holds_every_module_and_the_entry_point(dist: Path) -> None:
    with zipfile.ZipFile(_wheel(dist)) as zf:
        names = set(zf.namelist())
        entry = zf.read(f"batmux-{VERSION}.dist-info/entry_points.txt").decode()
    src = REPO / "src"
    wanted = {p.relative_to(src).as_posix() for p in (src / "batmux").rglob("*.py")}
    assert wanted <= names
    assert "batmux/py.typed" in names
    assert f"batmux-{VERSION}.dist-info/licenses/LICENSE" in names
    assert "batmux = batmux.cli:main" in entry
    # Package data (vendored web assets when the dashboard lands) ships with the code.
    data = {
        p.relative_to(src).as_posix()
        for p in (src / "batmux").rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    }
    assert data <= names


def test_sdist_carries_sources_tests_and_packaging(dist: Path) -> None:
    (sdist,) = dist.glob("batmux-*.tar.gz")
    with tarfile.open(sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    for needed in (
        "pyproject.toml",
        "README.md",
        "CHANGELOG.md",
        "LICENSE",
        "src/batmux/cli.py",
        "tests/conftest.py",
        "packaging/venus/install.sh",
        "docs/install.md",
    ):
        assert needed in names, needed
    assert not any(n.startswith((".venv/", ".git/")) for n in names)


def _fresh_venv(tmp_path: Path) -> Path:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    # Dependencies from the locked environment; batmux itself must come from the wheel.
    (site / "locked_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def test_wheel_installs_and_runs_the_demo(dist: Path, tmp_path: Path) -> None:
    venv = _fresh_venv(tmp_path)
    python = venv / "bin" / "python"
    install = ["uv", "pip", "install", "--offline", "-q", "--no-deps", "--python", str(python)]
    subprocess.run(
        [*install, str(_wheel(dist))],
        check=True,
        timeout=60,
    )
    where = subprocess.run(
        [str(python), "-c", "import batmux; print(batmux.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    ).stdout
    assert where.startswith(str(venv)), where  # not the source tree
    batmux_exe = venv / "bin" / "batmux"
    helped = subprocess.run([batmux_exe, "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "check-config" in helped.stdout
    demo = subprocess.run(
        [batmux_exe, "demo", "--duration", "2"],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_path,
    )
    assert demo.returncode == 0, demo.stderr
    assert "embedded MQTT broker on mqtt://127.0.0.1:" in demo.stdout + demo.stderr
    assert "bank" in demo.stdout


@pytest.mark.dist
@pytest.mark.skipif(not os.environ.get("BATMUX_TEST_DIST"), reason="set BATMUX_TEST_DIST=1")
def test_plain_pip_installs_the_wheel_with_its_dependencies(dist: Path, tmp_path: Path) -> None:
    """Needs the package index, so it is opt-in."""
    venv = tmp_path / "pipvenv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [venv / "bin" / "pip", "install", "-q", str(_wheel(dist))], check=True, timeout=600
    )
    subprocess.run([venv / "bin" / "pip", "check"], check=True)
    demo = subprocess.run(
        [venv / "bin" / "batmux", "demo", "--duration", "2"],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_path,
    )
    assert demo.returncode == 0, demo.stderr


def test_readme_keeps_its_first_commands_and_has_an_install_section() -> None:
    readme = (REPO / "README.md").read_text()
    assert readme.startswith("# batmux\n\n```sh\nuv run batmux demo\nuv run pytest\n```\n")
    install = readme.split("## Install\n", 1)[1].split("\n## ", 1)[0]
    for platform in ("pipx", "systemd", "Docker", "Home Assistant", "Victron GX"):
        assert platform in install, platform
    assert "Not yet tried on real hardware" in install
