"""The command line: parse arguments, pick a mode, hand over to app.py.

Never wires core objects itself (app.py does) and never prints a key; `token`
is the one command that prints a secret, because that is what it is for.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from orca_desktop import __version__
from orca_desktop.app import Options, make_keystore, make_provider, serve
from orca_desktop.config import ConfigError, default_config_path, load_config
from orca_desktop.core import Core
from orca_desktop.keystore import KeyStore, NoSecureKeyring, env_var_name
from orca_desktop.providers.base import ProviderConfigError, resolve_providers

EXIT_USAGE = 2


def _common(suppress: bool) -> argparse.ArgumentParser:
    """Options every command takes; SUPPRESS on subcommands so they don't reset the main ones."""
    d = argparse.SUPPRESS if suppress else None
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(
        "--config",
        type=Path,
        default=d,
        metavar="PATH",
        help=f"config file (default: {default_config_path()})",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=d,
        metavar="PATH",
        help="where telemetry is stored (default: the platform's data dir)",
    )
    p.add_argument("--host", default=d, help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=d, help="port to listen on (default 8787)")
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=False if not suppress else d,
        help="log more",
    )
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orca-desktop",
        parents=[_common(False)],
        description="Orca Desktop: a personal LLM router on localhost, with your own keys "
        "in the OS keyring. With no command, starts the tray app and window.",
    )
    parser.add_argument("--version", action="version", version=f"orca-desktop {__version__}")
    parser.add_argument(
        "--demo", action="store_true", help="use built-in simulated providers (no keys, no network)"
    )
    parser.add_argument(
        "--show-window",
        action="store_true",
        help="open the window at start-up even when a tray is available",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = _common(True)

    serve = sub.add_parser(
        "serve",
        parents=[common],
        help="run the gateway alone, no GUI",
        description="Run the gateway alone, with no GUI (servers, CI, scripts).",
    )
    serve.add_argument(
        "--demo",
        action="store_true",
        default=argparse.SUPPRESS,
        help="use built-in simulated providers (no keys, no network)",
    )

    keys = sub.add_parser(
        "keys",
        parents=[common],
        help="manage provider keys in the OS keyring",
        description="Manage provider keys in the OS keyring.",
    )
    ks = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    kset = ks.add_parser(
        "set", parents=[common], help="save a key (read from stdin or a hidden prompt)"
    )
    kset.add_argument("provider")
    ks.add_parser("list", parents=[common], help="list providers and where their key comes from")
    kdel = ks.add_parser("delete", parents=[common], help="delete a saved key")
    kdel.add_argument("provider")
    ktest = ks.add_parser(
        "test", parents=[common], help="ask the provider's models endpoint with the key"
    )
    ktest.add_argument("provider")

    sub.add_parser(
        "token",
        parents=[common],
        help="print the local access token",
        description="Print the local access token that clients send as their API key.",
    )
    tail = sub.add_parser(
        "tail",
        parents=[common],
        help="live routing decisions in the terminal",
        description="Print routing decisions live as requests end.",
    )
    tail.add_argument("--url", help="gateway address (default: from the config)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return _dispatch(args)
    except ConfigError as exc:
        print(f"orca-desktop: config error:\n{exc}", file=sys.stderr)
        return 1
    except ProviderConfigError as exc:
        print(f"orca-desktop: config error: {exc}", file=sys.stderr)
        return 1
    except NoSecureKeyring as exc:
        print(f"orca-desktop: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    opts = Options(
        config_path=args.config,
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        demo=bool(getattr(args, "demo", False)),
    )
    if args.command == "serve":
        return _serve(opts)
    if args.command == "keys":
        return _keys(args, opts)
    if args.command == "token":
        print(make_keystore().local_token().reveal())
        return 0
    if args.command == "tail":
        return _tail(args, opts)
    from orca_desktop.app import run_desktop

    return run_desktop(opts, show_window=args.show_window)


def _serve(opts: Options) -> int:
    def announce(core: Core) -> None:
        demo = " (DEMO: simulated providers, no keys, no network)" if core.demo else ""
        print(f"Orca Desktop gateway{demo} listening on {core.base_url}", flush=True)
        print(
            "Clients authenticate with the local token: run `orca-desktop token` to print it.",
            flush=True,
        )
        if core.keyring_error:
            print(f"warning: {core.keyring_error}", file=sys.stderr, flush=True)

    try:
        return asyncio.run(serve(opts, ready=announce))
    except OSError as exc:
        print(
            f"orca-desktop: cannot listen: {exc.strerror or exc} "
            "(is another gateway running? try --port)",
            file=sys.stderr,
        )
        return 1


def _known_providers(opts: Options) -> dict[str, str]:
    config = load_config(opts.config_path or default_config_path())
    return {pid: spec.label for pid, spec in resolve_providers(config).items() if not spec.keyless}


def _keys(args: argparse.Namespace, opts: Options) -> int:
    store = make_keystore()
    action = args.keys_command
    if action == "list":
        return _keys_list(store, opts, sys.stdout)
    provider = args.provider
    known = _known_providers(opts)
    if provider not in known:
        print(
            f"orca-desktop: unknown provider {provider!r}; known: {', '.join(sorted(known))}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if action == "set":
        key = _read_key(provider)
        if not key:
            print("orca-desktop: no key given", file=sys.stderr)
            return EXIT_USAGE
        try:
            store.set(provider, key)
        except ValueError as exc:
            print(f"orca-desktop: {exc}", file=sys.stderr)
            return EXIT_USAGE
        print(f"Saved the key for {provider} in the OS keyring (service {store.service!r}).")
        return 0
    if action == "delete":
        if store.delete(provider):
            print(f"Deleted the key for {provider}.")
            return 0
        print(f"No saved key for {provider}.")
        return 1
    return asyncio.run(_keys_test(store, opts, provider))


def _read_key(provider: str) -> str:
    if sys.stdin.isatty():
        return getpass.getpass(f"Key for {provider} (input hidden): ").strip()
    return sys.stdin.readline().strip()


def _keys_list(store: KeyStore, opts: Options, out: TextIO) -> int:
    config = load_config(opts.config_path or default_config_path())
    specs = resolve_providers(config)
    try:
        store.load([s.id for s in specs.values() if not s.keyless])
    except NoSecureKeyring as exc:
        print(f"warning: {exc}", file=sys.stderr)
    labels = {"keyring": "in keyring", "env": "from environment", "missing": "missing"}
    for spec in specs.values():
        if spec.keyless:
            state = "local, no key needed" if spec.configured else "local, not configured"
        else:
            state = labels[store.source(spec.id)]
        out.write(f"{spec.id:<12} {state:<22} {spec.label}\n")
    return 0


async def _keys_test(store: KeyStore, opts: Options, provider: str) -> int:
    config = load_config(opts.config_path or default_config_path())
    spec = resolve_providers(config)[provider]
    try:
        await asyncio.get_running_loop().run_in_executor(None, store.load, [provider])
    except NoSecureKeyring as exc:
        print(
            f"No key for {provider}: the keyring is not usable ({exc}), and "
            f"{env_var_name(provider)} is not set. Set that variable for this shell, or fix "
            f"the keyring and run `orca-desktop keys set {provider}`.",
            file=sys.stderr,
        )
        return 1
    key = store.get(provider)
    if key is None:
        print(
            f"No key for {provider}: none in the keyring and {env_var_name(provider)} is not "
            f"set. Run `orca-desktop keys set {provider}`, or set that variable.",
            file=sys.stderr,
        )
        return 1
    client = make_provider(spec, config)  # Anthropic asks its models endpoint natively
    try:
        status, message = await client.list_models(key)
    finally:
        await client.close()
    print(message)
    return 0 if status == 200 else 1


def _tail(args: argparse.Namespace, opts: Options) -> int:
    from orca_desktop.tail import run_tail

    url = args.url
    if url is None:
        config = load_config(opts.config_path or default_config_path())
        host = opts.host or config.server.host
        port = opts.port or config.server.port
        url = f"http://{host}:{port}"
    token = make_keystore().local_token().reveal()
    return run_tail(url.rstrip("/").removesuffix("/v1"), token, sys.stdout)
