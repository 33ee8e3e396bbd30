"""Safe model files: nothing here ever unpickles or imports what a file names.

- scikit-learn objects go through skops; on load the types the file names are compared with an
  explicit allowlist (scikit-learn and NumPy classes we use) and anything else refuses the file
  before skops builds a single object.
- weights (PyTorch, NumPy) go into safetensors files: plain arrays, no code.

An artefact directory may be copied around and uploaded, so a refused file is a ModelError that names the
types it would have needed; an administrator never gets a "trust this file?" prompt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netwarden.learn.base import ModelError

if TYPE_CHECKING:
    import numpy as np  # imported where used: the model registry (and so every ingest) loads this module

#: Module prefixes of types skops may rebuild (classes only: skops never calls what it loads)
TRUSTED_PREFIXES = (
    "sklearn.ensemble.", "sklearn.tree.", "sklearn.linear_model.", "sklearn.neighbors.", "sklearn.preprocessing.",
    "sklearn.compose.", "sklearn.pipeline.", "sklearn.impute.", "sklearn.calibration.", "sklearn.utils._bunch.",
    "sklearn._loss.", "sklearn.utils._random.",
)
#: Exact names outside those prefixes that our estimators contain
TRUSTED_NAMES = frozenset({
    "builtins.slice", "numpy.dtype", "numpy.ndarray", "numpy.float64", "numpy.float32", "numpy.int64",
    "numpy.int32", "numpy.int8", "numpy.uint8", "numpy.bool_", "numpy.str_", "numpy.object_",
    "numpy.random.mtrand.RandomState", "numpy.random._mt19937.MT19937", "numpy.random.bit_generator.SeedSequence",
    "collections.OrderedDict", "collections.defaultdict",
    # the distance a neighbour search keeps (KNN, LOF, KNN distance); PyFuncDistance, which wraps a Python
    # callable, is deliberately absent
    *(f"sklearn.metrics._dist_metrics.{name}Distance{bits}" for name in
      ("Euclidean", "SEuclidean", "Manhattan", "Chebyshev", "Minkowski") for bits in ("64", "32")),
})
#: Even under a trusted prefix: anything that holds or names a callable is refused
_REFUSED_NAMES = frozenset({"sklearn.preprocessing._function_transformer.FunctionTransformer"})


def is_trusted(type_name: str) -> bool:
    if type_name in _REFUSED_NAMES:
        return False
    return type_name in TRUSTED_NAMES or type_name.startswith(TRUSTED_PREFIXES)


def save_sklearn(obj: Any, path: Path) -> None:
    import skops.io

    skops.io.dump(obj, path)


def load_sklearn(path: Path) -> Any:
    """The object in a skops file, after checking every type it names against the allowlist."""
    import skops.io

    try:
        data = path.read_bytes()
        needed = skops.io.get_untrusted_types(data=data)
    except Exception as exc:  # noqa: BLE001 - a corrupt zip, bad JSON schema...: the file is unusable, not a crash
        raise ModelError(f"{path}: not a readable model file ({type(exc).__name__}: {str(exc)[:200]})") from None
    refused = sorted(t for t in needed if not is_trusted(t))
    if refused:
        raise ModelError(f"{path}: refused, the file asks for types outside the allowlist: "
                         f"{', '.join(refused[:10])}")
    try:
        return skops.io.load(path, trusted=needed)
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"{path}: cannot load the model ({type(exc).__name__}: {str(exc)[:200]})") from None


def save_tensors(arrays: Mapping[str, Any], path: Path) -> None:
    """Arrays (NumPy or PyTorch tensors) by name, as a safetensors file."""
    import numpy as np
    from safetensors.numpy import save_file

    plain = {name: np.ascontiguousarray(_as_numpy(a)) for name, a in arrays.items()}
    save_file(plain, str(path))


def load_tensors(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a safetensors file (torch users: ``torch.from_numpy`` each)."""
    from safetensors.numpy import load_file

    try:
        return load_file(str(path))
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"{path}: not a readable weights file ({type(exc).__name__}: {str(exc)[:200]})") from None


def _as_numpy(array: Any) -> np.ndarray:
    if hasattr(array, "detach"):  # a torch tensor, without importing torch here
        return array.detach().cpu().numpy()
    import numpy as np

    return np.asarray(array)


def digest(directory: Path) -> str:
    """SHA-256 over every file of an artefact directory (names and contents): the registry stores it so a
    file changed behind its back is noticed before loading."""
    h = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        h.update(path.relative_to(directory).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()
