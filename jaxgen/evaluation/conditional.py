"""How well a class-conditional generator gives the class it is asked for.

For each class c, `num_per_class` samples are drawn with label c and judged by a classifier
trained on real data: the share it assigns to c (the model's per-class accuracy; the
classifier's own per-class accuracy on real test images is its ceiling), and the Frechet
distance between the classifier's features of those samples and of the real test images of
class c (the per-class FID, which also catches a class rendered as one template).

Example:
    >>> run = jaxgen.load_run("runs/cond_mnist/cvae")  # doctest: +SKIP
    >>> res = class_fidelity(run.sample, clf, key, test["x"], test["y"])  # doctest: +SKIP
    >>> res["accuracy"], res["per_class_accuracy"][7]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.evaluation.fid import frechet_distance, statistics

if TYPE_CHECKING:
    from jaxgen.evaluation.classifier import Classifier


def class_fidelity(
    sample: Callable[[jax.Array, int, jax.Array], jax.Array],
    classifier: Classifier,
    key: jax.Array,
    ref_x: np.ndarray,
    ref_y: np.ndarray,
    num_per_class: int = 1000,
    num_classes: int = 10,
    to_unit: Callable[[np.ndarray], np.ndarray] = lambda x: x,
) -> dict:
    """Per-class accuracy and Frechet distance of `sample(key, num, labels)`'s images.

    Args:
      sample: draws `num` images of the given (num,) labels, e.g. a loaded run's `sample`.
      classifier: a `jaxgen.evaluation.classifier.Classifier` (`predict`, `features`).
      key: the samples' key; class c uses `fold_in(key, c)`.
      ref_x, ref_y: real images (in the classifier's [0, 1] scale) and their labels.
      num_per_class: samples drawn per class.
      to_unit: maps the sampler's output to the classifier's scale.

    Returns:
      per_class_accuracy, per_class_fid, classifier_accuracy (the ceiling, on ref_x) as
      lists of num_classes floats; accuracy, min_accuracy, mean_class_fid as floats; and
      fid of all the samples against all of ref_x.
    """
    ref_x, ref_y = np.asarray(ref_x), np.asarray(ref_y)
    ref_pred, ref_feats = classifier.predict(ref_x), classifier.features(ref_x)
    acc, fids, ceiling, feats = [], [], [], []
    for c in range(num_classes):
        labels = jnp.full((num_per_class,), c, jnp.int32)
        imgs = to_unit(np.asarray(sample(jax.random.fold_in(key, c), num_per_class, labels)))
        f = classifier.features(imgs)
        feats.append(f)
        acc.append(float((classifier.predict(imgs) == c).mean()))
        real = ref_y == c
        fids.append(frechet_distance(*statistics(f), *statistics(ref_feats[real])))
        ceiling.append(float((ref_pred[real] == c).mean()))
    return {
        "per_class_accuracy": acc,
        "accuracy": float(np.mean(acc)),
        "min_accuracy": float(np.min(acc)),
        "per_class_fid": fids,
        "mean_class_fid": float(np.mean(fids)),
        "fid": frechet_distance(*statistics(np.concatenate(feats)), *statistics(ref_feats)),
        "classifier_accuracy": ceiling,
        "num_per_class": num_per_class,
    }


__all__ = ["class_fidelity"]
