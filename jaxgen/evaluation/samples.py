"""Image samples judged against real digits: Frechet distance on the repo classifier's
features, sharpness, and class balance (mode collapse shows as one digit's share rising).

Example:
    >>> import numpy as np
    >>> from jaxgen.evaluation import samples
    >>> class Toy:  # any object with `features` and `predict`, like `classifier.Classifier`
    ...     features = staticmethod(lambda x: x.reshape(len(x), -1)[:, :3])
    ...     predict = staticmethod(lambda x: (x.reshape(len(x), -1).mean(1) > 0.5).astype(int))
    >>> real = np.random.default_rng(0).uniform(size=(64, 4, 4))
    >>> judge = samples.ImageJudge(Toy(), real)
    >>> row = judge(real[:32])
    >>> row["num_images"], 0.5 <= row["max_class_share"] <= 1.0
    (32, True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from jaxgen.evaluation.fid import frechet_distance, statistics
from jaxgen.evaluation.sharpness import sharpness

if TYPE_CHECKING:
    from jaxgen.evaluation.classifier import Classifier

UNSURE = 0.9  # a top class probability below this marks an image the classifier is unsure of


class ImageJudge:
    """Scores sets of images in [0, 1] against a fixed reference set (fitted once).

    Args:
      classifier: has `features(images)` (N, d) and `predict(images)` (N,) class indices,
        e.g. `jaxgen.evaluation.classifier.Classifier`.
      reference: the real images the Frechet distance is measured against.
      num_classes: for the class shares.
    """

    def __init__(self, classifier: Classifier, reference: np.ndarray, num_classes: int = 10):
        self.classifier = classifier
        self.num_classes = num_classes
        self.reference_stats = statistics(classifier.features(reference))

    def class_shares(self, images: np.ndarray) -> np.ndarray:
        """The share of each predicted class among `images` (uniform = 1 / num_classes)."""
        pred = np.asarray(self.classifier.predict(images))
        return np.bincount(pred, minlength=self.num_classes) / len(images)

    def confident_class_shares(self, images: np.ndarray) -> np.ndarray:
        """`class_shares` among the images the classifier is sure of (top probability at
        least 0.9): a class that keeps its surplus here is a mode the generator favours; one
        whose surplus goes is where ambiguous strokes were filed. Needs `probs`."""
        return self._sure_shares(np.asarray(self.classifier.probs(images)))

    def _sure_shares(self, probs: np.ndarray) -> np.ndarray:
        sure = probs.max(-1) >= UNSURE
        counts = np.bincount(probs.argmax(-1)[sure], minlength=self.num_classes)
        return counts / max(int(sure.sum()), 1)

    def __call__(self, images: np.ndarray) -> dict:
        """`fid_vs_test`, the `sharpness` measures and `max_class_share` of `images`, and
        with a classifier that gives `probs`, `unsure_share`: the share of images whose
        top class probability is below 0.9 (malformed digits), and
        `max_confident_class_share`: `max_class_share` among the others."""
        feats = self.classifier.features(images)
        row = {
            "fid_vs_test": frechet_distance(*statistics(feats), *self.reference_stats),
            "num_images": len(images),
            **sharpness(images),
            "max_class_share": float(self.class_shares(images).max()),
        }
        if hasattr(self.classifier, "probs"):
            probs = np.asarray(self.classifier.probs(images))
            row["unsure_share"] = float((probs.max(-1) < UNSURE).mean())
            row["max_confident_class_share"] = float(self._sure_shares(probs).max())
        return row


__all__ = ["ImageJudge"]
