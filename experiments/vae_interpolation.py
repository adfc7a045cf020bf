"""The lecture's question, measured: is the latent space of a VAE better to interpolate in than
that of a plain autoencoder of the same size?

An autoencoder (family "autoencoder") and a VAE with the same MLP (784-256-256-16, ReLU, BCE)
are trained for the same epochs. For random pairs of test images with different labels, their
codes are interpolated (lerp, and slerp) and decoded; pixel-space blending is the baseline.
A "meaningful" decoded image is scored by
- `mid_conf`: the confidence (max softmax) of the repo's digit classifier at t = 0.5,
- `min_conf`: the lowest such confidence along the interior of the path,
- `mid_is_endpoint`: how often the midpoint is classified as one of the two endpoint digits,
- `mid_vae_nll`: -ELBO of the decoded midpoint under the VAE (nats; lower = more typical).

Run:
  python -m jaxgen.main --config experiments/vae_interpolation.py --workdir runs/vae_interpolation
  python -m jaxgen.main --config experiments/vae_interpolation.py:quick --workdir runs/vae_interp_q
  (make vae-interpolate runs the first)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen import data as data_lib
from jaxgen import experiment, plotting
from jaxgen.config import ConfigDict
from jaxgen.evaluation import classifier
from jaxgen.families import autoencoder, vae
from jaxgen.sampling import lerp, named_key, slerp
from jaxgen.train import train


def get_config(arg: str | None = None) -> ConfigDict:
    quick = arg in ("quick", "tiny")
    c = ConfigDict()
    c.latent = 16
    c.ae = autoencoder.config(
        "mnist", code_size=c.latent, hidden_size=256, num_layers=2, activation="relu", loss="bce"
    )
    c.vae = vae.config(
        "mnist",
        latent_dim=c.latent,
        hidden_sizes=(256, 256),
        activation="relu",
        likelihood="bernoulli",
        report_nll_k=0,
    )
    for sub in (c.ae, c.vae):
        sub.train.num_epochs = 3 if quick else 15
        sub.train.batch_size = 128
        sub.optimizer.lr = 1e-3
        sub.train.progress = arg != "tiny"
        if quick:
            sub.dataset.num_train = 20_000 if arg == "quick" else 2000
    c.num_pairs = 50 if quick else 500
    c.steps = 9  # points per path, endpoints included (t = 0, 1/8, ..., 1)
    c.num_strips = 4
    c.classifier_epochs = 1 if arg == "tiny" else 3
    c.seed = 0
    return c


def _paths(encode, decode, x0, x1, t, kind: str) -> np.ndarray:
    """(P, T, H, W, C) decoded paths between pairs of images, or pixel blends."""
    if kind == "pixel":
        return np.asarray(jax.vmap(lambda a, b: lerp(a, b, t))(x0, x1))
    fn = lerp if kind == "lerp" else slerp
    z0, z1 = encode(x0), encode(x1)
    zs = jax.vmap(lambda a, b: fn(a, b, t))(z0, z1)  # (P, T, L)
    p, steps = zs.shape[:2]
    return np.asarray(decode(zs.reshape(p * steps, -1))).reshape(p, steps, *x0.shape[1:])


def _pairs(test: dict, num: int, key) -> tuple[np.ndarray, np.ndarray]:
    """`num` index pairs of test images with different labels."""
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel()[-1])
    i = rng.integers(0, len(test["x"]), 4 * num)
    j = rng.integers(0, len(test["x"]), 4 * num)
    keep = test["y"][i] != test["y"][j]
    return i[keep][:num], j[keep][:num]


def run(config: ConfigDict, workdir: str) -> dict:
    workdir = experiment.start(workdir, config)
    splits = data_lib.load(config.vae.dataset)
    root = jax.random.PRNGKey(config.seed)
    clf = classifier.load_or_train(
        workdir,
        data_lib.load(data_lib.base_config("mnist")),
        named_key(root, "classifier"),
        num_epochs=config.classifier_epochs,
    )
    ae_res = train(config.ae, workdir / "ae", splits=splits)
    vae_res = train(config.vae, workdir / "vae", splits=splits)
    ae_fam, ae_state = ae_res.family, ae_res.seed_state(0)
    vae_fam, vae_state = vae_res.family, vae_res.seed_state(0)

    test = splits.split("test")
    i, j = _pairs(test, config.num_pairs, named_key(root, "pairs"))
    x0, x1 = jnp.asarray(test["x"][i]), jnp.asarray(test["x"][j])
    y0, y1 = test["y"][i], test["y"][j]
    t = jnp.linspace(0.0, 1.0, config.steps)
    mid = config.steps // 2
    models = {
        "AE": (
            jax.jit(lambda x: ae_fam.encode(ae_state, x)),
            jax.jit(lambda z: ae_fam.decode(ae_state, z)),
        ),
        "VAE": (
            jax.jit(lambda x: vae_fam.encode(vae_state, x)),
            jax.jit(lambda z: vae_fam.decode(vae_state, z)),
        ),
    }
    neg_elbo = jax.jit(
        lambda x, k: (
            -jnp.mean(
                jax.vmap(lambda kk: vae_fam.elbo(vae_state, x, kk))(jax.random.split(k, 8)), 0
            )
        )
    )
    rows, strips = [], {}
    for model, kind in (
        ("pixel", "pixel"),
        ("AE", "lerp"),
        ("AE", "slerp"),
        ("VAE", "lerp"),
        ("VAE", "slerp"),
    ):
        enc, dec = models.get(model, (None, None))
        paths = _paths(enc, dec, x0, x1, t, kind)
        p, steps = paths.shape[:2]
        probs = clf.probs(paths.reshape(p * steps, *paths.shape[2:])).reshape(p, steps, -1)
        conf = probs.max(-1)
        pred_mid = probs[:, mid].argmax(-1)
        nll_mid = np.asarray(neg_elbo(jnp.asarray(paths[:, mid]), named_key(root, "elbo")))
        name = "pixel blend" if model == "pixel" else f"{model} {kind}"
        rows.append(
            {
                "interpolation": name,
                "mid_conf": float(conf[:, mid].mean()),
                "min_conf": float(conf[:, 1:-1].min(-1).mean()),
                "mid_is_endpoint": float(((pred_mid == y0) | (pred_mid == y1)).mean()),
                "mid_vae_nll": float(nll_mid.mean()),
                "end_conf": float(conf[:, [0, -1]].mean()),
            }
        )
        strips[name] = paths[: config.num_strips]
    figs = workdir / "figures"
    for s in range(min(config.num_strips, len(i))):
        plotting.image_rows([strips[n][s] for n in strips], list(strips), figs / f"strip_{s}.png")
    extra = {
        "num_pairs": int(len(i)),
        "steps": config.steps,
        "classifier_test_accuracy": clf.test_accuracy,
        "ae_test": ae_res.summary["test"],
        "vae_test": vae_res.summary["test"],
        "vae_active_units": vae_res.summary["report"]["active_units"],
    }
    intro = [
        f"{len(i)} random pairs of test images with different digits; {config.steps} points per "
        f"path; digit classifier test accuracy {clf.test_accuracy:.4f}."
    ]
    notes = [
        "mid_conf: classifier max-softmax at t=0.5; min_conf: its minimum along the path's "
        "interior; mid_is_endpoint: midpoint classified as one of the two endpoint digits; "
        "mid_vae_nll: -ELBO of the decoded midpoint under the VAE (nats); end_conf: at t=0, 1."
    ]
    figures = [f"figures/strip_{s}.png" for s in range(min(config.num_strips, len(i)))]
    summary = experiment.finish(
        workdir,
        "Interpolating in a plain autoencoder and in a VAE of the same size",
        rows,
        intro=intro,
        notes=notes,
        figures=figures,
        extra=extra,
    )
    print(f"digit classifier test accuracy {clf.test_accuracy:.4f}")
    return summary
