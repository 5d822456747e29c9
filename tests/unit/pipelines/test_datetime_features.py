"""Date columns become features (calendar parts and days since 1970) through the user path, and the model server
takes ISO 8601 dates for them: real monthly stock-index levels (matplotlib's sample data, from Yahoo Finance)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import pytest

from sextant_contracts.datetime_features import DATETIME_PARTS, datetime_parts
from sextant_pipelines.flow import RunContext, run_training
from sextant_pipelines.profile import infer_feature
from sextant_services.batching import BatchingConfig
from sextant_services.dataplane import DataPlane
from sextant_services.errors import SchemaMismatch
from sextant_services.features import validate_body
from sextant_services.model_source import ModelRef, load_model
from tests.unit.pipelines.helpers import spec

STOCKS = Path(matplotlib.get_data_path()) / "sample_data" / "Stocks.csv"


@pytest.fixture(scope="module")
def sp500(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, pd.DataFrame]:
    """The S&P 500's monthly level (1990 on) against the month's date, as ISO 8601 text."""
    frame = pd.read_csv(STOCKS, comment="#")[["Date", "^GSPC"]].dropna()
    frame = frame.rename(columns={"^GSPC": "target"})
    path = tmp_path_factory.mktemp("stocks") / "sp500.csv"
    frame.to_csv(path, index=False)
    return path.as_uri(), frame


def test_text_and_datetime_columns_of_dates_are_recognised_and_others_are_not() -> None:
    assert infer_feature("d", pd.Series(["2024-03-05", "2024-03-06T10:30:00Z", None])).type == "datetime"
    assert infer_feature("d", pd.Series(pd.to_datetime(["2024-03-05", "2024-04-01"]))).type == "datetime"
    assert infer_feature("code", pd.Series(["2024-A", "2025-B"])).type == "categorical"
    assert infer_feature("year", pd.Series([2024, 2025])).type == "numeric"


def test_a_date_becomes_its_calendar_parts_and_an_unreadable_one_becomes_missing() -> None:
    parts = np.asarray(datetime_parts(np.array([["2024-03-05T10:30:00Z"], ["not a date"]], dtype=object)))
    assert parts.shape == (2, len(DATETIME_PARTS))
    assert parts[0].tolist() == [2024, 3, 5, 1, 65, 10.5, 19787 + 10.5 / 24]  # a Tuesday, day 65 of a leap year
    assert np.isnan(parts[1]).all()


def test_a_model_learns_from_a_date_column_alone_and_the_server_takes_iso_dates(
        sp500: tuple[str, pd.DataFrame], store_dir: Path, tmp_path: Path) -> None:
    uri, frame = sp500
    result = run_training(spec("regression", uri, "sp500", estimator={"algorithm": "random_forest"}),
                          RunContext(store_dir.as_uri(), training_job={"namespace": "ml", "name": "t"}))
    # As a category each held-out month would be unseen: only its parts and the days since 1970 carry the trend.
    assert result["metrics"]["r2"] >= 0.95, result["metrics"]
    model = load_model(store_dir.as_uri(), ModelRef("sp500", version=1), cache_dir=tmp_path / "cache")
    assert [(f.name, f.kind) for f in model.schema.features] == [("Date", "datetime")]
    plane = DataPlane(model, "v", BatchingConfig(), metrics=None)

    def predict(records: list[dict[str, Any]]) -> list[float]:
        columns = validate_body({"records": records}, model.schema, 10)
        return list(asyncio.run(plane.predict(columns, False)).predictions.tolist())

    level_2000, level_2019 = predict([{"Date": "2000-03-01"}, {"Date": "2019-06-01T00:00:00Z"}])
    actual = frame.set_index("Date")["target"]
    assert abs(level_2000 - actual["2000-03-01"]) / actual["2000-03-01"] < 0.1
    assert level_2019 > 2 * level_2000  # the index more than doubled between them
    with pytest.raises(SchemaMismatch) as refused:
        predict([{"Date": "March 2000"}])
    assert refused.value.field == "records[0].Date" and "ISO 8601" in str(refused.value)
