"""Importing the datasets analysts already keep: UCDP GED and ACLED CSV exports.

One module per dataset maps its rows to events (``ucdp_ged``, ``acled``); the runner
validates and writes them through the storage layer; ``cli`` and ``service.http.imports``
are the two doors. docs/imports.md documents every column's mapping.
"""

from service.imports import acled, ucdp_ged
from service.imports.dataset import Dataset

DATASETS: dict[str, Dataset] = {
    dataset.name: dataset for dataset in (ucdp_ged.DATASET, acled.DATASET)
}
