"""Refresh the fallback prices in resources/catalog.json from the installed genai-prices.

The app already prefers genai-prices at run time; the JSON's prices matter
only for models genai-prices does not know, or if the package is missing a
model after an upgrade. Run after upgrading genai-prices and commit the diff:

    .venv/bin/python packaging/refresh_catalog_prices.py [--check]

`--check` changes nothing and exits 1 when a price is out of date. Model ids,
context windows and capabilities are curated by hand; this never adds or
removes models. No network: genai-prices' bundled data only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from orca_desktop.routing.catalog import DEFAULT_CATALOG_PATH, load_bundled

PRICE_FIELDS = ("input_price", "output_price", "cached_input_price")


def refreshed(path: Path) -> tuple[dict[str, object], list[str]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    current = {(m.provider, m.id): m for m in load_bundled(path)}
    changes = []
    for raw in data["models"]:
        info = current[(raw["provider"], raw["id"])]
        for name in PRICE_FIELDS:
            value = getattr(info, name)
            new = None if value is None else format(value.normalize(), "f")
            if raw.get(name) != new and new is not None:
                changes.append(f"{raw['provider']}/{raw['id']} {name}: {raw.get(name)} -> {new}")
                raw[name] = new
    return data, changes


def dump(data: dict[str, object]) -> str:
    """The file's layout: one model per line, so diffs stay readable."""
    models = data["models"]
    assert isinstance(models, list)
    head = {k: v for k, v in data.items() if k != "models"}
    lines = [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}," for k, v in head.items()]
    rows = ",\n".join("    " + json.dumps(m, ensure_ascii=False) for m in models)
    return "{\n" + "\n".join(lines) + '\n  "models": [\n' + rows + "\n  ]\n}\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=DEFAULT_CATALOG_PATH)
    parser.add_argument("--check", action="store_true", help="report stale prices, change nothing")
    args = parser.parse_args()
    data, changes = refreshed(args.path)
    for change in changes:
        print(change)
    if args.check:
        return 1 if changes else 0
    if changes:
        args.path.write_text(dump(data), encoding="utf-8")
    print(f"{len(changes)} price(s) updated in {args.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
