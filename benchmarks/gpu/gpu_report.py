"""The GPU check's outputs: gpu_check.json (every figure) and gpu_check.md (the same as tables), and the
paper-scale projection computed from the measured engine throughput.

Projection (a projection, not a measurement):
    tokens_per_step = effective_size x tokens_per_example
    step_s          = tokens_per_step / (gpus x engine_tokens_per_s_per_gpu x ddp_scaling)
    wall            = max_steps x step_s
with the recipe's effective size (8192) and max_steps (100k), the paper's 16 GPUs, the engine's tokens/s
of one GPU, and the DDP scaling efficiency when the check measured one (else 1.0, said so). The upper
bound puts every sequence at its maximum length (MLM 512, four knowledge sequences of 256 per example).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from xlmk.io import atomic_write_text

PAPER_GPUS = 16
HIDDEN_IN_MD = {"traceback"}


def projection(results: dict[str, dict]) -> dict[str, Any]:
    p = results.get("pretrain") or {}
    if p.get("status") != "ok" or not p.get("engine_tokens_per_s"):
        return {"computed": False, "reason": "the pretrain section did not measure the engine"}
    ddp = results.get("ddp") or {}
    scaling = ddp.get("scaling_efficiency") if ddp.get("status") == "ok" else None
    eff, steps, tps = p["recipe_effective_size"], p["recipe_max_steps"], p["engine_tokens_per_s"]
    out: dict[str, Any] = {"computed": True, "gpus": PAPER_GPUS, "effective_size": eff, "max_steps": steps,
                           "engine_tokens_per_s_per_gpu": tps, "ddp_scaling": scaling or 1.0,
                           "ddp_scaling_source": "measured" if scaling else "assumed 1.0 (no multi-GPU measurement)"}
    for label, per_example in (("measured_lengths", p["tokens_per_example"]), ("max_lengths", p["tokens_per_example_max"])):
        step_s = eff * per_example / (PAPER_GPUS * tps * (scaling or 1.0))
        out[label] = {"tokens_per_example": round(per_example, 1), "step_s": round(step_s, 2),
                      "wall_hours": round(steps * step_s / 3600, 1), "wall_days": round(steps * step_s / 86400, 2)}
    return out


def projection_text(proj: dict[str, Any]) -> str:
    if not proj.get("computed"):
        return f"[gpu-check] paper-scale projection: not computed ({proj.get('reason')})"
    m, u = proj["measured_lengths"], proj["max_lengths"]
    return (f"[gpu-check] paper-scale projection ({proj['gpus']} GPUs x {proj['engine_tokens_per_s_per_gpu']:,.0f} tok/s, "
            f"scaling {proj['ddp_scaling']:.2f} {proj['ddp_scaling_source']}, batch {proj['effective_size']}, "
            f"{proj['max_steps']:,} steps): {m['step_s']} s/step, {m['wall_hours']} h at the measured lengths "
            f"({m['tokens_per_example']} tokens/example); at most {u['step_s']} s/step, {u['wall_hours']} h with "
            f"every sequence at its maximum length ({u['tokens_per_example']} tokens/example)")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    if isinstance(value, (dict, list)):
        return "`" + json.dumps(value, separators=(", ", ": "))[:300] + "`"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _rows(prefix: str, d: dict[str, Any]) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for k, v in d.items():
        if k in HIDDEN_IN_MD:
            continue
        if isinstance(v, dict) and v and all(not isinstance(x, (dict, list)) for x in v.values()):
            rows += [(f"{prefix}{k}.{kk}", vv) for kk, vv in v.items()]
        else:
            rows.append((f"{prefix}{k}", v))
    return rows


def markdown(doc: dict[str, Any]) -> str:
    env = (doc["sections"].get("env") or {})
    title = "GPU check (dry run on CPU: sizes are tiny, figures mean nothing)" if doc.get("dry") else "GPU check"
    lines = [f"# {title}", "",
             f"{env.get('gpu') or 'no GPU'} · torch {env.get('torch')} · CUDA {env.get('cuda')} · "
             f"transformers {env.get('transformers')} · {env.get('date_utc')} · commit {env.get('git_commit')} · "
             f"{doc.get('total_s')} s of a {doc.get('budget_s')} s budget", ""]
    for name, entry in doc["sections"].items():
        lines += [f"## {name}: {entry.get('status')}", "", "| figure | value |", "|---|---|"]
        lines += [f"| {k} | {_cell(v)} |" for k, v in _rows("", entry)]
        lines.append("")
    proj = doc.get("projection")
    if proj is not None:
        lines += ["## paper-scale projection (computed from the measured step time, not measured)", "",
                  projection_text(proj).removeprefix("[gpu-check] "), ""]
    return "\n".join(lines)


def write(out: Path, doc: dict[str, Any]) -> None:
    atomic_write_text(out / "gpu_check.json", json.dumps(doc, indent=2, default=str) + "\n")
    atomic_write_text(out / "gpu_check.md", markdown(doc))
