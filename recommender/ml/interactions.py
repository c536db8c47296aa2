"""User x item interaction data: tab-separated files, a sparse matrix, and per-user splits.

The file format is the one of HetRec lastfm-2k's ``user_artists.dat``: a header line, then
``user<TAB>item<TAB>weight`` rows (extra columns are ignored). Weights are raw play counts;
models apply their own transform.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

COLUMNS = ("user", "item", "weight")
SPLIT_NAMES = ("train", "valid", "test")


def read_interactions(path: str | Path) -> pd.DataFrame:
    """Read a ``user, item, weight`` TSV with a header into a frame with those column names.

    Ids are read as strings so that numeric and textual ids behave the same; duplicated
    ``(user, item)`` rows are summed. A file that is not of this shape raises ``ValueError``
    naming the file and, for a bad row, its line.
    """
    try:
        frame = pd.read_csv(path, sep="\t", header=0, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise ValueError(
            f"{path} is empty: expected a header line, then user, item, weight rows"
        ) from None
    if frame.shape[1] < len(COLUMNS):
        raise ValueError(
            f"{path}: expected tab-separated user, item and weight columns, found "
            f"{frame.shape[1]} column(s): {list(frame.columns)}"
        )
    frame = frame.iloc[:, : len(COLUMNS)].set_axis(list(COLUMNS), axis=1)
    if frame.empty:
        raise ValueError(f"{path} holds no interactions")
    _check_rows(frame, path)
    frame["weight"] = pd.to_numeric(frame["weight"]).astype(np.float32)
    return frame.groupby(["user", "item"], as_index=False, sort=False)["weight"].sum()


def _check_rows(frame: pd.DataFrame, path: str | Path) -> None:
    weights = pd.to_numeric(frame["weight"], errors="coerce").to_numpy(dtype=np.float64)
    problems = {
        "user is empty": (frame["user"].str.strip() == "").to_numpy(),
        "item is empty": (frame["item"].str.strip() == "").to_numpy(),
        "weight must be a non-negative number": ~(np.isfinite(weights) & (weights >= 0)),
    }
    for problem, rows in problems.items():
        if rows.any():
            first = int(np.argmax(rows))
            line = first + 2  # line 1 is the header
            raise ValueError(f"{path}: line {line}: {problem}, got {frame.iloc[first].tolist()}")


def write_interactions(frame: pd.DataFrame, path: str | Path) -> Path:
    path = Path(path)
    frame.loc[:, list(COLUMNS)].to_csv(path, sep="\t", index=False)
    return path


@dataclass(frozen=True)
class Interactions:
    """A CSR ``users x items`` weight matrix plus the maps between external ids and indices."""

    matrix: sparse.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray

    @property
    def n_users(self) -> int:
        return self.matrix.shape[0]

    @property
    def n_items(self) -> int:
        return self.matrix.shape[1]

    @property
    def user_index(self) -> dict[str, int]:
        return {str(user): index for index, user in enumerate(self.user_ids)}

    @property
    def item_index(self) -> dict[str, int]:
        return {str(item): index for index, item in enumerate(self.item_ids)}

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        user_ids: Sequence[str] | np.ndarray | None = None,
        item_ids: Sequence[str] | np.ndarray | None = None,
    ) -> Interactions:
        """Build the matrix; pass ``user_ids``/``item_ids`` to share an index across frames.

        Rows whose user or item is not in the given vocabulary are dropped.
        """
        users = _vocabulary(frame["user"], user_ids)
        items = _vocabulary(frame["item"], item_ids)
        rows = pd.Index(users).get_indexer(frame["user"].astype(str))
        cols = pd.Index(items).get_indexer(frame["item"].astype(str))
        known = (rows >= 0) & (cols >= 0)
        matrix = sparse.csr_matrix(
            (frame["weight"].to_numpy(np.float32)[known], (rows[known], cols[known])),
            shape=(len(users), len(items)),
            dtype=np.float32,
        )
        matrix.sum_duplicates()
        return cls(matrix=matrix, user_ids=users, item_ids=items)

    def summary(self) -> dict[str, int | float]:
        """Figures to store with a model artifact: what data it saw."""
        return {
            "users": self.n_users,
            "items": self.n_items,
            "interactions": int(self.matrix.nnz),
            "total_weight": float(self.matrix.sum()),
        }


def _vocabulary(column: pd.Series, given: Sequence[str] | np.ndarray | None) -> np.ndarray:
    if given is not None:
        return np.asarray([str(value) for value in given], dtype=object)
    return np.asarray(sorted(column.astype(str).unique()), dtype=object)


def shared_interactions(frames: Sequence[pd.DataFrame]) -> list[Interactions]:
    """Matrices for several frames (e.g. train/valid/test) over one shared user and item index."""
    combined = pd.concat(frames, ignore_index=True)
    users = _vocabulary(combined["user"], None)
    items = _vocabulary(combined["item"], None)
    return [Interactions.from_frame(frame, users, items) for frame in frames]


def split_per_user(
    frame: pd.DataFrame,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Split each user's interactions at random into train, valid and test.

    Each user's shuffled rows are cut at ``round(n * cumulative fraction)``, so every user
    with enough history appears in all three parts, and a user with a single interaction keeps
    it in train (a model cannot be evaluated on a user it has never seen).
    """
    if len(fractions) != 3 or min(fractions) < 0 or not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"fractions must be three non-negative numbers summing to 1: {fractions}")
    rng = np.random.default_rng(seed)
    shuffled = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    position = shuffled.groupby("user", sort=False).cumcount().to_numpy()
    size = shuffled.groupby("user", sort=False)["user"].transform("size").to_numpy()
    train_end = np.maximum(1, np.round(size * fractions[0]))
    valid_end = np.maximum(train_end, np.round(size * (fractions[0] + fractions[1])))
    part = np.where(position < train_end, 0, np.where(position < valid_end, 1, 2))
    return tuple(shuffled[part == index].reset_index(drop=True) for index in range(3))  # type: ignore[return-value]


def write_split(
    parts: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], directory: str | Path
) -> dict[str, Path]:
    """Write ``train.tsv``, ``valid.tsv`` and ``test.tsv`` into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return {
        name: write_interactions(part, directory / f"{name}.tsv")
        for name, part in zip(SPLIT_NAMES, parts, strict=True)
    }
