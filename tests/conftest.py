"""Shared fixtures: seeded generators and random lab momenta of mothers."""

import numpy as np
import pytest


def pytest_report_header(config):
    """Which mcsim the run tests: the source tree (editable install) or an installed wheel."""
    import mcsim

    return f"mcsim: {mcsim.__file__}"


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Computed results cached by mcsim (the relic couplings) go to a directory of this run,
    not the user's ~/.cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture
def rng():
    return np.random.default_rng(20261121)


def random_mothers(rng, mass: float, n: int, p_max: float = 500.0) -> np.ndarray:
    """n mothers of the given mass [GeV] with |p| uniform in [0, p_max] and isotropic directions."""
    p = rng.uniform(0.0, p_max, n)
    cos_t = rng.uniform(-1.0, 1.0, n)
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    sin_t = np.sqrt(1.0 - cos_t**2)
    out = np.empty((n, 4))
    out[:, 1] = p * sin_t * np.cos(phi)
    out[:, 2] = p * sin_t * np.sin(phi)
    out[:, 3] = p * cos_t
    out[:, 0] = np.sqrt(p**2 + mass**2)
    return out


#: The dark-dipole point most CLI tests generate at: M1 = 0.1 GeV, delta = 0.1, d = 1e-6 GeV^-1.
DARK_POINT = {"model": "dark-dipole", "m1": "0.1", "delta": "0.1", "d": "1e-6"}


def generate_argv(**options) -> list[str]:
    """The argument list of ``mcsim generate`` at :data:`DARK_POINT`: ``--model``, ``--m1``,
    ``--delta`` and ``--d`` (each overridable), then every other keyword in the order given.
    A keyword names the option with dashes for underscores (``o`` is ``-o``, ``chunk_size``
    is ``--chunk-size``); True adds a flag (``quiet=True``: ``--quiet``); None leaves the
    option out (``delta=None`` for a model without delta); any other value is passed as
    ``str(value)``."""
    argv = ["generate"]
    for name, value in {**DARK_POINT, **options}.items():
        if value is None or value is False:
            continue
        argv.append("-o" if name == "o" else f"--{name.replace('_', '-')}")
        if value is not True:
            argv.append(str(value))
    return argv
