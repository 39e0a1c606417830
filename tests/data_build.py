"""Run ``slicer-embed data ...`` in-process for the build tests: fail with the install command when a
synthesis tool is missing, skip when the Debian mirror cannot be reached."""

from __future__ import annotations

import pytest

from slicer_embed.training.offline import cli
from slicer_embed.training.offline.tools import ToolMissingError, require_tools


def build(args: list[str], tools: tuple[str, ...]) -> None:
    try:
        require_tools(*tools)
    except ToolMissingError as e:
        pytest.fail(f"{e}  (run: sudo scripts/install-audio-tools.sh)")
    from slicer_embed.training.offline.debs import DebFetchError

    try:
        code = cli.main(args)
    except DebFetchError as e:
        pytest.skip(f"Debian mirror not reachable: {e}")
    if code == 1:
        pytest.skip("Debian packages could not be fetched (see stderr)")
    assert code == 0, f"slicer-embed data {' '.join(args)} exited {code}"
