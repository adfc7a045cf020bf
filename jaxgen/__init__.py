"""jaxgen: autoencoders, VAEs, GANs and recurrent networks in JAX/Flax.

Scripts use `jaxgen.load_run(workdir)` to get a trained model back (encode, decode,
reconstruct, sample), and `jaxgen.train.train(config, workdir)` to train one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

from jaxgen import runtime as _runtime

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from jaxgen.run import Run

# Before any JAX computation: see `jaxgen.runtime` (XLA:CPU temporaries without page faults).
_runtime.configure_malloc()


def load_run(workdir: str | Path, **kwargs: Any) -> Run:
    """Loads a finished or checkpointed run; see `jaxgen.run.load_run`."""
    from jaxgen.run import load_run as _load_run

    return _load_run(workdir, **kwargs)
