"""VAE: KL formulas, reparameterized gradients, the IWAE bound, training, shapes under jit."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen import distributions as dist
from jaxgen.evaluation import likelihood
from jaxgen.families import vae
from jaxgen.sampling import reparameterize

ROOT = Path(__file__).resolve().parents[1]


def _random_spd(key, k):
    a = jax.random.normal(key, (k, k))
    return a @ a.T / k + 0.5 * jnp.eye(k)


# -- KL divergences --------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 3, 6])
def test_kl_mvn_matches_numpy_reference_and_monte_carlo(k):
    keys = jax.random.split(jax.random.PRNGKey(k), 5)
    m0, m1 = jax.random.normal(keys[0], (k,)), jax.random.normal(keys[1], (k,))
    s0, s1 = _random_spd(keys[2], k), _random_spd(keys[3], k)
    kl = float(jax.jit(dist.kl_mvn)(m0, s0, m1, s1))
    # The lecture's formula, written literally in NumPy (float64).
    n0, n1, c0, c1 = (np.asarray(a, np.float64) for a in (m0, m1, s0, s1))
    inv1 = np.linalg.inv(c1)
    ref = 0.5 * (
        np.trace(inv1 @ c0)
        + (n1 - n0) @ inv1 @ (n1 - n0)
        - k
        + np.log(np.linalg.det(c1) / np.linalg.det(c0))
    )
    np.testing.assert_allclose(kl, ref, rtol=1e-4, atol=1e-5)
    mc = float(dist.kl_monte_carlo(keys[4], m0, s0, m1, s1, 200_000))
    # MC standard error is ~ sqrt(Var[log ratio] / n); a few percent at this n.
    assert abs(mc - kl) < 0.03 * kl + 0.01
    assert kl >= 0.0


@pytest.mark.parametrize("k", [2, 5])
def test_diagonal_kls_are_special_cases_of_the_general_one(k):
    keys = jax.random.split(jax.random.PRNGKey(10 + k), 4)
    m0, m1 = jax.random.normal(keys[0], (4, k)), jax.random.normal(keys[1], (4, k))
    lv0, lv1 = jax.random.normal(keys[2], (4, k)), jax.random.normal(keys[3], (4, k))
    diag = dist.kl_diag_gaussians(m0, lv0, m1, lv1)
    full = jax.vmap(dist.kl_mvn)(
        m0, jax.vmap(jnp.diag)(jnp.exp(lv0)), m1, jax.vmap(jnp.diag)(jnp.exp(lv1))
    )
    chex.assert_shape(diag, (4,))
    np.testing.assert_allclose(diag, full, rtol=1e-4, atol=1e-5)
    zeros = jnp.zeros_like(m0)
    np.testing.assert_allclose(
        dist.kl_std_normal(m0, lv0), dist.kl_diag_gaussians(m0, lv0, zeros, zeros), rtol=1e-6
    )
    # KL(q || q) = 0.
    np.testing.assert_allclose(dist.kl_std_normal(zeros, zeros), 0.0, atol=1e-7)


def test_gaussian_decoder_density_is_the_lectures_c_weighted_mse():
    key = jax.random.PRNGKey(0)
    x, mean = jax.random.uniform(key, (3, 8)), jax.random.uniform(jax.random.PRNGKey(1), (3, 8))
    c = 4.0
    sigma2 = 1.0 / (2.0 * c)
    ref = np.sum(
        -0.5 * np.log(2 * np.pi * sigma2) - (np.asarray(x) - np.asarray(mean)) ** 2 / (2 * sigma2),
        axis=-1,
    )
    np.testing.assert_allclose(dist.gaussian_c_log_prob(x, mean, c), ref, rtol=1e-5)
    np.testing.assert_allclose(
        dist.diag_gaussian_log_prob(x, mean, jnp.full_like(x, math.log(sigma2))), ref, rtol=1e-5
    )


# -- reparameterization -------------------------------------------------------------------------
def test_reparameterized_gradient_matches_the_analytic_one():
    # E[sum z^2] with z ~ N(mu, exp(lv)) is sum(mu^2 + exp(lv)): d/dmu = 2 mu, d/dlv = exp(lv).
    mu, lv = jnp.array([0.5, -1.0, 2.0]), jnp.array([0.0, -1.0, 0.5])

    def objective(mu, lv, key):
        z = reparameterize(
            key, jnp.broadcast_to(mu, (100_000, 3)), jnp.broadcast_to(lv, (100_000, 3))
        )
        return jnp.mean(jnp.sum(z**2, -1))

    g_mu, g_lv = jax.jit(jax.grad(objective, argnums=(0, 1)))(mu, lv, jax.random.PRNGKey(3))
    np.testing.assert_allclose(g_mu, 2 * mu, atol=0.05)
    np.testing.assert_allclose(g_lv, jnp.exp(lv), atol=0.05)


# -- the IWAE bound on a model with a known likelihood -----------------------------------------
def _linear_gaussian(s2: float, exact_posterior: bool):
    """z ~ N(0, I), x|z ~ N(z, s2 I): p(x) = N(0, (1 + s2) I), posterior N(x/(1+s2), s2/(1+s2))."""

    def log_weights(x, key, n):
        if exact_posterior:
            mean, lv = x / (1 + s2), jnp.full_like(x, math.log(s2 / (1 + s2)))
        else:  # q = the prior: a poor proposal, the bound is loose and rises with k.
            mean, lv = jnp.zeros_like(x), jnp.zeros_like(x)
        z = mean + jnp.exp(0.5 * lv) * jax.random.normal(key, (n, *x.shape))
        log_px = dist.diag_gaussian_log_prob(x, z, jnp.full_like(z, math.log(s2)))
        w = log_px + dist.std_normal_log_prob(z) - dist.diag_gaussian_log_prob(z, mean, lv)
        return w.T

    return log_weights


def test_iwae_bound_is_exact_with_the_true_posterior_for_any_chunking():
    s2 = 0.5
    x = np.asarray(jax.random.normal(jax.random.PRNGKey(0), (37, 3)) * math.sqrt(1 + s2))
    exact = np.asarray(dist.diag_gaussian_log_prob(x, 0.0, jnp.full_like(x, math.log(1 + s2))))
    fn = _linear_gaussian(s2, exact_posterior=True)
    for k, bs, chunk in ((1, 37, 1), (40, 10, 8), (40, 16, 40)):
        ll = likelihood.log_likelihood(
            fn, x, jax.random.PRNGKey(1), k=k, batch_size=bs, chunk=chunk
        )
        chex.assert_shape(ll, (37,))
        np.testing.assert_allclose(ll, exact, rtol=1e-4, atol=1e-4)


def test_iwae_bound_rises_with_k_towards_log_px():
    s2 = 0.2
    x = np.asarray(jax.random.normal(jax.random.PRNGKey(0), (200, 2)) * math.sqrt(1 + s2))
    exact = float(np.mean(dist.diag_gaussian_log_prob(x, 0.0, jnp.full_like(x, math.log(1.2)))))
    fn = _linear_gaussian(s2, exact_posterior=False)
    bounds = [
        float(likelihood.log_likelihood(fn, x, jax.random.PRNGKey(k), k=k, chunk=k).mean())
        for k in (1, 10, 100, 1000)
    ]
    assert all(a < b for a, b in zip(bounds, bounds[1:], strict=False)), bounds
    assert bounds[-1] <= exact + 0.05
    assert exact - bounds[-1] < 0.5 * (exact - bounds[0])


# -- the family ---------------------------------------------------------------------------------
def _family(**model):
    cfg = vae.config("mnist", latent_dim=4, hidden_sizes=(32,), **model)
    cfg.model.conv_features = (4, 8)
    return vae.make_family(cfg)


@pytest.mark.parametrize(
    "model",
    [
        {"arch": "mlp", "likelihood": "bernoulli"},
        {"arch": "mlp", "likelihood": "gaussian", "beta_schedule": "linear"},
        {"arch": "conv", "likelihood": "bernoulli", "objective": "iwae", "k": 3},
        {"arch": "conv", "likelihood": "gaussian", "beta_schedule": "cyclical"},
    ],
)
def test_shapes_under_jit(model):
    fam = _family(**model)
    x = jax.random.uniform(jax.random.PRNGKey(0), (6, 28, 28, 1))
    batch = {"x": x, "y": jnp.zeros(6, jnp.int32)}
    state = jax.jit(fam.init)(jax.random.PRNGKey(1), batch)
    state, metrics = jax.jit(fam.train_step)(state, batch, jax.random.PRNGKey(2))
    for v in metrics.values():
        chex.assert_shape(v, ())
    assert {"loss", "grad_norm", "beta"} <= set(metrics)
    ev = jax.jit(fam.eval_step)(state, batch, jax.random.PRNGKey(3))
    for v in ev.values():
        chex.assert_shape(v, (6,))
    mean, log_var = jax.jit(fam.encode_distribution)(state, x)
    chex.assert_shape((mean, log_var), (6, 4))
    chex.assert_shape(jax.jit(fam.decode)(state, mean), (6, 28, 28, 1))
    chex.assert_shape(
        jax.jit(fam.sample, static_argnums=2)(state, jax.random.PRNGKey(4), 5), (5, 28, 28, 1)
    )
    lw = jax.jit(fam.log_weights_fn(state), static_argnums=2)(x, jax.random.PRNGKey(5), 7)
    chex.assert_shape(lw, (6, 7))
    chex.assert_tree_all_finite((metrics, ev, lw))


def test_k1_bound_equals_elbo():
    fam = _family()
    x = (jax.random.uniform(jax.random.PRNGKey(0), (8, 28, 28, 1)) > 0.5).astype(jnp.float32)
    state = fam.init(jax.random.PRNGKey(1), {"x": x})
    key = jax.random.PRNGKey(2)
    # Same key: the k=1 importance-weighted bound IS the one-sample ELBO estimate.
    lw = fam.log_weights(state.params, state.apply_fn, x, key, 1)
    np.testing.assert_allclose(likelihood.iwae_bound(lw), fam.elbo(state, x, key), rtol=1e-6)
    # And its mean over many samples matches the analytic-KL ELBO, E log p(x|z) - KL.
    lw = fam.log_weights(state.params, state.apply_fn, x, key, 4000)
    ev = fam.eval_step(state, {"x": x}, key)
    mean, log_var = fam.encode_distribution(state, x)
    z = mean + jnp.exp(0.5 * log_var) * jax.random.normal(key, (4000, *mean.shape))
    out = fam._decode(state.params, state.apply_fn, z.reshape(-1, 4))
    rec = fam.log_px_given_z(jnp.broadcast_to(x, (4000, *x.shape)).reshape(-1, 28, 28, 1), out)
    analytic = rec.reshape(4000, 8).mean(0) - ev["kl"]
    np.testing.assert_allclose(lw.mean(-1), analytic, rtol=2e-3)


@pytest.mark.parametrize(
    ("schedule", "steps", "expected"),
    [
        ("constant", (0, 50, 500), (0.5, 0.5, 0.5)),
        ("linear", (0, 50, 100, 500), (0.0, 0.25, 0.5, 0.5)),
        ("cyclical", (0, 25, 50, 99, 100, 125), (0.0, 0.25, 0.5, 0.5, 0.0, 0.25)),
    ],
)
def test_beta_schedules(schedule, steps, expected):
    m = vae.model_config(
        beta=0.5,
        beta_schedule=schedule,
        beta_warmup_steps=100,
        beta_cycle_steps=100,
        beta_cycle_ratio=0.5,
    )
    got = [float(jax.jit(lambda s: vae.beta_at(s, m))(s)) for s in steps]
    np.testing.assert_allclose(got, expected, atol=1e-6)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny VAE trained on 1000 binarized MNIST digits through the shared loop."""
    from jaxgen.train import train

    cfg = vae.config("mnist", latent_dim=8, hidden_sizes=(128,), report_nll_k=20, report_nll_num=50)
    cfg.dataset.num_train = 1000
    cfg.dataset.num_test = 100
    cfg.dataset.binarize = "dynamic"
    cfg.train.num_epochs = 8
    cfg.train.batch_size = 50
    cfg.train.progress = False
    cfg.optimizer.lr = 3e-3
    cfg.lock()
    workdir = tmp_path_factory.mktemp("vae")
    return train(cfg, workdir)


def test_loss_falls_and_report_is_written(trained):
    rows = [json.loads(r) for r in (trained.workdir / "metrics.jsonl").read_text().splitlines()]
    train_loss = [r["loss"] for r in rows if r["split"] == "train"]
    assert train_loss[-1] < 0.75 * train_loss[0]
    rep = trained.summary["report"]
    assert 0 < rep["active_units"] <= 8
    assert (trained.workdir / "figures" / "samples.png").is_file()
    assert (trained.workdir / "figures" / "interpolation.png").is_file()


def test_bound_rises_with_k_on_the_trained_model(trained):
    fam, state = trained.family, trained.seed_state(0)
    x = trained.splits.test["x"][:50]
    fn = fam.log_weights_fn(state)
    bounds = [
        float(likelihood.log_likelihood(fn, x, jax.random.PRNGKey(k), k=k, batch_size=50).mean())
        for k in (1, 10, 100)
    ]
    assert bounds[0] < bounds[1] < bounds[2], bounds
    au = fam.active_units(state, x)
    assert len(au["posterior_mean_var"]) == 8


def test_public_api_through_load_run(trained):
    import jaxgen

    run = jaxgen.load_run(trained.workdir, splits=trained.splits)
    x = trained.splits.test["x"][:2]
    z = run.encode(x)
    np.testing.assert_allclose(z, trained.family.encode(trained.seed_state(0), x), atol=1e-5)
    from jaxgen.sampling import slerp

    imgs = run.decode(slerp(z[0], z[1], jnp.linspace(0, 1, 5)))
    chex.assert_shape(imgs, (5, 28, 28, 1))
    assert float(imgs.min()) >= 0.0 and float(imgs.max()) <= 1.0


def _vae_mnist_module():
    spec = importlib.util.spec_from_file_location("vae_mnist", ROOT / "experiments/vae_mnist.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_nll_figure_draws_this_run_and_finished_siblings_at_their_cpu_minutes(
    tmp_path, monkeypatch
):
    """The figure of issue 21: each run's validation curve against CPU minutes and its test
    NLL at its last minute; this run's summary is not written yet, an unfinished sibling is
    left out."""
    mod = _vae_mnist_module()

    def fake_run(name, cpu, loss, nll=None):
        run = tmp_path / name
        (run / "vae").mkdir(parents=True)
        rows = []
        for i, (c, v) in enumerate(zip(cpu, loss, strict=True)):
            rows += [{"step": i, "split": "train", "train_cpu_seconds": c, "loss": v}]
            rows += [{"step": i, "split": "val", "loss": v}]
        (run / "vae" / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        if nll is not None:
            (run / "summary.json").write_text(json.dumps({"test_nll": nll}))
        return run

    this = fake_run("vae_mnist", [60.0, 600.0], [100.0, 90.0])
    done = fake_run("vae_budget", [60.0, 1800.0], [99.0, 89.0], nll=87.8)
    unfinished = fake_run("vae_iwae", [60.0], [98.0])
    seen = {}
    monkeypatch.setattr(
        mod.plotting,
        "curves",
        lambda series, path, *a, **kw: seen.update(series=series, points=kw["points"]),
    )
    mod._loss_vs_time({this: 88.5, done: None, unfinished: None}, tmp_path)
    assert set(seen["series"]) == {"vae_mnist", "vae_budget"}
    np.testing.assert_allclose(seen["series"]["vae_budget"][0], [1.0, 30.0])  # CPU minutes
    assert seen["points"] == {
        "vae_mnist: test NLL 88.50": (10.0, 88.5),
        "vae_budget: test NLL 87.80": (30.0, 87.8),
    }


def test_burda_config_has_the_papers_schedule():
    mod = _vae_mnist_module()
    c = mod.get_config("burda")
    assert c.train.num_epochs == 3280
    assert c.train.batch_size == 20
    assert tuple(c.model.hidden_sizes) == (200, 200) and c.model.latent_dim == 50
    assert c.dataset.binarize == "dynamic" and c.model.activation == "tanh"
    spe = 50_000 // 20
    assert c.optimizer.boundaries == tuple(spe * e for e in (1, 4, 13, 40, 121, 364, 1093))
    from jaxgen.train.optim import make_schedule

    sched = make_schedule(c.optimizer, c.train.num_epochs * spe)
    for i, start in enumerate((0, 1, 4, 13, 40, 121, 364, 1093)):
        np.testing.assert_allclose(float(sched(start * spe)), 1e-3 * 10 ** (-i / 7), rtol=1e-5)
