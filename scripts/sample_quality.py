"""Judge the image samples of a run, also one still training, as `make gan-mnist` does.

    python scripts/sample_quality.py --workdir runs/gan_mnist/gan_conv
    python scripts/sample_quality.py --workdir RUN --classifier DIR --num 5000

Loads the newest checkpoint of the run (`jaxgen.load_run`), draws `--num` samples with the
key `make gan-mnist` gives that run (`named_key(named_key(PRNGKey(seed), "gan_mnist"),
<run folder name>)`, 1,000 at a time), and prints one line: the step, the Frechet distance
on the classifier's features against the MNIST test split, the sharpness measures, every
digit's share of the samples and its share among the samples the classifier is sure of
(`jaxgen.evaluation.samples.ImageJudge`). The classifier is the one cached beside the run
(`<parent>/classifier`) unless `--classifier` names another. `--z-scale 1,0.8,0.5` draws a
GAN's samples from s * z for each s (s < 1 is the truncation trick), a line each, with the
same key: the run and the judge are loaded once.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import jax
import numpy as np

import jaxgen
from jaxgen import data as data_lib
from jaxgen.errors import ConfigError, run_cli
from jaxgen.evaluation import classifier as classifier_lib
from jaxgen.evaluation.samples import ImageJudge
from jaxgen.sampling import named_key, sample_in_batches


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--workdir", required=True, help="a run of an image-generating family")
    p.add_argument("--classifier", default=None, help="default: <workdir>/../classifier")
    p.add_argument("--num", type=int, default=5000, help="how many samples")
    p.add_argument("--experiment", default="gan_mnist", help="the experiment key's name")
    p.add_argument("--z-scale", default="1", help="a GAN's noise times this; comma-separated")
    args = p.parse_args()
    try:
        scales = [float(s) for s in args.z_scale.split(",")]
    except ValueError:
        raise ConfigError(f"--z-scale {args.z_scale!r} is not numbers") from None

    workdir = Path(args.workdir)
    folder = Path(args.classifier) if args.classifier else workdir.parent / "classifier"
    if not (folder / "params.msgpack").is_file():
        raise ConfigError(f"no trained classifier in {folder} (pass --classifier)")
    run = jaxgen.load_run(workdir)
    key = named_key(named_key(jax.random.PRNGKey(run.config.seed), args.experiment), workdir.name)
    fam = run.family
    if scales != [1.0] and not hasattr(fam, "noise"):
        raise ConfigError(f"--z-scale needs a GAN run; {workdir} is not one")
    # Only the test split is judged against: read one training image, not 50,000.
    test = data_lib.load(data_lib.base_config(run.config.dataset.name, num_train=1)).test
    judge = ImageJudge(classifier_lib.load(folder), test["x"])
    for scale in scales:
        if scale == 1.0:
            sample = fam.sample
        else:
            sample = lambda st, k, n, s=scale: fam.generate(st, s * fam.noise(k, n))  # noqa: E731
        imgs = data_lib.to_unit(
            sample_in_batches(sample, run.state, key, args.num), run.config.dataset
        )
        row = {k: round(float(v), 4) for k, v in judge(imgs).items()}
        shares = {
            "class_shares": judge.class_shares(imgs),
            "confident_class_shares": judge.confident_class_shares(imgs),
        }
        shares = {k: np.round(v, 4).tolist() for k, v in shares.items()}
        print(json.dumps({"step": run.step, "z_scale": scale, **row, **shares}), flush=True)


if __name__ == "__main__":
    sys.exit(run_cli(main))
