"""The sample world regenerates byte for byte, its manifest is right, and it stays small."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys

from xlmk.sample_world import DATA_DIR, LANGUAGES, generate


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(root) -> set:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_regenerating_gives_the_committed_bytes(tmp_path, sample_world):
    generate.main(["--out", str(tmp_path)])
    manifest = json.loads((sample_world / "MANIFEST.json").read_text(encoding="utf-8"))
    fresh = json.loads((tmp_path / "MANIFEST.json").read_text(encoding="utf-8"))
    assert fresh == manifest
    assert _files(tmp_path) == set(manifest) | {"MANIFEST.json"}
    for rel, digest in manifest.items():
        assert _sha(tmp_path / rel) == digest, rel
        assert _sha(sample_world / rel) == digest, f"committed {rel} differs from the generator's output"


def test_committed_files_are_exactly_the_manifest(sample_world):
    manifest = json.loads((sample_world / "MANIFEST.json").read_text(encoding="utf-8"))
    assert _files(sample_world) == set(manifest) | {"MANIFEST.json"}
    assert "expected_knowledge.json" in manifest
    for lang in LANGUAGES:
        assert f"wikipedia/{lang}wiki-sample-pages-articles.xml" in manifest
        assert f"corpus/{lang}.txt" in manifest


def test_total_size_is_under_ten_megabytes(sample_world):
    total = sum(p.stat().st_size for p in sample_world.rglob("*") if p.is_file())
    assert total < 10_000_000, total


def test_generator_does_not_import_torch():
    code = ("import sys, xlmk.sample_world.generate as g, xlmk.sample_world._tasks, xlmk.sample_world._mediawiki;"
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_data_dir_is_the_package_data():
    assert DATA_DIR.name == "data" and (DATA_DIR / "MANIFEST.json").is_file()
    assert LANGUAGES == ("en", "de", "es", "ar", "hi", "vi", "zh")
