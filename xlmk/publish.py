"""Publishing a model directory to the Hugging Face Hub (`xlmk push`).

The model card is rewritten first (with the result rows found beside the model and in `--results`),
so what is uploaded says what the model is. Without a token, or offline, nothing is sent and the
refusal says why and what to do; the card is written either way.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from xlmk.errors import ConfigError, XlmkError

IGNORE = [".*", "*.tmp", "trainer_state/*", "checkpoints/*"]


def _offline() -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except ImportError:
        return False


def files_to_upload(model_dir: Path) -> list[str]:
    import fnmatch

    names = sorted(str(p.relative_to(model_dir)) for p in model_dir.rglob("*") if p.is_file())
    return [n for n in names if not any(fnmatch.fnmatch(n, pat) for pat in IGNORE)]


def push(model_dir: str | Path, repo: str, *, private: bool = False, token: str | None = None,
         results: Iterable[str | Path] = (), dry_run: bool = False) -> dict:
    """Write the model card, then upload the directory to `repo` (created if missing). Returns what was done."""
    from xlmk.modelcard import write_card
    from xlmk.modeling import check_model_location

    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        check_model_location(model_dir)  # the error names the path
        raise ConfigError(f"--model {model_dir}: not a local directory")
    check_model_location(model_dir)
    if not repo or repo.count("/") > 1 or repo.startswith("/"):
        raise ConfigError(f"--repo {repo!r}: expected NAME or OWNER/NAME")
    card = write_card(model_dir, search=results, repo=repo)
    files = files_to_upload(model_dir)
    done = {"card": str(card), "files": files, "repo": repo, "url": None}
    if dry_run:
        return done
    if _offline():
        raise XlmkError(f"offline (HF_HUB_OFFLINE is set): nothing was uploaded. The model card is at {card}; "
                        "unset HF_HUB_OFFLINE on a machine with network access and run `xlmk push` again")
    from huggingface_hub import HfApi, get_token

    token = token or get_token()
    if not token:
        raise XlmkError(f"no Hugging Face token: nothing was uploaded. Run `hf auth login` or set HF_TOKEN, then "
                        f"`xlmk push` again (the model card is at {card})")
    api = HfApi(token=token)
    try:
        url = api.create_repo(repo, private=private, exist_ok=True)
        api.upload_folder(folder_path=str(model_dir), repo_id=repo, ignore_patterns=IGNORE,
                          commit_message=f"Upload {model_dir.name} with xlmk")
    except Exception as exc:  # network, authentication or permission: say which, keep the card
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise XlmkError(f"upload to {repo} failed ({type(exc).__name__}): {first}. Nothing is lost: the model "
                        f"card is at {card}") from None
    done["url"] = str(url)
    return done
