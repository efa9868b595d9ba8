#!/usr/bin/env python3
"""Derive the simulators' catalog and the Config API test fixtures from the reference captures.

The reference captures are the real Config API v1beta catalog dumps and real tracking-plan
responses (a `config-api-v1beta/` folder holding `catalog-*.verbatim-2019-10.json`,
`catalog-*.segment-docs-2021-06-30.yml` and `fixtures/tracking-plan.*.json`). They are large and
carry prose descriptions the project does not need, so this script writes compact copies into the
project, which then builds and tests without them:

- `data/catalog.json`: one catalog shared by both simulators. Every item keeps the Config API wire
  shape and key order of the 2019 dump (minus `description`), gains `previous_names` from the 2021
  catalog, and carries a stable opaque `public_id` (the Public API's metadata id), derived from
  the slug by hashing so that it never changes between regenerations. Items that exist only in the
  2021 catalog are rebuilt into the 2019 wire shape (the 2021 file was reshaped by a docs generator).
- `tests/fixtures/config-api/catalog-sample.json`: a few verbatim items (descriptions included) that
  the contract tests compare the simulator's responses against.
- `tests/fixtures/config-api/tracking-plan.*.json`: the real tracking-plan responses, verbatim.

Usage: scripts/derive_catalog.py SPEC_DIR   (SPEC_DIR contains config-api-v1beta/)
Needs PyYAML. Output is deterministic: running it twice gives identical files.
"""

import hashlib
import json
import shutil
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# Destinations picked for the verbatim sample: a MIXED setting (adwords), MAP and NUMBER settings
# (google-analytics), PASSWORD settings (salesforce, sailthru), a SELECT setting (amplitude) and
# a renamed integration (appboy, now Braze).
SAMPLE_DESTINATIONS = ["adwords", "amplitude", "appboy", "google-analytics", "sailthru", "salesforce"]
SAMPLE_SOURCES = ["javascript", "ios", "http-api", ".net"]


def digest(kind: str, slug: str) -> bytes:
    return hashlib.sha256(f"segbridge-catalog/{kind}/{slug}".encode()).digest()


def destination_public_id(slug: str) -> str:
    # Public destination metadata ids look like Mongo object ids: 24 lower-case hex digits.
    return digest("destination", slug).hex()[:24]


def source_public_id(slug: str) -> str:
    # Public source metadata ids are 10 base62 characters (e.g. `IqDTy1TpoU`).
    n = int.from_bytes(digest("source", slug), "big")
    out = []
    for _ in range(10):
        n, r = divmod(n, 62)
        out.append(BASE62[r])
    return "".join(out)


def strip_descriptions(setting: dict) -> dict:
    out = {k: v for k, v in setting.items() if k != "description"}
    out["settings"] = [strip_descriptions(s) for s in setting.get("settings", [])]
    return out


def with_previous_names(item: dict, previous: list) -> dict:
    """Copy `item` without its description, inserting `previous_names` after `status`."""
    out = {}
    for key, value in item.items():
        if key == "description":
            continue
        if key == "settings":
            value = [strip_descriptions(s) for s in value]
        out[key] = value
        if key == "status":
            out["previous_names"] = previous
    if "previous_names" not in out:
        out["previous_names"] = previous
    return out


def rebuild_destination(item: dict) -> dict:
    """Turn a 2021 docs-generator item back into the Config API wire shape of the 2019 dump."""
    categories = item.get("categories") or []
    return {
        "name": item["name"],
        "display_name": item["display_name"],
        "description": "",
        "type": "STREAMING",
        "website": item.get("website", ""),
        "status": item.get("status", "PUBLIC"),
        "logos": {"logo": item.get("logo", {}).get("url", ""), "mark": item.get("mark", {}).get("url", "")},
        "categories": {
            "primary": categories[0] if categories else "",
            "secondary": categories[1] if len(categories) > 1 else "",
            "additional": categories[2:],
        },
        "components": item.get("components", []),
        "platforms": item.get("platforms", {}),
        "methods": item.get("methods", {}),
        "browserUnbundlingSupported": item.get("browserUnbundlingSupported", False),
        "browserUnbundlingPublic": item.get("browserUnbundlingPublic", False),
        "settings": item.get("settings", []),
    }


def rebuild_source(item: dict) -> dict:
    return {
        "name": item["name"],
        "display_name": item["display_name"],
        "description": "",
        "categories": item.get("categories", []),
        "logos": {"logo": item.get("logo", {}).get("url", ""), "mark": item.get("mark", {}).get("url", "")},
    }


def slug_of(name: str) -> str:
    return name.split("/", 2)[2]


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    spec = Path(sys.argv[1]) / "config-api-v1beta"
    dest_2019 = json.loads((spec / "catalog-destinations.verbatim-2019-10.json").read_text())["destinations"]
    src_2019 = json.loads((spec / "catalog-sources.verbatim-2019-10.json").read_text())["sources"]
    dest_2021 = yaml.safe_load((spec / "catalog-destinations.segment-docs-2021-06-30.yml").read_text())["items"]
    src_2021 = yaml.safe_load((spec / "catalog-sources.segment-docs-2021-06-30.yml").read_text())["items"]

    by_name_2021 = {i["name"]: i for i in dest_2021}
    destinations = {}
    for item in dest_2019:
        previous = by_name_2021.get(item["name"], {}).get("previous_names") or []
        destinations[item["name"]] = with_previous_names(item, previous)
    for item in dest_2021:
        if item["name"] not in destinations:
            destinations[item["name"]] = with_previous_names(rebuild_destination(item), item.get("previous_names") or [])

    src_by_name_2021 = {i["name"]: i for i in src_2021}
    sources = {}
    for item in src_2019:
        sources[item["name"]] = {k: v for k, v in item.items() if k != "description"}
    for item in src_2021:
        if item["name"] not in sources:
            sources[item["name"]] = {k: v for k, v in rebuild_source(item).items() if k != "description"}
    for name, item in sources.items():
        # `type` (event | object) only exists in the 2021 data; cloud object sources are not
        # event sources on the Public side.
        item["type"] = src_by_name_2021.get(name, {}).get("type", "event")

    catalog = {
        "schema_version": 1,
        "provenance": "Config API v1beta catalog dumps of 2019-10 (wire shape) and 2021-06 (previous names,"
        " later integrations); descriptions removed; public_id derived from the slug",
        "sources": [dict(item, public_id=source_public_id(slug_of(n))) for n, item in sorted(sources.items())],
        "destinations": [
            dict(item, public_id=destination_public_id(slug_of(n))) for n, item in sorted(destinations.items())
        ],
    }
    out = ROOT / "data" / "catalog.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(catalog, ensure_ascii=False, separators=(",", ":")) + "\n")

    fixtures = ROOT / "tests" / "fixtures" / "config-api"
    fixtures.mkdir(parents=True, exist_ok=True)
    sample = {
        "destinations": [i for i in dest_2019 if slug_of(i["name"]) in SAMPLE_DESTINATIONS],
        "sources": [i for i in src_2019 if slug_of(i["name"]) in SAMPLE_SOURCES],
    }
    (fixtures / "catalog-sample.json").write_text(json.dumps(sample, ensure_ascii=False, indent=1) + "\n")
    for plan in sorted((spec / "fixtures").glob("tracking-plan.*.json")):
        shutil.copyfile(plan, fixtures / plan.name)

    print(f"{out.relative_to(ROOT)}: {len(catalog['sources'])} sources, {len(catalog['destinations'])} destinations")


if __name__ == "__main__":
    main()
