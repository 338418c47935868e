"""A second look at the closest entries: a linear classifier over the asks orders the first few again.

Similarity finds the entries a message is near; among neighbours that share most of their words ("can I work
with the ONPAR certificate" is near both the certificate's entry and the one on working while waiting) it counts
every shared word alike. A linear SVM trained on the same phrasings, one entry against all the others, learns
which words tell an entry from the rest ("work" does, "certificate" does not). Its decision, added with a small
weight to the similarity of the first CANDIDATES entries, orders them again; it never brings in an entry the
similarity did not find. On the four held-out sets (768 questions) the dialogue now answers the right entry for
728 instead of 719 (12 right, 3 wrong since); the index alone finds it first for 739 instead of 727.

Only the largest weights of each entry are kept (KEEP, a sparse matrix of a few MB instead of a dense one of
80 MB): with 1,000 the gain was gone, with 4,000 it is the same as with all of them.
"""

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

CANDIDATES = 3  # the entries ordered again: the similarity's first ones
WEIGHT = 0.1  # of the classifier's decision (about -1 to 1) against the similarity (0 to 1); 0.05-0.2 gave the same
KEEP = 4000  # weights kept per entry, the largest in size
C = 1.0  # the SVM's regularization: scikit-learn's default


class Reranker:
    """One linear SVM per entry (one against the rest), its weights stored by entry: a message is weighed for its
    few candidates only."""

    def __init__(self, matrix: "csr_matrix", labels: np.ndarray, count: int) -> None:
        # building only, as in retrieval: a loaded index needs none of these
        from joblib import parallel_backend
        from scipy.sparse import csr_matrix
        from sklearn.multiclass import OneVsRestClassifier
        from sklearn.svm import LinearSVC

        # one SVM per entry: 24 s for 250 entries and 33,000 phrasings on this machine's two cores, three quarters of
        # the index's build
        with parallel_backend("threading", n_jobs=2):  # threads: processes hang in a spawned child
            model = OneVsRestClassifier(LinearSVC(C=C, tol=1e-2, random_state=0), n_jobs=2).fit(matrix, labels)
        coef = np.zeros((count, matrix.shape[1]), dtype=np.float32)
        intercept = np.zeros(count)
        for label, estimator in zip(model.classes_, model.estimators_, strict=True):
            weights = estimator.coef_[0]
            if len(weights) > KEEP:
                weights = np.where(np.abs(weights) >= np.partition(np.abs(weights), -KEEP)[-KEEP], weights, 0.0)
            coef[label], intercept[label] = weights, estimator.intercept_[0]
        by_entry = csr_matrix(coef)  # each entry's weights, by feature in order: a message's few are found by bisection
        by_entry.sort_indices()
        self.starts = by_entry.indptr.astype(np.int32)
        self.features = by_entry.indices.astype(np.int32)
        self.weights = by_entry.data.astype(np.float32)
        self.intercept = intercept

    def decision(self, entry: int, features: np.ndarray, values: np.ndarray) -> float:
        """An entry's decision for one message (its TF-IDF vector as feature indices, in order, and values)."""
        start, end = self.starts[entry], self.starts[entry + 1]
        weighed = self.features[start:end]
        if not len(weighed):
            return float(self.intercept[entry])
        at = np.minimum(np.searchsorted(weighed, features), len(weighed) - 1)
        found = weighed[at] == features
        return float(values[found] @ self.weights[start:end][at[found]]) + self.intercept[entry]

    def first(self, candidates: np.ndarray, scores: np.ndarray, features: np.ndarray, values: np.ndarray) -> int:
        """Which of the first CANDIDATES of `candidates` (best first by similarity) goes first: its position."""
        first = candidates[:CANDIDATES]
        if len(first) < 2 or not len(features):
            return 0
        order = np.argsort(features)
        asked, weights = features[order], values[order]
        decided = [scores[e] + WEIGHT * self.decision(e, asked, weights) for e in first]
        return int(np.argmax(decided))  # the first of equals: the nearer
