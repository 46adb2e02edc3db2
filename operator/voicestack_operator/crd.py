"""The VoiceStack CustomResourceDefinition, generated from the pydantic models of ``spec_model.py``.

The models are the single source of every field (type, bounds, enum, pattern, default, description, CEL
rule); this module adds the CRD's envelope (names, printer columns) and turns the models' JSON schema into
a structural one (:func:`structural`).

``python -m voicestack_operator.crd > crds/voicestack.io_voicestacks.yaml`` regenerates the shipped file
(then ``scripts/sync-chart-crds.sh`` for the chart's copy); a test checks both are current.
"""

from __future__ import annotations

import sys
from typing import Any

import yaml
from pydantic import BaseModel

from voicestack_operator.spec_model import VoiceStack

GROUP = "voicestack.io"
VERSION = "v1alpha1"
KIND = "VoiceStack"
PLURAL = "voicestacks"
SINGULAR = "voicestack"
SHORT_NAMES = ["vs"]

Schema = dict[str, Any]
# Keys a structural schema node is written with first, for a readable file; the rest keep pydantic's order.
KEY_ORDER = ("type", "format", "description")


def structural(model: type[BaseModel]) -> Schema:
    """The model's JSON schema as a Kubernetes structural schema.

    ``model_json_schema`` is close to what the API server takes; this step closes the gap:

    - ``$ref`` is inlined (a structural schema has no references); the referring field's own keys
      (description, default) win over the model's.
    - ``X | None`` (``anyOf: [X, null]``) becomes ``X``, and its ``default: null`` goes: an unset field is
      absent, not null. ``None`` inside an object's default goes too.
    - ``title`` goes; integers get ``format: int32`` unless they name one.
    - Quantities keep their ``anyOf`` of integer and string (``x-kubernetes-int-or-string``), the one
      ``anyOf`` the API server accepts.
    """
    raw = model.model_json_schema()
    return _structural(raw, raw.get("$defs", {}))


def _structural(node: Schema, defs: dict[str, Schema]) -> Schema:
    node = {key: value for key, value in node.items() if key not in ("$defs", "title")}
    while "$ref" in node or _optional(node):
        if "$ref" in node:
            target = defs[node.pop("$ref").rsplit("/", 1)[-1]]
            node = {**{k: v for k, v in target.items() if k != "title"}, **node}
        else:
            (member,) = [m for m in node.pop("anyOf") if m != {"type": "null"}]
            node = {**member, **node}
    if "default" in node:
        if node["default"] is None:
            del node["default"]
        else:
            node["default"] = _without_none(node["default"])
    if node.get("type") == "integer":
        node.setdefault("format", "int32")
    if "properties" in node:
        node["properties"] = {name: _structural(sub, defs) for name, sub in node["properties"].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            node[key] = _structural(node[key], defs)
    first = {key: node[key] for key in KEY_ORDER if key in node}
    return {**first, **{key: value for key, value in node.items() if key not in first}}


def _optional(node: Schema) -> bool:
    return "anyOf" in node and {"type": "null"} in node["anyOf"]


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_none(sub) for key, sub in value.items() if sub is not None}
    if isinstance(value, list):
        return [_without_none(item) for item in value]
    return value


def spec_schema() -> Schema:
    """The schema of ``spec``."""
    return openapi_schema()["properties"]["spec"]


def printer_columns() -> list[dict[str, Any]]:
    return [
        # From the status: the spec leaves asr.model unset for the default (large-v3) and with a storageUri.
        {"name": "ASR", "type": "string", "jsonPath": ".status.asr.model", "description": "ASR model"},
        {"name": "TTS", "type": "string", "jsonPath": ".status.tts.model", "description": "TTS model"},
        {
            "name": "Ready",
            "type": "string",
            "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
            "description": "Whether the whole stack serves",
        },
        {
            "name": "URL",
            "type": "string",
            "jsonPath": ".status.routerUrl",
            "description": "In-cluster router URL",
        },
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]


def openapi_schema() -> Schema:
    """The CRD's openAPIV3Schema, generated from :class:`~voicestack_operator.spec_model.VoiceStack`."""
    return structural(VoiceStack)


def crd() -> dict[str, Any]:
    """The CustomResourceDefinition as a dict."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}", "labels": {"app.kubernetes.io/part-of": "voice-stack"}},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": SHORT_NAMES,
                "categories": ["all", "voice-stack"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": printer_columns(),
                    "schema": {"openAPIV3Schema": openapi_schema()},
                }
            ],
        },
    }


def render() -> str:
    header = (
        "# Generated by `python -m voicestack_operator.crd`; "
        "edit operator/voicestack_operator/spec_model.py instead.\n"
    )
    return header + yaml.dump(crd(), Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=True)


class _Dumper(yaml.SafeDumper):
    """Writes a list shared by two nodes (an enum) twice, not as a YAML anchor and alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def main() -> int:
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
