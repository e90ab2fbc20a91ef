"""Refresh the fallback prices in resources/catalog.json and the shipped genai-prices table.

The app already prefers genai-prices at run time; the JSON's prices matter
only for models genai-prices does not know, or if the package is missing a
model after an upgrade. resources/genai-prices.json holds genai-prices'
numbers for the bundled catalog (routing/prices.py), so even a first start
never imports genai-prices; it is only used while the installed genai-prices
is the version it was written for. Run after upgrading genai-prices or
editing the catalog, and commit the diff:

    .venv/bin/python packaging/refresh_catalog_prices.py [--check]

`--check` changes nothing and exits 1 when a price or the table is out of
date. Model ids, context windows and capabilities are curated by hand; this
never adds or removes models. No network: genai-prices' bundled data only.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from orca_desktop.routing.catalog import BUNDLED_PRICES_PATH, DEFAULT_CATALOG_PATH, load_bundled
from orca_desktop.routing.prices import PriceTable

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


def price_table(catalog_path: Path) -> bytes:
    """The shipped table's bytes: every lookup the catalog and pricing make for the catalog."""
    table = PriceTable()
    for info in load_bundled(catalog_path, table):
        table.find(info.provider, info.upstream_id, info.id)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "genai-prices.json"
        table.save(out)
        return out.read_bytes()


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
    table_path = args.path.with_name(BUNDLED_PRICES_PATH.name)
    table = price_table(args.path)  # depends on the catalog's model refs, not its prices
    table_stale = not table_path.is_file() or table_path.read_bytes() != table
    if table_stale:
        print(f"{table_path} is out of date")
    if args.check:
        return 1 if changes or table_stale else 0
    if changes:
        args.path.write_text(dump(data), encoding="utf-8")
    if table_stale:
        table_path.write_bytes(table)
    print(f"{len(changes)} price(s) updated in {args.path}; {table_path} is current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
