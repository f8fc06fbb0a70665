"""The catalogue: a seeded generator, CSV input/output, and the products collection in the store."""
from fincommerce.catalog.generate import generate_catalog
from fincommerce.catalog.io import CATALOG_COLUMNS, RowError, load_catalog_csv, save_catalog
from fincommerce.catalog.products import ProductCatalog, ProductMatrix

__all__ = ["CATALOG_COLUMNS", "ProductCatalog", "ProductMatrix", "RowError", "generate_catalog", "load_catalog_csv",
           "save_catalog"]
