"""`--params` files: an alias bomb or a 20,000-deep nesting is one clear error, and a seeded fuzz of generated
YAML/JSON documents only ever gives a mapping or the package's ConfigError, quickly."""
from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from fincommerce.cli.params import read_params
from fincommerce.errors import ConfigError

SEED = 2023
N_DOCUMENTS = 5000


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """The issue's file: nine levels of nine aliases under 03-popularity-trends.half_lives (578 bytes)."""
    lines = ["03-popularity-trends:", "  half_lives:", "  - &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9]"]
    for level in range(1, levels):
        lines.append(f"  - &a{level} [{', '.join([f'*a{level - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_one_error_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb())
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=r"--params .*bomb\.yaml, line 4: expected no YAML aliases.*'\*a0'"):
        read_params(path)
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize("style", ["flow", "block", "json"])
def test_deep_nesting_is_one_error(tmp_path: Path, style: str) -> None:
    depth = 20_000  # a block nesting that deep is 200 MB of indentation: over the size limit, so 1,000 there
    text = {"flow": "a: " + "[" * depth + "]" * depth,
            "block": "".join(f"{' ' * i}k:\n" for i in range(1000)) + " " * 1000 + "k: 1\n",
            "json": '{"a": ' + "[" * depth + "]" * depth + "}"}[style]
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"--params .*deep\.yaml, line \d+: expected nesting at most 50 levels"):
        read_params(path)


def test_ordinary_files_still_read(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("n_users: 20\n03-popularity-trends:\n  half_lives: [1, 6]\n  type_half_lives: [{view: 1}]\n")
    assert read_params(path) == {"n_users": 20, "03-popularity-trends": {"half_lives": [1, 6],
                                                                          "type_half_lives": [{"view": 1}]}}


SCALARS = ["1", "-0.5", "1e400", ".nan", "-.inf", "0x1F", "0o17", "1_000", "yes", "~", "null", "''", '"x\\u0000"',
           "2019-02-30", "2019-13-01 25:61:61", "2001-12-14t21:59:43.10-05:00", "!!int abc", "!!float x",
           "!!binary ###", "!!binary aGk=", "!!timestamp nope", "!!python/object:os.system x", "!!set {a, b}",
           "!!omap [a: 1]", "!!pairs [a: 1]", "!!str 1", "!!null x", "!!bool maybe", "!custom 1", "&anchor 3",
           "*anchor", "<<: *anchor", "? [1, 2]\n  : 3", "'unterminated", "[1, 2", "{a: 1", "|\n  block", ">-\n  x",
           "\t1", "\ufeff1", "\x85", "%YAML 1.1", "---", "...", "- ", "@x", "`x", "\x00", "1:\n 2", "-1e-300",
           "99999999999999999999999999", "\U0001F600", "a: b: c"]
KEYS = ["n_users", "seed", "03-popularity-trends", "half_lives", "1", "[1]", "{a: 1}", "? x", "~", "<<", "!!int 3",
        "&k key", "*k", "", '"quoted"', "'s'", "- x", "x y", "\u202e"]


def random_value(rng: random.Random, depth: int) -> object:
    kind = rng.random()
    if depth > 4 or kind < 0.4:
        return rng.choice([0, 1.5, -3, "x", None, True, float("nan"), "2019-02-30", "\u0000", "é" * 3])
    if kind < 0.7:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(["a", "seed", "n_users", "03-popularity-trends", ""]): random_value(rng, depth + 1)
            for _ in range(rng.randrange(4))}


def random_yaml(rng: random.Random, depth: int = 0) -> str:
    pad = "  " * depth
    kind = rng.random()
    if depth > 6 or kind < 0.35:
        return rng.choice(SCALARS)
    if kind < 0.5:
        return "[" + ", ".join(random_yaml(rng, depth + 1) for _ in range(rng.randrange(4))) + "]"
    if kind < 0.6:
        items = (f"{rng.choice(KEYS)}: {random_yaml(rng, depth + 1)}" for _ in range(rng.randrange(4)))
        return "{" + ", ".join(items) + "}"
    if kind < 0.8:
        return "\n" + "".join(f"{pad}- {random_yaml(rng, depth + 1)}\n" for _ in range(1 + rng.randrange(3)))
    lines = (f"{pad}{rng.choice(KEYS)}: {random_yaml(rng, depth + 1)}\n" for _ in range(1 + rng.randrange(3)))
    return "\n" + "".join(lines)


def document(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.3:
        text = json.dumps({rng.choice(["n_users", "seed", "02-tune-weights"]): random_value(rng, 0)
                           for _ in range(rng.randrange(4))}, allow_nan=True)
    elif kind < 0.4:  # deep or wide, as an attacker would write them
        n = rng.choice([49, 50, 51, 60, 200])  # deeper ones take PyYAML ~0.8 s to reach level 51
        text = rng.choice(["a: " + "[" * n + "]" * n, "a: " + "{b: " * n + "1" + "}" * n,
                           "a: &x [1]\n" + "".join(f"b{i}: &x{i} [*x, *x]\n" for i in range(rng.randrange(1, 30)))])
    else:
        text = "".join(f"{rng.choice(KEYS)}: {random_yaml(rng, 1)}\n" for _ in range(1 + rng.randrange(4)))
    for _ in range(rng.choice([0, 0, 1, 3])):  # byte-level damage
        i = rng.randrange(len(text) + 1)
        text = text[:i] + rng.choice(["", ":", "-", "[", "]", "{", "}", "*", "&", "!", "\n", "\t", "'", '"', "#"]) + \
            text[i + rng.randrange(3):]
    return text


def test_fuzzed_params_files_give_a_mapping_or_one_clear_error(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    outcomes = {"mapping": 0, "error": 0}
    slowest = 0.0
    for i in range(N_DOCUMENTS):
        path = tmp_path / f"p{i % 10}.yaml"
        text = document(rng)
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        started = time.perf_counter()
        try:
            data = read_params(path)
        except ConfigError as exc:
            assert str(exc).startswith("--params") and "\n" not in str(exc).split(", got ")[0], (text, exc)
            outcomes["error"] += 1
        else:
            assert isinstance(data, dict) and all(isinstance(k, str) for k in data), text
            outcomes["mapping"] += 1
        slowest = max(slowest, time.perf_counter() - started)
    print(outcomes, f"slowest {slowest * 1000:.1f} ms")
    assert min(outcomes.values()) > N_DOCUMENTS // 20  # both kinds exercised
    assert slowest < 5.0  # no hang: the deepest flow nesting costs PyYAML at most ~0.8 s to refuse
