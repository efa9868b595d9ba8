#!/usr/bin/env python3
"""Derive the trimmed Public API schema the simulator and the contract tests use.

The reference is the derived OpenAPI 3.0 document of Public API 73.2.0 (about 1 MB, 201
operations, prose in every node). The project needs only the operations the Public simulator
serves (and the importer will send), without prose, as plain JSON Schema, so this script writes
`data/public-api.schema.json`:

    {
      "info": {...},
      "operations": {
        "<METHOD> <path template>": {
          "operationId": "...",
          "accept": [media types of the 2xx answer, most stable first],
          "parameters": [{"name", "in", "required", "schema"}],
          "requestBody": {"required": bool, "content": {"<media type>": <schema>}},
          "responses": {"<status>": {"<media type>": <schema>}}
        }
      },
      "components": {"schemas": {...every schema reachable from the operations...}}
    }

so a schema is found by operation, status and media type, and every `$ref` still points into
`#/components/schemas/`. Transformations, all to make the file a plain JSON Schema any validator
reads the same way:
- `description`, `example`, `title` and `x-*` keys are dropped (the simulator does not need prose);
- OpenAPI 3.0 `nullable: true` becomes JSON Schema: `type: [T, "null"]` (plus `null` in an `enum`),
  or `anyOf: [<schema>, {"type": "null"}]` for a `$ref`/`allOf` node; `nullable` on a node with no
  type (any value) is dropped, since such a node already admits null.

Usage: scripts/derive_public_schema.py SPEC_DIR   (SPEC_DIR holds
public-api-v73.2.0.derived.openapi.json). Output is deterministic (sorted keys).
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC_FILE = "public-api-v73.2.0.derived.openapi.json"
OUT = ROOT / "data" / "public-api.schema.json"

# The operations the Public simulator serves: what a Config API migration reads or writes
# (workspace, catalogs, sources with schema settings, labels and write keys, destinations and
# their delivery metrics, destination filters, tracking plans with rules and sources, IAM,
# functions, labels, regulations) and the observability reads an audit makes after a cut-over
# (Delivery Overview, event volume).
OPERATIONS = [
    ("get", "/"),
    ("get", "/echo"),
    ("get", "/catalog/sources"),
    ("get", "/catalog/sources/{sourceMetadataId}"),
    ("get", "/catalog/destinations"),
    ("get", "/catalog/destinations/{destinationMetadataId}"),
    ("get", "/sources"),
    ("post", "/sources"),
    ("get", "/sources/{sourceId}"),
    ("patch", "/sources/{sourceId}"),
    ("delete", "/sources/{sourceId}"),
    ("get", "/sources/{sourceId}/connected-destinations"),
    ("get", "/sources/{sourceId}/connected-warehouses"),
    ("post", "/sources/{sourceId}/labels"),
    ("put", "/sources/{sourceId}/labels"),
    ("get", "/sources/{sourceId}/settings"),
    ("patch", "/sources/{sourceId}/settings"),
    ("post", "/sources/{sourceId}/writekey"),
    ("delete", "/sources/{sourceId}/writekey/{writeKey}"),
    ("get", "/destinations"),
    ("post", "/destinations"),
    ("get", "/destinations/{destinationId}"),
    ("patch", "/destinations/{destinationId}"),
    ("delete", "/destinations/{destinationId}"),
    ("get", "/destinations/{destinationId}/delivery-metrics"),
    ("get", "/delivery-overview/successfully-received"),
    ("get", "/delivery-overview/failed-on-ingest"),
    ("get", "/delivery-overview/filtered-at-source"),
    ("get", "/delivery-overview/filtered-at-destination"),
    ("get", "/delivery-overview/failed-delivery"),
    ("get", "/delivery-overview/successful-delivery"),
    ("get", "/events/volume"),
    ("get", "/destination/{destinationId}/filters"),
    ("post", "/destination/{destinationId}/filters"),
    ("get", "/destination/{destinationId}/filters/{filterId}"),
    ("patch", "/destination/{destinationId}/filters/{filterId}"),
    ("delete", "/destination/{destinationId}/filters/{filterId}"),
    ("get", "/tracking-plans"),
    ("post", "/tracking-plans"),
    ("get", "/tracking-plans/{trackingPlanId}"),
    ("patch", "/tracking-plans/{trackingPlanId}"),
    ("delete", "/tracking-plans/{trackingPlanId}"),
    ("get", "/tracking-plans/{trackingPlanId}/rules"),
    ("put", "/tracking-plans/{trackingPlanId}/rules"),
    ("patch", "/tracking-plans/{trackingPlanId}/rules"),
    ("delete", "/tracking-plans/{trackingPlanId}/rules"),
    ("get", "/tracking-plans/{trackingPlanId}/sources"),
    ("post", "/tracking-plans/{trackingPlanId}/sources"),
    ("delete", "/tracking-plans/{trackingPlanId}/sources"),
    ("get", "/users"),
    ("delete", "/users"),
    ("get", "/users/{userId}"),
    ("get", "/users/{userId}/groups"),
    ("post", "/users/{userId}/permissions"),
    ("put", "/users/{userId}/permissions"),
    ("get", "/invites"),
    ("post", "/invites"),
    ("delete", "/invites"),
    ("get", "/roles"),
    ("get", "/groups"),
    ("post", "/groups"),
    ("get", "/groups/{userGroupId}"),
    ("patch", "/groups/{userGroupId}"),
    ("delete", "/groups/{userGroupId}"),
    ("get", "/groups/{userGroupId}/invites"),
    ("post", "/groups/{userGroupId}/permissions"),
    ("put", "/groups/{userGroupId}/permissions"),
    ("get", "/groups/{userGroupId}/users"),
    ("post", "/groups/{userGroupId}/users"),
    ("put", "/group/{userGroupId}/users"),
    ("delete", "/group/{userGroupId}/users"),
    ("get", "/functions"),
    ("post", "/functions"),
    ("get", "/functions/{functionId}"),
    ("patch", "/functions/{functionId}"),
    ("delete", "/functions/{functionId}"),
    ("post", "/functions/{functionId}/deploy"),
    ("get", "/labels"),
    ("post", "/labels"),
    ("delete", "/labels/{key}/{value}"),
    ("get", "/regulations"),
    ("post", "/regulations"),
    ("get", "/regulations/{regulateId}"),
    ("get", "/regulations/sources/{sourceId}"),
    ("post", "/regulations/sources/{sourceId}"),
    ("post", "/regulations/cloudsources/{sourceId}"),
    ("get", "/suppressions"),
]

DROPPED_KEYS = {"description", "example", "examples", "title"}
REF_PREFIX = "#/components/schemas/"


def clean(node):
    """Strips prose and converts `nullable` to JSON Schema, recursively."""
    if isinstance(node, list):
        return [clean(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in DROPPED_KEYS or key.startswith("x-") or key == "nullable":
            continue
        if key == "properties":
            out[key] = {name: clean(prop) for name, prop in value.items()}
        else:
            out[key] = clean(value)
    if node.get("nullable") is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = out["enum"] + [None]
        elif "$ref" in out or "allOf" in out or "anyOf" in out or "oneOf" in out:
            out = {"anyOf": [out, {"type": "null"}]}
        # Otherwise the node has no type: it admits any value, null included.
    return out


def refs_in(node, found):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF_PREFIX):
            found.add(ref[len(REF_PREFIX):])
        for value in node.values():
            refs_in(value, found)
    elif isinstance(node, list):
        for value in node:
            refs_in(value, found)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    spec = json.loads((Path(sys.argv[1]) / SPEC_FILE).read_text())
    all_schemas = spec["components"]["schemas"]
    operations = {}
    for method, path in OPERATIONS:
        op = spec["paths"][path][method]
        entry = {"operationId": op["operationId"], "accept": op.get("x-accept", [])}
        parameters = []
        for param in op.get("parameters", []):
            parameters.append(
                {
                    "name": param["name"],
                    "in": param["in"],
                    "required": bool(param.get("required", False)),
                    "schema": clean(param.get("schema", {})),
                }
            )
        entry["parameters"] = parameters
        body = op.get("requestBody")
        if body:
            entry["requestBody"] = {
                "required": bool(body.get("required", False)),
                "content": {media: clean(c["schema"]) for media, c in body["content"].items()},
            }
        entry["responses"] = {
            status: {media: clean(c["schema"]) for media, c in response.get("content", {}).items()}
            for status, response in op["responses"].items()
        }
        operations[f"{method.upper()} {path}"] = entry

    # Every schema reachable from the operations, transitively.
    needed = set()
    refs_in(operations, needed)
    pending = list(needed)
    while pending:
        name = pending.pop()
        found = set()
        refs_in(all_schemas[name], found)
        for ref in found - needed:
            needed.add(ref)
            pending.append(ref)
    schemas = {name: clean(all_schemas[name]) for name in sorted(needed)}

    out = {
        "info": {
            "title": spec["info"]["title"],
            "version": spec["info"]["version"],
            "derivedBy": "scripts/derive_public_schema.py",
        },
        "operations": operations,
        "components": {"schemas": schemas},
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(operations)} operations, {len(schemas)} schemas")


if __name__ == "__main__":
    main()
