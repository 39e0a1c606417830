"""The synthesis-tool setup: install script messages, missing-tool errors, and no non-free voices.

No apt-get is run: the install script is called with a PATH holding only stand-ins, so these
tests check its refusals (no apt, not root) without touching the system.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from slicer_embed.training.offline import cli
from slicer_embed.training.offline.tasks import kws, language
from slicer_embed.training.offline.tools import ToolMissingError, require_tools, run
from slicer_embed.training.offline.tts import ENGINE_PACKAGES, ENGINE_TOOLS, FESTIVAL_VOICE_PACKAGES

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "install-audio-tools.sh"
BASH = shutil.which("bash")


def _stub(folder: Path, name: str, body: str) -> None:
    p = folder / name
    p.write_text(f"#!{BASH}\n{body}\n")
    p.chmod(0o755)


def _script(path_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([BASH, str(SCRIPT)], env={"PATH": str(path_dir)}, capture_output=True, text=True, check=False)


@pytest.mark.skipif(BASH is None, reason="bash not installed")
def test_install_script_refuses_without_apt(tmp_path):
    p = _script(tmp_path)
    assert p.returncode == 2
    assert "apt-get not found" in p.stderr and "espeak-ng" in p.stderr  # says what to install by hand


@pytest.mark.skipif(BASH is None, reason="bash not installed")
def test_install_script_refuses_when_not_root(tmp_path):
    _stub(tmp_path, "apt-get", "echo 'apt-get must not run' >&2; exit 99")
    _stub(tmp_path, "id", "echo 1000")  # a normal user, and no sudo on PATH
    p = _script(tmp_path)
    assert p.returncode == 1, p.stderr
    assert "must run as root" in p.stderr and "fluidsynth" in p.stderr
    assert "apt-get must not run" not in p.stderr


def test_missing_tool_errors_name_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissingError, match=r"espeak-ng, fluidsynth; run scripts/install-audio-tools.sh as root"):
        require_tools("espeak-ng", "fluidsynth")
    with pytest.raises(ToolMissingError, match="flite not found"):
        run(["flite", "-t", "hi"])
    assert cli.main(["corpus", str(tmp_path / "c"), "--tiny"]) == 2
    assert not (tmp_path / "c").exists()  # refused before anything was fetched or written


def test_install_tools_verb_runs_the_script(monkeypatch):
    calls = []
    monkeypatch.setattr(cli.subprocess, "run", lambda cmd: calls.append(cmd) or subprocess.CompletedProcess(cmd, 1))
    assert cli.main(["install-tools"]) == 1  # the script's exit status is passed on
    assert calls == [["bash", str(SCRIPT)]] and SCRIPT.is_file() and os.access(SCRIPT, os.R_OK)


def test_default_builds_use_no_mbrola_or_pico_voices():
    # MBROLA (non-commercial) and SVOX Pico (non-free) must stay opt-in; the default plans use
    # only the Debian-main engines.
    voices = [*kws.voices(False), *kws.voices(True), *language.voices(False), *language.voices(True)]
    assert {v.engine for v in voices} <= set(ENGINE_TOOLS) == {"espeak", "flite", "festival"}
    assert not [v for v in voices if "mb-" in v.name or "mbrola" in v.name or "pico" in v.name]


def test_every_festival_voice_has_its_package_installed_and_licensed():
    voices = [*kws.voices(False), *language.voices(False)]
    used = {v.name for v in voices if v.engine == "festival"}
    assert used <= set(FESTIVAL_VOICE_PACKAGES), f"no package listed for {used - set(FESTIVAL_VOICE_PACKAGES)}"
    script = SCRIPT.read_text()
    assert all(pkg in script.split() for pkg in FESTIVAL_VOICE_PACKAGES.values())  # installed by the script
    assert set(FESTIVAL_VOICE_PACKAGES.values()) <= set(ENGINE_PACKAGES["festival"])  # licence copied
