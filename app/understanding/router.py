"""The engine chosen by the settings, with the embedded engine behind it: no message goes unanswered."""

import hashlib
import logging
import sys
import threading
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from time import monotonic, perf_counter

from app.config import Settings
from app.knowledge import retrieval
from app.knowledge.live import LiveKnowledge
from app.knowledge.pickles import kept
from app.messages import Understanding
from app.metrics import Metrics
from app.understanding.embedded import EmbeddedEngine, IntentClassifier, LanguageDetector
from app.understanding.entries import Search, pick_entry
from app.understanding.rasa import RasaEngine
from app.understanding.training import read_folder

log = logging.getLogger(__name__)


STATEMENTS = frozenset({"choose_country", "choose_language"})  # the country or language, said: short


class NoTrainingData(RuntimeError):
    """The engine has nothing to learn from: refuse to start rather than answer nothing."""


class Understander:
    """Asks the primary engine; when it fails, the embedded engine answers and the fallback is counted."""

    def __init__(self, embedded: EmbeddedEngine, primary: RasaEngine | None = None, *,
                 breaker_seconds: float = 30.0, search: Search | None = None, entry_threshold: float = 0.4,
                 entry_min_score: float = 0.22, places: Callable[[str], Iterable[str]] | None = None) -> None:
        self.embedded = embedded
        self.places = places  # the countries a text names by a place or a name (not by a nationality)
        self.primary = primary
        self.search = search  # the knowledge base's entries: whichever engine answered, the app picks the entry
        self.entry_threshold, self.entry_min_score = entry_threshold, entry_min_score
        self.fallbacks = 0
        self.metrics: Metrics | None = None
        self._lock = threading.Lock()
        # After the primary engine fails, free text goes to the embedded engine for a while (a circuit breaker):
        # a hanging Rasa costs one timeout, not one per message.
        self.breaker_seconds = breaker_seconds
        self._open_until = 0.0

    @property
    def remote(self) -> bool:
        """Whether understanding may wait on the network now (Rasa, its breaker closed)."""
        return self.primary is not None and monotonic() >= self._open_until

    @property
    def breaker_open(self) -> bool:
        return self.primary is not None and monotonic() < self._open_until

    def close(self) -> None:
        if self.primary is not None:
            self.primary.close()

    @property
    def name(self) -> str:
        return self.primary.name if self.primary else self.embedded.name

    def understand(self, text: str, *, sender: str, channel: str, language: str,
                   country: str | None) -> Understanding:
        found = self._engine(text, sender=sender, channel=channel, language=language, country=country)
        if found.country and country and found.country != country and self.places:
            named = set(self.places(text))
            if country in named or found.country not in named:
                # the person's own country among those named ("girls from the Dominican Republic held in
                # Paramaribo", written in Suriname), or a nationality only ("m se ayisyen", written in the DR)
                found.country = country
        if self.search is None:
            return found
        return pick_entry(found, text, self.search, answer_at=self.entry_threshold,
                          offer_at=self.entry_min_score, remembered=country)

    def _engine(self, text: str, *, sender: str, channel: str, language: str, country: str | None) -> Understanding:
        if self.remote:
            assert self.primary is not None
            detected = self.embedded.detect_language(text, current=language)  # Rasa has no detector of its own
            started = perf_counter()
            found = self.primary.understand(text, sender=sender, channel=channel, language=detected,
                                            country=country)
            if self.metrics:
                self.metrics.engine_latency.labels(self.primary.name).observe(perf_counter() - started)
            if found is not None:
                found.language = detected
                if found.intent in STATEMENTS:  # Rasa reads many questions that name a country as choosing it
                    second = self.embedded.understand(text, language=detected, country=country)
                    if second.topic:  # "kijan pou m jwenn papye nan Repiblik Dominikèn" asks about papers
                        found.intent, found.topic, found.confidence = second.intent, second.topic, second.confidence
                if found.country is None:
                    found.country = self.embedded.country_finder(text) if self.embedded.country_finder else None
                return found
            with self._lock:
                self._open_until = monotonic() + self.breaker_seconds
            log.warning("%s failed: the embedded engine answers for %ss sender=%s", self.primary.name,
                        self.breaker_seconds, sender[:12])
        if self.primary is not None:
            with self._lock:
                self.fallbacks += 1
            if self.metrics:
                self.metrics.fallbacks.inc()
        started = perf_counter()  # the embedded engine detects the language itself
        found = self.embedded.understand(text, sender=sender, channel=channel, language=language, country=country)
        if self.metrics:
            self.metrics.engine_latency.labels(self.embedded.name).observe(perf_counter() - started)
        return found


def _fingerprint(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.yml")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


Models = tuple[IntentClassifier, LanguageDetector, int]
CACHE_KEPT = 4  # trained engines kept on disk, the most recent: e.g. the running version and the one before


def _inputs_key(nlu_dir: Path, content_dir: Path) -> str:
    """What the trained engine depends on: the NLU files, the content it also learns from (topic names, answer
    lines: not the countries), the code that reads and trains them (its modules and libraries)."""
    from importlib.metadata import version

    from app.knowledge import loader, ngrams, schema
    from app.understanding import embedded, training

    digest = hashlib.sha256(f"{sys.version} {version('numpy')} {version('scikit-learn')}".encode())
    code = [Path(module.__file__ or "") for module in (embedded, training, loader, schema, ngrams,
                                                       sys.modules[__name__])]
    content = [content_dir / "topics.yaml", *sorted((content_dir / "answers").glob("*.yaml"))]
    for path in [*sorted(nlu_dir.glob("*.yml")), *content, *code]:
        if path.is_file():
            digest.update(f"{path.parent.name}/{path.name}\0".encode() + path.read_bytes() + b"\0")
    return digest.hexdigest()


@lru_cache(maxsize=4)
def _trained(nlu_dir: Path, content_dir: Path, fingerprint: str, cache_dir: Path | None = None) -> Models:
    """Train once per process and per training data: many apps in one process (tests) share the models. With a
    cache folder, once for all processes: the first trains and writes it, the others (workers, CLI) load it."""
    if cache_dir is None:
        return _train(nlu_dir, content_dir)
    path = cache_dir / f"engine-{_inputs_key(nlu_dir, content_dir)}.pickle"
    return kept(path, lambda: _train(nlu_dir, content_dir), what="trained engine", keep=CACHE_KEPT)


def _train(nlu_dir: Path, content_dir: Path) -> Models:
    from app.knowledge.loader import load_content

    examples = read_folder(nlu_dir)
    if not examples:
        raise NoTrainingData(f"no training examples in {nlu_dir}: the engine would answer everything as out of "
                             "scope. Set BOT_DIR to the bot/ folder (its data/nlu/*.yml), or ship it in the image.")
    raw = load_content(content_dir)
    language_samples = [(e.text, e.language) for e in examples]
    intent_samples = [(e.text, e.intent) for e in examples]
    if raw.topics:
        for topic in raw.topics.model.topics:
            for language, name in topic.names.items():
                language_samples.append((name, language))
                intent_samples.append((name, topic.id))
    for doc in raw.answers.values():
        for entry in doc.model.answers:
            for language, text in entry.texts.items():
                for line in text.whatsapp.splitlines():
                    if len(line.split()) >= 3:
                        language_samples.append((line.strip("*-• "), language))
    greetings = [(e.text, e.language) for e in examples if e.intent in ("greet", "thanks", "goodbye")]
    return IntentClassifier(intent_samples), LanguageDetector(language_samples, greetings), len(examples)


def build_understander(settings: Settings, knowledge: LiveKnowledge) -> Understander:
    """The embedded engine, trained from bot/data/nlu, and Rasa in front of it when ENGINE=rasa."""
    nlu_dir = settings.bot_dir / "data" / "nlu"
    retrieval.CACHE.folder = settings.engine_cache_dir  # the entries' index is kept beside the trained engine
    intents, languages, count = _trained(nlu_dir, settings.content_dir, _fingerprint(nlu_dir),
                                         settings.engine_cache_dir)
    embedded = EmbeddedEngine.from_models(intents, languages, examples=count,
                                          country_finder=lambda text: knowledge.get().country_in_text(text),
                                          threshold=settings.understanding_threshold)
    primary = RasaEngine(settings.rasa_url, timeout=settings.rasa_timeout_seconds) if settings.engine == "rasa" \
        else None
    return Understander(embedded, primary, breaker_seconds=settings.rasa_breaker_seconds,
                        search=lambda text, country: knowledge.get().search_entries(text, country),
                        entry_threshold=settings.entry_threshold, entry_min_score=settings.entry_min_score,
                        places=lambda text: knowledge.get().countries_named(text, demonyms=False, origins=False))
