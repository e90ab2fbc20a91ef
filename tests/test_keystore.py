"""KeyStore through the real Secret Service (gnome-keyring in CI's private D-Bus session),
its refusal of insecure or missing keyrings, env overrides, and the masked Secret."""

from __future__ import annotations

import asyncio
import os
import pickle
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, cast

import keyring
import keyring.core
import keyring.errors
import pytest
from keyring.backends import fail, null

from orca_desktop import _keyring_child
from orca_desktop.keystore import (
    KeyStore,
    NoSecureKeyring,
    Secret,
    env_var_name,
    run_off_loop,
)


class SecretRegistry(Protocol):
    """What the `test_secrets` fixture (tests/conftest.py) offers."""

    def new(self, label: str = "key") -> str: ...
    def add(self, value: str) -> str: ...


NoSecretWritten = Callable[[list[Path], list[str]], None]


def secret_tool_lookup(service: str, user: str) -> str | None:
    """What a second Secret Service client (libsecret's secret-tool) sees, or None."""
    if shutil.which("secret-tool") is None:
        return None
    done = subprocess.run(
        ["secret-tool", "lookup", "service", service, "username", user],
        capture_output=True,
        text=True,
        timeout=10,
    )
    return done.stdout if done.returncode == 0 else ""


@pytest.fixture
def second_client() -> Callable[[str, str], str | None]:
    if shutil.which("secret-tool") is None:
        if os.environ.get("REQUIRE_SECRET_SERVICE") == "1":
            pytest.fail("REQUIRE_SECRET_SERVICE=1 but secret-tool (libsecret-tools) is missing")
        pytest.skip("secret-tool (libsecret-tools) is not installed")
    return secret_tool_lookup


# --- through the real Secret Service ---------------------------------------------


@pytest.mark.keyring
def test_checked_backend_is_the_secret_service(require_secret_service: None) -> None:
    backend = KeyStore().check_backend()
    assert type(backend).__module__ == "keyring.backends.SecretService"


@pytest.mark.keyring
def test_saved_key_round_trips_and_another_store_loads_it(
    require_secret_service: None, keystore: KeyStore, test_secrets: SecretRegistry
) -> None:
    key = test_secrets.new("openai")
    keystore.set("openai", f"  {key}\n")

    assert keystore.get("openai") == Secret(key)
    assert keystore.source("openai") == "keyring"
    other = KeyStore(env={}, service=keystore.service)
    assert other.get("openai") is None  # memory only until loaded
    other.load(["openai", "anthropic"])
    assert other.get("openai") == Secret(key)
    assert other.source("anthropic") == "missing"

    assert keystore.delete("openai") is True
    assert keystore.get("openai") is None
    assert keystore.source("openai") == "missing"
    assert keystore.delete("openai") is False
    fresh = KeyStore(env={}, service=keystore.service)
    fresh.load(["openai"])
    assert fresh.get("openai") is None


@pytest.mark.keyring
def test_second_client_sees_exactly_what_was_saved_and_deleted(
    require_secret_service: None,
    keystore: KeyStore,
    test_secrets: SecretRegistry,
    second_client: Callable[[str, str], str | None],
) -> None:
    key = test_secrets.new("groq")
    keystore.set("groq", key)
    assert second_client(keystore.service, "groq") == key

    keystore.delete("groq")
    assert second_client(keystore.service, "groq") == ""


@pytest.mark.keyring
def test_env_variable_wins_over_the_keyring(
    require_secret_service: None, keystore: KeyStore, test_secrets: SecretRegistry
) -> None:
    stored, from_env = test_secrets.new("stored"), test_secrets.new("env")
    keystore.set("my-proxy", stored)

    headless = KeyStore(env={"ORCA_KEY_MY_PROXY": from_env}, service=keystore.service)
    headless.load(["my-proxy"])
    assert headless.get("my-proxy") == Secret(from_env)
    assert headless.source("my-proxy") == "env"
    keystore.load(["my-proxy"])
    assert keystore.get("my-proxy") == Secret(stored)
    keystore.delete("my-proxy")


@pytest.mark.keyring
def test_local_token_is_generated_once_and_stable_across_stores(
    require_secret_service: None,
    keystore: KeyStore,
    second_client: Callable[[str, str], str | None],
) -> None:
    token = keystore.local_token()

    assert token.reveal().startswith("sk-orca-")
    assert len(token.reveal()) >= len("sk-orca-") + 43
    assert keystore.local_token() is token
    assert KeyStore(env={}, service=keystore.service).local_token() == token
    assert second_client(keystore.service, "local-token") == token.reveal()


@pytest.mark.keyring
def test_orca_desktop_token_overrides_the_stored_token(
    require_secret_service: None, keystore: KeyStore, test_secrets: SecretRegistry
) -> None:
    stored = keystore.local_token()
    override = test_secrets.add("sk-orca-from-env-" + test_secrets.new("token"))

    overridden = KeyStore(env={"ORCA_DESKTOP_TOKEN": override}, service=keystore.service)
    assert overridden.local_token() == Secret(override)
    assert KeyStore(env={}, service=keystore.service).local_token() == stored


# --- without a usable keyring ----------------------------------------------------
# The stand-ins below are plain classes, not KeyringBackend subclasses: keyring
# registers every subclass, and a registered fake could win backend detection.


class FileBackedKeyring:
    """Stands in for keyrings.alt's PlaintextKeyring: low priority, writes keys to a file."""

    priority = 0.5

    def __init__(self, path: Path) -> None:
        self.path = path

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        with self.path.open("a") as fh:
            fh.write(f"{service} {username} {password}\n")

    def delete_password(self, service: str, username: str) -> None:
        raise keyring.errors.PasswordDeleteError("No such password!")


class MemoryKeyring:
    """A high-priority in-memory backend: only for checking which backend is chosen and
    how often it is asked; real storage is tested against gnome-keyring above."""

    priority = 5

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], str] = {}
        self.reads = 0

    def get_password(self, service: str, username: str) -> str | None:
        self.reads += 1
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[service, username] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.items.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError("No such password!")


class BrokenKeyring(MemoryKeyring):
    """Fails like a locked gnome-keyring whose unlock prompt cannot be shown."""

    def __init__(
        self, message: str = "Failed to create the collection: Prompt dismissed.."
    ) -> None:
        super().__init__()
        self.message = message

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.InitError(self.message)

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.InitError(self.message.replace("{password}", password))

    def delete_password(self, service: str, username: str) -> None:
        raise keyring.errors.KeyringLocked("Failed to unlock the collection!")


class FakeChainer:
    """Shaped like keyring's ChainerBackend: exposes its leaves as `backends`."""

    priority = 10

    def __init__(self, *leaves: object) -> None:
        self.backends = list(leaves)

    def get_password(self, service: str, username: str) -> str | None:
        raise AssertionError("the chain itself must not be used")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise AssertionError("the chain itself must not be used")

    def delete_password(self, service: str, username: str) -> None:
        raise AssertionError("the chain itself must not be used")


def failing_keyring() -> object:
    """keyring's own backend when there is no D-Bus session."""
    return fail.Keyring()  # type: ignore[no-untyped-call]


def null_keyring() -> object:
    return null.Keyring()  # type: ignore[no-untyped-call]


def use_backend(monkeypatch: pytest.MonkeyPatch, backend: object) -> None:
    monkeypatch.setattr(keyring.core, "_keyring_backend", backend)


def alt_module_keyring(tmp_path: Path, priority: float) -> FileBackedKeyring:
    """A file-writing backend that says it comes from keyrings.alt."""
    cls = type("PlaintextKeyring", (FileBackedKeyring,), {"priority": priority})
    cls.__module__ = "keyrings.alt.file"
    return cast(FileBackedKeyring, cls(tmp_path / "keyring_pass.cfg"))


def low_priority_keyring(tmp_path: Path) -> FileBackedKeyring:
    return FileBackedKeyring(tmp_path / "keyring_pass.cfg")


def assert_says_how_to_fix(error: NoSecureKeyring) -> None:
    message = str(error)
    assert "No secure OS keyring is available" in message
    for fix in ("GNOME Keyring", "KWallet", "unlock", "ORCA_KEY_", "ORCA_DESKTOP_TOKEN"):
        assert fix in message


@pytest.mark.parametrize(
    "make_backend",
    [
        pytest.param(lambda tmp: failing_keyring(), id="fail"),
        pytest.param(lambda tmp: null_keyring(), id="null"),
        pytest.param(low_priority_keyring, id="low-priority-file"),
        pytest.param(lambda tmp: alt_module_keyring(tmp, 0.5), id="keyrings.alt"),
        pytest.param(lambda tmp: alt_module_keyring(tmp, 9), id="keyrings.alt-high-priority"),
        pytest.param(
            lambda tmp: FakeChainer(failing_keyring(), low_priority_keyring(tmp)), id="chain"
        ),
    ],
)
def test_no_secure_backend_refuses_every_operation_and_writes_nothing(
    make_backend: Callable[[Path], object],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    test_secrets: SecretRegistry,
    assert_no_secret_written: NoSecretWritten,
) -> None:
    use_backend(monkeypatch, make_backend(tmp_path))
    store = KeyStore(env={})
    key = test_secrets.new("refused")

    operations: list[Callable[[], object]] = [
        lambda: store.set("openai", key),
        lambda: store.load(["openai"]),
        lambda: store.delete("openai"),
        store.local_token,
        store.check_backend,
    ]
    for operation in operations:
        with pytest.raises(NoSecureKeyring) as caught:
            operation()
        assert_says_how_to_fix(caught.value)
        assert key not in str(caught.value)
    assert store.get("openai") is None
    assert list(tmp_path.iterdir()) == []
    assert_no_secret_written([tmp_path, Path.home() / ".local/share/python_keyring"], [key])


def test_a_secure_leaf_of_a_chain_is_used_directly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, test_secrets: SecretRegistry
) -> None:
    secure = MemoryKeyring()
    use_backend(monkeypatch, FakeChainer(low_priority_keyring(tmp_path), secure))
    key = test_secrets.new("chained")

    store = KeyStore(env={}, service="svc")
    assert cast(object, store.check_backend()) is secure
    store.set("openai", key)
    assert secure.items == {("svc", "openai"): key}
    assert list(tmp_path.iterdir()) == []


def test_keyring_errors_become_no_secure_keyring_without_the_key(
    monkeypatch: pytest.MonkeyPatch, test_secrets: SecretRegistry
) -> None:
    # A backend whose error text echoes the password must not leak it either.
    use_backend(monkeypatch, BrokenKeyring("cannot store {password}: Prompt dismissed"))
    store = KeyStore(env={})
    key = test_secrets.new("locked")

    with pytest.raises(NoSecureKeyring) as on_set:
        store.set("openai", key)
    with pytest.raises(NoSecureKeyring) as on_load:
        store.load(["openai"])
    with pytest.raises(NoSecureKeyring) as on_delete:
        store.delete("openai")

    assert key not in str(on_set.value) and "InitError" in str(on_set.value)
    assert "Prompt dismissed" in str(on_load.value)
    assert "KeyringLocked" in str(on_delete.value)
    for caught in (on_set, on_load, on_delete):
        assert_says_how_to_fix(caught.value)
        assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_env_keys_work_without_any_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    use_backend(monkeypatch, failing_keyring())
    store = KeyStore(env={"ORCA_KEY_OPENAI": "sk-env", "ORCA_DESKTOP_TOKEN": "sk-orca-env"})

    store.load(["openai"])  # nothing to read from the keyring: no error
    assert store.get("openai") == Secret("sk-env")
    assert store.source("openai") == "env"
    assert store.local_token() == Secret("sk-orca-env")
    assert store.source("anthropic") == "missing"


def test_load_asks_the_keyring_once_per_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = MemoryKeyring()
    backend.items["orca-desktop", "openai"] = "sk-one"
    use_backend(monkeypatch, backend)
    store = KeyStore(env={"ORCA_KEY_GROQ": "sk-env"})

    store.load(["openai", "anthropic", "groq", "openai"])
    store.load(["openai", "anthropic"])
    for _ in range(3):
        store.get("openai"), store.source("anthropic")

    assert backend.reads == 2  # openai and anthropic, once each; groq comes from env
    assert store.get("openai") == Secret("sk-one")


def test_env_is_read_once_and_saved_or_deleted_keys_apply_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_backend(monkeypatch, MemoryKeyring())
    env = {"ORCA_KEY_GROQ": "sk-env"}
    store = KeyStore(env=env)
    env["ORCA_KEY_GROQ"] = "sk-changed-later"
    env["ORCA_KEY_OPENAI"] = "sk-added-later"

    assert store.get("groq") == Secret("sk-env")
    assert store.get("openai") is None  # the environment as it was when the store was made
    store.set("openai", "sk-saved")
    assert store.get("openai") == Secret("sk-saved") and store.source("openai") == "keyring"
    store.set("groq", "sk-saved-too")
    assert store.get("groq") == Secret("sk-env")  # the env variable still wins
    assert store.delete("openai")
    assert store.get("openai") is None and store.source("openai") == "missing"


def test_empty_env_variable_does_not_override(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = MemoryKeyring()
    backend.items["orca-desktop", "openai"] = "sk-stored"
    use_backend(monkeypatch, backend)
    store = KeyStore(env={"ORCA_KEY_OPENAI": "  "})
    store.load(["openai"])
    assert store.get("openai") == Secret("sk-stored")
    assert store.source("openai") == "keyring"


# --- validation, naming, masking -------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("sk-abc def", "whitespace"),
        ("sk-abc\ndef", "line break"),
        ("sk-abc\tdef", "whitespace"),
        ("sk-abc\x00def", "control character"),
    ],
)
def test_invalid_keys_are_refused_before_the_keyring_is_touched(
    bad: str, why: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = MemoryKeyring()
    use_backend(monkeypatch, backend)
    with pytest.raises(ValueError, match=why) as caught:
        KeyStore(env={}).set("openai", bad)
    assert backend.items == {}
    if bad.strip():
        assert "sk-abc" not in str(caught.value)


def test_the_token_user_is_not_a_provider_id(monkeypatch: pytest.MonkeyPatch) -> None:
    use_backend(monkeypatch, MemoryKeyring())
    store = KeyStore(env={})
    with pytest.raises(ValueError, match="reserved"):
        store.set("local-token", "sk-x")
    with pytest.raises(ValueError, match="reserved"):
        store.delete("local-token")


@pytest.mark.parametrize(
    ("provider", "variable"),
    [
        ("openai", "ORCA_KEY_OPENAI"),
        ("my-proxy", "ORCA_KEY_MY_PROXY"),
        ("Local-LLM-2", "ORCA_KEY_LOCAL_LLM_2"),
    ],
)
def test_env_variable_name_is_upper_case_with_underscores(provider: str, variable: str) -> None:
    assert env_var_name(provider) == variable


def test_secret_never_shows_any_part_of_itself(test_secrets: SecretRegistry) -> None:
    key = test_secrets.new("masked")
    secret = Secret(key)

    shown = [repr(secret), str(secret), f"{secret}", f"{secret!r}", format(secret), repr([secret])]
    for text in shown:
        assert key[-4:] not in text and key[:8] not in text
        assert "****" in text
    assert secret.reveal() == key
    assert secret == Secret(key) and secret != Secret(key + "x")
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_generated_token_is_not_written_anywhere_but_the_keyring(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, test_secrets: SecretRegistry
) -> None:
    backend = MemoryKeyring()
    use_backend(monkeypatch, backend)
    token = KeyStore(env={}).local_token()
    test_secrets.add(token.reveal())

    assert backend.items == {("orca-desktop", "local-token"): token.reveal()}
    assert KeyStore(env={}).local_token() == token  # read back, not regenerated


# --- off the event loop -----------------------------------------------------------


@pytest.mark.asyncio
async def test_run_off_loop_returns_the_result_and_raises_the_error() -> None:
    assert await run_off_loop(lambda: 42) == 42

    def broken() -> None:
        raise NoSecureKeyring("locked")

    with pytest.raises(NoSecureKeyring, match="locked"):
        await run_off_loop(broken)


@pytest.mark.asyncio
async def test_run_off_loop_gives_up_on_a_keyring_that_never_answers() -> None:
    release = threading.Event()
    try:
        with pytest.raises(NoSecureKeyring, match="did not answer"):
            await run_off_loop(lambda: release.wait(30), timeout_s=0.05)
    finally:
        release.set()
    await asyncio.sleep(0.05)  # let the released thread hand over to the (still open) loop


class HangingKeyring(MemoryKeyring):
    """Blocks like a Secret Service waiting for an unlock prompt nobody answers."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Event()

    def get_password(self, service: str, username: str) -> str | None:
        if username == "hangs":
            self.entered.set()
            self.release.wait(30)
        return super().get_password(service, username)


def test_memory_reads_never_wait_for_a_hung_keyring_call(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = HangingKeyring()
    backend.items["orca-desktop", "openai"] = "sk-one"
    use_backend(monkeypatch, backend)
    store = KeyStore(env={})
    store.load(["openai"])
    token = store.local_token()
    hung = threading.Thread(target=store.load, args=(["hangs"],), daemon=True)
    hung.start()
    try:
        assert backend.entered.wait(5)
        assert store.local_token() is token
        assert store.get("openai") == Secret("sk-one")
        assert store.source("hangs") == "missing"
    finally:
        backend.release.set()
        hung.join(5)


def test_a_broken_keyring_configuration_is_no_secure_keyring(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def misconfigured() -> object:
        raise RuntimeError("No keyring backend named 'nonexistent'")

    monkeypatch.setattr(keyring, "get_keyring", misconfigured)
    with pytest.raises(NoSecureKeyring, match="nonexistent") as caught:
        KeyStore(env={}).check_backend()
    assert_says_how_to_fix(caught.value)


# --- reading through a child process ------------------------------------------------


def count_children(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    started: list[list[str]] = []
    real = _keyring_child.child_command

    def counted() -> list[str]:
        started.append(real())
        return started[-1]

    monkeypatch.setattr(_keyring_child, "child_command", counted)
    return started


@pytest.mark.keyring
def test_a_child_reader_loads_keys_and_the_token_in_one_trip(
    require_secret_service: None,
    keystore: KeyStore,
    test_secrets: SecretRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = test_secrets.new("openai")
    keystore.set("openai", key)
    token = keystore.local_token()
    started = count_children(monkeypatch)

    reader = KeyStore(env={}, service=keystore.service, read_in_child=True)
    reader.load(["openai", "anthropic"])

    assert reader.get("openai") == Secret(key)
    assert (reader.source("openai"), reader.source("anthropic")) == ("keyring", "missing")
    assert reader.local_token() == token
    assert len(started) == 1
    keystore.delete("openai")


@pytest.mark.keyring
def test_a_child_reader_creates_the_token_when_there_is_none(
    require_secret_service: None, keystore: KeyStore
) -> None:
    reader = KeyStore(env={}, service=keystore.service, read_in_child=True)
    reader.load(["openai"])
    token = reader.local_token()

    assert token.reveal().startswith("sk-orca-")
    assert keystore.local_token() == token  # stored in the keyring, seen by an in-process store


@pytest.mark.keyring
def test_the_reading_process_never_loads_a_keyring_backend(
    require_secret_service: None, keystore: KeyStore, test_secrets: SecretRegistry
) -> None:
    keystore.set("openai", test_secrets.new("openai"))
    script = (
        "import sys\n"
        "from orca_desktop.keystore import KeyStore\n"
        f"store = KeyStore(env={{}}, service={keystore.service!r}, read_in_child=True)\n"
        "store.load(['openai'])\n"
        "loaded = sorted(m for m in ('keyring', 'secretstorage', 'cryptography') "
        "if m in sys.modules)\n"
        "print(store.source('openai'), loaded)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split(maxsplit=1) == ["keyring", "[]\n"]
    keystore.delete("openai")


def test_a_child_reader_without_a_secure_keyring_is_no_secure_keyring(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    reader = KeyStore(env={}, read_in_child=True)

    with pytest.raises(NoSecureKeyring) as caught:
        reader.load(["openai"])
    assert "keyring.backends.fail.Keyring" in str(caught.value)
    assert_says_how_to_fix(caught.value)
    assert reader.source("openai") == "missing"


def test_a_child_reader_that_hangs_is_killed_at_the_timeout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    hang = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    monkeypatch.setattr(_keyring_child, "child_command", lambda: [sys.executable, "-c", hang])

    with pytest.raises(NoSecureKeyring, match="did not answer within 1 s"):
        _keyring_child.read_in_child("orca-desktop", ["openai"], timeout_s=1.0)
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.parametrize(
    "output",
    [
        "print('sk-leaked-value, not JSON')",
        'print(\'{"found": {"openai": 1}}\')',
        "print('[\"sk-leaked-value\"]')",
        "raise SystemExit(3)",
    ],
)
def test_a_child_reader_that_fails_says_so_without_its_output(
    monkeypatch: pytest.MonkeyPatch, output: str
) -> None:
    monkeypatch.setattr(_keyring_child, "child_command", lambda: [sys.executable, "-c", output])

    with pytest.raises(NoSecureKeyring, match="the keyring reader failed") as caught:
        KeyStore(env={}, read_in_child=True).load(["openai"])
    assert "sk-leaked" not in str(caught.value)
    assert_says_how_to_fix(caught.value)
