"""Shared fixtures: one real MiniLM per test session, a fresh embedded store per test."""
from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings as hypothesis_settings
from pyspark.sql import SparkSession

from fincommerce import Settings, Workbench
from fincommerce.catalog import generate_catalog
from fincommerce.embedding import Embedder
from fincommerce.logs.cluster import LocalCluster, group_members
from fincommerce.logs.spark import spark_session
from fincommerce.offline.sessions import product_table, session_log
from fincommerce.store import Store
from fincommerce.store.client import ClientStore
from fincommerce.store.edge import EdgeStore
from fincommerce.tracking.event_table import read_event_table
from fincommerce.ui.pipeline import REES46_SAMPLE

# Property tests are seeded (the same examples every run); Hypothesis's caches go to a temporary folder,
# never into the project tree.
_HYPOTHESIS_HOME = tempfile.TemporaryDirectory(prefix="fincommerce-hypothesis-")
os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = _HYPOTHESIS_HOME.name
hypothesis_settings.register_profile("seeded", derandomize=True, database=None)
hypothesis_settings.load_profile("seeded")

HOUR = 3600.0
T0 = 1_700_000_000.0  # a fixed "now" for known-answer tests

PRODUCTS = [
    {
        "id": "mbp",
        "name": "Apple MacBook Pro 14 M3",
        "brand": "Apple",
        "categories": ["Laptops", "Ultrabooks"],
        "price": 1999.0,
        "description": "Powerful laptop for machine learning and software development.",
    },
    {
        "id": "air",
        "name": "Apple MacBook Air 13 M2",
        "brand": "Apple",
        "categories": ["Laptops", "Ultrabooks"],
        "price": 999.0,
        "description": "Light laptop for students, coding and machine learning coursework.",
    },
    {
        "id": "ideapad",
        "name": "Lenovo IdeaPad Slim 3 Laptop",
        "brand": "Lenovo",
        "categories": ["Laptops", "Budget Laptops"],
        "price": 449.0,
        "description": "Affordable laptop for students and programming.",
    },
    {
        "id": "legion",
        "name": "Lenovo Legion 7 RTX 4080 Gaming Laptop",
        "brand": "Lenovo",
        "categories": ["Laptops", "Gaming Laptops"],
        "price": 2799.0,
        "description": "GPU laptop for deep learning and gaming.",
    },
    {
        "id": "pegasus",
        "name": "Nike Pegasus 41 Running Shoes",
        "brand": "Nike",
        "categories": ["Sports", "Running"],
        "price": 139.0,
        "description": "Cushioned running shoes for daily training.",
    },
    {
        "id": "ultraboost",
        "name": "Adidas Ultraboost Light Running Shoes",
        "brand": "Adidas",
        "categories": ["Sports", "Running"],
        "price": 189.0,
        "description": "Responsive running shoes for marathons.",
    },
    {
        "id": "kettle",
        "name": "Bosch Electric Kettle 1.7L",
        "brand": "Bosch",
        "categories": ["Kitchen", "Kettles"],
        "price": 49.0,
        "description": "Fast boiling kettle for tea and coffee.",
    },
    {
        "id": "xm5",
        "name": "Sony WH-1000XM5 Wireless Headphones",
        "brand": "Sony",
        "categories": ["Audio", "Headphones"],
        "price": 349.0,
        "description": "Noise cancelling headphones for travel and focus.",
    },
]


GUARDED = ("data", "reports", "notebooks")  # tests use temporary folders only, never these


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for folder in GUARDED for p in sorted((root / folder).rglob("*")) if p.is_file()}


@pytest.fixture(scope="session", autouse=True)
def project_tree_untouched() -> Iterator[None]:
    """Fails the run if any test wrote into data/, reports/ or notebooks/ (a user's own data lives there)."""
    root = Path(__file__).resolve().parents[1]
    before = _tree(root)
    yield
    after = _tree(root)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"tests changed the project tree: {changed[:10]}"


def shared_dir() -> Path:
    env = os.environ.get("FINCOMMERCE_SHARED_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture(scope="session")
def october_embedder(embedder: Embedder, tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    """The session's MiniLM with the October sample's product texts already in its cache. Two test files replay
    the sample's session protocol (~26 s of encoding each); the first xdist worker there encodes the texts
    with the real model and leaves the vectors in the run's shared temporary folder, the other reads them."""
    texts = sorted(set(product_table(session_log(read_event_table(REES46_SAMPLE).events).products).text))
    if "PYTEST_XDIST_WORKER" not in os.environ:  # one process: nothing to share
        embedder.encode(texts)
        return embedder
    shared = tmp_path_factory.getbasetemp().parent  # this run's, common to its workers
    with open(shared / "october-vectors.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        saved = shared / "october-vectors.npy"
        if saved.exists():
            embedder._cache.update(zip(texts, np.load(saved), strict=True))
        else:
            np.save(saved, embedder.encode(texts))
    return embedder


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(store_path=tmp_path / "store")


@pytest.fixture
def wb(settings: Settings, embedder: Embedder) -> Iterator[Workbench]:
    workbench = Workbench(settings, embedder=embedder)
    yield workbench
    workbench.close()


@pytest.fixture
def catalog_wb(wb: Workbench) -> Workbench:
    wb.index_products(PRODUCTS, show_progress=False)
    return wb


@pytest.fixture(scope="module")
def sim_wb(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Workbench]:
    """A generated 400-product catalogue in its own store, for one test module's simulations."""
    wb = Workbench(Settings(store_path=tmp_path_factory.mktemp("sim") / "store"), embedder=embedder)
    wb.index_products(generate_catalog(400, seed=3), show_progress=False)
    yield wb
    wb.close()


@pytest.fixture(params=["edge", "client"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s: Store = EdgeStore(tmp_path / "edge") if request.param == "edge" else ClientStore(":memory:")
    yield s
    s.close()


@pytest.fixture(params=["edge", "client"])
def any_wb(request: pytest.FixtureRequest, tmp_path: Path, embedder: Embedder) -> Iterator[Workbench]:
    """A workbench on each backend: the same behaviour tests run on both."""
    if request.param == "edge":
        workbench = Workbench(Settings(store_path=tmp_path / "store"), embedder=embedder)
    else:
        workbench = Workbench(Settings(store_path=tmp_path / "unused"), store=ClientStore(":memory:"),
                              embedder=embedder)
    yield workbench
    workbench.close()


@pytest.fixture(scope="session")
def spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A real Spark standalone cluster on 127.0.0.1: one master, two 1-core 1 GB workers, JVM logs in a temporary
    folder. Every JVM it started must be gone afterwards, whatever the tests did."""
    cluster = LocalCluster(workers=2, log_dir=tmp_path_factory.mktemp("spark-logs"))
    with cluster:
        groups = {p.pid for p in cluster._procs}  # each JVM leads its own process group
        yield cluster
    alive = group_members(groups)
    if alive:  # not an AssertionError: an xfail test that happens to run last must not hide it
        raise RuntimeError(f"Spark JVMs still running after the cluster stopped: {alive}")


@pytest.fixture(scope="session")
def spark(spark_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    session = spark_session(spark_cluster.master_url, log_dir=tmp_path_factory.mktemp("spark-driver"))
    yield session
    session.stop()
