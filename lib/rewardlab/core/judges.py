"""The gold judges, and the one function that picks a preset's.

* ``"reader"`` (the review world's default): a reader's judgement, VADER's rules on the review's
  well-formed sentences minus what broken grammar and repetition cost (:mod:`rewardlab.core.reader`);
* ``"vader"``: VADER's compound score of the whole response, whatever it looks like
  (:mod:`rewardlab.core.vader`), kept so that results made with it can be made again;
* a Hub id or local path (the ``paper`` preset): the positive-class logit of a sentiment
  classifier, as TRL's IMDb examples do.

The review world's judges also give each word's exact credit (``judge.word_credit(response)``,
summing to the score); naturalness and diversity live in :mod:`rewardlab.rl.evaluation`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from rewardlab.core.config import Preset
from rewardlab.core.reader import ReaderJudge
from rewardlab.core.vader import PLACEHOLDER, VaderJudge, word_credit

__all__ = ["ClassifierJudge", "PLACEHOLDER", "ReaderJudge", "VaderJudge", "load_gold_judge", "word_credit"]


class ClassifierJudge:
    """Gold judge of the ``paper`` preset: positive-class logit of a sentiment classifier.

    ``model_name`` is a Hub id (``lvwerra/distilbert-imdb``) or a local ``save_pretrained``
    folder. The positive class is the label whose name starts with ``pos`` (else the last one).
    """

    def __init__(self, model_name: str, device: str = "cpu", batch_size: int = 64):
        self.name = model_name
        self.tokenizer = AutoTokenizer.from_pretrained(model_name)
        self.model = AutoModelForSequenceClassification.from_pretrained(model_name).to(device).eval()
        labels = {i: str(label).lower() for i, label in self.model.config.id2label.items()}
        positives = [i for i, label in labels.items() if label.startswith("pos")]
        self.positive_index = positives[0] if positives else max(labels)
        self.device, self.batch_size = device, batch_size

    @torch.no_grad()
    def __call__(self, responses: Sequence[str]) -> np.ndarray:
        scores = []
        for start in range(0, len(responses), self.batch_size):
            batch = self.tokenizer(list(responses[start: start + self.batch_size]), padding=True,
                                   truncation=True, return_tensors="pt").to(self.device)
            scores.append(self.model(**batch).logits[:, self.positive_index].float().cpu())
        return torch.cat(scores).numpy().astype(np.float64) if scores else np.zeros(0)


def load_gold_judge(preset: Preset, device: str = "cpu"):
    """The preset's gold judge: ``world.gold_judge`` is "reader", "vader" or a classifier's Hub id / path."""
    name = preset.world.gold_judge
    if name in ("reader", "vader") and preset.world.source != "review_world":
        raise ValueError(f"world.gold_judge={name!r} reads the review world's English; world.source="
                         f"{preset.world.source!r} needs a sentiment classifier (a Hub id or local path)")
    if name == "reader":
        return ReaderJudge()
    if name == "vader":
        return VaderJudge()
    return ClassifierJudge(name, device=device)
