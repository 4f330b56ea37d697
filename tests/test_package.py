"""`pip install .` gives a working `mend`: installed into a fresh virtualenv from a copy
of the checkout, it shows its help, starts against the stand-in, and answers /readyz and
/metrics with its data files loaded from the package, not from the checkout.

Fast and offline: the new virtualenv sees the test run's own site-packages (a .pth
file) for the dependencies, and pip builds with what is installed (`--no-deps
--no-build-isolation --no-index`), so nothing is downloaded.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("bot", "handlers", "standin", "data", "pyproject.toml", "README.md")


def copy_checkout(dest: Path) -> Path:
    """The files a `pip install .` reads, without databases, caches or the corpus."""
    ignore = shutil.ignore_patterns("__pycache__", "*.db", "*.db-*", "corpus", "*.pyc")
    for name in SHIPPED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=ignore)
        else:
            shutil.copy2(source, dest / name)
    return dest


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtualenv with Mend installed from the checkout; returns its bin/."""
    work = tmp_path_factory.mktemp("package")
    source = copy_checkout(work / "src")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; "
                              "print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    # The dependencies (and setuptools, wheel) of the environment running the tests.
    Path(purelib, "_mend_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", str(source)],
        capture_output=True, text=True, timeout=300, env=clean_env())
    assert done.returncode == 0, done.stdout + done.stderr
    return venv / "bin"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "MEND_", "PYTHON", "PIP_INDEX"))}
    return {**env, **extra}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_every_package_of_the_checkout_is_in_the_distribution():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for top in ("bot", "handlers", "standin") for p in (ROOT / top).rglob("__init__.py")}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert config["project"]["scripts"]["mend"] == "bot.__main__:cli"


def test_mend_help_from_the_installed_package(installed, tmp_path):
    done = subprocess.run([str(installed / "mend"), "--help"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, env=clean_env())
    assert done.returncode == 0, done.stderr
    assert "mend sandbox" in done.stdout and "/metrics" in done.stdout
    where = subprocess.run(
        [str(installed / "python"), "-c", "import bot, standin; "
         "from bot.domain.datafiles import data_dir; from standin.sandbox import STATIC; "
         "print(bot.__file__); print(data_dir()); print((STATIC / 'index.html').is_file())"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, env=clean_env())
    module, data, static = where.stdout.split()
    assert str(ROOT) not in module and str(ROOT) not in data
    assert (Path(data) / "playbook.yaml").is_file() and (Path(data) / "coach.yaml").is_file()
    assert static == "True"


async def test_installed_mend_serves_readyz_and_metrics_against_the_stand_in(installed,
                                                                              slack, tmp_path):
    port = free_port()
    env = clean_env(SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET="s",
                    SLACK_API_URL=slack.api_url, PORT=str(port), MEND_LOG_FORMAT="json",
                    MEND_REPLICA_ID="replica-7")
    proc = await asyncio.create_subprocess_exec(
        str(installed / "mend"), cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        ready = await wait_ready(f"http://127.0.0.1:{port}", proc)
        assert ready["ready"] and ready["database"] == "reachable"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                assert resp.status == 200
                text = await resp.text()
        assert "mend_cases_opened_total 0.0" in text
        assert 'mend_replica_info{replica="replica-7"} 1.0' in text
        assert (tmp_path / "data" / "mend.db").is_file()  # under the working directory
    finally:
        proc.terminate()
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    lines = [json.loads(line) for line in err.decode().splitlines() if line.strip()]
    assert lines and all(line["replica"] == "replica-7" for line in lines)
    assert any("listening on port" in line["message"] for line in lines)


async def wait_ready(url: str, proc, seconds: float = 30) -> dict:
    async with aiohttp.ClientSession() as http:
        for _ in range(int(seconds * 10)):
            if proc.returncode is not None:
                raise AssertionError((await proc.stderr.read()).decode())
            try:
                async with http.get(url + "/readyz") as resp:
                    if resp.status == 200:
                        return await resp.json()
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("mend never became ready")
