"""Which specific entry a message asks about: TF-IDF over the entries' `asks`, with a calibrated confidence.

Every phrasing of every published entry is a row (word and character n-grams of its accent-free text, as the
intent classifier reads messages). A message scores each entry by its most similar phrasing, among the entries a
reader in that country may get (the country's own and the regional ones). The confidence is a logistic model of
the best score and its margin over the second entry, fitted on the phrasings themselves: each fold of them is
asked against the others, and whether the best entry was the right one is what the model learns. So 0.8 means
that about 8 in 10 phrasings scored like this found their entry. The three closest entries are then ordered again
by a linear classifier of the same phrasings (rerank.py), the first keeping the best score and confidence.
"""

import hashlib
import logging
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from app.knowledge import blocks, ngrams, rerank
from app.knowledge.blocks import Block, combine
from app.knowledge.ngrams import TfIdf, unit_rows
from app.knowledge.pickles import kept
from app.knowledge.rerank import CANDIDATES, Reranker
from app.knowledge.schema import Entry
from app.text import fold

log = logging.getLogger(__name__)

FOLDS = 5
CHAR_NGRAMS = (3, 4)
MIN_DF = 2  # n-grams of one phrasing only (half the vocabulary) match no other: left out, 10 MB less
MAX_DF = 0.1  # n-grams in more than 1 phrasing in 10 ("de ", "que") tell no entry apart: left out, a third less work
CALIBRATION_SAMPLE = 1500  # phrasings asked to fit the confidence: enough for two parameters, quick to build
LOCAL_FIRST = 0.06  # a country's entry this near a regional one of the same topic goes first: local contacts


@dataclass(frozen=True)
class Match:
    entry: str
    topic: str
    score: float  # the cosine similarity of the entry's nearest phrasing
    confidence: float  # calibrated: how often a match like this is the right entry


class EntryIndex:
    """The asks of the published entries, ready to be searched within a country."""

    def __init__(self, entries: list[Entry], scope: dict[str, str | None], names: Iterable[str] = ()) -> None:
        # Country names say where, which the scope already settles: in the text they would only make every entry
        # of that country look alike ("asiel in suriname" is not about Suriname's emergency number).
        spelled = sorted({fold(n) for n in names if n.strip()}, key=len, reverse=True)
        self.names = re.compile(r"\b(?:" + "|".join(map(re.escape, spelled)) + r")\b") if spelled else None
        clean = self.clean
        rows = [(clean(ask), e.id, True) for e in entries for asks in e.asks.values() for ask in asks]
        # the answer itself, in each of its languages: its title and its lines carry the words people use too
        rows += [(clean(line.strip("*-• ")), e.id, False) for e in entries for text in e.texts.values()
                 for line in text.whatsapp.splitlines() if len(line.split()) >= 3]
        # each scope's entries together (and so their rows): a reader's entries are two blocks, searched alone
        self.ids = sorted({e.id for e in entries}, key=lambda entry_id: (scope[entry_id] or "", entry_id))
        position = {entry_id: i for i, entry_id in enumerate(self.ids)}
        rows.sort(key=lambda row: position[row[1]])  # each entry's rows together, for a per-entry maximum
        texts = [text for text, _, _ in rows]
        self.row_entry = np.array([position[entry_id] for _, entry_id, _ in rows], dtype=np.int32)
        self.is_ask = np.array([ask for _, _, ask in rows], dtype=bool)
        self.starts = np.searchsorted(self.row_entry, np.arange(len(self.ids)))
        self.scope = [scope[entry_id] for entry_id in self.ids]
        topic_of = {e.id: e.topic for e in entries}
        self.topics = [topic_of[entry_id] for entry_id in self.ids]
        from scipy.sparse import csr_matrix, hstack  # building only: a loaded index needs neither these
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, norm=None,
                                     token_pattern=r"(?u)\b\w+\b", max_df=MAX_DF, min_df=MIN_DF)
        self.chars = TfidfVectorizer(analyzer="char_wb", ngram_range=CHAR_NGRAMS, sublinear_tf=True, norm=None,
                                     max_df=MAX_DF, min_df=MIN_DF)
        self.matrix = unit_rows(hstack([self.words.fit_transform(texts), self.chars.fit_transform(texts)]).tocsr()) \
            if texts else csr_matrix((0, 0))
        # each entry's phrasings together: their sum and its length (sum · message / length = the centroid's
        # similarity, from the phrasings' own similarities)
        self.sums = csr_matrix(np.vstack([np.asarray(self.matrix[self.starts[i]:end].sum(axis=0))
                                          for i, end in enumerate([*self.starts[1:], self.matrix.shape[0]])])) \
            if texts else csr_matrix((0, 0))
        self.sum_norms = np.maximum(np.sqrt(np.asarray(self.sums.multiply(self.sums).sum(axis=1)).ravel()), 1e-9) \
            if texts else np.ones(0)
        self.own = np.array([s is not None for s in self.scope], dtype=float)
        model = self._calibrate(texts) if len(self.ids) > 2 else None
        self.reranker = Reranker(self.matrix, self.row_entry, len(self.ids)) if len(self.ids) > 2 else None
        # For one message at a time: the analyzers and weights themselves, and the phrasings by feature (sklearn's
        # transform validates each call for a millisecond; the arithmetic is a few hundred multiply-adds).
        self.parts = [TfIdf(self.words), TfIdf(self.chars, len(self.words.vocabulary_), texts)] if texts else []
        # the phrasings by feature, apart for each country and the regional ones: a message is scored against
        # those its reader may get only (a quarter of the work, for a reader in one country)
        self.blocks = {area: Block.of(self, area) for area in sorted(set(self.scope), key=lambda a: a or "")} \
            if texts else {}
        self.weights = (model.coef_[0], float(model.intercept_[0])) if model is not None else None
        # what only the build needed (half of the index's memory) is not kept, nor pickled
        del self.matrix, self.sums, self.words, self.chars, self.row_entry, self.is_ask, self.starts, self.own, \
            self.sum_norms

    def clean(self, text: str) -> str:
        """Accent-free lower case, without country names."""
        folded = fold(text)
        return self.names.sub(" ", folded) if self.names else folded

    def _features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """One text's TF-IDF vector as feature indices and weights (what the fitted vectorizers and unit_rows
        give, without sklearn's per-call validation)."""
        (words, word_weights), (chars, char_weights) = (part(text) for part in self.parts)
        weights = np.concatenate([word_weights, char_weights])
        return np.concatenate([words, chars]), weights / (math.sqrt(float(weights @ weights)) or 1.0)

    def _scores(self, features: np.ndarray, weights: np.ndarray, scopes: Iterable[str | None]) -> np.ndarray:
        """Each entry's score for one message's features (see combine); -1 outside the scopes (countries, None:
        regional)."""
        scores = np.full(len(self.ids), -1.0)
        if not len(features):
            return scores
        for scope in scopes:
            block = self.blocks[scope]
            scores[block.first:block.last] = block.scores(features, weights)
        return scores

    def _calibrate(self, texts: list[str]) -> Any:  # a fitted LogisticRegression, or None
        """Ask a sample of the phrasings, fold by fold, against all the other rows; learn how often the best
        entry is the right one from its score and margin."""
        asks = np.flatnonzero(self.is_ask)
        # the sample, by a digest of each phrasing: the same whatever the order of the entries, and an editor's new
        # phrasings change it by their own share only
        digest = [hashlib.blake2b(texts[row].encode(), digest_size=8).digest() for row in asks]
        sample = asks[np.argsort(np.array(digest, dtype="S8"), kind="stable")][:CALIBRATION_SAMPLE]
        # the entries a reader in each scope may get: its own and the regional ones
        allowed = {area: np.array([s is None or s == area for s in self.scope]) for area in set(self.scope)}
        features, right = [], []
        for k in range(FOLDS):
            asked = sample[k::FOLDS]
            queries = self.matrix[asked]
            sims = (queries @ self.matrix.T).toarray()
            centroids = np.add.reduceat(sims, self.starts, axis=1) / self.sum_norms
            sims[np.arange(len(asked)), asked] = -1.0  # a phrasing does not find itself
            # nor does it count in its own entry's centroid
            own = self.sums[self.row_entry[asked]] - queries
            own_norms = np.sqrt(np.asarray(own.multiply(own).sum(axis=1)).ravel())
            centroids[np.arange(len(asked)), self.row_entry[asked]] = \
                np.asarray(own.multiply(queries).sum(axis=1)).ravel() / np.maximum(own_norms, 1e-9)
            for row, scores in zip(asked, combine(sims, centroids, self.starts, self.row_entry, self.own),
                                   strict=True):
                scores = np.where(allowed[self.scope[self.row_entry[row]]], scores, -1.0)
                best, second = np.sort(scores)[-2:][::-1]
                features.append((best, best - second))
                right.append(int(scores.argmax()) == self.row_entry[row])
        if len(set(right)) < 2:
            return None
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=10.0).fit(np.array(features), np.array(right))

    def search(self, text: str, country: str | None | tuple[str | None, ...], *, limit: int = 3,
               everywhere: bool = False) -> list[Match]:
        """The entries best matching a message, for a reader in `country` (None: regional entries only; with
        `everywhere`, the entries of every country: for editors)."""
        if not self.ids:
            return []
        key = country if isinstance(country, tuple) else (country,)
        scopes = self.blocks if everywhere else {scope for scope in (*key, None) if scope in self.blocks}
        indices, weights = self._features(self.clean(text))
        scores = self._scores(indices, weights, scopes)
        order = np.argsort(-scores)[:max(limit, CANDIDATES)]  # the margin and the second look need three
        order = order[scores[order] > 0]
        if not len(order):
            return []
        best = scores[order[0]]
        second = scores[order[1]] if len(order) > 1 else 0.0
        matches = []
        for i in order:
            margin = scores[i] - (second if i == order[0] else best)
            confidence = self._confidence(float(scores[i]), float(margin))
            matches.append(Match(self.ids[i], self.topics[i], round(float(scores[i]), 4), round(confidence, 4)))
        if self.reranker is not None:  # the classifier's first of the closest goes first
            matches, order = _promote(matches, order, self.reranker.first(order, scores, indices, weights))
        return self._local_first(matches, order)[:limit]

    def _local_first(self, matches: list[Match], order: np.ndarray) -> list[Match]:
        """A regional entry first and a country's entry of the same topic nearly as close ("free calls home" and
        "the Red Cross's free calls in El Salvador"): the country's takes its place, score and confidence."""
        top = matches[0]
        if self.scope[order[0]] is not None:
            return matches
        for k, match in enumerate(matches[1:], 1):
            if self.scope[order[k]] is not None and match.topic == top.topic and \
                    match.score >= top.score - LOCAL_FIRST:
                return _promote(matches, order, k)[0]
        return matches

    def _confidence(self, score: float, margin: float) -> float:
        if self.weights is None:
            return score
        (a, b), intercept = self.weights
        return 1.0 / (1.0 + math.exp(-(a * score + b * margin + intercept)))


def _promote(matches: list[Match], order: np.ndarray, k: int) -> tuple[list[Match], np.ndarray]:
    """The k-th match first, with the first's score and confidence (what the answer is judged on: how close and
    how sure the best match is), and the first second, with the k-th's."""
    if k == 0:
        return matches, order
    top, match = matches[0], matches[k]
    first = Match(match.entry, match.topic, top.score, top.confidence)
    second = Match(top.entry, top.topic, match.score, match.confidence)
    return [first, second, *matches[1:k], *matches[k + 1:]], np.array([order[k], order[0], *order[1:k], *order[k + 1:]])


class IndexCache:
    """Built indexes kept on disk (in ENGINE_CACHE_DIR): each process, worker and test loads the one its
    content's entries need instead of fitting it again; keyed by the entries, this module and the libraries.

    With `apart` (the web app), an index that is not on disk yet (new content, an editor's change) is built in a
    child process and loaded from the file it writes: the serving process never imports scikit-learn nor keeps
    a build's memory. If the child fails, the index is built here.
    """

    def __init__(self, folder: Path | None = None, *, apart: bool = False) -> None:
        self.folder = folder
        self.apart = apart

    def get(self, entries: list[Entry], scope: dict[str, str | None], names: list[str]) -> EntryIndex:
        if self.folder is None:
            return EntryIndex(entries, scope, names)
        digest = hashlib.sha256(f"{version('scikit-learn')} {np.__version__}".encode() + Path(__file__).read_bytes()
                                + Path(ngrams.__file__).read_bytes() + Path(rerank.__file__).read_bytes()
                                + Path(blocks.__file__).read_bytes())
        digest.update("\0".join(sorted(names)).encode())
        for entry in sorted(entries, key=lambda e: e.id):
            digest.update(entry.model_dump_json().encode() + str(scope[entry.id]).encode())
        path = self.folder / f"entries-{digest.hexdigest()[:32]}.pickle"
        if self.apart and not path.exists():
            _build_apart(path, entries, scope, names)
        return _kept_index(path, entries, scope, names)


def _kept_index(path: Path, entries: list[Entry], scope: dict[str, str | None], names: list[str]) -> EntryIndex:
    return kept(path, lambda: EntryIndex(entries, scope, names), what="entries' index")


def _build_apart(path: Path, entries: list[Entry], scope: dict[str, str | None], names: list[str]) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    try:  # spawn, not fork: the server has threads, and a forked child could inherit a held lock
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            pool.submit(_build_and_keep, path, entries, scope, names).result(timeout=600)
    except Exception as exc:
        log.warning("the entries' index could not be built apart (%r): building it in this process", exc)


def _build_and_keep(path: Path, entries: list[Entry], scope: dict[str, str | None], names: list[str]) -> None:
    _kept_index(path, entries, scope, names)  # in the child: the file is what counts, the index stays there


CACHE = IndexCache()  # the app points it at ENGINE_CACHE_DIR at start (build_understander)
