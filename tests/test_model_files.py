"""No LightGBM model file takes the process down: seeded mutants of a real model (the crafted files that aborted or
crashed LightGBM, plus random edits) go through the public loading path in a child process, which must end
normally with a loaded model or one clear error naming the file. Saves are atomic and checksummed."""
from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from fincommerce.errors import ValidationError
from fincommerce.offline.learning import train_ranker
from fincommerce.search import learned
from fincommerce.search.learned import LearnedRanker
from fincommerce.search.model_probe import probe_model
from fincommerce.search.model_text import ModelFormatError, check_model_text

SEED = 23
N_MUTANTS = 260


@pytest.fixture(scope="module")
def model_text() -> str:
    from test_learned_ranker import DEFAULTS, synthetic

    model = train_ranker(synthetic(200, seed=4).subset("tune"), seed=0, params={"min_data_in_leaf": 5},
                         base=DEFAULTS)
    return model.booster.model_to_string()


def split_model(text: str) -> tuple[str, list[str], str]:
    """(header, tree blocks, rest) of a model text, as LightGBM's tree_sizes cut it."""
    header, _, body = text.partition("\n\n")
    trees, end, rest = body.partition("end of trees\n")
    blocks = ["Tree=" + b for b in trees.split("Tree=")[1:]]
    return header + "\n\n", blocks, end + rest


def join_model(header: str, blocks: list[str], rest: str, fix_sizes: bool = True) -> str:
    """A model text from its parts; with fix_sizes the header's tree_sizes match the (edited) trees, as a crafted
    file would, so an edit reaches LightGBM's tree parser instead of failing on sizes."""
    if fix_sizes:
        sizes = " ".join(str(len(b.encode())) for b in blocks)
        header = re.sub(r"^tree_sizes=.*$", f"tree_sizes={sizes}", header, flags=re.M)
    return header + "".join(blocks) + rest


def set_field(block: str, key: str, edit: Callable[[list[str]], list[str]]) -> str:
    def repl(m: re.Match) -> str:
        return f"{key}={' '.join(edit(m.group(1).split(' ') if m.group(1) else []))}"
    return re.sub(rf"^{key}=(.*)$", repl, block, count=1, flags=re.M)


def set_item(values: list[str], rng: random.Random, value: str) -> list[str]:
    values = list(values)
    if values:
        values[rng.randrange(len(values))] = value
    return values


def mutants(text: str, seed: int, n: int) -> list[tuple[str, str]]:
    """n (kind, text) mutants: every crash the issue lists, then random byte and line edits, a few benign."""
    rng = random.Random(seed)
    header, blocks, rest = split_model(text)

    def tree_edit(key: str, edit: Callable[[list[str]], list[str]]) -> str:
        edited = list(blocks)
        i = rng.randrange(len(edited))
        edited[i] = set_field(edited[i], key, edit)
        return join_model(header, edited, rest)

    def header_edit(key: str, value: str, fix_sizes: bool = True) -> str:
        return join_model(re.sub(rf"^{key}=.*$", f"{key}={value}", header, flags=re.M), blocks, rest, fix_sizes)

    def cycle() -> str:
        edited = list(blocks)
        i = rng.randrange(len(edited))
        n_nodes = len(re.search(r"^left_child=(.*)$", edited[i], re.M).group(1).split(" "))
        node = rng.randrange(1, n_nodes) if n_nodes > 1 else 0
        edited[i] = set_field(edited[i], "left_child", lambda v: [*v[:node], "0", *v[node + 1:]])
        return join_model(header, edited, rest)

    def sizes(delta: Callable[[int], int]) -> str:
        old = [int(s) for s in re.search(r"^tree_sizes=(.*)$", header, re.M).group(1).split(" ")]
        i = rng.randrange(len(old))
        old[i] = delta(old[i])
        return header_edit("tree_sizes", " ".join(map(str, old)), fix_sizes=False)

    named: dict[str, Callable[[], str]] = {
        "truncated": lambda: text[:rng.randrange(len(text))],
        "split_feature 99999": lambda: tree_edit("split_feature", lambda v: set_item(v, rng, "99999")),
        "split_feature -5": lambda: tree_edit("split_feature", lambda v: set_item(v, rng, "-5")),
        "num_leaves 2e9": lambda: tree_edit("num_leaves", lambda v: ["2000000000"]),
        "num_leaves -7": lambda: tree_edit("num_leaves", lambda v: ["-7"]),
        "num_leaves 9": lambda: tree_edit("num_leaves", lambda v: ["9"]),
        "left_child out of range": lambda: tree_edit("left_child", lambda v: set_item(v, rng, str(rng.choice(
            [len(v), 50, 10**6, -100])))),
        "left_child cycle": cycle,
        "tree_sizes too small": lambda: sizes(lambda s: s - rng.randint(1, s)),
        "tree_sizes negative": lambda: sizes(lambda s: -s),
        "leaf_value nan": lambda: tree_edit("leaf_value", lambda v: set_item(v, rng, "nan")),
        "short array": lambda: tree_edit(rng.choice(["split_feature", "threshold", "left_child", "right_child",
                                                     "leaf_value", "decision_type", "leaf_count"]), lambda v: v[:-1]),
        "decision_type 1, num_cat 0": lambda: tree_edit("decision_type", lambda v: set_item(v, rng, "1")),
        "num_tree_per_iteration 0": lambda: header_edit("num_tree_per_iteration", "0"),
        "max_feature_idx 99": lambda: header_edit("max_feature_idx", "99"),
        "benign threshold": lambda: tree_edit("threshold", lambda v: set_item(v, rng, repr(rng.uniform(-2, 2)))),
    }

    def random_edit() -> str:
        lines = text.split("\n")
        kind = rng.choice(["byte", "delete line", "duplicate line", "swap lines", "digit"])
        if kind == "byte":
            data = bytearray(text.encode())
            data[rng.randrange(len(data))] = rng.randrange(256)
            return data.decode("utf-8", "surrogateescape")
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        if kind == "delete line":
            del lines[i]
        elif kind == "duplicate line":
            lines.insert(i, lines[i])
        elif kind == "swap lines":
            lines[i], lines[j] = lines[j], lines[i]
        else:
            digits = [k for k, c in enumerate(lines[i]) if c.isdigit()] or [0]
            k = rng.choice(digits)
            lines[i] = lines[i][:k] + str(rng.randrange(10)) + lines[i][k + 1:]
        edited = "\n".join(lines)
        if rng.random() < 0.5:  # as a crafted file would: sizes that match the edited trees
            h, b, r = split_model(edited)
            edited = join_model(h, b, r) if b else edited
        return edited

    out = []
    for i in range(n):
        kind = list(named)[i % len(named)] if i < 10 * len(named) else "random"
        out.append((kind, named[kind]() if kind != "random" else random_edit()))
    return out


CHILD = """
import sys
from pathlib import Path
import numpy as np
from fincommerce.errors import ValidationError
from fincommerce.search.learned import LearnedRanker

for path in sys.argv[1:]:
    print("start", Path(path).name, flush=True)
    try:
        model = LearnedRanker.load(path)
        model.contributions(np.zeros((2, len(model.feature_names))))
        print("loaded", Path(path).name, flush=True)
    except ValidationError as exc:
        print("error", Path(path).name, str(exc).replace("\\n", " "), flush=True)
"""


def test_no_model_file_takes_the_process_down(model_text: str, tmp_path: Path) -> None:
    cases = mutants(model_text, SEED, N_MUTANTS)
    assert len({t for _, t in cases}) >= 200  # distinct files
    paths = []
    for i, (_, text) in enumerate(cases):
        path = tmp_path / f"m{i:03d}.txt"
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
        paths.append(path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(learned.__file__).parents[2]),
                                                         os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", CHILD, *map(str, paths)], capture_output=True, text=True,
                          timeout=600, env=env)
    lines = done.stdout.splitlines()
    started = [line.split()[1] for line in lines if line.startswith("start ")]
    assert done.returncode == 0, (f"exit {done.returncode} on {started[-1] if started else '?'} "
                                  f"({cases[int(started[-1][1:4])][0] if started else ''}): {done.stderr[-500:]}")
    outcome = {line.split()[1]: line for line in lines if line.startswith(("loaded ", "error "))}
    assert len(outcome) == len(cases)
    kinds: dict[str, set[str]] = {}
    for (kind, _), path in zip(cases, paths, strict=True):
        result = outcome[path.name]
        kinds.setdefault(kind, set()).add(result.split()[0])
        if result.startswith("error "):
            assert f"ranker_model: expected a LightGBM model file at {path}" in result, result
    for kind, results in kinds.items():  # every crash the issue lists is refused; benign edits still load
        if kind != "random":
            assert results == ({"loaded"} if kind.startswith("benign") else {"error"}), (kind, results)
    loaded = sum(line.startswith("loaded ") for line in outcome.values())
    print(f"{len(cases)} mutants: {loaded} loaded, {len(cases) - loaded} refused")


def test_the_child_process_probe_survives_what_crashes_lightgbm(model_text: str) -> None:
    """The second line of defence, fed directly the crafted bytes that aborted or crashed LightGBM."""
    header, blocks, rest = split_model(model_text)
    assert probe_model(model_text.encode()) is None
    truncated = model_text[:len(header) + 200]
    cyclic = join_model(header, [set_field(blocks[0], "left_child", lambda v: ["0", *v[1:]]), *blocks[1:]], rest)
    for text in (truncated, cyclic):
        with pytest.raises(ModelFormatError):
            check_model_text(text.encode())
        why = probe_model(text.encode(), timeout=3 if text is cyclic else 60)  # a cycle can loop forever
        assert why and why.startswith("LightGBM "), why


def test_saves_are_atomic_and_checksummed(model_text: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import lightgbm as lgb

    model = LearnedRanker(lgb.Booster(model_str=model_text), base=np.arange(5.0))
    path = model.save(tmp_path / "ranker.txt", source="test")
    assert json.loads(path.with_suffix(".json").read_text())["sha256"]
    original = path.read_bytes()

    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        LearnedRanker(lgb.Booster(model_str=model_text.replace("shrinkage=0.15", "shrinkage=0.25"))).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == original and sorted(p.name for p in tmp_path.iterdir()) == ["ranker.json",
                                                                                             "ranker.txt"]
    assert LearnedRanker.load(path).base == pytest.approx(np.arange(5.0))
    path.write_bytes(original.replace(b"shrinkage=0.15", b"shrinkage=0.25"))  # valid, but not what was saved
    with pytest.raises(ValidationError, match=r"ranker_model: expected a LightGBM model file at .*ranker\.txt whose "
                                              r"sha256 matches its sidecar ranker\.json"):
        LearnedRanker.load(path)
