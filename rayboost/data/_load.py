"""Load bundled or user data into one validated, label-encoded :class:`Dataset`."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rayboost._errors import DataError
from rayboost.config import DataConfig
from rayboost.data._table import TableEncoder, infer_typing, needs_typing

__all__ = ["BUNDLED", "Dataset", "encode_table", "load_dataset", "load_features"]

BUNDLED = ("digits", "breast_cancer", "diabetes", "penguins")
MAX_CLASSES_FOR_AUTO = 50


@dataclass
class Dataset:
    """Features, encoded labels and what is needed to decode them again."""

    name: str
    X: np.ndarray  # float32, (N, D) for tables or (N, C, H, W) for images
    y: np.ndarray  # int64 class index (classification) or float32 (regression)
    task: str  # "classification" | "regression"
    classes: list[Any] | None  # original label of each class index, one shared order
    label: str
    feature_names: list[str] | None
    table: pd.DataFrame | None = None
    """A mixed-type table's feature columns as read; ``X`` holds them only once encoded (see
    :func:`encode_table`)."""
    encoder: TableEncoder | None = None
    """The encoding of ``table`` fitted on the train rows, once :func:`encode_table` ran."""

    @property
    def is_image(self) -> bool:
        return self.X.ndim == 4

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.X.shape[1:])

    @property
    def n_outputs(self) -> int:
        return len(self.classes) if self.classes is not None else 1

    def fingerprint(self) -> str:
        """A short hash of features and labels: proves which data a split refers to."""
        digest = hashlib.sha256()
        if self.table is not None:  # the data as read, before any fitted encoding
            digest.update("\0".join(map(str, self.table.columns)).encode())
            hashed = pd.util.hash_pandas_object(self.table, index=False)
            digest.update(np.ascontiguousarray(hashed.to_numpy()).tobytes())
        else:
            digest.update(np.ascontiguousarray(self.X).tobytes())
        digest.update(np.ascontiguousarray(self.y).tobytes())
        return digest.hexdigest()[:16]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _infer_task(y: pd.Series | np.ndarray, label: str) -> str:
    series = pd.Series(y)
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        return "classification"  # strings, categories, booleans
    values = series.to_numpy(dtype=float)
    integral = bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))
    if integral and series.nunique() <= MAX_CLASSES_FOR_AUTO:
        return "classification"
    return "regression"


def _encode(y_raw: np.ndarray, task: str, label: str) -> tuple[np.ndarray, list[Any] | None]:
    if pd.isna(pd.Series(y_raw)).any():
        n = int(pd.isna(pd.Series(y_raw)).sum())
        raise DataError(f"label {label!r} has {n} missing values; drop or fill those rows")
    if task == "regression":
        try:
            with np.errstate(over="ignore"):
                y = np.asarray(y_raw, dtype=np.float32)
        except (TypeError, ValueError):
            raise DataError(
                f"label {label!r} is not numeric, so it cannot be a regression target; "
                "set data.task=classification"
            ) from None
        if not np.isfinite(y).all():
            n = int((~np.isfinite(y)).sum())
            raise DataError(
                f"label {label!r} has {n} infinite values or values beyond float32's range; drop or fix those rows"
            )
        return y, None
    classes, y = np.unique(np.asarray(y_raw), return_inverse=True)
    if len(classes) < 2:
        raise DataError(
            f"label {label!r} has a single class ({classes[0]!r}); a classifier needs two or more"
        )
    return y.astype(np.int64), [_plain(c) for c in classes]


def _as_images(X: np.ndarray, shape: tuple[int, ...] | None, source: str) -> np.ndarray:
    if shape is None:
        return X
    shape = (1, *shape) if len(shape) == 2 else tuple(shape)
    n_pixels = int(np.prod(shape))
    flat = X.reshape(len(X), -1)
    if flat.shape[1] != n_pixels:
        raise DataError(
            f"data.image_shape {','.join(map(str, shape))} needs {n_pixels} pixel columns, "
            f"but {source} has {flat.shape[1]} feature columns"
        )
    return flat.reshape(len(X), *shape)


def _check_features(frame: pd.DataFrame, source: str) -> np.ndarray:
    non_numeric = [str(c) for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if non_numeric:
        shown = ", ".join(non_numeric[:5]) + (" ..." if len(non_numeric) > 5 else "")
        raise DataError(
            f"{source}: non-numeric feature columns ({shown}); encode them as numbers or drop them"
        )
    missing = frame.isna().sum()
    missing = missing[missing > 0]
    if len(missing):
        col, n = str(missing.index[0]), int(missing.iloc[0])
        raise DataError(
            f"{source}: column {col!r} has {n} missing values"
            f"{f' (and {len(missing) - 1} more columns)' if len(missing) > 1 else ''}; fill or drop them"
        )
    with np.errstate(over="ignore"):
        X = frame.to_numpy(dtype=np.float32)
    bad = ~np.isfinite(X).all(axis=0)
    if bad.any():
        cols = [str(c) for c in frame.columns[bad]]
        raise DataError(
            f"{source}: column {cols[0]!r}{f' (and {len(cols) - 1} more)' if len(cols) > 1 else ''} has infinite "
            "values or values beyond float32's range (±3.4e38); clip, rescale or drop them"
        )
    return X


def _load_bundled(name: str) -> tuple[np.ndarray, np.ndarray, str, list[str] | None]:
    from sklearn import datasets

    if name == "digits":
        bunch = datasets.load_digits()
        return bunch.images[:, None, :, :].astype(np.float32), bunch.target, "digit", None
    loader = {"breast_cancer": datasets.load_breast_cancer, "diabetes": datasets.load_diabetes}[
        name
    ]
    bunch = loader()
    return (
        bunch.data.astype(np.float32),
        bunch.target,
        "target",
        [str(f) for f in bunch.feature_names],
    )


def _penguins_csv() -> Path:
    """The Palmer penguins table (344 rows: species, island, sex, measurements with gaps) as
    the ``palmerpenguins`` package ships it; found without importing the package."""
    import importlib.util

    spec = importlib.util.find_spec("palmerpenguins")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "data.dataset=penguins needs the palmerpenguins package: pip install palmerpenguins"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "penguins.csv"


def _read_frame(path: Path) -> pd.DataFrame:
    """A CSV (tab-separated for .tsv) or Parquet file as a frame; duplicate column names are an
    error (pandas would rename them silently, and a duplicated label would become a feature)."""
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
            header = [str(c) for c in frame.columns]
        else:
            sep = "\t" if suffix == ".tsv" else ","
            raw_header = pd.read_csv(path, sep=sep, nrows=1, header=None, dtype=str)
            header = [str(c) for c in raw_header.iloc[0].tolist()] if len(raw_header) else []
            frame = pd.read_csv(path, sep=sep)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a data problem for the user
        raise DataError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
    seen: set[str] = set()
    duplicated = [c for c in header if c in seen or seen.add(c)]
    if duplicated:
        shown = ", ".join(sorted(set(duplicated))[:5])
        raise DataError(
            f"{path.name} has duplicate column names ({shown}); give each column its own name"
        )
    return frame


def _load_table(
    path: Path, cfg: DataConfig
) -> tuple[np.ndarray, np.ndarray, str, list[str], pd.DataFrame | None]:
    frame = _read_frame(path)
    if cfg.label is None:
        raise DataError(
            f"{path.name}: set data.label to the label column; columns are: {_cols(frame)}"
        )
    if cfg.label not in frame.columns:
        raise DataError(
            f"label column {cfg.label!r} not found in {path.name}; columns are: {_cols(frame)}"
        )
    if len(frame) == 0:
        raise DataError(f"{path.name} has no rows")
    features = frame.drop(columns=[cfg.label])
    if features.shape[1] == 0:
        raise DataError(f"{path.name} has no feature columns besides the label {cfg.label!r}")
    names = [str(c) for c in features.columns]
    if cfg.image_shape is None and needs_typing(features, cfg.categorical, cfg.drop + cfg.numeric):
        features.columns = names
        placeholder = np.zeros((len(features), 0), dtype=np.float32)  # encoded after the split
        return placeholder, frame[cfg.label].to_numpy(), cfg.label, names, features
    X = _check_features(features, path.name)
    return X, frame[cfg.label].to_numpy(), cfg.label, names, None


def _cols(frame: pd.DataFrame) -> str:
    cols = [str(c) for c in frame.columns]
    return ", ".join(cols[:10]) + (f" ... ({len(cols)} in all)" if len(cols) > 10 else "")


def _load_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "X" not in npz or "y" not in npz:
                raise DataError(
                    f"{path.name} must hold arrays 'X' and 'y'; it holds: {', '.join(npz.files)}"
                )
            X, y = npz["X"], npz["y"]
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise DataError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
    if X.ndim not in (2, 3, 4) or len(X) != len(y) or y.ndim != 1:
        raise DataError(
            f"{path.name}: expected X of shape N×D, N×H×W or N×C×H×W and y of length N; "
            f"got X {X.shape}, y {y.shape}"
        )
    if len(X) == 0:
        raise DataError(f"{path.name} has no rows")
    if X.ndim == 3:
        X = X[:, None, :, :]
    X = X.astype(np.float32)
    if not np.all(np.isfinite(X)):
        raise DataError(f"{path.name}: X has missing or infinite values; fill or drop them")
    return X, y


def load_dataset(cfg: DataConfig) -> Dataset:
    """Load, validate and label-encode the data that ``cfg`` names."""
    feature_names: list[str] | None
    table = None
    if cfg.dataset == "penguins":
        cfg = dataclasses.replace(cfg, label="species")
        X, y_raw, label, feature_names, table = _load_table(_penguins_csv(), cfg)
        name = cfg.dataset
    elif cfg.dataset is not None:
        X, y_raw, label, feature_names = _load_bundled(cfg.dataset)
        name = cfg.dataset
    else:
        assert cfg.path is not None  # guaranteed by config validation
        path = Path(cfg.path).expanduser()
        if not path.is_file():
            raise DataError(
                f"data.path {cfg.path} does not exist; give the path of a CSV, Parquet or NPZ file"
            )
        suffix = path.suffix.lower()
        if suffix == ".npz":
            X, y_raw = _load_npz(path)
            label, feature_names = "y", None
        elif suffix in (".csv", ".parquet", ".pq", ".txt", ".tsv") or suffix == "":
            X, y_raw, label, feature_names, table = _load_table(path, cfg)
        else:
            raise DataError(
                f"data.path {path.name}: unsupported file type {suffix}; use .csv, .parquet or .npz"
            )
        X = _as_images(X, cfg.image_shape, path.name)
        if X.ndim == 4:
            feature_names = None
        name = path.stem
    if len(X) < 10:
        raise DataError(
            f"{name} has {len(X)} rows; at least 10 are needed for train/validation/test splits"
        )
    task = _infer_task(y_raw, label) if cfg.task == "auto" else cfg.task
    y, classes = _encode(y_raw, task, label)
    return Dataset(name, X, y, task, classes, label, feature_names, table)


def encode_table(dataset: Dataset, train_rows: np.ndarray, cfg: DataConfig) -> Dataset:
    """A mixed-type table typed and encoded with a :class:`TableEncoder` fitted on
    ``train_rows``: ``X`` then holds every row encoded. Other data is returned as it is."""
    if dataset.table is None or dataset.encoder is not None:
        return dataset
    typing = infer_typing(
        dataset.table,
        train_rows,
        categorical=cfg.categorical,
        numeric=cfg.numeric,
        drop=cfg.drop,
        max_levels=cfg.max_levels,
    )
    encoder = TableEncoder.fit(dataset.table, train_rows, typing, cfg.min_frequency)
    X = encoder.transform(dataset.table, dataset.name)
    return dataclasses.replace(dataset, X=X, encoder=encoder)


def load_features(
    path: str | Path,
    input_shape: tuple[int, ...],
    feature_names: list[str] | None,
    label: str | None,
    encoder: TableEncoder | None = None,
) -> np.ndarray:
    """Features of new rows to predict, in the layout a trained experiment expects.

    Tables need the training feature columns (extra columns, such as the label, are ignored;
    a mixed-type table's ``encoder`` types and encodes them as it did the train rows);
    images need C·H·W pixel columns (a label column is dropped) or an NPZ with ``X``.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(
            f"{path} does not exist; give a CSV, Parquet or NPZ file of rows to predict"
        )
    if path.suffix.lower() == ".npz":
        try:
            with np.load(path, allow_pickle=False) as npz:
                if "X" not in npz:
                    raise DataError(
                        f"{path.name} must hold an array 'X'; it holds: {', '.join(npz.files)}"
                    )
                X = npz["X"].astype(np.float32)
        except DataError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise DataError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
        if len(X) == 0:
            raise DataError(f"{path.name} has no rows to predict")
        return (
            X.reshape(len(X), *input_shape)
            if X.reshape(len(X), -1).shape[1] == int(np.prod(input_shape))
            else X
        )
    frame = _read_frame(path)
    if len(frame) == 0:
        raise DataError(f"{path.name} has a header but no rows to predict")
    if encoder is not None:  # a mixed-type table: typed and encoded as the train rows were
        frame.columns = [str(c) for c in frame.columns]
        return encoder.transform(frame, path.name)
    if feature_names is not None:
        missing = [c for c in feature_names if c not in frame.columns]
        if missing:
            shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise DataError(f"{path.name} lacks feature columns the model was trained on: {shown}")
        return _check_features(frame[feature_names], path.name)
    if label is not None and label in frame.columns:
        frame = frame.drop(columns=[label])
    return _as_images(_check_features(frame, path.name), input_shape, path.name)
