"""The pytest plugin (registered through the ``pytest11`` entry point, so installing the package is enough).

Fixtures:

- ``fortimock`` (session): one ``fortimock up`` for the whole session on free ports, in a temporary data
  dir, stopped at the end; a :class:`~fortimock.Lab` with ``urls``, ``ca_path`` and the client.
- ``fortimock_lab`` (function): the same lab, reset before the test (records, scenarios, journals, clock).

Options (each also an ini key with dashes as underscores, e.g. ``fortimock_plain_http = true``):
``--fortimock-bin``, ``--fortimock-plain-http``, ``--fortimock-data-dir`` (kept after the session),
``--fortimock-fixtures``, ``--fortimock-config``.

Every listener runs on a free port (:data:`PORT_FLAGS`), so labs of parallel sessions (pytest-xdist, two CI
jobs on one machine) never collide. When the lab guards its control plane with an admin token (``admin-token``
or ``admin-token-file`` in the config file, or a bind address other than loopback, where fortimock generates
one into the data dir), the client sends it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any, Dict, Iterator, List, Optional

import pytest

from .client import Lab

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the tomli backport has the same API
    import tomli as tomllib

__all__ = ["Fortimock", "PORT_FLAGS", "find_binary", "start"]

PORT_FLAGS = (
    "--forticare-port",
    "--ftm-port",
    "--push-port",
    "--phone-port",
    "--appliance-port",
    "--smtp-port",
    "--ui-port",
)
"""Every listener's port flag of ``fortimock up`` that has a fixed default: :func:`start` passes 0 (a free
port) for each. (``--dns-port`` is off unless given, and stays off.)"""

_ADMIN_TOKEN_FILE = "admin-token"

_OPTIONS = {
    "fortimock-bin": ("the fortimock binary (default: the one this package installed, then PATH)", None),
    "fortimock-plain-http": ("serve plain HTTP instead of HTTPS", "bool"),
    "fortimock-data-dir": ("keep the suite's data in this directory (default: a temporary one, removed)", None),
    "fortimock-fixtures": ("licenses and API users to start with (a fixtures file; default: the built-in lab)", None),
    "fortimock-config": ("a fortimock.toml for the suite's other settings", None),
}

_START_TIMEOUT_SECS = 60.0

# How long each session lab took to start, for the terminal summary.
_started: List[float] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fortimock", "fortimock: the Fortinet cloud behind FortiToken")
    for name, (help_text, kind) in _OPTIONS.items():
        if kind == "bool":
            group.addoption(f"--{name}", action="store_true", default=None, help=help_text)
            parser.addini(name.replace("-", "_"), help_text, type="bool", default=False)
        else:
            group.addoption(f"--{name}", default=None, metavar="PATH", help=help_text)
            parser.addini(name.replace("-", "_"), help_text, default="")


def _option(config: pytest.Config, name: str) -> Any:
    value = config.getoption(name.replace("-", "_"))
    if value is None:
        value = config.getini(name.replace("-", "_")) or None
    return value


def find_binary(explicit: Optional[str] = None) -> str:
    """The ``fortimock`` executable: ``explicit``, else the one installed beside this package's Python
    (the wheel's scripts), else the first on PATH."""
    if explicit:
        return explicit
    name = "fortimock.exe" if sys.platform == "win32" else "fortimock"
    for scheme_path in (sysconfig.get_path("scripts"), sysconfig.get_path("scripts", f"{os.name}_user")):
        if scheme_path and (Path(scheme_path) / name).is_file():
            return str(Path(scheme_path) / name)
    found = shutil.which("fortimock")
    if found is None:
        raise FileNotFoundError("no fortimock binary: pip install fortimock, or pass --fortimock-bin PATH")
    return found


class Fortimock(Lab):
    """A ``fortimock up`` this process started: a :class:`~fortimock.Lab` plus its process and data dir."""

    def __init__(
        self,
        process: "subprocess.Popen[bytes]",
        data_dir: Path,
        urls: Dict[str, str],
        ca_path: Optional[str],
        started_in_secs: float,
        cleanup: "Optional[tempfile.TemporaryDirectory[str]]",
        admin_token: Optional[str] = None,
    ) -> None:
        super().__init__(urls, ca_path, admin_token)
        self.process = process
        self.data_dir = data_dir
        self.log_path = data_dir / "fortimock.log"
        self.started_in_secs = started_in_secs
        self._cleanup = cleanup

    def stop(self) -> None:
        """Stops the suite (SIGTERM, then kill) and removes a temporary data dir."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.session.close()
        if self._cleanup is not None:
            self._cleanup.cleanup()
            self._cleanup = None


def start(
    binary: Optional[str] = None,
    *,
    plain_http: bool = False,
    data_dir: Optional[str] = None,
    fixtures: Optional[str] = None,
    config: Optional[str] = None,
    admin_token: Optional[str] = None,
) -> Fortimock:
    """Starts ``fortimock up`` on free ports and returns once every service is ready. Settings come only
    from these arguments (and ``config``): ``FORTIMOCK_*`` variables of this process are not passed on.

    ``admin_token`` guards the control plane with that token (``--admin-token``); without it the client
    still sends the token the lab uses when there is one (from ``config``, or generated into the data dir
    because ``config`` binds to an address other than loopback)."""
    begun = time.monotonic()
    cleanup: "Optional[tempfile.TemporaryDirectory[str]]" = None
    if data_dir is None:
        cleanup = tempfile.TemporaryDirectory(prefix="fortimock-")
        root = Path(cleanup.name)
    else:
        root = Path(data_dir).resolve()
        root.mkdir(parents=True, exist_ok=True)
    data = root / "data"
    ready_file = root / "ready.json"
    if ready_file.exists():
        ready_file.unlink()
    log_path = root / "fortimock.log"
    argv: List[str] = [find_binary(binary), "up", "--data-dir", str(data), "--ready-file", str(ready_file)]
    for flag in PORT_FLAGS:
        argv += [flag, "0"]
    if admin_token:
        argv += ["--admin-token", admin_token]
    if plain_http:
        argv.append("--plain-http")
    if fixtures:
        argv += ["--fixtures", str(Path(fixtures).resolve())]
    if config:
        argv += ["--config", str(Path(config).resolve())]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORTIMOCK_")}
    with open(log_path, "wb") as log:
        # The working directory is the lab's own, so a fortimock.toml where pytest runs is not read.
        process = subprocess.Popen(argv, cwd=root, env=env, stdout=subprocess.PIPE, stderr=log)
    assert process.stdout is not None
    if not _banner_within(process.stdout, _START_TIMEOUT_SECS) or not ready_file.is_file():
        process.kill()
        process.wait()
        log_text = log_path.read_text(errors="replace")
        if cleanup is not None:
            cleanup.cleanup()
        raise RuntimeError(f"fortimock up did not become ready (exit {process.returncode}): {log_text}")
    # Nothing else comes on stdout; fortimock keeps running with it closed.
    process.stdout.close()
    urls = json.loads(ready_file.read_text())
    ca_path = None if plain_http else str(data / "tls" / "ca.pem")
    token = admin_token or _lab_admin_token(root, data, config)
    return Fortimock(process, root, urls, ca_path, time.monotonic() - begun, cleanup, token)


def _lab_admin_token(root: Path, data: Path, config: Optional[str]) -> Optional[str]:
    """The token a started lab guards its control plane with, as fortimock chose it: the config file's
    ``admin-token``, else the file its ``admin-token-file`` names (relative to the lab's directory, where
    fortimock runs), else the one generated into ``<data-dir>/admin-token``; ``None`` when it has none."""
    settings: Dict[str, Any] = {}
    if config:
        with open(config, "rb") as file:
            settings = tomllib.load(file)
    given = settings.get("admin-token")
    if isinstance(given, str) and given.strip():
        return given.strip()
    named = settings.get("admin-token-file")
    candidates = [root / named] if isinstance(named, str) and named else []
    candidates.append(data / _ADMIN_TOKEN_FILE)
    for path in candidates:
        if path.is_file():
            return path.read_text().strip() or None
    return None


def _banner_within(stdout: IO[bytes], timeout: float) -> bool:
    """Reads the banner up to its last line; ``False`` if stdout closes or ``timeout`` passes first."""
    seen = threading.Event()

    def read() -> None:
        for line in stdout:
            if line.startswith(b"Ctrl-C stops"):
                seen.set()
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    return seen.is_set()


@pytest.fixture(scope="session")
def fortimock(request: pytest.FixtureRequest) -> Iterator[Fortimock]:
    """One ``fortimock up`` for the test session: base URLs in ``urls``, the lab CA in ``ca_path`` (or
    ``verify``, for ``requests``), the control-plane client, and ``started_in_secs``."""
    config = request.config
    lab = start(
        _option(config, "fortimock-bin"),
        plain_http=bool(_option(config, "fortimock-plain-http")),
        data_dir=_option(config, "fortimock-data-dir"),
        fixtures=_option(config, "fortimock-fixtures"),
        config=_option(config, "fortimock-config"),
    )
    _started.append(lab.started_in_secs)
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture
def fortimock_lab(fortimock: Fortimock) -> Fortimock:
    """The session's fortimock, reset before this test: fixtures back, no scenarios, empty journals, the
    clock on real time."""
    fortimock.reset()
    return fortimock


def pytest_report_header(config: pytest.Config) -> str:
    try:
        binary = find_binary(_option(config, "fortimock-bin"))
    except FileNotFoundError as error:
        binary = str(error)
    return f"fortimock: {binary}"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for secs in _started:
        terminalreporter.write_line(f"fortimock: the session's lab started in {secs * 1000:.0f} ms")
