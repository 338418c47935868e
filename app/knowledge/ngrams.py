"""The n-grams a fitted scikit-learn TfidfVectorizer reads a text as, without scikit-learn, and the sparse
arithmetic of one message against a fitted matrix.

What `TfidfVectorizer.build_analyzer()` returns for the two analyzers we fit ("word" and "char_wb", lower case,
no accents stripped, no stop words), as plain picklable objects: a process that loads a trained engine or index
from the cache then needs neither scikit-learn's import (60 MB of memory) nor its objects.
tests/understanding/test_ngrams.py checks they give exactly scikit-learn's n-grams.
"""

import math
import re
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

_SPACES = re.compile(r"\s\s+")


class Analyzer:
    """A text's n-grams, in the order scikit-learn gives them."""

    def __init__(self, kind: str, ngram_range: tuple[int, int], token_pattern: str = r"(?u)\b\w\w+\b") -> None:
        if kind not in ("word", "char_wb"):
            raise ValueError(f"unsupported analyzer {kind!r}")
        self.kind, self.low, self.high = kind, ngram_range[0], ngram_range[1]
        self.token_pattern = token_pattern
        self._tokens = re.compile(token_pattern).findall

    @classmethod
    def like(cls, vectorizer: Any) -> "Analyzer":
        """The analyzer of a fitted vectorizer, refusing settings this class does not reproduce."""
        unsupported = {"preprocessor": None, "tokenizer": None, "strip_accents": None, "stop_words": None,
                       "lowercase": True}
        for name, value in unsupported.items():
            if getattr(vectorizer, name) != value:
                raise ValueError(f"{name}={getattr(vectorizer, name)!r} is not reproduced")
        return cls(vectorizer.analyzer, tuple(vectorizer.ngram_range), vectorizer.token_pattern)

    def __call__(self, text: str) -> list[str]:
        text = text.lower()
        return self._words(text) if self.kind == "word" else self._chars(text)

    def _words(self, text: str) -> list[str]:
        tokens = self._tokens(text)
        low = self.low
        grams = list(tokens) if low == 1 else []
        low = max(low, 2)
        for n in range(low, min(self.high + 1, len(tokens) + 1)):
            grams += [" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
        return grams

    def _chars(self, text: str) -> list[str]:
        grams: list[str] = []
        for word in _SPACES.sub(" ", text).split():
            word = f" {word} "
            size = len(word)
            for n in range(self.low, self.high + 1):
                if n >= size:  # the word is no longer than n: itself, once (the longer n-grams would be the same)
                    grams.append(word)
                    break
                grams += [word[i:i + n] for i in range(size - n + 1)]
        return grams

    def __getstate__(self) -> dict:
        return {"kind": self.kind, "low": self.low, "high": self.high, "token_pattern": self.token_pattern}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._tokens = re.compile(self.token_pattern).findall


def tfidf_weights(grams: Iterable[str], vocabulary: dict[str, int], idf: Sequence[float]) -> dict[int, float]:
    """Sublinear TF-IDF weights of one text's n-grams, unnormalised, as a fitted TfidfVectorizer computes them.

    Each distinct n-gram is looked up once (most occur once: their weight is their idf). `idf` is best an
    array.array: indexing it gives a Python float, ten times sooner than a numpy scalar."""
    weights: dict[int, float] = {}
    counts = Counter(grams)
    for index, n in zip(map(vocabulary.get, counts), counts.values(), strict=True):  # looked up in C: sooner
        if index is not None:
            weights[index] = idf[index] if n == 1 else (1.0 + math.log(n)) * idf[index]
    return weights


def idf_array(idf: Any) -> array:
    """A fitted vectorizer's idf (a numpy array), for tfidf_weights."""
    return array("d", idf.tolist())


def unit_rows(matrix: Any) -> Any:
    """A sparse matrix with each row scaled to length 1 (a row of zeros stays so)."""
    import numpy as np
    from scipy.sparse import csr_matrix

    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return csr_matrix(matrix.multiply(1.0 / norms[:, None]))


def postings_of(starts: Any, features: Any, values: Any) -> tuple[Any, Any]:
    """In a matrix stored by feature (`starts`: its CSR indptr), where the given features' entries are, and the
    message's value of the feature for each of them: what a sparse dot product with one message multiplies."""
    import numpy as np

    first = starts[features]
    lengths = starts[features + 1] - first
    at = np.arange(lengths.sum()) + np.repeat(first - (np.cumsum(lengths) - lengths), lengths)
    return at, np.repeat(values, lengths)
