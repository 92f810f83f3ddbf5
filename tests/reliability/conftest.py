"""Fixtures of the reliability tier (see README.md and reliability_support.py).

Run from the repository root:  python3 -m pytest -q tests/reliability   (add -s for live figures)
"""

import pytest

from reliability_support import Daemons, Guard, format_results


@pytest.fixture
def daemons(tmp_path_factory):
    """Factory: daemons(config_overrides, sim=True, env=..., preexec=...) -> Daemon (stopped at teardown)."""
    f = Daemons(tmp_path_factory)
    yield f
    f.close()


@pytest.fixture
def start(daemons, request):
    """start(config_overrides, ...) -> (Daemon, Guard): a fresh daemon with files stored and canaries
    laid out; call guard.finish() after the abuse."""
    name = request.node.name.removeprefix("test_")

    def _start(config=None, **kw):
        d = daemons(config, **kw)
        return d, Guard(d, name)

    return _start


def pytest_terminal_summary(terminalreporter):
    table = format_results()
    if table:
        terminalreporter.section("reliability: daemon RSS per row (MiB; peak = VmHWM, ceiling 512)")
        terminalreporter.write_line(table)
