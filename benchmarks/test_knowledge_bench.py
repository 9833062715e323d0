"""Knowledge-construction benchmarks; each prints a ratio against a baseline measured in the same run.

- Wikidata parsing: records/s of `process_chunk` (parse, apply the rules, write shards) against a bare
  `json.loads` loop over the same lines (goal >= 0.5), and the whole Wikidata phase with 2 workers
  against 1.
- Wikipedia: XML -> mentions MB/s of the page stage (cut, parse, clean, split, write) against a bare
  `xml.etree.ElementTree.iterparse` pass over the same file.
- Peak RSS of a whole build at 1x and 10x the input (the input replicated with renamed titles).

Input: the bundled sample world when it is there, else the test snippets, replicated to a useful size.
Run with `make bench` (or `pytest benchmarks/test_knowledge_bench.py --benchmark-only -s`).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "xlmk" / "sample_world" / "data"


def _sources() -> tuple[bytes, bytes]:
    """(wikidata dump bytes, one English pages-articles XML) of the sample world or the snippets."""
    wd = SAMPLE / "wikidata" / "wikidata-sample-all.json"
    en = SAMPLE / "wikipedia" / "enwiki-sample-pages-articles.xml"
    if wd.is_file() and en.is_file():
        return wd.read_bytes(), en.read_bytes()
    sys.path.insert(0, str(ROOT / "tests" / "knowledge"))
    import snippets

    return snippets.wikidata_dump(), snippets.wikipedia_dump()


def replicate_wikidata(dump: bytes, copies: int) -> bytes:
    """The entity lines `copies` times, QIDs shifted and sitelink titles renamed per copy."""
    lines = [ln for ln in dump.splitlines() if ln.strip() not in (b"[", b"]", b"")]
    out = []
    for k in range(copies):
        for ln in lines:
            e = json.loads(ln.rstrip(b","))
            if k and e["id"].startswith("Q"):
                e = json.loads(re.sub(r'"Q(\d+)"', lambda m: f'"Q{int(m.group(1)) + k * 10**9}"', json.dumps(e)))
                for link in e.get("sitelinks", {}).values():
                    link["title"] = f"{link['title']} k{k}"
            elif k:
                continue  # properties once
            out.append(json.dumps(e, ensure_ascii=False).encode())
    return b"[\n" + b",\n".join(out) + b"\n]\n"


def replicate_xml(dump: bytes, copies: int) -> bytes:
    """The pages `copies` times, titles, redirect targets and link targets renamed per copy."""
    text = dump.decode()
    head, rest = text.split("<page>", 1)
    pages = "<page>" + rest.rsplit("</mediawiki>", 1)[0]
    out = [head, pages]
    for k in range(1, copies):
        page = re.sub(r"<title>(.*?)</title>", lambda m: f"<title>{m.group(1)} k{k}</title>", pages)
        page = re.sub(r'<redirect title="(.*?)"', lambda m: f'<redirect title="{m.group(1)} k{k}"', page)
        page = re.sub(r"\[\[([^\]|#:]+)([\]|#])", lambda m: f"[[{m.group(1)} k{k}{m.group(2)}", page)
        out.append(page)
    out.append("</mediawiki>\n")
    return "".join(out).encode()


def pad_entity_line(line: bytes, target: int = 13_600) -> bytes:
    """An entity grown to about `target` bytes the way real ones are: labels, descriptions and
    aliases in many languages, and references on every statement (latest-all.json averages
    ~13.6 KB per entity; the sample world's entities are ~3.5 KB)."""
    e = json.loads(line.rstrip(b",\n"))
    ref = {"hash": "0" * 40, "snaks-order": ["P248"], "snaks": {"P248": [
        {"snaktype": "value", "property": "P248", "datatype": "wikibase-item",
         "datavalue": {"value": {"entity-type": "item", "numeric-id": 36578, "id": "Q36578"},
                       "type": "wikibase-entityid"}}]}}
    for statements in e.get("claims", {}).values():
        for st in statements:
            st.setdefault("references", []).append(ref)
    k = 0
    while len(json.dumps(e, ensure_ascii=False).encode()) < target and k < 400:
        code = f"x{k}"
        e.setdefault("labels", {})[code] = {"language": code, "value": f"label {k} of {e['id']}"}
        e.setdefault("descriptions", {})[code] = {"language": code, "value": f"a description in language {k}"}
        e.setdefault("aliases", {})[code] = [{"language": code, "value": f"alias {k}"}]
        k += 1
    return json.dumps(e, ensure_ascii=False).encode() + b",\n"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    wd, en = _sources()
    # Scale so that each pass takes long enough to time (about 5-10 MB).
    wd_copies = max(1, (8 << 20) // len(wd))
    en_copies = max(1, (6 << 20) // len(en))
    d = tmp_path_factory.mktemp("bench")
    (d / "wd.json").write_bytes(replicate_wikidata(wd, wd_copies))
    (d / "en.xml").write_bytes(replicate_xml(en, en_copies))
    return d


def _best(fn, rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


@pytest.mark.parametrize("shape", ["sample", "real-size"])
def test_wikidata_parsing_against_json_loads(benchmark, inputs, tmp_path, shape):
    from xlmk.knowledge.wikidata import process_chunk

    lines = (inputs / "wd.json").read_bytes().splitlines(keepends=True)[1:-1]
    if shape == "real-size":
        lines = [pad_entity_line(ln) for ln in lines[: max(200, len(lines) // 4)]]
    n = len(lines)

    def bare():
        for ln in lines:
            json.loads(ln.rstrip().rstrip(b","))

    job = {"index": 0, "path": "wd.json", "first_line": 1, "first_offset": 0, "lines": lines,
           "languages": None, "work_dir": str(tmp_path / "w"), "out_dir": str(tmp_path / "o")}
    process_chunk(job)  # warm: imports and first-use costs are not per-record costs
    base = _best(bare)
    benchmark.pedantic(process_chunk, args=(job,), rounds=3, iterations=1)
    ours = benchmark.stats.stats.min
    size = sum(map(len, lines)) / n
    print(f"\n[knowledge] wikidata ({shape}, {size / 1024:.1f} KB/entity): {n / ours:,.0f} records/s vs "
          f"json.loads {n / base:,.0f} records/s -> ratio {base / ours:.2f} (goal >= 0.5)")


def test_wikidata_phase_two_workers(benchmark, inputs, tmp_path):
    """The whole phase (read, cut, parse, write, merge titles) on ~400 MB of real-size entities
    (the input must dwarf the ~1 s it takes to spawn the workers)."""
    from xlmk.knowledge.build import build_knowledge
    from xlmk.knowledge.options import BuildOptions

    lines = (inputs / "wd.json").read_bytes().splitlines(keepends=True)[1:-1]
    padded = [pad_entity_line(ln) for ln in lines[:600]]
    body = b"".join(padded * max(1, (400 << 20) // sum(map(len, padded))))
    dump = tmp_path / "wd-big.json"
    dump.write_bytes(b"[\n" + body.rstrip(b",\n") + b"\n]\n")
    counter = iter(range(100))

    def run(workers: int) -> None:
        build_knowledge(BuildOptions(out=tmp_path / f"k{next(counter)}", wikidata=dump, workers=workers,
                                     shard_bytes=16 << 20))

    one = _best(lambda: run(1), rounds=2)
    benchmark.pedantic(lambda: run(2), rounds=2, iterations=1)
    two = benchmark.stats.stats.min
    mb = dump.stat().st_size / 1e6
    print(f"\n[knowledge] wikidata phase, {mb:.0f} MB: 1 worker {one:.2f}s ({mb / one:.1f} MB/s), "
          f"2 workers {two:.2f}s ({mb / two:.1f} MB/s) -> speed-up {one / two:.2f}x "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")


def test_wikipedia_pages_against_iterparse(benchmark, inputs, tmp_path):
    from xlmk.knowledge.dumps import Dump
    from xlmk.knowledge.wikipedia import PageStream, process_pages, siteinfo_from_xml

    path = inputs / "en.xml"
    mb = path.stat().st_size / 1e6

    def bare():
        for _, elem in ET.iterparse(path):
            elem.clear()

    def ours():
        with Dump(path) as dump:
            stream = PageStream(dump.stream, str(path))
            site = siteinfo_from_xml(stream.header, None, str(path))
            pages = list(stream.pages())
        process_pages({"index": 0, "path": str(path), "site": site, "pages": pages,
                       "work_dir": str(tmp_path), "description_chars": 2000})

    base = _best(bare)
    benchmark.pedantic(ours, rounds=3, iterations=1)
    t = benchmark.stats.stats.min
    print(f"\n[knowledge] wikipedia: {mb / t:.2f} MB/s to mentions vs iterparse {mb / base:.2f} MB/s "
          f"-> ratio {base / t:.3f}")


RSS_SCRIPT = """
import sys
from pathlib import Path
from xlmk.knowledge.build import build_knowledge
from xlmk.knowledge.options import BuildOptions, WikipediaInput
d, out = Path(sys.argv[1]), Path(sys.argv[2])
build_knowledge(BuildOptions(out=out, wikidata=d / "wd.json", wikipedia=[WikipediaInput(path=d / "en.xml")],
                             shard_bytes=256 << 10))  # several shards even at 1x
# VmHWM, not getrusage: ru_maxrss survives fork+exec and would report the (large) pytest parent.
print([line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")][0])
"""


def test_peak_rss_flat_with_input_size(benchmark, tmp_path):
    wd, en = _sources()
    base_copies = max(1, (1 << 20) // len(en))
    rss = {}
    for factor in (1, 10):
        d = tmp_path / f"x{factor}"
        d.mkdir()
        (d / "wd.json").write_bytes(replicate_wikidata(wd, base_copies * factor))
        (d / "en.xml").write_bytes(replicate_xml(en, base_copies * factor))
        size = sum(p.stat().st_size for p in d.iterdir()) / 1e6

        def run():
            out = subprocess.run([sys.executable, "-c", RSS_SCRIPT, str(d), str(tmp_path / f"k{factor}")],
                                 capture_output=True, text=True, check=True).stdout
            rss[factor] = (int(out.split()[-1]) / 1024, size)

        if factor == 10:
            benchmark.pedantic(run, rounds=1, iterations=1)
        else:
            run()
    (r1, s1), (r10, s10) = rss[1], rss[10]
    print(f"\n[knowledge] peak RSS: {r1:.0f} MiB at {s1:.1f} MB input, {r10:.0f} MiB at {s10:.1f} MB "
          f"-> ratio {r10 / r1:.2f} for 10x input")
