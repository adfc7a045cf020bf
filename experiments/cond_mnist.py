"""Class-conditional generation on MNIST: a conditional VAE and a conditional GAN, asked for
each digit in turn and judged by the repo's digit classifier.

- `cvae`: the VAE family with `model.num_classes=10` (Sohn et al. 2015): q(z|x, y), p(x|z, y),
  the label one-hot at the encoder's input and the decoder's code; a 4-d code (see
  `get_config`: the code size trades the label's hold on samples against their variety).
- `cgan`: the GAN family with `model.num_classes=10` (Mirza & Osindero 2014): G(z, y) and
  D(x, y), the MLP players of `make gan-mnist`, samples from G's moving average.
- For each digit c, 1,000 samples asked for c: the share the classifier puts on c (target
  >= 95% for every digit; the classifier's own accuracy on real test digits of c is the
  ceiling) and the Frechet distance of their classifier features to the real test digits of
  c (`jaxgen.evaluation.conditional.class_fidelity`). A figure with one row per digit.
- `scripts/sample_digits.py` asks a trained run for "ten 7s" through the public API
  (`make cond-mnist-sevens`).

Run:
  python -m jaxgen.main --config experiments/cond_mnist.py --workdir runs/cond_mnist
  (make cond-mnist)
  python -m jaxgen.main --config experiments/cond_mnist.py:quick --workdir runs/cond_mnist_quick
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen import data as data_lib
from jaxgen import experiment, plotting
from jaxgen.config import ConfigDict
from jaxgen.evaluation import classifier as classifier_lib
from jaxgen.evaluation.conditional import class_fidelity
from jaxgen.families import gan, vae
from jaxgen.report import markdown_table
from jaxgen.results import row as result_row
from jaxgen.sampling import named_key
from jaxgen.train import train

TARGET = 0.95  # the issue's: every digit's samples classified as that digit this often


def get_config(arg: str | None = None) -> ConfigDict:
    quick = arg in ("quick", "tiny")
    # A small code: with 20 dimensions the code itself carried the digit, prior samples
    # ignored the label more often (0.911 mean, digit 8 at 0.863, FID 27.5); with 8 still
    # 0.933 (8 at 0.888, FID 30.6), with 4 0.985 (worst 0.968, FID 41.6), with 2 0.995 (worst
    # 0.972, FID 55.5): 500 samples per digit, 20 epochs each. Fixed at 4 for every digit.
    cvae = vae.config("mnist", arch="mlp", latent_dim=4, num_classes=10, likelihood="bernoulli")
    cvae.model.report_nll_k = 0
    cvae.train.num_epochs = 2 if quick else 20
    cgan = gan.config(
        "mnist",
        arch="mlp",
        latent_dim=64,
        noise="gaussian",
        g_hidden=(256, 512),
        d_hidden=(512, 256),
        g_out="tanh",
        g_ema=0.999,
        num_classes=10,
    )
    cgan.dataset.scale = "symmetric"  # a tanh generator, pixels in [-1, 1] (as gan-mnist)
    cgan.train.batch_size = 64
    cgan.train.eval_every_epochs = 1000  # D's val loss says little; the table does
    cgan.train.num_epochs = 2 if quick else 30
    c = ConfigDict()
    c.models = ConfigDict({"cvae": cvae, "cgan": cgan})
    c.classifier_epochs = 1 if quick else 2
    c.classifier_num_train = 0  # 0 = all 50k
    c.num_per_class = 200 if quick else 1000
    if arg == "tiny":
        for sub in (cvae, cgan):
            sub.dataset.num_train, sub.dataset.num_test = 512, 256
            sub.train.num_epochs = 1
        cvae.model.hidden_sizes = (32,)
        cgan.model.g_hidden, cgan.model.d_hidden = (32,), (32,)
        c.classifier_num_train = 2000
        c.num_per_class = 32
    for sub in (cvae, cgan):
        sub.train.progress = arg != "tiny"
    return c


def run(config: ConfigDict, workdir: str) -> dict:
    workdir = experiment.start(workdir, config)
    figs = workdir / "figures"
    key = named_key(jax.random.PRNGKey(next(iter(config.models.values())).seed), "cond_mnist")
    full = data_lib.load(data_lib.base_config("mnist", num_train=config.classifier_num_train))
    clf = classifier_lib.load_or_train(
        workdir, full, named_key(key, "classifier"), num_epochs=config.classifier_epochs
    )
    test = full.test
    rows, per_digit = [], {}
    for name, cfg in config.models.items():
        res = train(cfg, workdir / name, splits=data_lib.load(cfg.dataset))
        state, fam = res.seed_state(0), res.family
        sample = jax.jit(lambda k, n, y, fam=fam, s=state: fam.sample(s, k, n, y), static_argnums=1)
        fid = class_fidelity(
            sample,
            clf,
            named_key(key, name),
            test["x"],
            test["y"],
            num_per_class=config.num_per_class,
            to_unit=lambda x, cfg=cfg: data_lib.to_unit(x, cfg.dataset),
        )
        per_digit[name] = fid
        rows.append(
            {
                "model": name,
                "accuracy": fid["accuracy"],
                "min_accuracy": fid["min_accuracy"],
                "worst_digit": int(np.argmin(fid["per_class_accuracy"])),
                "mean_class_fid": fid["mean_class_fid"],
                "fid": fid["fid"],
            }
        )
        labels = jnp.repeat(jnp.arange(10), 10)
        imgs = data_lib.to_unit(
            np.asarray(sample(named_key(key, name + "/grid"), 100, labels)), cfg.dataset
        )
        plotting.image_grid(imgs, figs / f"{name}_digits.png", title=f"{name}: one row per digit")
    ceiling = next(iter(per_digit.values()))["classifier_accuracy"]
    digit_rows = [
        {"digit": d, "classifier on real": ceiling[d]}
        | {f"{n} accuracy": r["per_class_accuracy"][d] for n, r in per_digit.items()}
        | {f"{n} FID": r["per_class_fid"][d] for n, r in per_digit.items()}
        for d in range(10)
    ]
    cols = ["model", "accuracy", "min_accuracy", "worst_digit", "mean_class_fid", "fid"]
    results = [
        result_row(
            "Conditional generation, MNIST",
            "share of samples classified as the requested digit, mean / worst digit "
            f"(classifier acc {clf.test_accuracy:.3f}): " + " / ".join(config.models),
            " / ".join(f"{r['accuracy']:.3f}, {r['min_accuracy']:.3f}" for r in rows),
            "make cond-mnist",
            f"target: every digit >= {TARGET}",
        ),
        result_row(
            "Conditional generation, MNIST",
            "Frechet distance on classifier features, per class (mean) / all samples: "
            + " / ".join(config.models),
            " / ".join(f"{r['mean_class_fid']:.1f}, {r['fid']:.1f}" for r in rows),
            "make cond-mnist",
        ),
    ]
    extra = {
        "classifier_test_accuracy": clf.test_accuracy,
        "per_digit": per_digit,
        "headline": ", ".join(
            f"{r['model']} {r['accuracy']:.3f} (worst digit {r['worst_digit']}: "
            f"{r['min_accuracy']:.3f})"
            for r in rows
        ),
    }
    intro = [
        f"{config.num_per_class} samples per requested digit, classified by the repo's digit "
        f"classifier (test accuracy {clf.test_accuracy:.4f}); FID on its 128-d features against "
        f"the real test digits of the same class. Target: every digit >= {TARGET}."
    ]
    digits = markdown_table(digit_rows, list(digit_rows[0]))
    summary = experiment.finish(
        workdir,
        "Class-conditional generation on MNIST",
        rows,
        results,
        intro=intro,
        notes=[digits],
        figures=[f"figures/{n}_digits.png" for n in config.models],
        extra=extra,
        columns=cols,
    )
    print(digits)
    return summary
