"""Code trust: a recipe's `kind: custom` targets run only when the user says so.

A `kind: custom` component names `package.module:attr`, which xlmk imports and calls: a recipe (or the
`recipe.yaml` inside a checkpoint someone sent you) can run any code that way, `os:system` included.
So, as `trust_remote_code` does in transformers, every stage refuses a recipe that names custom code
unless the user allows it, before any work:

- `--trust-custom-code` (Python: `trust_custom_code=True`) allows every target of the recipe;
- `--user-module FILE` (repeatable; a `.py` file or a package directory) imports that module from the
  path the user names and allows the targets inside it (`FILE's stem:attr`, `stem.sub:attr`).

While a stage runs, `config.import_target` checks each import against the same policy, so a target
reached some other way is refused too. Library code that builds components directly (no stage entry)
is the caller's own code and is not checked.
"""
from __future__ import annotations

import contextlib
import contextvars
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from xlmk.errors import ConfigError

FLAG = "--trust-custom-code"


@dataclass(frozen=True)
class Policy:
    trust_all: bool = False
    modules: frozenset[str] = frozenset()

    def allows(self, target: str) -> bool:
        module = target.split(":", 1)[0]
        return self.trust_all or any(module == m or module.startswith(m + ".") for m in self.modules)


_POLICY: contextvars.ContextVar[Policy | None] = contextvars.ContextVar("xlmk_trust_policy", default=None)


def custom_targets(obj: Any, prefix: str = "") -> list[tuple[str, str]]:
    """(key, target) of every `kind: custom` component in a recipe (a pydantic model or plain data)."""
    from pydantic import BaseModel

    found: list[tuple[str, str]] = []
    if isinstance(obj, BaseModel):
        items = [(k, getattr(obj, k)) for k in type(obj).model_fields]
        kind, target = getattr(obj, "kind", None), getattr(obj, "target", None)
    elif isinstance(obj, dict):
        items = list(obj.items())
        kind, target = obj.get("kind"), obj.get("target")
    elif isinstance(obj, (list, tuple)):
        return [t for i, x in enumerate(obj) for t in custom_targets(x, f"{prefix}{i}.")]
    else:
        return found
    if kind == "custom" and isinstance(target, str):
        found.append((f"{prefix}target", target))
    for key, value in items:
        if key != "target":
            found += custom_targets(value, f"{prefix}{key}.")
    return found


def load_user_modules(paths: Iterable[str | Path]) -> frozenset[str]:
    """Import each `.py` file or package directory the user names; returns the module names."""
    names = []
    for raw in paths:
        path = Path(raw).expanduser()
        init = path / "__init__.py" if path.is_dir() else path
        if not init.is_file() or init.suffix != ".py":
            raise ConfigError(f"--user-module {raw}: not a .py file or a package directory with __init__.py")
        name = path.name if path.is_dir() else path.stem
        if not name.isidentifier():
            raise ConfigError(f"--user-module {raw}: {name!r} is not a valid module name")
        loaded = sys.modules.get(name)
        if loaded is None or Path(getattr(loaded, "__file__", "") or "").resolve() != init.resolve():
            spec = importlib.util.spec_from_file_location(
                name, init, submodule_search_locations=[str(path)] if path.is_dir() else None)
            if spec is None or spec.loader is None:
                raise ConfigError(f"--user-module {raw}: cannot be imported")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except Exception as exc:  # noqa: BLE001 - the user's module failed; say which and why
                del sys.modules[name]
                raise ConfigError(f"--user-module {raw}: importing it failed: {type(exc).__name__}: {exc}") from exc
        names.append(name)
    return frozenset(names)


def check(recipe: Any, *, trust_custom_code: bool = False, user_modules: Iterable[str | Path] = (),
          source: str = "the recipe") -> Policy:
    """The policy for one run; refuses (naming each key, its target and the flag) what it does not allow."""
    policy = Policy(bool(trust_custom_code), load_user_modules(user_modules))
    refused = [(k, t) for k, t in custom_targets(recipe) if not policy.allows(t)]
    if refused:
        listed = ", ".join(f"{k} = {t!r}" for k, t in refused)
        raise ConfigError(f"{source} names custom code that xlmk would import and run: {listed}. "
                          f"Pass {FLAG} (Python: trust_custom_code=True) if you trust it, or --user-module FILE "
                          "(Python: user_modules=[FILE]) naming the file of its module")
    return policy


@contextlib.contextmanager
def enforced(policy: Policy) -> Iterator[Policy]:
    """Check every `import_target` inside the block against `policy`."""
    token = _POLICY.set(policy)
    try:
        yield policy
    finally:
        _POLICY.reset(token)


def check_import(target: str, where: str) -> None:
    """Called by `config.import_target`: refuse a target the running stage's policy does not allow."""
    policy = _POLICY.get()
    if policy is not None and not policy.allows(target):
        raise ConfigError(f"{where}: {target!r} is custom code; pass {FLAG} (Python: trust_custom_code=True) "
                          "to run it, or --user-module FILE naming its module's file")
