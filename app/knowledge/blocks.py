"""The entries of one scope (a country, or the regional ones) searched alone, and the score of an entry.

The index keeps each scope's entries together, and their phrasings: a reader in one country is scored against two
blocks (the country's and the regional one), a quarter of all the phrasings, with no mask over the rest.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from app.knowledge.ngrams import postings_of

if TYPE_CHECKING:
    from app.knowledge.retrieval import EntryIndex

NEAREST, OWN_COUNTRY = 0.6, 0.04  # the weights of combine


def combine(rows: np.ndarray, centroids: np.ndarray, starts: np.ndarray, row_entry: np.ndarray,
            own: np.ndarray | float) -> np.ndarray:
    """An entry's score: the mean similarity of its two nearest phrasings (one lucky phrasing is not enough), mixed
    with the similarity to all its phrasings together (its centroid), and a small preference for the reader's own
    country's entries over regional ones that say nearly the same. `starts`: where each entry's rows begin; `own`:
    1 for a country's entry, 0 for a regional one (one value for a whole block)."""
    first = np.maximum.reduceat(rows, starts, axis=-1)
    rest = np.where(rows == first[:, row_entry], -1.0, rows)
    second = np.maximum.reduceat(rest, starts, axis=-1)
    second = np.where(second < 0, first, second)  # an entry with one row, or ties
    nearest = (first + second) / 2
    return NEAREST * nearest + (1 - NEAREST) * centroids + OWN_COUNTRY * own


@dataclass(frozen=True)
class Block:
    """The entries of one scope (a country, None: regional) and their phrasings by feature, numbered from 0."""

    first: int  # its entries in the index: first to last
    last: int
    starts: np.ndarray  # where each entry's rows begin
    row_entry: np.ndarray
    own: float  # 1: a country's block, 0: the regional one
    sum_norms: np.ndarray
    feature_starts: np.ndarray  # the rows by feature (CSR)
    feature_rows: np.ndarray  # 16 bits where a block has up to 65,536 rows (all of them today): 6 MB less
    feature_weights: np.ndarray  # float32: half the memory, summed in float64

    def scores(self, features: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Each entry's score (see combine) for one message's features and weights."""
        # each phrasing's similarity: the message's weight times the phrasing's, summed over shared features
        at, repeated = postings_of(self.feature_starts, features, weights)
        rows = np.bincount(self.feature_rows[at], weights=self.feature_weights[at] * repeated,
                           minlength=len(self.row_entry))
        # an entry's sum of phrasings · the message = the sum of its phrasings' similarities: no second product
        centroids = np.add.reduceat(rows, self.starts) / self.sum_norms
        return combine(rows[None, :], centroids[None, :], self.starts, self.row_entry, self.own)[0]

    @classmethod
    def of(cls, index: "EntryIndex", area: str | None) -> "Block":
        first = index.scope.index(area)
        last = first + index.scope.count(area)
        low, high = index.starts[first], (index.starts[last] if last < len(index.ids) else len(index.row_entry))
        by_feature = index.matrix[low:high].T.tocsr()
        return cls(first, last, index.starts[first:last] - low, index.row_entry[low:high] - first,
                   float(area is not None), index.sum_norms[first:last], by_feature.indptr.astype(np.int32),
                   by_feature.indices.astype(np.uint16 if high - low <= 1 << 16 else np.int32),
                   by_feature.data.astype(np.float32))
