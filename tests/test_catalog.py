"""Tests for the synthetic catalogue generator and the CSV catalogue loader."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fincommerce.catalog import CATALOG_COLUMNS, RowError, generate_catalog, load_catalog_csv, save_catalog


@pytest.fixture(scope="module")
def catalog() -> pd.DataFrame:
    return generate_catalog(5000, seed=0)


def test_same_seed_gives_identical_frame() -> None:
    pd.testing.assert_frame_equal(generate_catalog(2000, seed=7), generate_catalog(2000, seed=7))


def test_different_seeds_differ() -> None:
    a, b = generate_catalog(500, seed=1), generate_catalog(500, seed=2)
    assert not a["name"].equals(b["name"])
    assert not a["price"].equals(b["price"])


def test_schema_and_ids(catalog: pd.DataFrame) -> None:
    assert list(catalog.columns) == CATALOG_COLUMNS
    assert catalog["id"].iloc[0] == "prod_00001"
    assert catalog["id"].iloc[-1] == "prod_05000"
    assert catalog["id"].is_unique
    assert catalog["price"].dtype == np.float64
    assert all(isinstance(c, list) and len(c) == 2 and all(isinstance(x, str) for x in c)
               for c in catalog["categories"])
    assert (catalog["name"].str.len() > 0).all() and (catalog["brand"].str.len() > 0).all()
    assert catalog["description"].str.contains(" for ").all()


def test_category_coverage(catalog: pd.DataFrame) -> None:
    top = catalog["categories"].str[0]
    sub = catalog["categories"].str[1]
    subs_per_top = sub.groupby(top).nunique()
    assert len(subs_per_top) >= 12
    assert (subs_per_top >= 3).all()
    expected = {"Laptops", "Phones", "Audio", "Cameras", "Gaming", "Home", "Kitchen", "Sports",
                "Fashion", "Beauty", "Books", "Toys"}
    assert expected <= set(top)


def test_prices_positive_and_plausible(catalog: pd.DataFrame) -> None:
    prices = catalog["price"]
    assert (prices > 0).all()
    assert np.isfinite(prices).all()
    assert (prices.round(2) == prices).all()
    medians = prices.groupby(catalog["categories"].str[0]).median()
    assert medians["Laptops"] > medians["Books"] * 20
    assert medians["Phones"] > medians["Kitchen"] > medians["Beauty"]
    assert 5 < medians["Books"] < 40
    assert 600 < medians["Laptops"] < 2000


def test_realistic_brands_and_use_cases(catalog: pd.DataFrame) -> None:
    laptop_brands = set(catalog.loc[catalog["categories"].str[0] == "Laptops", "brand"])
    assert {"Apple", "Dell", "Lenovo"} <= laptop_brands
    text = " ".join(catalog["description"])
    for phrase in ("for machine learning", "for students", "for gaming", "for running"):
        assert phrase in text
    assert (catalog["name"].str.split().str[0] != "").all()
    assert not catalog["name"].str.contains("  ").any()


@pytest.mark.parametrize("bad", [0, -3, 2.5, "10", True, None])
def test_invalid_n_products(bad: object) -> None:
    with pytest.raises(ValueError, match="n_products"):
        generate_catalog(bad)  # type: ignore[arg-type]


def test_large_catalogue_is_fast() -> None:
    start = time.perf_counter()
    df = generate_catalog(100_000, seed=3)
    assert time.perf_counter() - start < 5
    assert len(df) == 100_000 and df["id"].is_unique
    assert df["id"].iloc[-1] == "prod_100000"


def test_round_trip(tmp_path: Path, catalog: pd.DataFrame) -> None:
    path = save_catalog(catalog, tmp_path / "nested" / "dir" / "catalog.csv")
    assert path.exists()
    loaded, errors = load_catalog_csv(path)
    assert errors == []
    pd.testing.assert_frame_equal(loaded, catalog)


BAD_CSV = """id,name,brand,categories,price,description,extra
,No Id Widget,Acme,Home|Tools,10,missing id,x
p2,Bad Price,Acme,Home,abc,non numeric,x
p3,Good One,Acme, Laptops > Gaming Laptops ,1299.5,a good row,x
p4,Negative,Acme,Home,-5,negative,x
p5,Not A Number,Acme,Home,nan,nan price,x
p3,Duplicate,Acme,Home,20,duplicate id,x
p7,Good Two,,,0,,x
"""


def test_bad_rows_reported_and_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(BAD_CSV, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="fincommerce.catalog"):
        df, errors = load_catalog_csv(path)

    assert list(df.columns) == CATALOG_COLUMNS
    assert df["id"].tolist() == ["p3", "p7"]
    assert df["categories"].tolist() == [["Laptops", "Gaming Laptops"], []]
    assert df["price"].tolist() == [1299.5, 0.0]
    assert df["brand"].tolist() == ["Acme", ""]
    assert df["description"].tolist() == ["a good row", ""]

    assert [e.row for e in errors] == [1, 2, 4, 5, 6]
    assert all(isinstance(e, RowError) for e in errors)
    reasons = {e.row: e.reason for e in errors}
    assert reasons[1].startswith("id:")
    assert reasons[2].startswith("price:") and "'abc'" in reasons[2]
    assert reasons[4].startswith("price:") and "'-5'" in reasons[4]
    assert reasons[5].startswith("price:") and "'nan'" in reasons[5]
    assert reasons[6].startswith("id:") and "duplicate" in reasons[6] and "row 3" in reasons[6]

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "5" in warnings[0].getMessage() and "abc" in warnings[0].getMessage()


def test_category_separators(tmp_path: Path) -> None:
    path = tmp_path / "seps.csv"
    path.write_text("id,name,price,categories\n"
                    "a,A,1,Kitchen;Coffee Machines\nb,B,2,Audio>Earbuds\nc,C,3,Books| |Fiction|\n",
                    encoding="utf-8")
    df, errors = load_catalog_csv(path)
    assert errors == []
    assert df["categories"].tolist() == [["Kitchen", "Coffee Machines"], ["Audio", "Earbuds"],
                                         ["Books", "Fiction"]]
    assert df["brand"].tolist() == ["", "", ""]


def test_values_not_mangled(tmp_path: Path) -> None:
    path = tmp_path / "strings.csv"
    path.write_text("id,name,price\n00123,NA,1e2\nNULL,None,  7.5 \n", encoding="utf-8")
    df, errors = load_catalog_csv(path)
    assert errors == []
    assert df["id"].tolist() == ["00123", "NULL"]
    assert df["name"].tolist() == ["NA", "None"]
    assert df["price"].tolist() == [100.0, 7.5]


def test_missing_required_columns_raise(tmp_path: Path) -> None:
    path = tmp_path / "nocols.csv"
    path.write_text("id,brand,categories\np1,Acme,Home\n", encoding="utf-8")
    with pytest.raises(ValueError, match="name") as info:
        load_catalog_csv(path)
    listed = str(info.value).split("column(s):")[-1]
    assert "price" in listed and "id" not in listed


def test_every_generated_product_has_its_own_display_name() -> None:
    names = generate_catalog(5000, seed=0).name
    assert names.is_unique  # three "Ticket to Ride Gift Set" in one result list could not be told apart
