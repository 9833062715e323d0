"""`xlmk knowledge build` and `xlmk knowledge stats` through typer's test runner."""
import json

from typer.testing import CliRunner

from xlmk.cli.knowledge import app

runner = CliRunner()


def test_build_then_stats(tmp_path, dumps):
    wd, en = dumps("bz2")
    out = tmp_path / "k"
    result = runner.invoke(app, ["build", "--wikidata", str(wd), "--wikipedia", f"en={en}", "--out", str(out),
                                 "--languages", "en,de", "-j", "1"])
    assert result.exit_code == 0, result.output
    assert "mentions" in result.output and "wrote" in result.output
    result = runner.invoke(app, ["stats", str(out), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["tables"]["mentions"] == {"rows": 10, "files": 1, "by_lang": {"en": 10}}
    assert info["tables"]["titles"]["by_lang"] == {"de": 2, "en": 6}
    assert info["links"]["en"]["unresolved"] == 4
    table = runner.invoke(app, ["stats", str(out)])
    assert table.exit_code == 0 and "descriptions" in table.output and "links unresolved" in table.output


def test_stats_finds_a_missing_or_changed_shard(tmp_path, dumps):
    from xlmk.errors import DataError

    wd, en = dumps()
    out = tmp_path / "k"
    assert runner.invoke(app, ["build", "--wikidata", str(wd), "--wikipedia", str(en), "-o", str(out)]).exit_code == 0
    (out / "triples" / "part-00000.parquet").unlink()
    result = runner.invoke(app, ["stats", str(out)])
    assert isinstance(result.exception, DataError) and "part-00000.parquet" in str(result.exception)
    result = runner.invoke(app, ["stats", str(tmp_path)])
    assert isinstance(result.exception, DataError) and "manifest.json" in str(result.exception)


def test_help_lists_both_commands_and_imports_nothing_heavy():
    import subprocess
    import sys

    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "build" in result.output and "stats" in result.output
    code = ("import sys, xlmk.cli.knowledge; "
            "print(sorted(m for m in ('pyarrow', 'mwparserfromhell', 'torch', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
