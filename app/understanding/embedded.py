"""The embedded engine: learns from bot/data at start-up (scikit-learn, no TensorFlow), answers in-process."""

import logging
import math
import re
from collections.abc import Callable, Iterable
from time import perf_counter
from typing import Any

import numpy as np

from app.knowledge.ngrams import TfIdf
from app.knowledge.schema import TOPIC_IDS
from app.messages import Understanding
from app.text import fold
from app.understanding.training import Example

log = logging.getLogger(__name__)

SURE_WORD = 0.95  # one word switches the language this surely only: "socorro" (es and pt) keeps it
DETECT_CHARS = 160


class SparseLinear:
    """Inference of fitted TF-IDF vectorizers and a linear model, without sklearn's per-call overhead.

    sklearn spends ~1 ms validating a single sample; the arithmetic itself is a few dozen multiply-adds.
    This computes exactly what the vectorizers (sublinear tf, idf, l2 norm) and decision_function would.
    """

    def __init__(self, vectorizers: list[Any], coef: np.ndarray, intercept: np.ndarray,
                 classes: list[str], texts: Iterable[str] = ()) -> None:
        self.parts = []
        offset = 0
        texts = list(texts)
        for vectorizer in vectorizers:
            self.parts.append(TfIdf(vectorizer, offset, texts))
            offset += len(vectorizer.vocabulary_)
        self.coef_t = np.ascontiguousarray(coef.T, dtype=np.float32)  # features x classes; half the memory, and
        # float32's 7 digits are more than a margin needs (the arithmetic itself is in float64)
        self.intercept = intercept
        self.classes = classes

    def scores(self, text: str) -> np.ndarray:
        indices: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        for part in self.parts:
            found, values = part(text)
            if not len(found):
                continue
            weights.append(values / math.sqrt(float(values @ values)))
            indices.append(found)
        if not indices:
            return self.intercept.copy()
        return np.concatenate(weights) @ self.coef_t[np.concatenate(indices)] + self.intercept


def short_key(text: str, *, accents: bool = False) -> str:
    """A short message as the short-message table knows it: lower case, no punctuation, accent-free unless asked."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower() if accents else fold(text)).split())


def softmax(values: np.ndarray, *, sharpness: float) -> np.ndarray:
    exp = np.exp((values - values.max()) * sharpness)
    return exp / exp.sum()


class LanguageDetector:
    """Character n-grams over the training examples and the knowledge base texts, a linear model."""

    def __init__(self, samples: Iterable[tuple[str, str]], short_samples: Iterable[tuple[str, str]] = ()) -> None:
        texts, labels = [], []
        # Short messages ("bonjour", "olá", "bonjou", "hi") are too short for the model: the training data's own
        # greetings and thanks of one or two words that belong to one language only say which language they are.
        # Looked up as written first ("olá" is Portuguese), then without accents ("ola" is also a Spanish "hola").
        short: dict[str, set[str]] = {}
        written: dict[str, set[str]] = {}
        for text, language in short_samples:
            key = short_key(text)
            if key and len(key.split()) <= 2:
                short.setdefault(key, set()).add(language)
                written.setdefault(short_key(text, accents=True), set()).add(language)
        self.short = {key: next(iter(found)) for key, found in short.items() if len(found) == 1}
        self.written = {key: next(iter(found)) for key, found in written.items() if len(found) == 1}
        for text, language in samples:
            for variant in {text.lower(), fold(text)}:  # with and without accents
                texts.append(variant)
                labels.append(language)
        from sklearn.feature_extraction.text import TfidfVectorizer  # training only: loaded engines need none
        from sklearn.svm import LinearSVC

        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, lowercase=True)
        model = LinearSVC(C=0.5, random_state=0).fit(vectorizer.fit_transform(texts), labels)
        self.languages = [str(c) for c in model.classes_]
        self._fast = SparseLinear([vectorizer], model.coef_, model.intercept_, self.languages, texts)

    def detect(self, text: str) -> tuple[str, float]:
        """The most likely language of a text and a confidence between 0 and 1; a long text is judged by its
        first DETECT_CHARS characters, which tell its language as well as the whole does, in a fraction of the time."""
        probabilities = softmax(self._fast.scores(text[:DETECT_CHARS].lower()), sharpness=4.0)
        best = int(probabilities.argmax())
        return self.languages[best], float(probabilities[best])


class IntentClassifier:
    """A linear SVM over word and character n-grams of accent-free text."""

    def __init__(self, examples: Iterable[tuple[str, str]]) -> None:
        texts, labels = zip(*((fold(t), i) for t, i in examples), strict=True)
        from scipy.sparse import hstack  # training only: loaded engines need none
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.svm import LinearSVC

        words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b")
        chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
        features = hstack([words.fit_transform(texts), chars.fit_transform(texts)]).tocsr()
        model = LinearSVC(C=0.5, random_state=0).fit(features, list(labels))
        self.intents = [str(c) for c in model.classes_]
        self._fast = SparseLinear([words, chars], model.coef_, model.intercept_, self.intents, texts)

    def classify(self, text: str) -> tuple[str, float]:
        """The intent and a confidence between 0 and 1 (a softmax of the SVM margins)."""
        probabilities = softmax(self._fast.scores(fold(text)), sharpness=5.0)
        best = int(probabilities.argmax())
        return self.intents[best], float(probabilities[best])


class EmbeddedEngine:
    """Understands free text in-process; trained from bot/data/nlu at start-up."""

    name = "embedded"

    def __init__(self, examples: list[Example], *, extra_language_samples: Iterable[tuple[str, str]] = (),
                 extra_intent_samples: Iterable[tuple[str, str]] = (),
                 country_finder: Callable[[str], str | None] | None = None,
                 threshold: float = 0.3, language_threshold: float = 0.6) -> None:
        started = perf_counter()
        self.intents = IntentClassifier([(e.text, e.intent) for e in examples] + list(extra_intent_samples))
        self.languages = LanguageDetector([(e.text, e.language) for e in examples] + list(extra_language_samples),
                                          [(e.text, e.language) for e in examples
                                           if e.intent in ("greet", "thanks", "goodbye")])
        self.country_finder = country_finder
        self.threshold = threshold
        self.language_threshold = language_threshold
        self.trained_in = perf_counter() - started
        self.examples = len(examples)
        log.info("embedded engine trained on %d examples in %.1fs", len(examples), self.trained_in)

    @classmethod
    def from_models(cls, intents: IntentClassifier, languages: LanguageDetector, *, examples: int,
                    country_finder: Callable[[str], str | None] | None = None, threshold: float = 0.3,
                    language_threshold: float = 0.6) -> "EmbeddedEngine":
        """An engine around models already trained (they are shared, read-only)."""
        engine = cls.__new__(cls)
        engine.intents, engine.languages, engine.country_finder = intents, languages, country_finder
        engine.threshold, engine.language_threshold, engine.trained_in = threshold, language_threshold, 0.0
        engine.examples = examples
        return engine

    def detect_language(self, text: str, *, current: str) -> str:
        """The language of a message; a short one in a language of its own ("bonjour") switches to it, other
        short or unclear messages keep the current language."""
        known = getattr(self.languages, "written", {}).get(short_key(text, accents=True)) \
            or getattr(self.languages, "short", {}).get(short_key(text))
        if known:
            return known
        words = fold(text).split()
        if len(words) < 2 and len(text) < 12:
            if len(words) == 1 and words[0].isalpha():  # one word of one language only: "goedemiddag", "obrigada"
                language, probability = self.languages.detect(text)
                if probability >= SURE_WORD:
                    return language
            return current
        language, probability = self.languages.detect(text)
        return language if probability >= self.language_threshold else current

    def understand(self, text: str, *, sender: str = "", channel: str = "web", language: str = "es",
                   country: str | None = None) -> Understanding:
        intent, confidence = self.intents.classify(text)
        found = self.country_finder(text) if self.country_finder else None
        if confidence < self.threshold:
            intent = "out_of_scope"
        return Understanding(
            intent=intent,
            language=self.detect_language(text, current=language),
            topic=intent if intent in TOPIC_IDS else None,
            country=found or country,
            confidence=round(confidence, 4),
            engine=self.name,
            answered=intent != "out_of_scope",
        )
