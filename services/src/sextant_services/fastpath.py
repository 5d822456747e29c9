"""Column plans: a fitted preprocessing Pipeline run on validated columns with numpy, without pandas.

`sextant-train`'s models are `Pipeline([ColumnTransformer(numeric: impute + scale, categorical: impute + encode),
estimator])`. Called on a DataFrame, the ColumnTransformer costs several times the estimator itself per batch
(DataFrame construction, column selection by name, input validation in every step, a joblib dispatch per
transformer). A plan is compiled once per model from the fitted steps' learned attributes: it builds each
transformer's block straight from the validated columns and applies the same float64 operations in the same order
as scikit-learn's `transform` (so the same bits), stacks the blocks as the ColumnTransformer does, and hands the
matrix to the steps after it, which were fitted on that matrix.

What a plan does not know (another transformer, sparse or pandas output, infrequent categories, unknown categories
that raise, a model not fitted on a DataFrame) compiles to no plan: the model gets a DataFrame as before.
`verified_plan` also checks a plan against the Pipeline itself on probe rows before it is used, and drops it,
logging why, on any difference.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .features import Columns, FeatureSchema, to_model_input

log = logging.getLogger("sextant_services")

NumericOp = Callable[[np.ndarray], np.ndarray]
UNSEEN = "__sextant_unseen_category__"


class Unsupported(Exception):
    """The model has a part a plan cannot reproduce exactly; it is served through a DataFrame."""


def _float64(values: Any) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype != np.float64:
        raise Unsupported(f"learned attribute of dtype {arr.dtype}, not float64")
    return arr


def _default_output(obj: Any) -> None:
    config = getattr(obj, "_sklearn_output_config", {}) or {}
    if config.get("transform") not in (None, "default"):
        raise Unsupported(f"{type(obj).__name__} has set_output(transform={config.get('transform')!r})")


# -- numeric steps: the same in-place float64 operations as scikit-learn's dense transform ------------------------


def _numeric_imputer(imp: Any, width: int) -> NumericOp:
    if not (isinstance(imp.missing_values, float) and math.isnan(imp.missing_values)) or imp.add_indicator:
        raise Unsupported("SimpleImputer with missing_values other than NaN or add_indicator")
    if np.dtype(imp._fit_dtype) != np.float64 or np.dtype(imp._fill_dtype) != np.float64:
        raise Unsupported("SimpleImputer not fitted on float64")
    stats = _float64(imp.statistics_).astype(np.float64, copy=True)
    if stats.shape != (width,) or np.isnan(stats).any():
        raise Unsupported("SimpleImputer with an empty feature (NaN statistic)")

    def impute(x: np.ndarray) -> np.ndarray:
        mask = np.isnan(x)
        if mask.any():
            x[mask] = np.broadcast_to(stats, x.shape)[mask]
        return x
    return impute


def _standard(s: Any) -> NumericOp:
    mean = _float64(s.mean_) if s.with_mean else None
    scale = _float64(s.scale_) if s.with_std else None

    def standard(x: np.ndarray) -> np.ndarray:
        if mean is not None:
            x -= mean
        if scale is not None:
            x /= scale
        return x
    return standard


def _minmax(s: Any) -> NumericOp:
    scale, offset = _float64(s.scale_), _float64(s.min_)
    low, high = (float(v) for v in s.feature_range)
    clip = bool(s.clip)

    def minmax(x: np.ndarray) -> np.ndarray:
        x *= scale
        x += offset
        if clip:
            np.clip(x, np.float64(low), np.float64(high), out=x)
        return x
    return minmax


def _robust(s: Any) -> NumericOp:
    center = _float64(s.center_) if s.with_centering else None
    scale = _float64(s.scale_) if s.with_scaling else None

    def robust(x: np.ndarray) -> np.ndarray:
        if center is not None:
            x -= center
        if scale is not None:
            x /= scale
        return x
    return robust


def _numeric_op(step: Any, width: int) -> NumericOp | None:
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

    if step is None or step == "passthrough":
        return None
    _default_output(step)
    kind = type(step)
    if kind is SimpleImputer:
        return _numeric_imputer(step, width)
    if kind is StandardScaler:
        return _standard(step)
    if kind is MinMaxScaler:
        return _minmax(step)
    if kind is RobustScaler:
        return _robust(step)
    raise Unsupported(f"numeric step {kind.__name__}")


# -- categorical steps: imputer fill value, then a dictionary lookup per value -------------------------------------


@dataclass(frozen=True)
class _Encoding:
    tables: tuple[dict[Any, int], ...]
    onehot: bool
    unknown_value: float  # ordinal encoding only

    @property
    def width(self) -> int:
        return sum(len(t) for t in self.tables) if self.onehot else len(self.tables)


def _string_categories(cats: Sequence[Any]) -> dict[Any, int]:
    table: dict[Any, int] = {}
    for i, c in enumerate(cats):
        if not isinstance(c, str):
            raise Unsupported(f"category {c!r} is not a string")
        table[c] = i
    return table


def _encoding(enc: Any, width: int) -> _Encoding:
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    if type(enc) not in (OneHotEncoder, OrdinalEncoder):  # e.g. TargetEncoder: scikit-learn's transform serves it
        raise Unsupported(f"categorical step {type(enc).__name__}")
    _default_output(enc)
    if len(enc.categories_) != width or getattr(enc, "_infrequent_enabled", False):
        raise Unsupported("encoder with infrequent categories")
    if np.dtype(enc.dtype) != np.float64:
        raise Unsupported("encoder output dtype other than float64")
    tables = tuple(_string_categories(list(c)) for c in enc.categories_)
    if type(enc) is OneHotEncoder:
        if enc.drop_idx_ is not None or enc.sparse_output or enc.handle_unknown not in ("ignore",
                                                                                         "infrequent_if_exist"):
            raise Unsupported("OneHotEncoder with drop, sparse output or handle_unknown='error'")
        return _Encoding(tables, onehot=True, unknown_value=0.0)
    if type(enc) is OrdinalEncoder:
        if enc.handle_unknown != "use_encoded_value":
            raise Unsupported("OrdinalEncoder with handle_unknown='error'")
        return _Encoding(tables, onehot=False, unknown_value=float(enc.unknown_value))
    raise Unsupported(f"categorical step {type(enc).__name__}")


def _categorical_fill(imp: Any, width: int) -> tuple[str, ...]:
    if not (isinstance(imp.missing_values, float) and math.isnan(imp.missing_values)) or imp.add_indicator:
        raise Unsupported("categorical SimpleImputer with missing_values other than NaN or add_indicator")
    fills = tuple(imp.statistics_)
    if len(fills) != width or not all(isinstance(f, str) for f in fills):
        raise Unsupported("categorical SimpleImputer whose fill values are not strings")
    return fills


# -- blocks: one per ColumnTransformer entry -----------------------------------------------------------------------


@dataclass(frozen=True)
class _NumericBlock:
    names: tuple[str, ...]
    ops: tuple[NumericOp, ...]

    @property
    def width(self) -> int:
        return len(self.names)

    def build(self, cols: Columns, n: int) -> np.ndarray:
        # The columns hold ints, floats and NaN (validated); float64 conversion is the DataFrame path's own.
        x = np.empty((n, len(self.names)), dtype=np.float64)
        for j, name in enumerate(self.names):
            x[:, j] = np.asarray(cols[name], dtype=np.float64)
        for op in self.ops:
            x = op(x)
        return x


@dataclass(frozen=True)
class _CategoricalBlock:
    names: tuple[str, ...]
    fills: tuple[str, ...]
    encoding: _Encoding

    @property
    def width(self) -> int:
        return self.encoding.width

    def build(self, cols: Columns, n: int) -> np.ndarray:
        enc = self.encoding
        if enc.onehot:
            out = np.zeros((n, enc.width), dtype=np.float64)
            offset = 0
            for name, fill, table in zip(self.names, self.fills, enc.tables, strict=True):
                for i, v in enumerate(cols[name]):
                    code = table.get(fill if v is None or v != v else v)
                    if code is not None:  # an unseen category is a row of zeros (handle_unknown='ignore')
                        out[i, offset + code] = 1.0
                offset += len(table)
            return out
        out = np.empty((n, enc.width), dtype=np.float64)
        unknown = enc.unknown_value
        for j, (name, fill, table) in enumerate(zip(self.names, self.fills, enc.tables, strict=True)):
            out[:, j] = [table.get(fill if v is None or v != v else v, unknown) for v in cols[name]]
        return out


_Block = _NumericBlock | _CategoricalBlock


def _steps(trans: Any) -> list[Any]:
    from sklearn.pipeline import Pipeline

    if type(trans) is Pipeline:
        _default_output(trans)
        return [s for _, s in trans.steps]
    return [trans]


def _block(trans: Any, names: tuple[str, ...], schema: FeatureSchema) -> _Block:
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    kinds = {f.name: f.kind for f in schema.features}
    if any(n not in kinds for n in names):
        raise Unsupported("the ColumnTransformer selects a column the feature schema does not have")
    if any(kinds[n] == "datetime" for n in names):
        raise Unsupported("date columns (their parts are computed by the model's own Pipeline)")
    steps = [s for s in _steps(trans) if not (s is None or s == "passthrough")]
    if all(kinds[n] == "numeric" for n in names):
        if any(type(s) in (OneHotEncoder, OrdinalEncoder) for s in steps):
            raise Unsupported("an encoder on numeric columns")
        return _NumericBlock(names, tuple(op for s in steps if (op := _numeric_op(s, len(names))) is not None))
    if not all(kinds[n] == "categorical" for n in names):
        raise Unsupported("a transformer over numeric and categorical columns together")
    if len(steps) != 2 or type(steps[0]) is not SimpleImputer:
        raise Unsupported("categorical columns without exactly an imputer and an encoder")
    _default_output(steps[0])
    return _CategoricalBlock(names, _categorical_fill(steps[0], len(names)), _encoding(steps[1], len(names)))


# -- the plan ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnPlan:
    """Validated columns -> the matrix the steps after the ColumnTransformer were fitted on -> predictions."""

    blocks: tuple[_Block, ...]
    final: Any  # the estimator (or the Pipeline of the remaining steps) after the ColumnTransformer

    def transform(self, cols: Columns) -> np.ndarray:
        n = len(next(iter(cols.values())))
        parts = [b.build(cols, n) for b in self.blocks]
        return parts[0] if len(parts) == 1 else np.hstack(parts)


def compile_plan(estimator: Any, schema: FeatureSchema) -> ColumnPlan:
    """The plan for `Pipeline([ColumnTransformer(...), ...rest])`; raises Unsupported saying what it cannot do."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    if type(estimator) is not Pipeline or len(estimator.steps) < 2:
        raise Unsupported("not a Pipeline starting with a ColumnTransformer")
    _default_output(estimator)
    ct = estimator.steps[0][1]
    if type(ct) is not ColumnTransformer:
        raise Unsupported("the Pipeline's first step is not a ColumnTransformer")
    _default_output(ct)
    if getattr(ct, "sparse_output_", True) or not hasattr(ct, "feature_names_in_"):
        raise Unsupported("sparse output, or a ColumnTransformer not fitted on a DataFrame")
    indices = getattr(ct, "_transformer_to_input_indices", None)
    if not isinstance(indices, dict):
        raise Unsupported("this scikit-learn's ColumnTransformer has no _transformer_to_input_indices")
    blocks: list[_Block] = []
    for name, trans, _ in ct.transformers_:
        if isinstance(trans, str) and trans == "drop":
            continue
        idx = list(indices.get(name, []))
        if not idx:
            continue  # scikit-learn skips transformers that select no column
        names = tuple(str(ct.feature_names_in_[i]) for i in idx)
        blocks.append(_block(trans, names, schema))
    if not blocks:
        raise Unsupported("the ColumnTransformer outputs nothing")
    rest = estimator[1:]
    final = rest.steps[0][1] if len(rest.steps) == 1 else rest
    if hasattr(final, "feature_names_in_"):
        raise Unsupported("the estimator after the ColumnTransformer was fitted on named columns")
    return ColumnPlan(tuple(blocks), final)


def probe_columns(schema: FeatureSchema, plan: ColumnPlan, manifest: dict[str, Any]) -> list[Columns]:
    """Rows to compare a plan with its Pipeline: the training baseline's bin edges, every category, an unseen
    one, and (a second set) missing values where the schema allows them."""
    baseline = (manifest.get("baseline") or {}).get("features") or {}
    categories: dict[str, list[Any]] = {}
    for block in plan.blocks:
        if isinstance(block, _CategoricalBlock):
            for name, table in zip(block.names, block.encoding.tables, strict=True):
                categories[name] = list(table)
    values: dict[str, list[Any]] = {}
    for f in schema.features:
        if f.kind == "numeric":
            edges = [float(v) for v in (baseline.get(f.name) or {}).get("bins") or [] if math.isfinite(float(v))]
            values[f.name] = [*(edges or [0.0, 1.0]), -3.5, 0.0, 1e6]
        else:
            values[f.name] = [*categories.get(f.name, []), *(f.categories or []), UNSEEN]
    n = max(len(v) for v in values.values())
    full = {name: [v[i % len(v)] for i in range(n)] for name, v in values.items()}
    probes = [full]
    nullable = [f for f in schema.features if f.nullable]
    if nullable:
        with_missing = {name: list(v) for name, v in full.items()}
        for k, f in enumerate(nullable):
            missing = math.nan if f.kind == "numeric" else None
            for i in range(k % 2, n, 2):
                with_missing[f.name][i] = missing
        probes.append(with_missing)
    return probes


def verified_plan(estimator: Any, schema: FeatureSchema, manifest: dict[str, Any], as_frame: bool,
                  with_proba: bool) -> ColumnPlan | None:
    """A compiled plan that gives bit-identical outputs to the Pipeline on probe rows, or None (logged why)."""
    try:
        plan = compile_plan(estimator, schema)
    except Unsupported as exc:
        log.info("model served through a DataFrame (no column plan: %s)", exc)
        return None
    methods = ["predict", "predict_proba"] if with_proba else ["predict"]
    try:
        for cols in probe_columns(schema, plan, manifest):
            frame = to_model_input(cols, schema, as_frame)
            matrix = plan.transform(cols)
            for method in methods:
                want = np.asarray(getattr(estimator, method)(frame))
                got = np.asarray(getattr(plan.final, method)(matrix))
                if want.dtype != got.dtype or not np.array_equal(want, got, equal_nan=want.dtype.kind == "f"):
                    log.warning("column plan disagrees with the Pipeline's %s on probe rows; serving through a "
                                "DataFrame", method)
                    return None
    except Exception as exc:  # noqa: BLE001 - any failure here only means: no plan
        log.warning("column plan not used (checking it on probe rows failed: %s: %s); serving through a DataFrame",
                    type(exc).__name__, exc)
        return None
    log.info("model served through a column plan (%d blocks, checked against the Pipeline on probe rows)",
             len(plan.blocks))
    return plan
