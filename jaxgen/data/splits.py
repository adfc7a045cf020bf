"""`Splits`, what every dataset loader returns (its own module, so that loaders need not
import the package that imports them)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from jaxgen.errors import DataError

Batch = dict[str, np.ndarray]


@dataclasses.dataclass
class Splits:
    """Train/validation/test arrays and what a model needs to know about them."""

    train: Batch
    val: Batch | None = None
    test: Batch | None = None
    info: dict[str, Any] = dataclasses.field(default_factory=dict)

    def split(self, name: str) -> Batch:
        data = getattr(self, name)
        if data is None:
            raise DataError(f"dataset {self.info.get('name')!r} has no {name} split")
        return data
