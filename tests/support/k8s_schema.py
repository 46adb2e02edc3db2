"""Validate manifests offline against CRD schemas the way the Kubernetes API server reads them.

A CRD's ``openAPIV3Schema`` is *almost* JSON schema. :func:`to_json_schema` converts the Kubernetes
extensions so ``jsonschema`` can check objects strictly:

- ``nullable: true`` → ``null`` is accepted too;
- ``x-kubernetes-int-or-string`` → an integer or a string;
- ``x-kubernetes-preserve-unknown-fields`` → unknown fields allowed there (and only there);
- ``x-kubernetes-embedded-resource`` → ``apiVersion``/``kind``/``metadata`` allowed;
- everywhere else an object that lists ``properties`` rejects unknown fields (``additionalProperties: false``)
  — the API server would prune them silently, which hides bugs; tests reject them instead.

``x-kubernetes-validations`` (CEL) is not evaluated here. Core kinds are checked with ``kubernetes-validate``
(:func:`validate_core`). Reusable for any chart or operator test::

    validator = crd_validator(k8s_root() / "kserve-crds" / "serving.kserve.io_inferenceservices.yaml")
    assert not errors(validator, manifest)
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import yaml


def newest_core_versions(count: int = 3) -> tuple[str, ...]:
    """The newest Kubernetes versions whose schemas the installed kubernetes-validate ships."""
    from kubernetes_validate.utils import all_versions

    shipped = sorted(set(all_versions()), key=lambda v: tuple(int(p) for p in v.split(".")))
    return tuple(shipped[-count:])


# The newest Kubernetes versions kubernetes-validate ships (1.35-1.37 with kubernetes-validate 1.37).
CORE_VERSIONS = newest_core_versions()


def to_json_schema(schema: dict[str, Any], *, root: bool = True) -> dict[str, Any]:
    """Convert a CRD openAPIV3Schema (or any node of one) into an equivalent, strict JSON schema."""
    node = copy.deepcopy(schema)
    return _convert(node, root=root)


def _convert(node: dict[str, Any], *, root: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    preserve = bool(node.pop("x-kubernetes-preserve-unknown-fields", False))
    embedded = bool(node.pop("x-kubernetes-embedded-resource", False))
    int_or_string = bool(node.pop("x-kubernetes-int-or-string", False))
    nullable = bool(node.pop("nullable", False))
    for key, value in node.items():
        if key.startswith("x-kubernetes-"):
            continue  # list types, map keys, CEL validations: API-server semantics, not JSON schema
        if key == "properties":
            out[key] = {name: _convert(sub, root=False) for name, sub in value.items()}
        elif key in {"items", "additionalProperties", "not"} and isinstance(value, dict):
            out[key] = _convert(value, root=False)
        elif key in {"anyOf", "allOf", "oneOf"}:
            # In structural schemas these only constrain values; they never declare fields.
            out[key] = [_convert(sub, root=False) for sub in value]
        else:
            out[key] = value
    if int_or_string:
        out.pop("type", None)
        out.pop("anyOf", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if embedded:
        props = out.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
    if out.get("type") == "object" and not preserve and "additionalProperties" not in out:
        is_root_metadata = root  # the root object's metadata is ObjectMeta, validated elsewhere
        if "properties" in out or not is_root_metadata:
            out["additionalProperties"] = False
    if root and "properties" in out and "metadata" in out["properties"]:
        out["properties"]["metadata"] = {"type": "object"}
    if nullable:
        if "type" in out:
            out["type"] = [out["type"], "null"]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


# KServe's InferenceService CRD is 2 MB of YAML: libyaml parses it in about a second, pure Python in seven.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.lru_cache(maxsize=16)
def _load_crd_cached(path: Path) -> dict[str, Any]:
    docs = [doc for doc in yaml.load_all(path.read_text(), Loader=_LOADER) if doc]
    crds = [doc for doc in docs if doc.get("kind") == "CustomResourceDefinition"]
    if len(crds) != 1:
        raise ValueError(f"{path}: expected one CustomResourceDefinition, found {len(crds)}")
    return crds[0]


def load_crd(path: Path) -> dict[str, Any]:
    """The one CustomResourceDefinition in a YAML file (a private copy; parsed once per path)."""
    return copy.deepcopy(_load_crd_cached(Path(path).resolve()))


def crd_version_schema(crd: dict[str, Any], version: str | None = None) -> dict[str, Any]:
    versions = crd["spec"]["versions"]
    chosen = next((v for v in versions if v["name"] == version), None) if version else None
    chosen = chosen or next(v for v in versions if v.get("storage"))
    return chosen["schema"]["openAPIV3Schema"]


def crd_validator(crd: dict[str, Any] | Path, version: str | None = None) -> jsonschema.Draft7Validator:
    """A strict ``jsonschema`` validator for objects of the CRD's (storage) version."""
    if isinstance(crd, Path):
        return _path_validator(Path(crd).resolve(), version)
    return _validator(crd, version)


@functools.lru_cache(maxsize=16)
def _path_validator(path: Path, version: str | None) -> jsonschema.Draft7Validator:
    return _validator(_load_crd_cached(path), version)


def _validator(loaded: dict[str, Any], version: str | None) -> jsonschema.Draft7Validator:
    schema = to_json_schema(crd_version_schema(loaded, version))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def errors(validator: jsonschema.Draft7Validator, obj: dict[str, Any]) -> list[str]:
    """Readable validation errors (empty when valid)."""
    found = sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}" for e in found]


def structural_problems(schema: dict[str, Any], path: str = "") -> Iterator[str]:
    """Places where a CRD schema is not structural-and-documented: a node without a type or description.

    ``metadata`` at the root is exempt from the description rule: the API server rejects a CRD whose
    ``metadata`` schema has anything but ``type: object``. Int-or-string nodes carry no ``type`` by design.
    """
    if "type" not in schema and not schema.get("x-kubernetes-int-or-string"):
        yield f"{path or '<root>'}: no type"
    if path == ".metadata":
        if set(schema) != {"type"}:
            yield ".metadata: only 'type: object' is allowed"
        return
    if not schema.get("description"):
        yield f"{path or '<root>'}: no description"
    for name, sub in schema.get("properties", {}).items():
        yield from structural_problems(sub, f"{path}.{name}")
    items = schema.get("items")
    if isinstance(items, dict):
        yield from _structural_items(items, f"{path}[]")
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict) and "type" not in extra:
        yield f"{path}.*: no type"


def _structural_items(schema: dict[str, Any], path: str) -> Iterator[str]:
    # List items of a simple type may go without their own description (the list has one).
    if schema.get("type") == "object":
        yield from structural_problems(schema, path)
    elif "type" not in schema:
        yield f"{path}: no type"


def validate_core(manifest: dict[str, Any], versions: tuple[str, ...] = CORE_VERSIONS) -> list[str]:
    """Validate a core-kind manifest strictly with kubernetes-validate for each Kubernetes version."""
    import kubernetes_validate

    problems: list[str] = []
    for version in versions:
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{version}: {'/'.join(str(p) for p in exc.path)}: {exc.message}")
    return problems
