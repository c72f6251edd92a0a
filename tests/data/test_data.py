"""Data: bundled and user files, validation errors, the seeded split, train-only scaling."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rayboost._errors import DataError
from rayboost.config import DataConfig
from rayboost.data import (
    BUNDLED,
    Dataset,
    Scaler,
    Split,
    TrialData,
    load_dataset,
    make_trial_data,
    split_dataset,
)

RNG_SEED = 0


@cache
def _bundled(name: str) -> Dataset:
    return load_dataset(DataConfig(dataset=name))


def _table(n: int = 60, seed: int = RNG_SEED) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(10.0, 3.0, size=n)})


def _dataset(X: np.ndarray, y: np.ndarray, task: str = "classification") -> Dataset:
    classes = sorted(np.unique(y).tolist()) if task == "classification" else None
    return Dataset("synthetic", X.astype(np.float32), y, task, classes, "y", None)


# -- bundled datasets ----------------------------------------------------------------------------


def test_bundled_names() -> None:
    assert set(BUNDLED) == {"digits", "breast_cancer", "diabetes", "penguins"}


def test_digits() -> None:
    ds = _bundled("digits")
    assert ds.X.shape == (1797, 1, 8, 8)
    assert ds.X.dtype == np.float32
    assert ds.is_image and ds.input_shape == (1, 8, 8)
    assert ds.task == "classification"
    assert ds.classes == list(range(10))
    assert ds.n_outputs == 10
    assert ds.y.dtype == np.int64
    assert set(np.unique(ds.y)) == set(range(10))
    assert ds.feature_names is None


def test_breast_cancer() -> None:
    ds = _bundled("breast_cancer")
    assert ds.X.shape == (569, 30)
    assert not ds.is_image
    assert ds.task == "classification"
    assert ds.n_outputs == 2 and ds.classes == [0, 1]
    assert ds.feature_names is not None and len(ds.feature_names) == 30


def test_diabetes() -> None:
    ds = _bundled("diabetes")
    assert ds.X.shape == (442, 10)
    assert ds.task == "regression"
    assert ds.classes is None and ds.n_outputs == 1
    assert ds.y.dtype == np.float32
    assert ds.y.min() >= 25 and ds.y.max() <= 346  # original units, not standardized


# -- user files ----------------------------------------------------------------------------------

SPECIES = np.array(["virginica", "setosa", "versicolor"])


def _species_csv(tmp_path: Path, n: int = 30) -> tuple[Path, pd.DataFrame]:
    frame = _table(n)
    frame["species"] = SPECIES[np.arange(n) % 3]
    path = tmp_path / "flowers.csv"
    frame.to_csv(path, index=False)
    return path, frame


def _check_species(ds: Dataset, frame: pd.DataFrame) -> None:
    assert ds.task == "classification"
    assert ds.classes == ["setosa", "versicolor", "virginica"]  # sorted
    assert ds.y.dtype == np.int64
    assert ds.feature_names == ["a", "b"]
    np.testing.assert_allclose(ds.X, frame[["a", "b"]].to_numpy(np.float32))
    decoded = [ds.classes[i] for i in ds.y]
    assert decoded == frame["species"].tolist()
    # one encoding shared by every split part: decoding any part gives its original labels
    split = split_dataset(ds, seed=0)
    for part in (split.train, split.val, split.test):
        assert [ds.classes[i] for i in ds.y[part]] == frame["species"].iloc[part].tolist()


def test_csv_string_labels_auto_task(tmp_path: Path) -> None:
    path, frame = _species_csv(tmp_path)
    _check_species(load_dataset(DataConfig(path=str(path), label="species")), frame)


def test_csv_string_labels_explicit_classification(tmp_path: Path) -> None:
    path, frame = _species_csv(tmp_path)
    ds = load_dataset(DataConfig(path=str(path), label="species", task="classification"))
    assert ds.name == "flowers" and ds.label == "species"
    _check_species(ds, frame)


def test_parquet(tmp_path: Path) -> None:
    frame = _table(40)
    frame["target"] = np.arange(40) % 4
    path = tmp_path / "table.parquet"
    frame.to_parquet(path)
    ds = load_dataset(DataConfig(path=str(path), label="target"))
    assert ds.X.shape == (40, 2)
    assert ds.task == "classification"
    assert ds.classes == [0, 1, 2, 3]
    np.testing.assert_array_equal(ds.y, np.arange(40) % 4)


def test_npz_three_dim_gets_a_channel_axis(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 5, 6))
    y = np.arange(20) % 2
    path = tmp_path / "imgs.npz"
    np.savez(path, X=X, y=y)
    ds = load_dataset(DataConfig(path=str(path)))
    assert ds.X.shape == (20, 1, 5, 6)
    assert ds.X.dtype == np.float32
    assert ds.is_image and ds.feature_names is None
    np.testing.assert_allclose(ds.X[:, 0], X.astype(np.float32))
    assert ds.task == "classification" and ds.classes == [0, 1]


def test_npz_four_dim_kept(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(12, 3, 4, 4)).astype(np.float32)
    path = tmp_path / "rgb.npz"
    np.savez(path, X=X, y=rng.normal(size=12))
    ds = load_dataset(DataConfig(path=str(path)))
    assert ds.X.shape == (12, 3, 4, 4)
    np.testing.assert_array_equal(ds.X, X)
    assert ds.task == "regression"


def test_npz_missing_arrays(tmp_path: Path) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, features=np.zeros((10, 2)), y=np.zeros(10))
    with pytest.raises(DataError, match="'X' and 'y'"):
        load_dataset(DataConfig(path=str(path)))


def test_pixel_csv_with_image_shape(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 255, size=(20, 16)).astype(float)
    frame = pd.DataFrame(pixels, columns=[f"p{i}" for i in range(16)])
    frame["label"] = np.arange(20) % 2
    path = tmp_path / "pixels.csv"
    frame.to_csv(path, index=False)
    ds = load_dataset(DataConfig(path=str(path), label="label", image_shape=(1, 4, 4)))
    assert ds.X.shape == (20, 1, 4, 4)
    assert ds.is_image and ds.feature_names is None
    np.testing.assert_allclose(ds.X.reshape(20, 16), pixels)  # row-major pixel order
    # H,W is the same as 1,H,W
    ds2 = load_dataset(DataConfig(path=str(path), label="label", image_shape=(4, 4)))
    np.testing.assert_array_equal(ds2.X, ds.X)


def test_pixel_csv_wrong_pixel_count(tmp_path: Path) -> None:
    frame = pd.DataFrame(np.zeros((20, 15)), columns=[f"p{i}" for i in range(15)])
    frame["label"] = np.arange(20) % 2
    path = tmp_path / "pixels.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError) as info:
        load_dataset(DataConfig(path=str(path), label="label", image_shape=(1, 4, 4)))
    message = str(info.value)
    assert "data.image_shape" in message
    assert "1,4,4" in message and "16" in message
    assert "15" in message  # the column count it found


def test_missing_label_column_lists_columns(tmp_path: Path) -> None:
    frame = _table(20)
    frame["target"] = np.arange(20) % 2
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError) as info:
        load_dataset(DataConfig(path=str(path), label="class"))
    message = str(info.value)
    assert "'class'" in message
    assert "a, b, target" in message


def test_label_not_set_lists_columns(tmp_path: Path) -> None:
    frame = _table(20)
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match="data.label.*a, b"):
        load_dataset(DataConfig(path=str(path)))


def test_text_and_missing_cells_make_a_typed_table(tmp_path: Path) -> None:
    # refused before mixed-type tables were supported; now kept as a frame, encoded after the split
    frame = _table(20)
    frame["colour"] = ["red", "blue"] * 10
    frame.loc[[3, 7], "b"] = np.nan
    frame["y"] = np.arange(20) % 2
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    dataset = load_dataset(DataConfig(path=str(path), label="y"))
    assert dataset.table is not None and list(dataset.table.columns) == ["a", "b", "colour"]
    assert dataset.X.shape == (20, 0)


def test_text_in_a_pixel_table_is_refused(tmp_path: Path) -> None:
    frame = pd.DataFrame({f"p{i}": np.zeros(20) for i in range(4)})
    frame["p0"] = ["x"] * 20
    frame["y"] = np.arange(20) % 2
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match="non-numeric.*p0"):
        load_dataset(DataConfig(path=str(path), label="y", image_shape=(2, 2)))


def test_nan_in_npz_features(tmp_path: Path) -> None:
    X = np.zeros((12, 3))
    X[4, 1] = np.nan
    path = tmp_path / "x.npz"
    np.savez(path, X=X, y=np.arange(12) % 2)
    with pytest.raises(DataError, match="missing or infinite"):
        load_dataset(DataConfig(path=str(path)))


@pytest.mark.parametrize("task", ["auto", "classification", "regression"])
def test_nan_labels(tmp_path: Path, task: str) -> None:
    frame = _table(20)
    labels = (np.arange(20) % 2).astype(float)
    labels[[2, 5, 9]] = np.nan
    frame["y"] = labels
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError) as info:
        load_dataset(DataConfig(path=str(path), label="y", task=task))
    assert "'y'" in str(info.value) and "3 missing" in str(info.value)


def _labelled(tmp_path: Path, labels: np.ndarray) -> Path:
    frame = _table(len(labels))
    frame["y"] = labels
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    return path


def test_float_labels_mean_regression(tmp_path: Path) -> None:
    labels = np.linspace(0.5, 9.5, 30)
    ds = load_dataset(DataConfig(path=str(_labelled(tmp_path, labels)), label="y"))
    assert ds.task == "regression" and ds.classes is None
    np.testing.assert_allclose(ds.y, labels.astype(np.float32))


def test_small_int_labels_mean_classification(tmp_path: Path) -> None:
    labels = np.array([3, 7, 11] * 10)
    ds = load_dataset(DataConfig(path=str(_labelled(tmp_path, labels)), label="y"))
    assert ds.task == "classification"
    assert ds.classes == [3, 7, 11]
    np.testing.assert_array_equal(ds.y, np.array([0, 1, 2] * 10))


def test_many_distinct_int_labels_mean_regression(tmp_path: Path) -> None:
    labels = np.arange(60)  # 60 distinct values > MAX_CLASSES_FOR_AUTO
    ds = load_dataset(DataConfig(path=str(_labelled(tmp_path, labels)), label="y"))
    assert ds.task == "regression"


def test_task_override(tmp_path: Path) -> None:
    path = _labelled(tmp_path, np.array([0, 1, 2] * 10))
    ds = load_dataset(DataConfig(path=str(path), label="y", task="regression"))
    assert ds.task == "regression" and ds.classes is None and ds.y.dtype == np.float32
    path = _labelled(tmp_path, np.array([0.5, 1.5] * 15))
    ds = load_dataset(DataConfig(path=str(path), label="y", task="classification"))
    assert ds.task == "classification" and ds.classes == [0.5, 1.5]


def test_regression_on_string_labels_fails(tmp_path: Path) -> None:
    path, _ = _species_csv(tmp_path)
    with pytest.raises(DataError, match="data.task=classification"):
        load_dataset(DataConfig(path=str(path), label="species", task="regression"))


def test_single_class_fails(tmp_path: Path) -> None:
    path = _labelled(tmp_path, np.ones(20, dtype=int))
    with pytest.raises(DataError, match="single class"):
        load_dataset(DataConfig(path=str(path), label="y", task="classification"))


def test_too_few_rows(tmp_path: Path) -> None:
    path = _labelled(tmp_path, np.array([0, 1] * 4))
    with pytest.raises(DataError, match="8 rows"):
        load_dataset(DataConfig(path=str(path), label="y"))


def test_missing_file_and_unsupported_type(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(DataConfig(path=str(tmp_path / "nope.csv"), label="y"))
    other = tmp_path / "data.xlsx"
    other.write_bytes(b"x")
    with pytest.raises(DataError, match="unsupported file type"):
        load_dataset(DataConfig(path=str(other), label="y"))


def test_tsv_is_read_with_tabs(tmp_path: Path) -> None:
    frame = _table(40)
    frame["y"] = np.arange(40) % 2
    path = tmp_path / "t.tsv"
    frame.to_csv(path, sep="\t", index=False)
    dataset = load_dataset(DataConfig(path=str(path), label="y"))
    assert dataset.X.shape == (40, 2) and dataset.feature_names == ["a", "b"]


def test_duplicate_column_names_are_refused_not_renamed(tmp_path: Path) -> None:
    # pandas would rename the second "y" to "y.1", and the label would leak in as a feature
    path = tmp_path / "dup.csv"
    path.write_text("a,y,y\n" + "".join(f"{i},{i % 2},{i % 2}\n" for i in range(30)))
    with pytest.raises(DataError, match=r"duplicate column names \(y\)"):
        load_dataset(DataConfig(path=str(path), label="y"))


def test_zero_row_npz_with_image_shape(tmp_path: Path) -> None:
    path = tmp_path / "z.npz"
    np.savez(path, X=np.zeros((0, 784), np.float32), y=np.zeros(0))
    with pytest.raises(DataError, match="no rows"):
        load_dataset(DataConfig(path=str(path), image_shape=(1, 28, 28)))


@pytest.mark.parametrize("value", ["inf", "-inf", "1e39"])
def test_infinite_or_float32_overflowing_features_are_refused(tmp_path: Path, value: str) -> None:
    path = tmp_path / "inf.csv"
    path.write_text(
        "a,b,y\n" + "".join(f"{i},{value if i == 3 else i},{i % 2}\n" for i in range(30))
    )
    with pytest.raises(DataError, match="column 'b' has infinite values or values beyond float32"):
        load_dataset(DataConfig(path=str(path), label="y"))


def test_infinite_regression_labels_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "inf.csv"
    path.write_text("a,y\n" + "".join(f"{i},{'inf' if i == 5 else i * 0.5}\n" for i in range(30)))
    with pytest.raises(DataError, match="label 'y' has 1 infinite values"):
        load_dataset(DataConfig(path=str(path), label="y", task="regression"))


def test_header_only_rows_to_predict(tmp_path: Path) -> None:
    from rayboost.data import load_features

    path = tmp_path / "new.csv"
    path.write_text("a,b\n")
    with pytest.raises(DataError, match="header but no rows"):
        load_features(path, (2,), ["a", "b"], "y")


# -- split ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", BUNDLED)
def test_split_partition_and_sizes(name: str) -> None:
    ds = _bundled(name)
    split = split_dataset(ds, seed=0)
    n = len(ds.y)
    parts = [split.train, split.val, split.test]
    joined = np.concatenate(parts)
    assert len(joined) == n and len(np.unique(joined)) == n  # disjoint and complete
    np.testing.assert_array_equal(np.sort(joined), np.arange(n))
    for part in parts:
        assert np.all(np.diff(part) > 0)  # sorted indices
    assert abs(len(split.val) - 0.2 * n) <= 1
    assert abs(len(split.test) - 0.2 * n) <= 1
    assert abs(len(split.train) - 0.6 * n) <= 2  # the remainder of two rounded-up parts
    assert split.sizes() == {
        "train": len(split.train),
        "val": len(split.val),
        "test": len(split.test),
    }
    assert split.stratified == (ds.task == "classification")
    assert split.seed == 0
    assert split.fingerprint == ds.fingerprint()


def test_split_is_seeded() -> None:
    ds = _bundled("breast_cancer")
    a, b = split_dataset(ds, seed=5), split_dataset(ds, seed=5)
    for part in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(a, part), getattr(b, part))
    c = split_dataset(ds, seed=6)
    assert not np.array_equal(a.test, c.test)


@pytest.mark.parametrize("name", ["digits", "breast_cancer"])
def test_split_is_stratified(name: str) -> None:
    ds = _bundled(name)
    split = split_dataset(ds, seed=3)
    totals = np.bincount(ds.y)
    for part, fraction in ((split.train, 0.6), (split.val, 0.2), (split.test, 0.2)):
        counts = np.bincount(ds.y[part], minlength=len(totals))
        assert np.all(np.abs(counts - fraction * totals) <= 1.0), (counts, fraction * totals)


def test_split_other_fractions() -> None:
    ds = _bundled("digits")
    split = split_dataset(ds, seed=0, val_fraction=0.1, test_fraction=0.3)
    n = len(ds.y)
    assert abs(len(split.test) - 0.3 * n) <= 1
    assert abs(len(split.val) - 0.1 * n) <= 1


def test_fingerprint_tracks_data() -> None:
    ds = _bundled("breast_cancer")
    changed_X = Dataset(ds.name, ds.X.copy(), ds.y, ds.task, ds.classes, ds.label, ds.feature_names)
    assert changed_X.fingerprint() == ds.fingerprint()
    changed_X.X[0, 0] += 1.0
    assert changed_X.fingerprint() != ds.fingerprint()
    changed_y = Dataset(ds.name, ds.X, ds.y.copy(), ds.task, ds.classes, ds.label, ds.feature_names)
    changed_y.y[0] = 1 - changed_y.y[0]
    assert changed_y.fingerprint() != ds.fingerprint()
    assert split_dataset(changed_X, 0).fingerprint != split_dataset(ds, 0).fingerprint


def test_split_save_load_round_trip(tmp_path: Path) -> None:
    split = split_dataset(_bundled("digits"), seed=11)
    path = tmp_path / "split.json"
    split.save(path)
    json.loads(path.read_text())  # plain JSON
    loaded = Split.load(path)
    for part in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(loaded, part), getattr(split, part))
        assert getattr(loaded, part).dtype == np.int64
    assert (loaded.seed, loaded.stratified, loaded.fingerprint) == (11, True, split.fingerprint)


def test_class_with_too_few_rows() -> None:
    y = np.array([0] * 20 + [1] * 20 + [2] * 2)
    ds = _dataset(np.zeros((len(y), 2)), y)
    ds.classes = ["cat", "dog", "emu"]
    with pytest.raises(DataError) as info:
        split_dataset(ds, seed=0)
    assert "'emu'" in str(info.value) and "2 rows" in str(info.value)


def test_class_with_three_rows_splits() -> None:
    y = np.array([0] * 20 + [1] * 20 + [2] * 3)
    split = split_dataset(_dataset(np.zeros((len(y), 2)), y), seed=0)
    for part in (split.train, split.val, split.test):
        assert 2 in y[part]


# -- scaling and trial data ----------------------------------------------------------------------


def test_scaler_fits_train_rows_only() -> None:
    ds = _bundled("breast_cancer")
    split = split_dataset(ds, seed=0)
    scaler = Scaler.fit(ds.X[split.train])
    np.testing.assert_allclose(scaler.mean, ds.X[split.train].mean(axis=0), rtol=1e-5)
    assert not np.allclose(scaler.mean, ds.X.mean(axis=0), rtol=1e-5)  # not fit on all rows
    train = scaler.transform(ds.X[split.train])
    assert train.dtype == np.float32
    np.testing.assert_allclose(train.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(train.std(axis=0), 1.0, atol=1e-3)
    test = scaler.transform(ds.X[split.test])
    assert np.abs(test.mean(axis=0)).max() > 1e-3  # test rows are not exactly centred


def test_scaler_per_channel_for_images() -> None:
    rng = np.random.default_rng(0)
    scales = np.array([1.0, 10.0, 100.0])[None, :, None, None]
    offsets = np.array([0.0, 5.0, -50.0])[None, :, None, None]
    X = (rng.normal(size=(40, 3, 4, 4)) * scales + offsets).astype(np.float32)
    scaler = Scaler.fit(X)
    assert scaler.mean.shape == (3, 1, 1) and scaler.std.shape == (3, 1, 1)
    out = scaler.transform(X)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1.0, atol=1e-4)


def test_scaler_on_digits_train_rows() -> None:
    ds = _bundled("digits")
    split = split_dataset(ds, seed=0)
    scaler = Scaler.fit(ds.X[split.train])
    assert scaler.mean.shape == (1, 1, 1)
    train = scaler.transform(ds.X[split.train])
    assert abs(float(train.mean())) < 1e-4
    assert abs(float(train.std()) - 1.0) < 1e-4


def test_scaler_constant_column_is_not_divided_by_zero() -> None:
    X = np.column_stack([np.full(10, 3.0), np.arange(10.0)]).astype(np.float32)
    scaler = Scaler.fit(X)
    assert scaler.std[0] == 1.0
    out = scaler.transform(X)
    assert np.all(np.isfinite(out)) and np.all(out[:, 0] == 0.0)


@pytest.mark.parametrize("name", ["digits", "breast_cancer"])
def test_scaler_dict_round_trip(name: str) -> None:
    ds = _bundled(name)
    scaler = Scaler.fit(ds.X[:100])
    record = json.loads(json.dumps(scaler.to_dict()))
    again = Scaler.from_dict(record)
    assert again.mean.shape == scaler.mean.shape
    np.testing.assert_array_equal(again.mean, scaler.mean)
    np.testing.assert_array_equal(again.std, scaler.std)
    np.testing.assert_array_equal(again.transform(ds.X[100:120]), scaler.transform(ds.X[100:120]))


@pytest.mark.parametrize("name", BUNDLED)
def test_trial_data_has_no_test_rows(name: str) -> None:
    ds = _bundled(name)
    split = split_dataset(ds, seed=0)
    scaler = Scaler.fit(ds.X[split.train])
    data = make_trial_data(ds, split, scaler)
    assert isinstance(data, TrialData)
    assert not set(data.train_rows) & set(split.test)
    assert not set(data.val_rows) & set(split.test)
    assert not set(data.train_rows) & set(data.val_rows)
    assert len(data.X_train) + len(data.X_val) == len(split.train) + len(split.val)
    assert len(data.X_train) + len(data.X_val) == len(ds.y) - len(split.test)
    assert len(data.y_train) == len(data.X_train) and len(data.y_val) == len(data.X_val)
    np.testing.assert_array_equal(data.X_train, scaler.transform(ds.X[split.train]))
    np.testing.assert_array_equal(data.X_val, scaler.transform(ds.X[split.val]))
    np.testing.assert_array_equal(data.y_val, ds.y[split.val])
    assert data.task == ds.task and data.n_outputs == ds.n_outputs
    assert data.input_shape == ds.input_shape
