"""Shared fixtures: real Secret Service and tray checks, the app's Qt event loop, keyring isolation,
and the end-of-session scan that fails the run if a test key reached any file.

Qt runs offscreen unless QT_QPA_PLATFORM says otherwise; `.ci/run` sets xcb
(Xvfb + trayer) for the whole session, because Qt's platform is fixed per
process and only xcb has a tray. No test may depend on which one it gets:
those needing a tray use `require_tray`.

`require_secret_service` and `require_tray` skip on a developer machine
without them and fail when REQUIRE_SECRET_SERVICE=1 / REQUIRE_TRAY=1 (CI).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import os
import re
import secrets
import threading
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import keyring
import platformdirs
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from PySide6.QtWidgets import QApplication

from orca_desktop.gui.qt_loop import OrcaQtLoop
from orca_desktop.keystore import KeyStore

# Property tests judge correctness, not speed: a loaded CI machine must not turn slow
# input generation or a slow example into a failure.
hypothesis_settings.register_profile(
    "orca", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("orca")

# Before pytest-qt creates the QApplication; an explicit QT_QPA_PLATFORM (CI: xcb) wins.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parent.parent
APP_NAME = "orca-desktop"
_SECRET_SERVICE_MODULES = ("keyring.backends.SecretService", "keyring.backends.libsecret")


def _required(var: str) -> bool:
    return os.environ.get(var) == "1"


def pytest_report_header(config: pytest.Config) -> list[str]:
    backend = type(keyring.get_keyring())
    return [
        f"qt platform: {os.environ['QT_QPA_PLATFORM']}",
        f"keyring backend: {backend.__module__}.{backend.__qualname__}",
    ]


# --- real Secret Service -----------------------------------------------------


def _with_timeout(fn: Any, timeout_s: float) -> Any:
    """Run fn in a daemon thread: a locked Secret Service may block forever."""
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["value"] = fn()
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=work, name="test-keyring-probe", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise TimeoutError(f"no answer within {timeout_s:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


@functools.cache
def _secret_service_problem() -> str | None:
    """Why the Secret Service cannot be used here, or None when a round trip works."""
    chosen = keyring.get_keyring()
    leaves = list(getattr(chosen, "backends", None) or [chosen])
    names = [f"{type(b).__module__}.{type(b).__qualname__}" for b in leaves]
    backend = next((b for b in leaves if type(b).__module__ in _SECRET_SERVICE_MODULES), None)
    if backend is None:
        return f"keyring backend is {', '.join(names)}"
    service, user = f"orca-desktop-test-probe-{uuid.uuid4().hex[:8]}", "probe"

    def round_trip() -> None:
        backend.set_password(service, user, "probe")
        try:
            if backend.get_password(service, user) != "probe":
                raise RuntimeError("the stored value did not read back")
        finally:
            backend.delete_password(service, user)

    try:
        _with_timeout(round_trip, 10.0)
    except Exception as exc:
        return f"Secret Service unusable: {type(exc).__name__}: {exc}"
    return None


@pytest.fixture
def require_secret_service() -> None:
    """A working Secret Service (gnome-keyring in CI's private D-Bus session)."""
    problem = _secret_service_problem()
    if problem is None:
        return
    if _required("REQUIRE_SECRET_SERVICE"):
        pytest.fail(f"REQUIRE_SECRET_SERVICE=1 but {problem}")
    pytest.skip(f"no Secret Service ({problem}); run ./.ci/run to get one")


@pytest.fixture
def isolated_keyring_service() -> Iterator[str]:
    """A keyring service name unique to this test, so a test never touches real entries.

    Anything a test leaves under it in the Secret Service is removed afterwards.
    """
    service = f"orca-desktop-test-{uuid.uuid4().hex[:12]}"
    yield service
    _purge_secret_service(service)


def _purge_secret_service(service: str) -> None:
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return
    import secretstorage

    def purge() -> None:
        conn = secretstorage.dbus_init()
        try:
            for item in secretstorage.search_items(conn, {"service": service}):
                item.delete()
        finally:
            conn.close()

    try:
        _with_timeout(purge, 5.0)
    except Exception:  # best effort: the test itself already cleaned up or never wrote
        pass


@pytest.fixture
def keystore(isolated_keyring_service: str) -> KeyStore:
    """A KeyStore on this test's own keyring service, ignoring the process environment."""
    return KeyStore(env={}, service=isolated_keyring_service)


# --- Qt ------------------------------------------------------------------------


@pytest.fixture
def require_tray(qapp: QApplication) -> None:
    """A system tray host (trayer on Xvfb in CI)."""
    from PySide6.QtWidgets import QSystemTrayIcon

    if QSystemTrayIcon.isSystemTrayAvailable():
        return
    if _required("REQUIRE_TRAY"):
        pytest.fail("REQUIRE_TRAY=1 but no system tray host is running")
    pytest.skip("no system tray host; run ./.ci/run (Xvfb + trayer)")


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[OrcaQtLoop]:
    """A fresh loop of the desktop app's kind for this test; drive it with
    `qloop.run_until_complete(...)`.

    Tasks still pending at the end are cancelled; an exception the loop
    reported (a failed callback or an unretrieved task error) fails the test.
    """
    loop = OrcaQtLoop(qapp)
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    asyncio.set_event_loop(loop)
    try:
        yield loop
        _cancel_pending(loop)
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()
        asyncio.set_event_loop(None)
    if reported:
        first = reported[0]
        if isinstance(first.get("exception"), BaseException):
            raise first["exception"]
        pytest.fail(f"the qasync loop reported: {first.get('message')}")


def _cancel_pending(loop: asyncio.AbstractEventLoop) -> None:
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


@pytest.fixture
def artifact_dir(request: pytest.FixtureRequest, test_secrets: SecretRegistry) -> Path:
    """A directory under test-artifacts/ (kept after the run) for this test's screenshots."""
    base = Path(os.environ.get("ORCA_TEST_ARTIFACTS") or REPO_ROOT / "test-artifacts")
    path = base / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid).strip("_")
    path.mkdir(parents=True, exist_ok=True)
    return test_secrets.watch(path)


# --- the secret scan -------------------------------------------------------------


class SecretRegistry:
    """The test keys used in this session and the extra directories to scan for them."""

    def __init__(self) -> None:
        self.secrets: set[str] = set()
        self.dirs: set[Path] = set()

    def new(self, label: str = "key") -> str:
        """A fresh, registered, unguessable test key such as ``sk-test-openai-…``."""
        return self.add(f"sk-test-{label}-{secrets.token_urlsafe(24)}")

    def add(self, value: str) -> str:
        """Register a key the tests use; returns it."""
        self.secrets.add(value)
        return value

    def watch(self, path: Path) -> Path:
        """Also scan `path` (a data or config dir the app wrote to) at session end."""
        self.dirs.add(Path(path))
        return path


def _patterns(secret: str) -> set[bytes]:
    raw = secret.encode()
    return {
        raw,
        secret.encode("utf-16-le"),
        # keyrings.alt's PlaintextKeyring, and anything else that "obscures" a key.
        base64.b64encode(raw).rstrip(b"="),
        base64.urlsafe_b64encode(raw).rstrip(b"="),
    }


def _files_under(paths: Iterable[Path]) -> Iterator[Path]:
    for root in paths:
        root = Path(root)
        if root.is_file() and not root.is_symlink():
            yield root
        elif root.is_dir():
            for dirpath, _dirs, names in os.walk(root):
                for name in names:
                    path = Path(dirpath, name)
                    if path.is_file() and not path.is_symlink():
                        yield path


def files_containing(paths: Iterable[Path], secrets_: Iterable[str]) -> list[Path]:
    """Every regular file under `paths` that contains any of `secrets_` (raw, UTF-16 or base64)."""
    patterns = set().union(*(_patterns(s) for s in secrets_ if s))
    if not patterns:
        return []
    hits = []
    for path in _files_under(paths):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if any(p in data for p in patterns):
            hits.append(path)
    return sorted(hits)


def assert_no_secret_written(
    paths: Iterable[Path], secrets_: Iterable[str], *, when: str = ""
) -> None:
    """Fail naming the files (never the secret) if any file under `paths` holds a secret."""
    hits = files_containing(paths, secrets_)
    if hits:
        listing = "\n  ".join(str(p) for p in hits)
        prefix = f"{when}: " if when else ""
        pytest.fail(
            f"{prefix}a test key was written to {len(hits)} file(s):\n  {listing}", pytrace=False
        )


@pytest.fixture(name="assert_no_secret_written")
def _assert_no_secret_written_fixture() -> Any:
    """`assert_no_secret_written(paths, secrets)` for a test's own, immediate check."""
    return assert_no_secret_written


def _app_dirs() -> list[Path]:
    """The app's own per-user dirs; in CI these live in the run's throwaway XDG home."""
    return [
        Path(platformdirs.user_data_dir(APP_NAME)),
        Path(platformdirs.user_config_dir(APP_NAME)),
        Path(platformdirs.user_cache_dir(APP_NAME)),
        Path(platformdirs.user_state_dir(APP_NAME)),
        Path(platformdirs.user_log_dir(APP_NAME)),
    ]


@pytest.fixture(scope="session")
def _secret_registry() -> SecretRegistry:
    return SecretRegistry()


@pytest.fixture
def test_secrets(_secret_registry: SecretRegistry) -> SecretRegistry:
    """Register the keys a test uses (`test_secrets.new("openai")`) and dirs the app wrote to."""
    return _secret_registry


@pytest.fixture(scope="session", autouse=True)
def _no_test_key_in_any_file(
    tmp_path_factory: pytest.TempPathFactory, _secret_registry: SecretRegistry
) -> Iterator[None]:
    """After the session: no registered test key in the temp dirs, app dirs or watched dirs."""
    yield
    if not _secret_registry.secrets:
        return
    roots = [tmp_path_factory.getbasetemp(), *_app_dirs(), *_secret_registry.dirs]
    assert_no_secret_written(
        roots, _secret_registry.secrets, when="end-of-session scan of temp, app and watched dirs"
    )
