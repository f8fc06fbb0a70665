"""pyproject.toml and environment.yml must pin the same packages."""
import re
import tomllib

from fincommerce.config import PROJECT_ROOT


def _pins(lines: list[str]) -> dict[str, str]:
    out = {}
    for line in lines:
        m = re.match(r"^\s*-?\s*([A-Za-z0-9_.-]+)(?:\[[\w,]+\])?\s*==?\s*([\w.+-]+)\s*$", line)
        if m and m[1] not in {"python", "pip"}:
            out[m[1].lower()] = m[2]
    return out


def test_environment_yml_matches_pyproject() -> None:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["test"]
    pyproject = _pins(declared)
    conda = _pins((PROJECT_ROOT / "environment.yml").read_text().splitlines())
    assert pyproject == conda
    assert len(pyproject) == len(declared), "every dependency must be pinned"
