"""Strict configuration: the StrictModel base, YAML recipes with `extends:`, dotted `--set` overrides.

A recipe is a YAML file under `registry/recipes/<stage>/` (or any path). `extends: NAME` builds on
another recipe of the same stage (or a path relative to the file); mappings merge key by key, anything
else is replaced. Every error names the file that set the key, the key path and, for a misspelt key or
kind, the nearest valid names: a silently dropped key is the bug this module exists to prevent.
"""
from __future__ import annotations

import copy
import difflib
import importlib
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Iterable, Literal, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from xlmk.errors import ConfigError

M = TypeVar("M", bound=BaseModel)
BOOL_NOT_NUMBER = "bool_not_number"  # the error type of `size: true` where a number belongs

# The recipe class of each stage, imported only when a recipe of that stage is loaded.
STAGES: dict[str, str] = {
    "pretrain": "xlmk.pretrain.recipe:PretrainRecipe",
    "probe": "xlmk.probe.recipe:ProbeRecipe",
    "finetune": "xlmk.downstream.recipe:FinetuneRecipe",
}


# value ranges shared by recipes; the schema refuses values outside them, saying the range
Seed = Annotated[int, Field(ge=0, description="A random seed (0 or more).")]
Beta = Annotated[float, Field(ge=0, lt=1, description="An Adam beta, in [0, 1).")]


class StrictModel(BaseModel):
    """Base of every config: unknown keys are errors, assignments are validated, and a boolean is not
    a number (pydantic would read `size: true` as 1)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_for_number(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, value in data.items():
                field = cls.model_fields.get(name) if isinstance(name, str) else None
                if isinstance(value, bool) and field is not None:
                    alts = _unwrap(field.annotation)
                    if bool not in alts and any(a in (int, float) for a in alts):
                        raise PydanticCustomError(BOOL_NOT_NUMBER, "expected a number, got the boolean {value}",
                                                  {"field": name, "value": str(value).lower()})
        return data


# ---------------------------------------------------------------- locating files
def registry_dir() -> Path:
    """`registry/` of a source checkout, or its copy `xlmk/_registry` inside an installed wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_registry", here.parent / "registry"):
        if candidate.is_dir():
            return candidate
    raise ConfigError(f"no registry directory found beside {here}")


def available_recipes(stage: str) -> list[str]:
    folder = registry_dir() / "recipes" / stage
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def recipe_path(stage: str, name_or_path: str | Path, *, relative_to: Path | None = None) -> Path:
    """Resolve a recipe by name (`registry/recipes/<stage>/<name>.yaml`) or by path."""
    _check_stage(stage)
    text = str(name_or_path)
    candidates = []
    is_path = text.endswith((".yaml", ".yml")) or "/" in text or "\\" in text
    if is_path:
        p = Path(text).expanduser()
        if not p.is_absolute() and relative_to is not None:
            candidates.append(relative_to / p)
        candidates.append(p)
    else:
        candidates.append(registry_dir() / "recipes" / stage / f"{text}.yaml")
    for c in candidates:
        if c.is_file():
            return c
    if is_path:  # a path that is not there is a missing file, not an unknown recipe name
        kind = "a directory, not a recipe file" if candidates[0].is_dir() else "no such file"
        raise ConfigError(f"{stage} recipe file {text!r}: {kind} ({candidates[0]})")
    names = available_recipes(stage)
    raise ConfigError(f"no {stage} recipe {text!r}{_suggest(text, names)} (shipped: {', '.join(names) or 'none'})")


def table_path(name: str) -> Path:
    """A data table shipped in `registry/tables/` (languages per task, templates, …)."""
    p = registry_dir() / "tables" / (name if name.endswith((".yaml", ".yml")) else f"{name}.yaml")
    if not p.is_file():
        names = sorted(q.stem for q in (registry_dir() / "tables").glob("*.yaml"))
        raise ConfigError(f"no table {name!r}{_suggest(name, names)}")
    return p


def load_table(name: str) -> Any:
    return read_yaml(table_path(name))


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.safe_load, except that a key given twice in one mapping is an error (not: the last one wins)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, typing.Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first on line {seen[key]})", key_node.start_mark)
            if isinstance(key, typing.Hashable):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.load(fh, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


# ---------------------------------------------------------------- merging with provenance
def _merge(base: dict, over: dict, origins: dict, source: str, prefix: tuple = ()) -> dict:
    out = dict(base)
    for key, value in over.items():
        path = prefix + (key,)
        if isinstance(value, dict) and isinstance(out.get(key), dict) and "kind" not in value:
            out[key] = _merge(out[key], value, origins, source, path)
        elif isinstance(value, dict) and isinstance(out.get(key), dict) and value.get("kind") == out[key].get("kind"):
            out[key] = _merge(out[key], value, origins, source, path)
        else:
            # a new `kind` replaces the whole component: fields of the old kind would not fit it
            out[key] = copy.deepcopy(value)
            _record(origins, path, value, source)
    return out


def _record(origins: dict, path: tuple, value: Any, source: str) -> None:
    origins[path] = source
    if isinstance(value, dict):
        for k, v in value.items():
            _record(origins, path + (k,), v, source)


def load_raw(stage: str, name_or_path: str | Path, *, _chain: tuple[Path, ...] = (), _rel: Path | None = None):
    """The merged mapping of a recipe and everything it extends, and the file that set each key."""
    path = recipe_path(stage, name_or_path, relative_to=_rel)
    if path.resolve() in _chain:
        cycle = " -> ".join(str(p) for p in _chain + (path.resolve(),))
        raise ConfigError(f"{path}: `extends` makes a cycle: {cycle}")
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a recipe must be a mapping, got {type(data).__name__}")
    parent = data.pop("extends", None)
    origins: dict = {}
    merged: dict = {}
    if parent is not None:
        try:
            merged, origins = load_raw(stage, parent, _chain=_chain + (path.resolve(),), _rel=path.parent)
        except ConfigError as exc:
            if str(exc).startswith(f"{path}:"):
                raise
            raise ConfigError(f"{path}: extends: {exc}") from None
    merged = _merge(merged, data, origins, str(path))
    # a child recipe is its own recipe: its name never comes from the parent
    merged["name"] = data.get("name", path.stem)
    return merged, origins


# ---------------------------------------------------------------- overrides
def parse_override(text: str) -> tuple[tuple[str, ...], str]:
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY.PATH=VALUE, e.g. --set optim.lr=1e-4")
    key, value = text.split("=", 1)
    parts = tuple(p.strip() for p in key.strip().split("."))
    if not any(parts):
        raise ConfigError(f"--set {text!r}: empty key")
    if not all(parts):
        raise ConfigError(f"--set {text!r}: empty part in the key path {key.strip()!r} (e.g. `a..b` or a "
                          "leading or trailing dot)")
    return parts, value


def apply_overrides(data: dict, origins: dict, overrides: Iterable[str], model: type[BaseModel]) -> dict:
    data = copy.deepcopy(data)
    for text in overrides:
        parts, raw = parse_override(text)
        annotation = _annotation_at(model, data, parts)
        value: Any = raw if _is_str_type(annotation) else _parse_scalar(raw, text)
        node = data
        for i, part in enumerate(parts[:-1]):
            nxt = node.get(part) if isinstance(node, dict) else None
            if nxt is None and isinstance(node, dict) and part in node:
                raise ConfigError(f"--set {text}: {'.'.join(parts[: i + 1])} is null in this recipe (switched off); "
                                  f"switch it on first, e.g. --set {'.'.join(parts[: i + 1])}={{}}")
            if nxt is None:
                nxt = {}
                node[part] = nxt
            elif not isinstance(nxt, dict):
                raise ConfigError(f"--set {text}: {'.'.join(parts[: i + 1])} is a value, not a section")
            node = nxt
        if parts[-1] == "kind" and node.get("kind") not in (None, value):
            node.clear()  # the other fields belonged to the old kind; set the new kind's fields after it
        if isinstance(value, dict) and isinstance(node.get(parts[-1]), dict) and "kind" not in value:
            node[parts[-1]] = {**node[parts[-1]], **value}
        else:
            node[parts[-1]] = value
        _record(origins, parts, value, f"--set {text}")
    return data


def _parse_scalar(raw: str, text: str) -> Any:
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        return raw
    # YAML 1.1 reads 1e-4 as a string; numbers written that way are meant as numbers
    if isinstance(value, str):
        try:
            return float(value) if any(c in value.lower() for c in ".e") else int(value)
        except ValueError:
            return value
    return value


# ---------------------------------------------------------------- validation with good errors
def validate(model: type[M], data: dict, origins: dict | None = None, source: str = "<recipe>") -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, model, data, origins or {}, source)) from None


def format_validation_error(exc: ValidationError, model: type[BaseModel], data: Any, origins: dict, source: str) -> str:
    lines = []
    for err in exc.errors():
        typ = err["type"]
        loc = tuple(err["loc"]) + ((err["ctx"]["field"],) if typ == BOOL_NOT_NUMBER else ())
        key_path = _key_path(model, loc)
        probe = key_path + ("kind",) if typ.startswith("union_tag") else key_path
        where = _origin(origins, probe) or source
        dotted = ".".join(str(p) for p in key_path) or "<top>"
        if typ == "extra_forbidden":
            valid = _field_names(_model_at(model, loc[:-1]))
            msg = f"unknown key {dotted!r}{_suggest(str(loc[-1]), valid)}"
            if valid:
                msg += f"; valid keys here: {', '.join(valid)}"
        elif typ in ("union_tag_invalid", "union_tag_not_found"):
            ctx = err.get("ctx", {})
            tags = [t.strip().strip("'\"") for t in str(ctx.get("expected_tags", "")).split(",") if t.strip()]
            tag = str(ctx.get("tag", ""))
            if typ == "union_tag_not_found":
                msg = f"{dotted}: missing `kind` (one of: {', '.join(tags)})"
            else:
                msg = f"{dotted}: unknown kind {tag!r}{_suggest(tag, tags)} (known kinds: {', '.join(tags)})"
        elif typ == BOOL_NOT_NUMBER:
            msg = f"{dotted}: {err['msg']}"
        elif typ == "missing":
            msg = f"missing required key {dotted!r}"
        else:
            msg = f"{dotted}: {err['msg']}" + (f" (got {err['input']!r})" if not isinstance(err.get("input"), dict) else "")
        lines.append(f"{where}: {msg}")
    return "\n".join(lines)


def _origin(origins: dict, key_path: tuple) -> str | None:
    for n in range(len(key_path), 0, -1):
        if key_path[:n] in origins:
            return origins[key_path[:n]]
    return None


def _suggest(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


def _field_names(model: Any) -> list[str]:
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete alternatives of an annotation (Optional, Annotated and unions flattened)."""
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        out = []
        for a in get_args(annotation):
            if a is not type(None):
                out.extend(_unwrap(a))
        return out
    return [annotation]


def _kind_of(member: Any) -> str | None:
    if isinstance(member, type) and issubclass(member, BaseModel) and "kind" in member.model_fields:
        ann = member.model_fields["kind"].annotation
        if get_origin(ann) is Literal:
            return get_args(ann)[0]
    return None


def _step(annotation: Any, part: Any) -> tuple[Any, bool]:
    """Follow one loc element. Returns (next annotation, whether `part` was a union tag)."""
    alts = _unwrap(annotation)
    kinds = {k: m for m in alts if (k := _kind_of(m)) is not None}
    if len(kinds) > 1 and part in kinds:
        return kinds[part], True
    for alt in alts:
        if isinstance(alt, type) and issubclass(alt, BaseModel) and part in alt.model_fields:
            return alt.model_fields[part].annotation, False
        origin = get_origin(alt)
        if origin in (dict, typing.Dict) and not isinstance(part, int):
            return get_args(alt)[1] if get_args(alt) else Any, False
        if origin in (list, tuple, typing.List) and isinstance(part, int):
            return get_args(alt)[0] if get_args(alt) else Any, False
    return Any, False


def _model_at(model: Any, loc: tuple) -> Any:
    ann: Any = model
    for part in loc:
        ann, _ = _step(ann, part)
    alts = [a for a in _unwrap(ann) if isinstance(a, type) and issubclass(a, BaseModel)]
    return alts[0] if len(alts) == 1 else None


def _key_path(model: Any, loc: tuple) -> tuple:
    """The loc with discriminator tags (which pydantic inserts) removed: the keys a user wrote."""
    ann: Any = model
    out = []
    for part in loc:
        ann, was_tag = _step(ann, part)
        if not was_tag:
            out.append(part)
    return tuple(out)


def _annotation_at(model: type[BaseModel], data: dict, parts: tuple[str, ...]) -> Any:
    ann: Any = model
    node: Any = data
    for part in parts:
        kind = node.get("kind") if isinstance(node, dict) else None
        alts = _unwrap(ann)
        kinds = {k: m for m in alts if (k := _kind_of(m)) is not None}
        if kind in kinds:
            ann = kinds[kind]
        ann, _ = _step(ann, part)
        node = node.get(part) if isinstance(node, dict) else None
    return ann


def _is_str_type(annotation: Any) -> bool:
    alts = _unwrap(annotation)
    return bool(alts) and all(a is str or (get_origin(a) is Literal and all(isinstance(v, str) for v in get_args(a))) for a in alts)


# ---------------------------------------------------------------- public entry points
def _check_stage(stage: str) -> None:
    if stage not in STAGES:
        raise ConfigError(f"unknown stage {stage!r}{_suggest(stage, STAGES)} (stages: {', '.join(STAGES)})")


def stage_model(stage: str) -> type[BaseModel]:
    _check_stage(stage)
    module, attr = STAGES[stage].split(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except ModuleNotFoundError as exc:
        raise ConfigError(f"the {stage} stage is not available in this version of xlmk ({exc.name} missing)") from None


def load_recipe(stage: str, name_or_path: str | Path, overrides: Iterable[str] = ()) -> Any:
    """Load, merge (`extends:`), override (`--set`) and validate a recipe of `stage`."""
    model = stage_model(stage)
    data, origins = load_raw(stage, name_or_path)
    data = apply_overrides(data, origins, overrides, model)
    return validate(model, data, origins, source=str(recipe_path(stage, name_or_path)))


def recipe_to_yaml(recipe: BaseModel) -> str:
    return yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def import_target(target: str, *, where: str = "target") -> Any:
    """Import `package.module:attr` (user code behind a `kind: custom` component)."""
    from xlmk.trust import check_import

    if ":" not in target:
        raise ConfigError(f"{where}: {target!r} must look like 'package.module:attr'")
    check_import(target, where)  # a stage refuses custom code the user did not allow (xlmk/trust.py)
    module, attr = target.split(":", 1)
    try:
        obj = importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(f"{where}: cannot import module {module!r}: {exc}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            raise ConfigError(f"{where}: module {module!r} has no attribute {part!r}{_suggest(part, names)}")
        obj = getattr(obj, part)
    return obj
