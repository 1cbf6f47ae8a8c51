"""Loading a recipe: a YAML file (or the defaults) plus ``key=value`` overrides, typed by the fields.

A recipe file is a YAML mapping whose keys are the dataclass fields; nested specs are nested mappings.
Overrides use dotted keys: ``judge.model.dtype=bfloat16``, ``trainer.learning_rate=1e-6``, ``limit=20``.
An unknown key is an error naming the closest valid key; a key that was renamed (``RENAMED``) says what
it is called now; a value out of range (``checks.py``) names the file and the dotted key.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml

from rmr1_cli.config import recipes
from rmr1_cli.config.checks import FieldError
from rmr1_cli.errors import ConfigError

# Keys a recipe class used to have: old dotted prefix -> its new place (a judge is one JudgeSpec block).
_JUDGE_TOP = {"model": "judge.model", "generation": "judge.generation"}
RENAMED: dict[type, dict[str, str]] = {
    recipes.JudgeRecipe: _JUDGE_TOP,
    recipes.ServeRecipe: _JUDGE_TOP,
    recipes.EvalRecipe: {
        "model": "judge.model (or scalar_model with kind=scalar)",
        "generation": "judge.generation",
    },
    recipes.GRPORecipe: {
        "reward.judge_model": "reward.judge.model",
        "reward.generation": "reward.judge.generation",
        "eval_second_judge.judge": "eval_second_judge",
    },
    recipes.PolicyEvalRecipe: {"judge.judge": "judge", "second_judge.judge": "second_judge"},
    recipes.RefineRecipe: {"judge_model": "judge.model", "judge_generation": "judge.generation"},
}


def load_recipe(path: str | Path | None, recipe_cls: type, overrides: list[str] | tuple[str, ...] = ()):
    """Read a YAML recipe (or start from the defaults when ``path`` is None) and apply overrides.

    >>> r = load_recipe(None, recipes.JudgeRecipe, ["limit=5", "judge.model.name_or_path=m"])
    >>> (r.limit, r.judge.model.name_or_path)
    (5, 'm')
    """
    raw: dict[str, Any] = {}
    source = "<defaults>"
    if path is not None:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{path}: recipe file not found") from None
        except IsADirectoryError:
            raise ConfigError(f"{path}: a folder, not a recipe file (give a .yaml file)") from None
        except UnicodeDecodeError as err:
            raise ConfigError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
        except OSError as err:
            raise ConfigError(f"{path}: cannot read the recipe ({err.strerror or err})") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: a recipe must be a YAML mapping of keys to values")
        raw = loaded
    for item in overrides:
        _apply_override(raw, item, recipe_cls)
    return build(recipe_cls, raw, source)


def build(cls: type, data: dict[str, Any], where: str, path: str = "", *, renamed: dict | None = None):
    """Build dataclass ``cls`` from a mapping, converting values to the declared field types.

    ``where`` is the file (or ``<defaults>``), ``path`` the dotted key of ``cls`` inside the recipe; a
    value out of range (``FieldError`` from the class's own check) is reported with both.
    """
    if renamed is None:
        renamed = RENAMED.get(cls, {})
    if not isinstance(data, dict):
        raise ConfigError(
            f"{_at(where, path)}: expected a mapping for {cls.__name__}, got {type(data).__name__}"
        )
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        dotted = f"{path}.{key}" if path else key
        if key not in fields:
            if dotted in renamed:
                raise ConfigError(f"{where}: {_renamed(dotted, renamed[dotted])}")
            raise ConfigError(f"{_at(where, path)}: unknown key '{key}'{suggest(key, list(fields))}")
        nested = _dataclass_in(hints[key])
        if nested is not None and isinstance(value, dict):
            kwargs[key] = build(nested, value, where, dotted, renamed=renamed)
        else:
            kwargs[key] = coerce(value, hints[key], where, dotted)
        default = fields[key].default_factory
        if isinstance(kwargs[key], dict) and default is not dataclasses.MISSING:
            # a free-form mapping (trl settings) is laid over the stage's defaults, not instead of them
            kwargs[key] = {**default(), **kwargs[key]}
    try:
        return cls(**kwargs)
    except FieldError as exc:
        raise ConfigError(f"{where}: {path + '.' if path else ''}{exc.key}: {exc.detail}") from None


def coerce(value: Any, annotation: Any, where: str, path: str = "") -> Any:
    """Convert ``value`` (from YAML or a command-line string) to ``annotation``.

    >>> coerce("1e-5", float, "x"), coerce("true", bool, "x"), coerce("null", int | None, "x")
    (1e-05, True, None)
    >>> coerce("a,b", list[str], "x")
    ['a', 'b']
    """
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    at = _at(where, path)
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("null", "none", "~")):
            if type(None) in args:
                return None
        errors = []
        for member in args:
            if member is type(None):
                continue
            try:
                return coerce(value, member, where, path)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{at}: cannot be null")
    if origin is Literal:
        if value in args:
            return value
        choices = ", ".join(repr(a) for a in args)
        raise ConfigError(
            f"{at}: {value!r} is not one of {choices}{suggest(str(value), [str(a) for a in args])}"
        )
    if dataclasses.is_dataclass(annotation):
        return build(annotation, value, where, path)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "no", "off", "0"):
            return False
        raise ConfigError(f"{at}: expected true or false, got {value!r}")
    if annotation in (int, float):
        return _number(value, annotation, at)
    if annotation is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{at}: expected a string, got {type(value).__name__}")
        return str(value)
    if origin is list:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise ConfigError(f"{at}: expected a list, got {value!r}")
        return [coerce(v, args[0], where, f"{path}[{i}]") if args else v for i, v in enumerate(value)]
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{at}: expected a mapping, got {value!r}")
        return dict(value)
    return value


def _number(value: Any, annotation: type, at: str) -> int | float:
    if isinstance(value, bool):
        raise ConfigError(f"{at}: expected a number, got {value!r}")
    try:
        if annotation is float:
            number = float(value)
        else:
            number = int(str(value), 0) if isinstance(value, str) else value
    except (TypeError, ValueError):
        raise ConfigError(f"{at}: expected {annotation.__name__}, got {value!r}") from None
    if annotation is int and (not isinstance(number, int) or isinstance(number, bool)):
        if isinstance(number, float) and number.is_integer():
            return int(number)
        raise ConfigError(f"{at}: expected an integer, got {value!r}")
    return number


def to_dict(recipe: Any) -> dict[str, Any]:
    """The resolved recipe as plain data (what each stage writes to ``recipe.yaml``)."""
    return dataclasses.asdict(recipe)


def dump_yaml(recipe: Any) -> str:
    """The resolved recipe as YAML, credentials masked (``redaction.py``)."""
    from rmr1_cli.redaction import redact

    return yaml.safe_dump(redact(to_dict(recipe)), sort_keys=False, allow_unicode=True)


def suggest(key: str, names: list[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest name, else the list of valid names."""
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else f" (valid keys: {', '.join(names)})"


def _apply_override(raw: dict[str, Any], item: str, recipe_cls: type) -> None:
    """Set ``a.b.c=value`` in the raw mapping; ``build`` converts it to the field's declared type.

    Below a free-form mapping (``trainer.*``) there is no declared type, so the value is read as a
    YAML scalar (numbers and booleans arrive typed) and trl's own config class checks it later.
    """
    if "=" not in item:
        raise ConfigError(f"override '{item}' must look like key=value (e.g. trainer.learning_rate=1e-6)")
    dotted, value = item.split("=", 1)
    dotted = dotted.strip()
    keys = dotted.split(".")
    renamed = RENAMED.get(recipe_cls, {})
    cls: Any = recipe_cls
    node = raw
    for depth, key in enumerate(keys):
        if cls is not None:
            names = [f.name for f in dataclasses.fields(cls)]
            if key not in names:
                old = ".".join(keys[: depth + 1])
                if old in renamed:
                    raise ConfigError(
                        f"override '{dotted}': {_renamed(old, renamed[old], dotted[len(old) :])}"
                    )
                where = ".".join(keys[:depth]) or recipe_cls.__name__
                raise ConfigError(f"override '{dotted}': unknown key '{key}' in {where}{suggest(key, names)}")
            declared = typing.get_type_hints(cls)[key]
            cls = _dataclass_in(declared)
            free_form = False
        else:
            free_form = True
        if depth == len(keys) - 1:
            node[key] = yaml.safe_load(value) if free_form and value.strip() else value
            return
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override '{dotted}': '{key}' is not a mapping")
        node = child


def _dataclass_in(annotation: Any) -> type | None:
    if dataclasses.is_dataclass(annotation):
        return annotation
    for member in typing.get_args(annotation):
        if dataclasses.is_dataclass(member):
            return member
    return None


def _renamed(old: str, new: str, rest: str = "") -> str:
    """What a renamed key is called now; ``rest`` is the part of an override's key below it."""
    key, _, note = new.partition(" ")
    write = f"; write '{key}{rest}'" if rest else ""
    return f"'{old}' was renamed to '{key}'{' ' + note if note else ''}{write}"


def _at(where: str, path: str) -> str:
    return f"{where}: {path}" if path else where
