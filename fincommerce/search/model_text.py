"""LightGBM's text model format, checked in Python before LightGBM parses it.

LightGBM's parser trusts the file: an out-of-range index, a short array or a cycle aborts or crashes the process
that reads it (a kernel, the CLI, the browser server). This check enforces every invariant the parser and the
predictor rely on, for the model kinds this package trains (numeric splits, constant-leaf trees); `model_probe`
then loads a file that passes once in a child process, for whatever this check cannot foresee.
"""
from __future__ import annotations

import math
import re

INT = re.compile(r"[+-]?\d{1,18}\Z")
FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\Z")
MAX_BYTES = 256 << 20
MAX_LEAVES = 131072  # LightGBM's own limit on num_leaves
MAX_FEATURES = 1 << 20
MAX_CLASSES = 1024
# What a tree with splits must carry, and each array's length in terms of its number of leaves n.
SPLIT_ARRAYS = {"split_feature": -1, "split_gain": -1, "threshold": -1, "decision_type": -1, "left_child": -1,
                "right_child": -1, "internal_value": -1, "internal_weight": -1, "internal_count": -1,
                "leaf_value": 0, "leaf_weight": 0, "leaf_count": 0}
INT_ARRAYS = ("split_feature", "decision_type", "left_child", "right_child", "internal_count", "leaf_count")


class ModelFormatError(ValueError):
    """The text breaks an invariant of LightGBM's format; the message says which, and where."""


def _int(value: str, what: str, low: int, high: int) -> int:
    if not INT.match(value.strip()) or not low <= int(value) <= high:
        raise ModelFormatError(f"{what} must be an integer in [{low}, {high}], not {value[:40]!r}")
    return int(value)


def _array(value: str, what: str, length: int, integer: bool) -> list[float] | list[int]:
    items = value.split(" ") if value else []
    if len(items) != length:
        raise ModelFormatError(f"{what} has {len(items)} values, expected {length}")
    if integer:
        bad = next((v for v in items if not INT.match(v)), None)
        if bad is not None:
            raise ModelFormatError(f"{what} holds {bad[:40]!r}, not an integer")
        return [int(v) for v in items]
    bad = next((v for v in items if not FLOAT.match(v) or not math.isfinite(float(v))), None)
    if bad is not None:
        raise ModelFormatError(f"{what} holds {bad[:40]!r}, not a finite number")
    return [float(v) for v in items]


def _key_values(block: str, where: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for line in block.split("\n"):
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ModelFormatError(f"{where}: line {line[:40]!r} is not key=value")
        if key in pairs:
            raise ModelFormatError(f"{where}: {key} appears twice")
        pairs[key] = value
    return pairs


def _check_tree(block: str, index: int, n_features: int) -> None:
    where = f"Tree={index}"
    kv = _key_values(block, where)
    for key in ("num_leaves", "num_cat", "leaf_value", "shrinkage"):
        if key not in kv:
            raise ModelFormatError(f"{where} has no {key}")
    n = _int(kv["num_leaves"], f"{where} num_leaves", 1, MAX_LEAVES)
    if _int(kv["num_cat"], f"{where} num_cat", 0, n) != 0:
        raise ModelFormatError(f"{where} has categorical splits (num_cat > 0); this package's features are numeric")
    if kv.get("is_linear", "0") != "0":
        raise ModelFormatError(f"{where} is a linear tree (is_linear); this package trains constant leaves")
    _array(kv["shrinkage"], f"{where} shrinkage", 1, integer=False)
    if n == 1:
        _array(kv["leaf_value"], f"{where} leaf_value", 1, integer=False)
        return
    arrays = {}
    for key, extra in SPLIT_ARRAYS.items():
        if key not in kv:
            raise ModelFormatError(f"{where} has no {key}")
        arrays[key] = _array(kv[key], f"{where} {key}", n + extra, integer=key in INT_ARRAYS)
    for node, (feature, kind) in enumerate(zip(arrays["split_feature"], arrays["decision_type"], strict=True)):
        if not 0 <= feature < n_features:
            raise ModelFormatError(f"{where} node {node} splits on feature {feature}; the model has {n_features}")
        if not 0 <= kind < 16 or kind & 1 or (kind >> 2) & 3 == 3:
            raise ModelFormatError(f"{where} node {node} has decision_type {kind}; expected a numeric split "
                                   "(0, 2, 4, 6, 8 or 10: categorical splits need num_cat > 0)")
    if any(c < 0 for c in arrays["internal_count"] + arrays["leaf_count"]):
        raise ModelFormatError(f"{where} has a negative count")
    _check_structure(arrays["left_child"], arrays["right_child"], n, where)


def _check_structure(left: list[int], right: list[int], n: int, where: str) -> None:
    """One binary tree from node 0: every internal node and every leaf reached exactly once (no cycle)."""
    nodes, leaves, stack = {0}, set(), [0]
    while stack:
        node = stack.pop()
        for child in (left[node], right[node]):
            if child >= 0:
                if child >= n - 1 or child in nodes:
                    raise ModelFormatError(f"{where} node {node} has child {child}: out of range or reached twice")
                nodes.add(child)
                stack.append(child)
            else:
                leaf = ~child
                if leaf >= n or leaf in leaves:
                    raise ModelFormatError(f"{where} node {node} has leaf {leaf}: out of range or reached twice")
                leaves.add(leaf)
    if len(nodes) != n - 1 or len(leaves) != n:
        raise ModelFormatError(f"{where} reaches {len(nodes)} of {n - 1} nodes and {len(leaves)} of {n} leaves")


def check_model_text(data: bytes) -> None:
    """Raise ModelFormatError unless `data` is a complete LightGBM text model that LightGBM can read safely."""
    if len(data) > MAX_BYTES:
        raise ModelFormatError(f"{len(data)} bytes; a model file is at most {MAX_BYTES >> 20} MB")
    if b"\0" in data:
        raise ModelFormatError("it contains a NUL byte")
    if not data.startswith(b"tree\n"):
        raise ModelFormatError("it does not start with LightGBM's 'tree' line")
    header_end = data.find(b"\n\n")
    trees_end = data.find(b"\nend of trees\n")
    if header_end < 0 or trees_end < 0:
        raise ModelFormatError("it has no 'end of trees' line (a truncated file?)")
    try:
        header = _key_values(data[5:header_end].decode("utf-8"), "header")
    except UnicodeDecodeError:
        raise ModelFormatError("its header is not UTF-8 text") from None
    for key in ("version", "num_class", "num_tree_per_iteration", "max_feature_idx", "feature_names", "tree_sizes"):
        if key not in header:
            raise ModelFormatError(f"its header has no {key}")
    num_class = _int(header["num_class"], "num_class", 1, MAX_CLASSES)
    per_iteration = _int(header["num_tree_per_iteration"], "num_tree_per_iteration", 1, MAX_CLASSES)
    if per_iteration != num_class:
        raise ModelFormatError(f"num_tree_per_iteration {per_iteration} differs from num_class {num_class}")
    if "label_index" in header:
        _int(header["label_index"], "label_index", 0, MAX_FEATURES)
    n_features = _int(header["max_feature_idx"], "max_feature_idx", 0, MAX_FEATURES - 1) + 1
    for key in ("feature_names", "feature_infos", "monotone_constraints"):
        if key in header and len(header[key].split(" ")) != n_features:
            raise ModelFormatError(f"{key} has {len(header[key].split(' '))} entries for {n_features} features")
    if "monotone_constraints" in header:
        _array(header["monotone_constraints"], "monotone_constraints", n_features, integer=True)
    sizes = header["tree_sizes"].split(" ") if header["tree_sizes"] else []
    sizes = _array(header["tree_sizes"], "tree_sizes", len(sizes), integer=True)
    if not sizes or len(sizes) % per_iteration or min(sizes) < 1:
        raise ModelFormatError(f"tree_sizes must list a positive size per tree, a multiple of {per_iteration} trees")
    parameters = data.find(b"\nparameters:\n", trees_end)
    if parameters >= 0 and data.find(b"\nend of parameters\n", parameters) < 0:
        raise ModelFormatError("its parameters section has no 'end of parameters' line (a truncated file?)")
    start = header_end + 2
    if start + sum(sizes) != trees_end + 1:
        raise ModelFormatError(f"tree_sizes add up to {sum(sizes)} bytes, but the trees take {trees_end + 1 - start}")
    for i, size in enumerate(sizes):
        block, start = data[start:start + size], start + size
        head = f"Tree={i}\n".encode()
        if not block.startswith(head):
            raise ModelFormatError(f"tree {i} does not start at the offset tree_sizes gives")
        try:
            _check_tree(block[len(head):].decode("ascii"), i, n_features)
        except UnicodeDecodeError:
            raise ModelFormatError(f"Tree={i} is not ASCII text") from None
