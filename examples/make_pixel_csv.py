"""Write a 28×28 pixel CSV (one image per row, a ``label`` column) built offline from
scikit-learn's 8×8 digits: each image is upscaled, rotated, scaled, shifted and given noise.

    python examples/make_pixel_csv.py --rows 5000 --out pixels.csv
    rayboost run --set data.path=pixels.csv --set data.label=label --set data.image_shape=1,28,28

Rows are augmented copies of 1,797 source digits, so one source digit can appear, differently
distorted, in both train and test rows: scores on this file are optimistic for new handwriting.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage
from sklearn.datasets import load_digits


def make_images(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    digits = load_digits()
    source = rng.integers(0, len(digits.images), size=rows)
    images = np.zeros((rows, 28, 28), dtype=np.float32)
    for i, s in enumerate(source):
        size = int(rng.integers(18, 25))  # upscaled digit of 18..24 pixels
        img = ndimage.zoom(digits.images[s] / 16.0, size / 8.0, order=1)
        img = ndimage.rotate(img, rng.uniform(-15, 15), reshape=False, order=1)
        top, left = rng.integers(0, 28 - img.shape[0] + 1), rng.integers(0, 28 - img.shape[1] + 1)
        images[i, top : top + img.shape[0], left : left + img.shape[1]] = img
    images = np.clip(images + rng.normal(0, 0.05, images.shape), 0, 1)
    return np.round(images * 255).astype(np.uint8), digits.target[source]


def write_csv(path: str | Path, rows: int, seed: int = 0) -> Path:
    """``rows`` images as a CSV: a ``label`` column, then 784 pixel columns."""
    images, labels = make_images(rows, seed)
    frame = pd.DataFrame(images.reshape(rows, -1), columns=[f"px{i}" for i in range(784)])
    frame.insert(0, "label", labels)
    frame.to_csv(path, index=False)
    return Path(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="pixels.csv")
    args = parser.parse_args()
    write_csv(args.out, args.rows, args.seed)
    print(f"wrote {args.rows} images of 28×28 to {args.out}")


if __name__ == "__main__":
    main()
