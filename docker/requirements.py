"""Print the requirements of the project plus the given extras, one per line, for a cached image layer.

Run inside an image build, before the source is copied: ``python3 docker/requirements.py router``. Extras
that name the project itself (``voicestack[predictor]``) are expanded, so the output holds only third-party
requirements; ``pip install -c requirements/constraints.txt -r <output>`` then installs them in one layer
that is rebuilt only when ``pyproject.toml`` changes.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

SELF = re.compile(r"^\s*(?P<name>[A-Za-z0-9_.-]+)\s*\[(?P<extras>[^\]]*)\]\s*$")


def requirements(pyproject: dict, extras: list[str]) -> list[str]:
    """The project's dependencies and those of ``extras`` (recursively), without the project itself."""
    project = pyproject["project"]
    name = project["name"].lower()
    optional: dict[str, list[str]] = project.get("optional-dependencies", {})
    result: list[str] = list(project.get("dependencies", []))
    seen: set[str] = set()
    todo = list(extras)
    while todo:
        extra = todo.pop(0)
        if extra in seen:
            continue
        if extra not in optional:
            raise SystemExit(f"unknown extra {extra!r}; known: {', '.join(sorted(optional))}")
        seen.add(extra)
        for req in optional[extra]:
            match = SELF.match(req)
            if match and match["name"].lower().replace("_", "-") == name:
                todo += [e.strip() for e in match["extras"].split(",") if e.strip()]
            elif req not in result:
                result.append(req)
    return result


def main(argv: list[str]) -> int:
    pyproject = tomllib.loads(Path("pyproject.toml").read_text())
    print("\n".join(requirements(pyproject, argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
