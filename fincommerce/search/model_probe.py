"""Load a LightGBM model once in a child process, so a file that would abort or crash LightGBM ends only the child.

The child is this file run as a script: standard library only, LightGBM's C library through ctypes (importing the
lightgbm package costs ~3 s of scikit-learn; the library alone ~0.1 s). It loads the exact bytes the parent will
parse, makes the calls lightgbm.Booster makes on loading (classes, parameters, feature names) and predicts raw
scores and contributions (the two calls the ranker makes) on rows of zeros, ones, extremes and NaN. Verdicts are
cached per process by the bytes' sha256.
"""
from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import signal
import subprocess
import sys
import threading
from pathlib import Path

TIMEOUT_S = 60.0
PREDICT_RAW_SCORE, PREDICT_CONTRIB, DTYPE_FLOAT64, ROW_MAJOR = 1, 3, 1, 1
ROW_VALUES = (0.0, 1.0, -1.0, 0.5, 1e30, -1e30, float("nan"))

_verdicts: dict[str, str | None] = {}  # sha256 → None (LightGBM reads it) or why not
_lock = threading.Lock()


def lightgbm_library() -> Path:
    """The lightgbm package's shared library, found without importing the package."""
    spec = importlib.util.find_spec("lightgbm")
    folders = list(spec.submodule_search_locations or []) if spec else []
    found = [p for folder in folders for p in sorted((Path(folder) / "lib").glob("lib_lightgbm.*"))]
    if not found:
        raise FileNotFoundError("lightgbm's lib_lightgbm library is not installed")
    return found[0]


def probe_model(data: bytes, timeout: float = TIMEOUT_S) -> str | None:
    """None when a child process loads `data` and predicts with it; otherwise why it could not."""
    digest = hashlib.sha256(data).hexdigest()
    with _lock:
        if digest in _verdicts:
            return _verdicts[digest]
    try:
        done = subprocess.run([sys.executable, "-I", __file__], input=data, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"LightGBM did not finish reading it within {timeout:g} s"
    verdict = None if done.returncode == 0 else _why(done)
    with _lock:
        _verdicts[digest] = verdict
    return verdict


def _why(done: subprocess.CompletedProcess) -> str:
    said = done.stdout.decode("utf-8", "replace").strip().splitlines()
    fatal = [line for line in done.stderr.decode("utf-8", "replace").splitlines() if "[Fatal]" in line]
    if done.returncode == 1 and said:
        return f"LightGBM cannot read it: {said[-1]}"
    if done.returncode < 0:
        how = signal.Signals(-done.returncode).name
    else:
        how = f"exit status {done.returncode}"
    return f"LightGBM crashes reading it ({how}{'; ' + fatal[-1].strip() if fatal else ''})"


def _child() -> int:
    """Load stdin's model with LightGBM's C API and predict; print LightGBM's error and return 1 if it refuses."""
    data = sys.stdin.buffer.read()
    lib = ctypes.CDLL(str(lightgbm_library()))
    lib.LGBM_GetLastError.restype = ctypes.c_char_p
    handle, iterations, n_features = ctypes.c_void_p(), ctypes.c_int(), ctypes.c_int()

    def failed(code: int) -> bool:
        if code:
            print(lib.LGBM_GetLastError().decode("utf-8", "replace"))
        return bool(code)

    if failed(lib.LGBM_BoosterLoadModelFromString(ctypes.c_char_p(data), ctypes.byref(iterations),
                                                  ctypes.byref(handle))):
        return 1
    if failed(lib.LGBM_BoosterGetNumClasses(handle, ctypes.byref(ctypes.c_int()))) or failed(
            lib.LGBM_BoosterGetNumFeature(handle, ctypes.byref(n_features))):
        return 1
    size = ctypes.c_int64(1 << 20)
    while True:  # the parameters section, as lightgbm.Booster reads it after loading
        buffer, needed = ctypes.create_string_buffer(size.value), ctypes.c_int64()
        if failed(lib.LGBM_BoosterGetLoadedParam(handle, size, ctypes.byref(needed), buffer)):
            return 1
        if needed.value <= size.value:
            break
        size = needed
    width, count, needed_width = ctypes.c_size_t(256), ctypes.c_int(), ctypes.c_size_t()
    while True:  # the feature names, as Booster.feature_name() reads them
        names = [ctypes.create_string_buffer(width.value) for _ in range(n_features.value)]
        pointers = (ctypes.c_char_p * n_features.value)(*map(ctypes.addressof, names))
        if failed(lib.LGBM_BoosterGetFeatureNames(handle, n_features, ctypes.byref(count), width,
                                                  ctypes.byref(needed_width), pointers)):
            return 1
        if needed_width.value <= width.value:
            break
        width = needed_width
    nrow, ncol = len(ROW_VALUES), n_features.value
    rows = (ctypes.c_double * (nrow * ncol))(*(v for v in ROW_VALUES for _ in range(ncol)))
    for kind in (PREDICT_RAW_SCORE, PREDICT_CONTRIB):
        size, written = ctypes.c_int64(), ctypes.c_int64()
        if failed(lib.LGBM_BoosterCalcNumPredict(handle, ctypes.c_int(nrow), ctypes.c_int(kind), ctypes.c_int(0),
                                                 ctypes.c_int(-1), ctypes.byref(size))):
            return 1
        out = (ctypes.c_double * size.value)()
        if failed(lib.LGBM_BoosterPredictForMat(handle, rows, ctypes.c_int(DTYPE_FLOAT64), ctypes.c_int32(nrow),
                                                ctypes.c_int32(ncol), ctypes.c_int(ROW_MAJOR), ctypes.c_int(kind),
                                                ctypes.c_int(0), ctypes.c_int(-1), ctypes.c_char_p(b"num_threads=1"),
                                                ctypes.byref(written), out)):
            return 1
    lib.LGBM_BoosterFree(handle)
    return 0


if __name__ == "__main__":
    sys.exit(_child())
