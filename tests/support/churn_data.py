"""Generated customer-churn tables for the Dask training tests and benchmark: a label that follows three columns
(one categorical, one partly missing), and uniform noise columns that Parquet cannot compress."""

from __future__ import annotations

import numpy as np
import pandas as pd


def churn_part(seed: int, rows: int = 250_000, noise_columns: int = 40) -> pd.DataFrame:
    """Customers who leave or stay: the label follows tenure, charges and the contract type; every seed gives
    rows of its own (so a held-out part holds rows no training part has)."""
    rng = np.random.default_rng(seed)
    contract = rng.choice(np.array(["monthly", "yearly", "two-year"], dtype=object), rows, p=[0.5, 0.3, 0.2])
    tenure = rng.exponential(24, rows)
    charges = np.where(rng.random(rows) < 0.05, np.nan, rng.normal(70, 20, rows))
    risk = (1.2 * (contract == "monthly") - 0.03 * tenure + 0.02 * (np.nan_to_num(charges, nan=70) - 70)
            + rng.logistic(0, 0.5, rows))
    data = pd.DataFrame({"contract": contract, "tenure": tenure, "charges": charges})
    for i in range(noise_columns):
        data[f"x{i}"] = rng.random(rows)
    data["churned"] = np.where(risk > 0, "yes", "no").astype(object)
    return data
