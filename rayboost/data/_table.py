"""Mixed-type tables: column typing, and one encoding fitted on the train rows only.

A table with text, boolean or date columns, or with empty cells, is kept as a frame until the
split is known. :class:`TableEncoder` is then fitted on the train rows and turns any rows of
that table (validation, test, new rows to predict) into one float32 matrix:

- numeric: missing cells take the train median, plus a 0/1 "was missing" column when the
  train rows had gaps in that column;
- categorical (text, booleans, columns named in ``data.categorical``): one 0/1 column per
  level seen in at least ``data.min_frequency`` train rows, one for every other level (rare,
  or unseen at fit time) and one for a missing cell;
- datetime (``datetime64`` columns, or text that reads as ISO 8601 dates in every row): year,
  month, day, day of week and hour, each treated as numeric.

The encoder is saved as JSON (no pickle) and applied unchanged by ``predict``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from rayboost._errors import DataError

__all__ = ["ColumnTyping", "TableEncoder", "infer_typing", "needs_typing"]

KINDS = ("numeric", "categorical", "datetime")
DATE_PARTS = ("year", "month", "day", "dayofweek", "hour")
ID_MIN_ROWS = 20
"""A text column whose train values are all distinct (and at least this many) is an identifier."""


def needs_typing(features: pd.DataFrame, categorical: list[str], drop: list[str]) -> bool:
    """Whether a table needs :class:`TableEncoder` (text, booleans, dates or empty cells, or
    columns the config names); an all-numeric complete table keeps the plain path."""
    if categorical or drop:
        return True
    numeric = all(
        pd.api.types.is_numeric_dtype(features[c]) and not pd.api.types.is_bool_dtype(features[c])
        for c in features.columns
    )
    return not numeric or bool(features.isna().to_numpy().any())


def _as_dates(values: pd.Series) -> pd.Series | None:
    """``values`` read as ISO 8601 dates when every non-empty one reads so; else None."""
    present = values.dropna()
    if len(present) == 0 or not all(isinstance(v, str) for v in present.head(1000)):
        return None
    if not present.head(1000).str.contains(r"^\d{4}-\d{2}-\d{2}", regex=True).all():
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(values, errors="coerce", format="ISO8601", utc=True)
    if parsed[values.notna()].isna().any():
        return None
    return parsed


@dataclass
class ColumnTyping:
    """Each feature column's kind, and the columns left out (with why)."""

    kinds: dict[str, str]
    dropped: dict[str, str] = field(default_factory=dict)


def infer_typing(
    features: pd.DataFrame,
    train_rows: np.ndarray,
    *,
    categorical: list[str],
    numeric: list[str],
    drop: list[str],
    max_levels: int,
) -> ColumnTyping:
    """Kinds from the columns' types; identifier-like text columns (every train value distinct)
    are dropped. Raises :class:`DataError` for names that are not columns, empty columns and
    categoricals with more than ``max_levels`` train levels."""
    columns = [str(c) for c in features.columns]
    for key, names in (("categorical", categorical), ("numeric", numeric), ("drop", drop)):
        unknown = [n for n in names if n not in columns]
        if unknown:
            raise DataError(
                f"data.{key}: {unknown[0]!r} is not a feature column; columns are: {', '.join(columns[:10])}"
            )
    both = set(categorical) & set(numeric)
    if both:
        raise DataError(
            f"column {sorted(both)[0]!r} is in both data.categorical and data.numeric; pick one"
        )
    kinds: dict[str, str] = {}
    dropped = {name: "data.drop" for name in drop}
    train = features.iloc[train_rows]
    for name in columns:
        if name in dropped:
            continue
        values = features[name]
        if values.isna().all():
            raise DataError(f"column {name!r} is empty in every row; drop it (data.drop: [{name}])")
        if name in numeric:
            converted = pd.to_numeric(values, errors="coerce")
            bad = values.notna() & converted.isna()
            if bad.any():
                raise DataError(
                    f"data.numeric: column {name!r} holds text ({values[bad].iloc[0]!r}); fix those cells or drop the column from data.numeric"
                )
            kinds[name] = "numeric"
        elif name in categorical or pd.api.types.is_bool_dtype(values):
            kinds[name] = "categorical"
        elif pd.api.types.is_datetime64_any_dtype(values):
            kinds[name] = "datetime"
        elif pd.api.types.is_numeric_dtype(values):
            kinds[name] = "numeric"
        elif _as_dates(values) is not None:
            kinds[name] = "datetime"
        else:
            present = train[name].dropna()
            if len(present) >= ID_MIN_ROWS and present.nunique() == len(present):
                dropped[name] = "identifier-like: every train value is distinct"
                continue
            kinds[name] = "categorical"
        if kinds[name] == "categorical":
            levels = train[name].dropna().map(_level).nunique()
            if levels > max_levels:
                raise DataError(
                    f"column {name!r} has {levels} distinct values in the train rows (data.max_levels "
                    f"is {max_levels}): drop it (data.drop), mark it numeric (data.numeric) or raise data.max_levels"
                )
    if not kinds:
        raise DataError("no feature columns are left after dropping " + ", ".join(dropped))
    return ColumnTyping(kinds, dropped)


def _level(value: Any) -> str:
    """One spelling per level, whichever way a file was read (3, 3.0 and "3" are one level)."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return str(value)


def _median(values: pd.Series) -> float:
    present = values.dropna()
    return float(present.median()) if len(present) else 0.0


def _date_parts(values: pd.Series, name: str, source: str) -> pd.DataFrame:
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(values, errors="coerce", format="ISO8601", utc=True)
        bad = values.notna() & parsed.isna()
        if bad.any():
            raise DataError(
                f"{source}: column {name!r}: cannot read {values[bad].iloc[0]!r} as a date (use ISO 8601, e.g. 2024-05-31 or 2024-05-31T14:00)"
            )
    dt = pd.Series(parsed).dt
    attribute = {"dayofweek": "day_of_week"}
    return pd.DataFrame(
        {part: getattr(dt, attribute.get(part, part)).astype("float64") for part in DATE_PARTS}
    )


@dataclass
class TableEncoder:
    """The fitted encoding of a mixed-type table (see the module's docstring)."""

    columns: list[dict[str, Any]]
    dropped: dict[str, str] = field(default_factory=dict)
    min_frequency: int = 5

    @classmethod
    def fit(
        cls,
        features: pd.DataFrame,
        train_rows: np.ndarray,
        typing: ColumnTyping,
        min_frequency: int,
    ) -> TableEncoder:
        """Fitted on ``features.iloc[train_rows]`` only: medians, levels and which columns
        get a "was missing" column never see validation or test rows."""
        train = features.iloc[train_rows]
        columns: list[dict[str, Any]] = []
        for name, kind in typing.kinds.items():
            values = train[name]
            if kind == "numeric":
                numbers = pd.to_numeric(values, errors="coerce")
                columns.append(
                    {
                        "name": name,
                        "kind": kind,
                        "median": _median(numbers),
                        "indicator": bool(numbers.isna().any()),
                    }
                )
            elif kind == "datetime":
                parts = _date_parts(values, name, "train rows")
                columns.append(
                    {
                        "name": name,
                        "kind": kind,
                        "medians": {p: _median(parts[p]) for p in DATE_PARTS},
                        "indicator": bool(parts["year"].isna().any()),
                    }
                )
            else:
                counts = values.dropna().map(_level).value_counts()
                kept = sorted(str(v) for v, n in counts.items() if n >= min_frequency)
                columns.append({"name": name, "kind": kind, "levels": kept})
        return cls(columns, dict(typing.dropped), min_frequency)

    @property
    def input_columns(self) -> list[str]:
        return [c["name"] for c in self.columns]

    def feature_names(self) -> list[str]:
        """Names of the encoded columns, in order."""
        names: list[str] = []
        for col in self.columns:
            name = col["name"]
            if col["kind"] == "numeric":
                names += [name] + ([f"{name}=missing"] if col["indicator"] else [])
            elif col["kind"] == "datetime":
                names += [f"{name}.{p}" for p in DATE_PARTS]
                names += [f"{name}=missing"] if col["indicator"] else []
            else:
                names += [f"{name}={level}" for level in col["levels"]]
                names += [f"{name}=other", f"{name}=missing"]
        return names

    def layout(self) -> dict[str, list[list[int]]]:
        """Where things lie in the encoded columns: ``categorical``, each categorical column's
        one-hot block as [start, end) (what a wide & deep net embeds and crosses, and XGBoost
        takes as one categorical feature); ``missing_flags``, [value, flag] column pairs of
        numbers whose empty cells were filled (XGBoost gets them empty again)."""
        spans: list[list[int]] = []
        flags: list[list[int]] = []
        at = 0
        for col in self.columns:
            if col["kind"] in ("numeric", "datetime"):
                width = 1 if col["kind"] == "numeric" else len(DATE_PARTS)
                if col["indicator"]:
                    flags += [[at + i, at + width] for i in range(width)]
                at += width + int(col["indicator"])
            else:
                width = len(col["levels"]) + 2
                spans.append([at, at + width])
                at += width
        return {"categorical": spans, "missing_flags": flags}

    def transform(self, frame: pd.DataFrame, source: str = "data") -> np.ndarray:
        """Rows of the table (any extra columns are ignored) as a float32 matrix."""
        absent = [c for c in self.input_columns if c not in frame.columns]
        if absent:
            shown = ", ".join(absent[:5]) + (" ..." if len(absent) > 5 else "")
            raise DataError(f"{source} lacks feature columns the model was trained on: {shown}")
        blocks: list[np.ndarray] = []
        for col in self.columns:
            name, values = col["name"], frame[col["name"]]
            if col["kind"] == "numeric":
                numbers = pd.to_numeric(values, errors="coerce")
                bad = values.notna() & numbers.isna()
                if bad.any():
                    raise DataError(
                        f"{source}: column {name!r} holds text ({values[bad].iloc[0]!r}) where the model was trained on numbers; fix those cells"
                    )
                numbers = numbers.to_numpy(dtype=np.float64)
                if np.isinf(numbers).any():
                    raise DataError(
                        f"{source}: column {name!r} has infinite values; clip, rescale or drop them"
                    )
                gap = np.isnan(numbers)
                blocks.append(np.where(gap, col["median"], numbers)[:, None])
                if col["indicator"]:
                    blocks.append(gap[:, None].astype(np.float64))
            elif col["kind"] == "datetime":
                parts = _date_parts(values, name, source)
                gap = parts["year"].isna().to_numpy()
                for part in DATE_PARTS:
                    blocks.append(parts[part].fillna(col["medians"][part]).to_numpy()[:, None])
                if col["indicator"]:
                    blocks.append(gap[:, None].astype(np.float64))
            else:
                levels = col["levels"]
                index = {level: i for i, level in enumerate(levels)}
                gap = values.isna().to_numpy()
                codes = np.array(
                    [
                        len(levels) + 1 if missing else index.get(_level(v), len(levels))
                        for v, missing in zip(values.tolist(), gap, strict=True)
                    ],
                    dtype=np.int64,
                )
                onehot = np.zeros((len(values), len(levels) + 2))
                onehot[np.arange(len(values)), codes] = 1.0
                blocks.append(onehot)
        X = np.hstack(blocks) if blocks else np.zeros((len(frame), 0))
        with np.errstate(over="ignore"):
            out = X.astype(np.float32)
        if not np.isfinite(out).all():
            raise DataError(f"{source}: values beyond float32's range (±3.4e38); rescale them")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "table",
            "min_frequency": self.min_frequency,
            "columns": self.columns,
            "dropped": self.dropped,
        }

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> TableEncoder:
        columns = [dict(c) for c in record["columns"]]
        for col in columns:
            if col["kind"] not in KINDS:
                raise DataError(f"encoder.json: unknown column kind {col['kind']!r}")
            for key in ("median",):
                if key in col and not math.isfinite(col[key]):
                    raise DataError(f"encoder.json: column {col['name']!r} has a non-finite {key}")
        return cls(columns, dict(record.get("dropped", {})), int(record.get("min_frequency", 5)))
