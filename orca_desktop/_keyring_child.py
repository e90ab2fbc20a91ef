"""Keyring reads in a short-lived child process, so the gateway never loads a keyring backend.

The Secret Service backend (keyring + secretstorage + cryptography) stays
resident for the life of a process once imported: ~8 MiB of a headless
gateway that needs it for a fraction of a second at start-up. `read_in_child`
runs the same `KeyStore` code in a child (`python -m orca_desktop._keyring_child`),
which reads the entries from the real keyring and exits; the values come back
over a pipe, never a file. A child that does not answer within the timeout is
killed, unlike a keyring call hung in a thread.

The request on stdin names the keyring service, the users to read and
whether to make sure a local token exists; the reply on stdout is one JSON object,
``{"found": {user: value}}`` or ``{"error": reason}``. Neither the command
line nor the child's stderr ever carries a secret; stderr is discarded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from orca_desktop.keystore import LOCAL_TOKEN_USER, KeyStore, NoSecureKeyring

__all__ = ["child_command", "read_in_child"]


def child_command() -> list[str]:
    """How the child is started: this interpreter, this package."""
    return [sys.executable, "-m", "orca_desktop._keyring_child"]


def read_in_child(
    service: str, users: Sequence[str], *, ensure_token: bool = False, timeout_s: float
) -> dict[str, str]:
    """The stored value of each of `users` that has one.

    With `ensure_token`, also the local token under its user, created and
    stored first if there is none (`KeyStore.local_token`). Raises
    `NoSecureKeyring` when there is no secure keyring, the child fails or it
    does not answer within `timeout_s` (it is then killed).
    """
    request = json.dumps({"service": service, "users": list(users), "ensure_token": ensure_token})
    try:
        done = subprocess.run(
            child_command(),
            input=request.encode(),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise NoSecureKeyring(
            f"the keyring did not answer within {timeout_s:g} s; it may be locked "
            "and waiting for a password prompt"
        ) from None
    except OSError as exc:
        raise NoSecureKeyring(f"cannot start the keyring reader: {exc.strerror or exc}") from None
    return _found(done.stdout, done.returncode)


def _found(stdout: bytes, returncode: int) -> dict[str, str]:
    try:
        reply = json.loads(stdout)
        if "error" in reply:
            raise NoSecureKeyring(str(reply["error"]))
        found = reply["found"]
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in found.items()):
            raise TypeError
    except (ValueError, TypeError, KeyError, AttributeError):
        raise NoSecureKeyring(f"the keyring reader failed (exit status {returncode})") from None
    return dict(found)


def _answer(request: Any) -> dict[str, Any]:
    store = KeyStore(env={}, service=str(request["service"]))
    users = [str(u) for u in request["users"]]
    store.load(users)
    found = {u: s.reveal() for u in users if (s := store.get(u)) is not None}
    if request.get("ensure_token") is True:
        found[LOCAL_TOKEN_USER] = store.local_token().reveal()
    return {"found": found}


def main() -> int:
    """The child: one request on stdin, one reply on stdout."""
    try:
        reply = _answer(json.loads(sys.stdin.buffer.read()))
    except NoSecureKeyring as exc:
        reply = {"error": exc.reason}
    except Exception as exc:  # noqa: BLE001 - the type only: a message might hold a secret
        reply = {"error": f"the keyring reader failed: {type(exc).__name__}"}
    sys.stdout.write(json.dumps(reply))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
