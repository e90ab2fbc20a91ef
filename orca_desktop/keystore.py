"""Provider keys and the local access token: OS keyring, memory cache, env overrides.

This module owns every secret the app holds. Keys live in the OS keyring
(service ``orca-desktop``, user = provider id) and, once loaded, in memory as
`Secret` objects whose ``repr`` and ``str`` are masked. An environment variable
``ORCA_KEY_<PROVIDER>`` (read when the store is made) overrides the keyring for
headless use; the local token is ``ORCA_DESKTOP_TOKEN`` or the keyring user
``local-token``.

It must never write a key anywhere but the keyring, never log one, and never
put one in an exception message. With no secure keyring it raises
`NoSecureKeyring`, which says how to get one; it never falls back to a file.

Blocking: `KeyStore.load`, `set`, `delete` and a first `local_token` call talk
to the keyring and can block indefinitely (a locked Secret Service may wait
for a prompt nobody answers, mitya57/secretstorage#33). Never call them on the
event loop: use `run_off_loop`, which runs them in a daemon thread with a
timeout. `get` and `source` only read memory and are safe anywhere.

With ``read_in_child=True``, `load` and `local_token` do their keyring work in
a short-lived child process (`orca_desktop._keyring_child`), so a process
that only reads keys at start-up never loads a keyring backend (~8 MiB that
would stay resident); `set`, `delete` and `check_backend` always run here.
The keyring module is imported only when this process talks to it.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Literal, NoReturn, TypeVar, final

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

__all__ = [
    "DEFAULT_SERVICE",
    "KEYRING_TIMEOUT_S",
    "LOCAL_TOKEN_USER",
    "TOKEN_ENV",
    "KeyStore",
    "NoSecureKeyring",
    "Secret",
    "env_var_name",
    "run_off_loop",
]

log = logging.getLogger(__name__)

DEFAULT_SERVICE = "orca-desktop"
LOCAL_TOKEN_USER = "local-token"
TOKEN_ENV = "ORCA_DESKTOP_TOKEN"
TOKEN_PREFIX = "sk-orca-"
KEY_ENV_PREFIX = "ORCA_KEY_"
KEYRING_TIMEOUT_S = 15.0

# Backends that "work" without keeping a secret safe: `fail` and `null` store
# nothing, keyrings.alt writes files (PlaintextKeyring is base64 in a dotfile).
_INSECURE_MODULES = ("keyring.backends.fail", "keyring.backends.null", "keyrings.alt")

KeySource = Literal["env", "keyring", "missing"]
_T = TypeVar("_T")


def env_var_name(provider: str) -> str:
    """The variable overriding `provider`'s key: ``ORCA_KEY_OPEN_AI`` for ``open-ai``."""
    return KEY_ENV_PREFIX + provider.upper().replace("-", "_")


@final
class Secret:
    """A key or token in memory. It never shows any part of itself; `reveal` returns the value.

    Equality is constant-time. A Secret refuses to be pickled, so it cannot
    end up in a file by accident.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The plain value, for the one place that sends it (an HTTP header)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret(****)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")


class NoSecureKeyring(Exception):
    """No secure OS keyring can be used; the message says why (without any secret) and the fix."""

    def __init__(self, reason: str = "") -> None:
        self.reason = reason
        detail = f" ({reason})" if reason else ""
        super().__init__(
            f"No secure OS keyring is available{detail}. Orca Desktop keeps keys only in the "
            "OS keyring and never in a plain-text file. To fix it, start GNOME Keyring or "
            "KWallet (any Secret Service provider) and unlock your login keyring, then try "
            f"again. For headless use, set {KEY_ENV_PREFIX}<PROVIDER> (for example "
            f"{env_var_name('openai')}) and {TOKEN_ENV} in the environment instead."
        )


class KeyStore:
    """Keys by provider id, read once from the keyring into memory; env variables win.

    Invariants: the keyring is the only place a key is written; the memory
    cache holds `Secret` objects only; `get` and `source` never touch the
    keyring. Safe to call from several threads.
    """

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        service: str = DEFAULT_SERVICE,
        read_in_child: bool = False,
    ) -> None:
        # A snapshot: `get` runs on every request and must not read os.environ each time.
        self._env: Mapping[str, str] = dict(os.environ if env is None else env)
        self._overrides: dict[str, Secret | None] = {}  # provider -> its env key, memoised
        self._service = service
        self._read_in_child = read_in_child
        self._keys: dict[str, Secret] = {}
        self._loaded: set[str] = set()
        self._token: Secret | None = None
        self._lock = threading.RLock()

    @property
    def service(self) -> str:
        """The keyring service name the keys are stored under."""
        return self._service

    def check_backend(self) -> KeyringBackend:
        """The secure keyring backend to use; raises `NoSecureKeyring` when there is none.

        A backend counts when its priority is at least 1 and it is not a
        fail/null/keyrings.alt one; a chain is searched in its own order.
        Blocking: a Secret Service backend asks D-Bus for its priority.
        """
        import keyring

        try:
            chosen = keyring.get_keyring()
        except Exception as exc:  # noqa: BLE001 - e.g. a keyringrc naming a missing backend
            _raise_unusable(exc)
        # keyring picks a ChainerBackend when several backends are viable.
        candidates: list[KeyringBackend] = list(getattr(chosen, "backends", None) or [chosen])
        for backend in candidates:
            if _is_secure(backend):
                return backend
        names = ", ".join(_backend_name(b) for b in candidates)
        raise NoSecureKeyring(f"the keyring backend is {names}")

    def load(self, provider_ids: Iterable[str]) -> None:
        """Read each provider's key from the keyring once into memory (blocking).

        Providers overridden by their environment variable, and those already
        loaded, are skipped, so a fully env-configured run never needs a keyring.
        """
        with self._lock:
            wanted = [
                p
                for p in dict.fromkeys(provider_ids)
                if p not in self._loaded and self._env_value(env_var_name(p)) is None
            ]
            if not wanted:
                return
            if self._read_in_child:
                self._load_in_child(wanted)
                return
            backend = self.check_backend()
            for provider in wanted:
                value = _call(backend.get_password, self._service, provider)
                if value is not None and value.strip():
                    self._keys[provider] = Secret(value.strip())
                self._loaded.add(provider)
            log.debug("loaded keys from %s for %d providers", _backend_name(backend), len(wanted))

    def _load_in_child(self, wanted: list[str]) -> None:
        # The token is read on the same trip when it will be asked for: one child, not two.
        token_too = self._token is None and self._env_value(TOKEN_ENV) is None
        users = [*wanted, LOCAL_TOKEN_USER] if token_too else wanted
        found = _child_read(self._service, users)
        for provider in wanted:
            value = found.get(provider, "").strip()
            if value:
                self._keys[provider] = Secret(value)
            self._loaded.add(provider)
        token = found.get(LOCAL_TOKEN_USER, "").strip()
        if token_too and token:
            self._token = Secret(token)
        log.debug("loaded keys through a keyring reader for %d providers", len(wanted))

    def get(self, provider: str) -> Secret | None:
        """The key for `provider` from memory: the env variable, else the loaded keyring entry.

        The environment is read when the store is made; a key saved or deleted
        through the store applies at once.
        """
        try:
            override = self._overrides[provider]
        except KeyError:
            value = self._env_value(env_var_name(provider))
            override = self._overrides[provider] = None if value is None else Secret(value)
        return override if override is not None else self._keys.get(provider)

    def source(self, provider: str) -> KeySource:
        """Where `get(provider)` finds its key."""
        if self._env_value(env_var_name(provider)) is not None:
            return "env"
        return "keyring" if provider in self._keys else "missing"

    def set(self, provider: str, key: str) -> None:
        """Validate and save `provider`'s key in the keyring, then in memory (blocking).

        Surrounding whitespace is stripped; an empty key or one containing
        whitespace, a line break or a control character is a ValueError.
        """
        _check_provider(provider)
        value = _clean_key(key)
        with self._lock:
            backend = self.check_backend()
            _call(backend.set_password, self._service, provider, value, secret=value)
            self._keys[provider] = Secret(value)
            self._loaded.add(provider)
        log.info("saved the key for %s", provider)

    def delete(self, provider: str) -> bool:
        """Remove `provider`'s key from keyring and memory; False if there was none (blocking)."""
        import keyring.errors

        _check_provider(provider)
        with self._lock:
            backend = self.check_backend()
            try:
                backend.delete_password(self._service, provider)
                deleted = True
            except keyring.errors.PasswordDeleteError:
                deleted = False
            except Exception as exc:  # noqa: BLE001 - every backend failure means "no usable keyring"
                _raise_unusable(exc)
            self._keys.pop(provider, None)
            self._loaded.add(provider)
        if deleted:
            log.info("deleted the key for %s", provider)
        return deleted

    def local_token(self) -> Secret:
        """The token local clients send: ORCA_DESKTOP_TOKEN, else the keyring's, else a new one.

        A new token is ``sk-orca-`` plus 32 random bytes (URL-safe base64),
        saved in the keyring and cached. Blocking until it has been read once;
        memory only after that.
        """
        from_env = self._env_value(TOKEN_ENV)
        if from_env is not None:
            return Secret(from_env)
        # Read before taking the lock: a keyring call hung in another thread
        # holds it, and a cached token must never wait for that.
        cached = self._token
        if cached is not None:
            return cached
        with self._lock:
            if self._token is None:
                self._token = self._read_or_create_token()
            return self._token

    def _read_or_create_token(self) -> Secret:
        if self._read_in_child:
            return Secret(_child_read(self._service, [], ensure_token=True)[LOCAL_TOKEN_USER])
        backend = self.check_backend()
        stored = _call(backend.get_password, self._service, LOCAL_TOKEN_USER)
        if stored is None or not stored.strip():
            fresh = TOKEN_PREFIX + secrets.token_urlsafe(32)
            _call(backend.set_password, self._service, LOCAL_TOKEN_USER, fresh, secret=fresh)
            # Read back: if another process created one at the same time, the
            # stored one wins and both processes agree.
            stored = _call(backend.get_password, self._service, LOCAL_TOKEN_USER) or fresh
            log.info("generated a new local access token")
        return Secret(stored.strip())

    def _env_value(self, name: str) -> str | None:
        value = self._env.get(name, "").strip()
        return value or None


async def run_off_loop(call: Callable[[], _T], *, timeout_s: float = KEYRING_TIMEOUT_S) -> _T:
    """Run a blocking keystore call in a daemon thread; `NoSecureKeyring` after `timeout_s`.

    A daemon thread rather than the loop's executor: a keyring call that
    never returns would otherwise keep the executor (and app exit) waiting.
    """
    import asyncio  # here, not at the top: the keyring reader child starts ~45 ms faster

    loop = asyncio.get_running_loop()
    future: asyncio.Future[_T] = loop.create_future()

    def deliver(outcome: Callable[[], None]) -> None:
        if not future.done():
            outcome()

    def hand_over(outcome: Callable[[], None]) -> None:
        try:
            loop.call_soon_threadsafe(deliver, outcome)
        except RuntimeError:
            pass  # the loop closed after the caller gave up waiting

    def work() -> None:
        try:
            result = call()
        except Exception as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            error = exc
            hand_over(lambda: future.set_exception(error))
        else:
            hand_over(lambda: future.set_result(result))

    threading.Thread(target=work, name="orca-keyring", daemon=True).start()
    try:
        return await asyncio.wait_for(future, timeout_s)
    except TimeoutError:
        raise NoSecureKeyring(
            f"the keyring did not answer within {timeout_s:g} s; it may be locked "
            "and waiting for a password prompt"
        ) from None


def _child_read(service: str, users: list[str], *, ensure_token: bool = False) -> dict[str, str]:
    from orca_desktop._keyring_child import read_in_child

    return read_in_child(service, users, ensure_token=ensure_token, timeout_s=KEYRING_TIMEOUT_S)


def _is_secure(backend: KeyringBackend) -> bool:
    if type(backend).__module__.startswith(_INSECURE_MODULES):
        return False
    try:
        priority = float(backend.priority)
    except Exception:  # noqa: BLE001 - a backend that cannot say is not viable
        return False
    return priority >= 1


def _backend_name(backend: KeyringBackend) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _call(fn: Callable[..., _T], *args: str, secret: str | None = None) -> _T:
    """Call a keyring backend method; any failure becomes NoSecureKeyring without the secret."""
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - every backend failure means "no usable keyring"
        _raise_unusable(exc, secret)


def _raise_unusable(exc: Exception, secret: str | None = None) -> NoReturn:
    detail = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    if secret and secret in detail:
        detail = type(exc).__name__
    # `from None`: the original exception's text is not re-checked, so it is dropped.
    raise NoSecureKeyring(detail) from None


def _check_provider(provider: str) -> None:
    if not provider or provider != provider.strip():
        raise ValueError("a provider id must be non-empty, without surrounding whitespace")
    if provider == LOCAL_TOKEN_USER:
        raise ValueError(f"{LOCAL_TOKEN_USER!r} is reserved for the local access token")


def _clean_key(key: str) -> str:
    value = key.strip()
    if not value:
        raise ValueError("the key is empty")
    if any(ch.isspace() for ch in value):
        raise ValueError("the key contains whitespace or a line break")
    if not value.isprintable():
        raise ValueError("the key contains a control character")
    return value
