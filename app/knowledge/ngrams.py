"""The n-grams a fitted scikit-learn TfidfVectorizer reads a text as, without scikit-learn, and the sparse
arithmetic of one message against a fitted matrix.

What `TfidfVectorizer.build_analyzer()` returns for the two analyzers we fit ("word" and "char_wb", lower case,
no accents stripped, no stop words), as plain picklable objects: a process that loads a trained engine or index
from the cache then needs neither scikit-learn's import (60 MB of memory) nor its objects.
tests/understanding/test_ngrams.py checks they give exactly scikit-learn's n-grams.
"""

import re
from array import array
from collections import Counter
from collections.abc import Iterable
from itertools import chain
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


KNOWN_WORDS = 50_000  # words whose character n-grams are kept, per vectorizer: a few MB; past it, forgotten


class TfIdf:
    """What a fitted TfidfVectorizer (sublinear tf, no norm) gives one text, as its features (with `offset` added
    to each: several vectorizers side by side) and their weights, two arrays, without scikit-learn.

    A char_wb analyzer reads each word apart, and the words people write repeat ("para", "mwen", "asylum"): each
    word's n-grams found in the vocabulary are kept after its first reading, and a message costs a look-up per
    word instead of the n-grams of every word. The words said more than once in `texts` (what it was fitted on)
    are read at once: a message's usual words cost a look-up from its first reading (a few MB)."""

    def __init__(self, vectorizer: Any, offset: int = 0, texts: Iterable[str] = ()) -> None:
        import numpy as np

        self.analyzer = Analyzer.like(vectorizer)
        self.vocabulary: dict[str, int] = vectorizer.vocabulary_
        self.idf = np.asarray(vectorizer.idf_, dtype=np.float64)
        self.offset = offset
        self._known: dict[str, tuple[int, ...]] = {}
        if self.analyzer.kind == "char_wb":
            said = Counter(chain.from_iterable(text.lower().split() for text in texts))
            for word in [word for word, times in said.most_common(KNOWN_WORDS // 2) if times > 1]:
                self._word(word)

    def __call__(self, text: str) -> tuple[Any, Any]:
        import numpy as np

        counts: Counter[int | None]
        if self.analyzer.kind == "char_wb":
            counts = Counter(chain.from_iterable(map(self._word, text.lower().split())))
        else:
            counts = Counter(map(self.vocabulary.get, self.analyzer(text)))  # looked up in C: sooner
            counts.pop(None, None)
        size = len(counts)
        found = np.fromiter(counts.keys(), np.int64, size)
        # sublinear tf: 1 + log(n), which is 1 for the n-grams found once
        weights = self.idf[found] * (1.0 + np.log(np.fromiter(counts.values(), np.float64, size)))
        return found + self.offset, weights

    def _word(self, word: str) -> tuple[int, ...]:
        known = self._known.get(word)
        if known is None:
            if len(self._known) >= KNOWN_WORDS:
                self._known.clear()
            found = map(self.vocabulary.get, self.analyzer(word))
            known = self._known[word] = tuple([index for index in found if index is not None])
        return known

    def __getstate__(self) -> dict:  # the words kept as arrays: a fraction of a pickle of tuples
        return {**self.__dict__, "_known": {word: array("i", known) for word, known in self._known.items()}}

    def __setstate__(self, state: dict) -> None:
        # each index, the vocabulary's own int object: kept once in memory, not once per word that has it
        number = [0] * len(state["vocabulary"])
        for index in state["vocabulary"].values():
            number[index] = index
        known = state.pop("_known")
        self.__dict__.update(state, _known={word: tuple(map(number.__getitem__, kept)) for word, kept in known.items()})


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
