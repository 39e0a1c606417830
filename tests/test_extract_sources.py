"""How ``extract`` turns SOURCE (file, folder, glob, list, stdin) into an ordered input list."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from slicer_embed.extraction.sources import SourceError, discover
from slicer_embed.extraction.writers import OutputError, dir_target, infer_format


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for rel in ["b.wav", "a.FLAC", "notes.txt", ".hidden.wav", "z/c.ogg", "z/y/d.mp3", "m/e.opus", "m/f.m4a"]:
        p = tmp_path / "t" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    return tmp_path / "t"


def rels(entries):
    return [e.rel for e in entries]


def test_directory_is_recursive_sorted_and_filtered(tree):
    assert rels(discover(str(tree))) == ["a.FLAC", "b.wav", "m/e.opus", "z/c.ogg", "z/y/d.mp3"]
    assert rels(discover(str(tree), recursive=False)) == ["a.FLAC", "b.wav"]
    assert rels(discover(str(tree), extensions=["m4a"])) == ["m/f.m4a"]
    assert discover(str(tree))[0].path == str(tree / "a.FLAC")


def test_single_file_and_globs(tree):
    assert [(e.path, e.rel) for e in discover(str(tree / "z" / "c.ogg"))] == [(str(tree / "z" / "c.ogg"), "c.ogg")]
    assert rels(discover(str(tree / "**" / "*.ogg"))) == ["z/c.ogg"]
    assert rels(discover(str(tree / "**"))) == ["a.FLAC", "b.wav", "m/e.opus", "z/c.ogg", "z/y/d.mp3"]
    assert rels(discover(str(tree / "m" / "*.m4a"))) == ["f.m4a"]  # an explicit extension is honoured


def test_lists_csv_and_stdin(tree, tmp_path):
    (tree / "list.txt").write_text("# comment\nz/c.ogg\n\nb.wav\n")
    got = discover(str(tree / "list.txt"))
    assert [(e.rel, e.path) for e in got] == [("z/c.ogg", str(tree / "z/c.ogg")), ("b.wav", str(tree / "b.wav"))]
    (tmp_path / "meta.csv").write_text(f"label,path\ndog,{tree / 'a.FLAC'}\ncat,t/b.wav\n")
    got = discover(str(tmp_path / "meta.csv"))
    assert [e.path for e in got] == [str(tree / "a.FLAC"), str(tmp_path / "t" / "b.wav")]
    got = discover("-", stdin=io.StringIO(f"{tree / 'b.wav'}\n{tree / 'z' / 'c.ogg'}\n"))
    assert [e.path for e in got] == [str(tree / "b.wav"), str(tree / "z" / "c.ogg")]


def test_source_errors_name_the_problem(tree, tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        discover(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="matched no audio files"):
        discover(str(tmp_path / "empty"))
    (tmp_path / "dup.txt").write_text("t/b.wav\nt/b.wav\n")
    with pytest.raises(SourceError, match="listed twice"):
        discover(str(tmp_path / "dup.txt"))


def test_output_format_inference_and_dir_targets(tmp_path):
    assert infer_format("x.npy", None, "clip") == "npy"
    assert infer_format("x.NPZ", None, "both") == "npz"
    assert infer_format("out/", None, "frame") == "dir"
    assert infer_format("x.bin", "npz", "clip") == "npz"
    assert infer_format("x.npy", None, "frame") == "npy"  # frames (sum T, D), offsets in the sidecar
    with pytest.raises(OutputError, match="holds one array"):
        infer_format("x.npy", None, "both")
    with pytest.raises(OutputError, match="one level"):
        infer_format("x.parquet", None, "both")
    assert dir_target(tmp_path, "a/b.wav") == tmp_path / "a" / "b.wav.npz"
    # absolute and parent-relative names from lists stay inside the output folder
    assert dir_target(tmp_path, "/data/x.wav") == tmp_path / "data" / "x.wav.npz"
    assert dir_target(tmp_path, "../up/x.wav") == tmp_path / "_" / "up" / "x.wav.npz"
