"""Black-box end-to-end fixtures for cameraserviced.

Run from the repository root:  python3 -m pytest tests/e2e
The daemon binary is $CAMERASERVICED_BIN, else <repo>/target/debug/cameraserviced. Every daemon
listens on free 127.0.0.1 ports, keeps its state in a fresh temporary directory and is stopped with
SIGTERM at teardown. Set CAMERASERVICED_E2E_SIM=1 to start every daemon with --sim.
"""

import pytest

from e2e_support import Daemon, DaemonFactory


@pytest.fixture
def daemon(tmp_path_factory):
    """Factory: daemon(config_dict, args=..., listen=..., state_dir=...) -> Daemon (stopped at teardown)."""
    f = DaemonFactory(tmp_path_factory)
    yield f
    f.close()


@pytest.fixture(scope="module")
def module_daemon(tmp_path_factory):
    """Same factory, for daemons shared by the tests of one module."""
    f = DaemonFactory(tmp_path_factory)
    yield f
    f.close()


@pytest.fixture(scope="session")
def default_daemon(tmp_path_factory) -> Daemon:
    """One daemon with the default configuration (an empty config file), shared by the session."""
    f = DaemonFactory(tmp_path_factory)
    try:
        yield f({})
    finally:
        f.close()


@pytest.fixture
def base_url(default_daemon) -> str:
    return default_daemon.base_url
