"""The sweep file (`latentsweep sweep --config sweep.yaml`): its schema, read with line numbers, and written back.

The keys follow W&B's sweep files where the ideas are the same (`metric: {name, goal}`, `parameters` with `values`
or `min`/`max` and a `distribution`, `early_terminate`), with `search` for the search method (`method` names a VAE
method here), a block per architecture for that architecture's own keys, and `fixed` for the keys every trial
shares. The presets are such files, in sweeps/presets/; a sweep folder keeps the resolved file as sweep.yaml.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sweeps.parameters import DISTRIBUTIONS, Choice, Parameter, Range, SettingsError
from sweeps.yaml_lines import flow, yaml_with_lines
from vaemodels import (
    ARCHITECTURES,
    CONFIG_KEYS,
    DCI_REGRESSORS,
    SCORE_SETTINGS,
    DatasetFile,
    DatasetFileError,
    key_kind,
    key_owner,
    metric_mode,
)

PRESETS_DIR = Path(__file__).resolve().parent / "presets"
SEARCHES = ("tpe", "random", "nsga2", "grid")
GOALS = {"minimize": "min", "maximize": "max"}
_GOAL_OF = {mode: goal for goal, mode in GOALS.items()}
# Keys one sweep shares across its trials: the data (sample ids mean the same image in every trial) and the
# training budget (ASHA's max_t). They go under `fixed`, never under `parameters`.
NOT_SEARCHED = ("dataset", "data_dir", "image_size", "n_samples", "embed_samples", "epochs", "max_steps")
TOP_KEYS = ("name", "description", "search", "num_samples", "seed", "metric", "early_terminate", "parameters")
TOP_KEYS += ("fixed", "confirm", "scores", "dci_regressor", "quick")
# Keys of W&B sweep files that mean something else here, with what to write instead.
FOREIGN_KEYS = {
    "method": "write `search: tpe|random|nsga2|grid` (`method` names a VAE method in latentsweep)",
    "program": "latentsweep runs its own trainer: leave it out",
    "command": "latentsweep runs its own trainer: leave it out",
}
HEADER = (
    "# This sweep's resolved settings: `latentsweep sweep --config` with this file and the same --storage resumes it.\n"
)


@dataclass
class SweepFile:
    """What a file (or a stored document) sets: SweepSettings field values, and where each came from."""

    values: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # field, "parameters.KEY" or "fixed.KEY" -> "FILE:LINE: key"


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a sweep's folder name (None: it can): the sweep folder is storage/NAME, and a name
    that is not one path component would put it elsewhere (`../x`), or be the storage itself or its parent."""
    if not name or "/" in name or "\\" in name or "\0" in name or name in (".", ".."):
        return "a single folder name (no / or \\, not . or ..)"
    return None


def preset_names() -> list[str]:
    """The shipped presets: one file each in sweeps/presets/."""
    return sorted(path.stem for path in PRESETS_DIR.glob("*.yaml"))


def preset_path(name: str) -> Path:
    if name not in preset_names():
        raise SettingsError(f"--preset {name!r} is unknown; choose from {', '.join(preset_names())}")
    return PRESETS_DIR / f"{name}.yaml"


def load(path: str | Path, quick: bool = False) -> SweepFile:
    """Read and check a sweep file (with its `quick:` block applied when asked); SettingsError naming the file,
    the line and the key."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise SettingsError(f"--config {path}: cannot read it ({error.strerror or error})") from None
    return parse_text(text, str(path), base_dir=path.resolve().parent, quick=quick)


def parse_text(text: str, origin: str, base_dir: Path | None = None, quick: bool = False) -> SweepFile:
    """A sweep file's text -> its values (`origin` names it in messages)."""
    document, lines = yaml_with_lines(text, origin)
    if quick:
        document, lines = _apply_quick(document, lines, origin)
    elif isinstance(document, dict):
        document = {key: value for key, value in document.items() if key != "quick"}
    return parse(document, origin, lines, base_dir)


def _apply_quick(document: Any, lines: dict[str, int], origin: str) -> tuple[dict[str, Any], dict[str, int]]:
    """The document with its `quick:` block over it: `parameters` and `fixed` merged key by key (an architecture's
    block replaced whole, a null leaving the key out), every other key replaced. Lines of what the block set point
    into the block."""
    quick = document.get("quick") if isinstance(document, dict) else None
    if not isinstance(quick, dict):
        raise SettingsError(f"{origin}: --quick needs a quick: block in the file (what a quick run changes)")
    merged = {key: value for key, value in document.items() if key != "quick"}
    for key, value in quick.items():
        if key in ("parameters", "fixed") and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {k: v for k, v in {**merged[key], **value}.items() if v is not None}  # null: left out
        else:
            merged[key] = value
    lines = dict(lines) | {
        path.removeprefix("quick."): line for path, line in lines.items() if path.startswith("quick.")
    }
    return merged, lines


def parse(document: Any, origin: str, lines: dict[str, int] | None = None, base_dir: Path | None = None) -> SweepFile:
    """A sweep document (a file's, or one stored as JSON) -> its values; every key checked."""
    reader = _Reader(origin, lines or {})
    if document is None:
        document = {}
    reader.expect(isinstance(document, dict), "", "the file must be a mapping of keys (name:, search:, ...)")
    out = SweepFile()
    for key, value in document.items():
        if key in FOREIGN_KEYS:
            reader.fail(key, FOREIGN_KEYS[key])
        reader.expect(key in TOP_KEYS, key, f"unknown key; the keys are {', '.join(TOP_KEYS)}")
        out.labels[key] = reader.label(key)
        if key == "name":
            problem = name_problem(value) if isinstance(value, str) else "expected a folder name"
            reader.expect(problem is None, key, f"{value!r}: {problem}")
            out.values["name"] = value
        elif key == "description":
            out.values["description"] = str(value)
        elif key == "confirm":
            reader.expect(isinstance(value, bool), key, f"{value!r}: expected true or false")
            out.values["confirm"] = value
        elif key == "scores":
            reader.expect(value in SCORE_SETTINGS, key, f"{value!r}: choose from {', '.join(SCORE_SETTINGS)}")
            out.values["scores"] = value
        elif key == "dci_regressor":
            reader.expect(value in DCI_REGRESSORS, key, f"{value!r}: choose from {', '.join(DCI_REGRESSORS)}")
            out.values["dci_regressor"] = value
        elif key == "quick":
            reader.fail(key, "a quick: block applies only with --quick, and only in a file")
        elif key == "search":
            reader.expect(value in SEARCHES, key, f"{value!r}: choose from {', '.join(SEARCHES)}")
            out.values["search"] = value
        elif key in ("num_samples", "seed"):
            number = reader.integer(key, value)
            reader.expect(key == "seed" or number >= 1, key, f"{number}: must be >= 1")
            out.values[key] = number
        elif key == "metric":
            _read_metric(reader, value, out)
        elif key == "early_terminate":
            _read_early_terminate(reader, value, out)
        elif key == "parameters":
            _read_parameters(reader, value, out)
        else:
            _read_fixed(reader, value, out, base_dir)
    clash = sorted(set(out.values.get("parameters", {})) & set(out.values.get("fixed", {})))
    if clash:
        reader.fail(f"fixed.{clash[0]}", f"{clash[0]} is under parameters too: give it in one place")
    return out


def to_document(values: dict[str, Any]) -> dict[str, Any]:
    """SweepSettings' field values -> the file's document (the inverse of `parse`), architecture keys in blocks."""
    document: dict[str, Any] = {"name": values["name"]}
    if values.get("description"):
        document["description"] = values["description"]
    document["search"] = values["search"]
    if values["search"] != "grid":
        document["num_samples"] = values["num_samples"]
        document["seed"] = values["seed"]
    objectives = list(zip(values["metrics"], values["modes"])) or [(values["metric"], values["mode"])]
    metric = [{"name": name, "goal": _GOAL_OF[mode]} for name, mode in objectives]
    document["metric"] = metric if len(metric) > 1 else metric[0]
    if values["scheduler"] == "asha":
        document["early_terminate"] = {
            "type": "asha",
            "grace_period": values["grace_period"],
            "reduction_factor": values["reduction_factor"],
        }
    parameters: dict[str, Any] = {"arch": {"values": list(values["archs"])}}
    for name, parameter in values["parameters"].items():
        owner = key_owner(name)
        block = parameters if owner is None else parameters.setdefault(owner, {})
        block[name] = parameter.to_document()
    document["parameters"] = parameters
    document["fixed"] = dict(values["fixed"])
    if values.get("dataset_file") is not None:  # the file's record in place of its dataset's name
        document["fixed"]["dataset"] = values["dataset_file"].to_document()
    document["scores"] = values["scores"]
    document["dci_regressor"] = values["dci_regressor"]
    if values.get("confirm"):
        document["confirm"] = True
    return document


def render(document: dict[str, Any]) -> str:
    """A document as the file's YAML: a line a setting, a line a parameter, a line a fixed key."""
    lines = [HEADER.rstrip("\n")]
    for key, value in document.items():
        if key == "parameters":
            lines.append("parameters:")
            for name, spec in value.items():
                if name in ARCHITECTURES:  # a block of one architecture's own keys
                    lines += [f"  {name}:", *(f"    {k}: {flow(v)}" for k, v in spec.items())]
                else:
                    lines.append(f"  {name}: {flow(spec)}")
        elif key == "fixed" and value:
            lines += ["fixed:", *(f"  {k}: {flow(v)}" for k, v in value.items())]
        else:
            lines.append(f"{key}: {flow(value)}")
    return "\n".join(lines) + "\n"


class _Reader:
    """Checks values and names the file, line and key of each problem."""

    def __init__(self, origin: str, lines: dict[str, int]) -> None:
        self.origin, self.lines = origin, lines

    def label(self, key: str) -> str:
        line = self.lines.get(key)
        return f"{self.origin}:{line}: {key}" if line else f"{self.origin}: {key}"

    def fail(self, key: str, problem: str) -> None:
        where = self.label(key) if key else self.origin
        raise SettingsError(f"{where}: {problem}")

    def expect(self, ok: bool, key: str, problem: str) -> None:
        if not ok:
            self.fail(key, problem)

    def integer(self, key: str, value: Any) -> int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        self.expect(ok, key, f"{value!r}: expected an integer")
        return value

    def number(self, key: str, value: Any) -> float:
        """A number; also '1e-4', which YAML 1.1 (PyYAML) reads as a string unless written 1.0e-4."""
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = float(value)
        self.expect(isinstance(value, (int, float)) and not isinstance(value, bool), key, f"{value!r}: not a number")
        return value

    def mapping(self, key: str, value: Any, what: str) -> dict[str, Any]:
        self.expect(isinstance(value, dict), key, f"expected a mapping ({what})")
        return value


def _read_metric(reader: _Reader, value: Any, out: SweepFile) -> None:
    entries = value if isinstance(value, list) else [value]
    names, modes = [], []
    for index, entry in enumerate(entries):
        key = f"metric[{index}]" if isinstance(value, list) else "metric"
        entry = reader.mapping(key, entry, "name: loss, goal: minimize")
        unknown = sorted(set(entry) - {"name", "goal"})
        reader.expect(not unknown, key, f"unknown key {unknown[0] if unknown else ''!r}; a metric has name and goal")
        reader.expect(isinstance(entry.get("name"), str), key, "needs a name, e.g. name: loss")
        goal = entry.get("goal", _GOAL_OF.get(metric_mode(entry["name"]), "minimize"))  # the metric's own way
        reader.expect(goal in GOALS, key, f"goal {goal!r}: choose minimize or maximize")
        names.append(entry["name"])
        modes.append(GOALS[goal])
    reader.expect(len(names) >= 1, "metric", "give at least one metric")
    if len(names) == 1:
        out.values.update(metric=names[0], mode=modes[0])
    else:
        out.values.update(metrics=tuple(names), modes=tuple(modes))


def _read_early_terminate(reader: _Reader, value: Any, out: SweepFile) -> None:
    if value is None or value == {"type": "none"}:
        out.values["scheduler"] = "none"
        return
    value = reader.mapping("early_terminate", value, "type: asha")
    reader.expect(value.get("type") == "asha", "early_terminate", f"type {value.get('type')!r}: only asha is known")
    out.values["scheduler"] = "asha"
    for key, value_ in value.items():
        dotted = f"early_terminate.{key}"
        if key == "type":
            continue
        reader.expect(key in ("grace_period", "reduction_factor"), dotted, "asha takes grace_period, reduction_factor")
        number = reader.integer(dotted, value_)
        reader.expect(number >= (1 if key == "grace_period" else 2), dotted, f"{number}: too small")
        out.values[key] = number


def _read_parameters(reader: _Reader, value: Any, out: SweepFile) -> None:
    value = reader.mapping("parameters", value, "a key's values or its min and max, per key")
    parameters: dict[str, Parameter] = {}
    for name, spec in value.items():
        dotted = f"parameters.{name}"
        if name == "arch":
            archs = _read_parameter(reader, dotted, "str", spec)
            reader.expect(isinstance(archs, Choice), dotted, "give the architectures as values: [vae, branched]")
            out.values["archs"] = tuple(archs.values)
            out.labels["archs"] = reader.label(dotted)
        elif name in ARCHITECTURES:
            block = reader.mapping(dotted, spec, f"the search over {name}'s own keys")
            for key, key_spec in block.items():
                owner = key_owner(key)
                where = f"{dotted}.{key}"
                reader.expect(owner == name, where, _misplaced(key, owner, name))
                parameters[key] = _read_parameter(reader, where, key_kind(key), key_spec)
                out.labels[f"parameters.{key}"] = reader.label(where)
        else:
            owner = key_owner(name)
            reader.expect(owner is None, dotted, f"{name} belongs to arch {owner}: put it under parameters.{owner}")
            reader.expect(name in CONFIG_KEYS, dotted, f"unknown key; the config keys are {', '.join(CONFIG_KEYS)}")
            reader.expect(name not in NOT_SEARCHED, dotted, f"one value for the whole sweep: put {name} under fixed")
            parameters[name] = _read_parameter(reader, dotted, key_kind(name), spec)
            out.labels[dotted] = reader.label(dotted)
    out.values["parameters"] = parameters


def _misplaced(key: str, owner: str | None, block: str) -> str:
    if owner is None:
        return f"{key} is not {block}'s own key" + (": put it directly under parameters" if key in CONFIG_KEYS else "")
    return f"{key} belongs to arch {owner}: put it under parameters.{owner}"


def _read_parameter(reader: _Reader, where: str, kind: str, spec: Any) -> Parameter:
    spec = reader.mapping(where, spec, "values: [...], or min: and max:")
    if "value" in spec:
        reader.fail(where, "one value for every trial goes under fixed")
    known = {"values", "min", "max", "distribution"}
    unknown = sorted(set(spec) - known)
    reader.expect(not unknown, where, f"unknown key {unknown[0] if unknown else ''!r}; give values, or min/max")
    if "values" in spec:
        values = spec["values"]
        reader.expect(set(spec) <= {"values", "distribution"}, where, "give values or min/max, not both")
        reader.expect(spec.get("distribution", "categorical") == "categorical", where, "values are categorical")
        reader.expect(isinstance(values, list) and len(values) > 0, where, "values must be a non-empty list")
        return Choice(tuple(_typed(reader, where, kind, item) for item in values))
    reader.expect("min" in spec and "max" in spec, where, "give values: [...], or both min: and max:")
    reader.expect(kind in ("int", "float"), where, f"a {kind} key takes values: [...], not a range")
    default = "int_uniform" if kind == "int" else "uniform"
    distribution = spec.get("distribution", default)
    reader.expect(distribution in DISTRIBUTIONS, where, f"distribution {distribution!r}: choose from {DISTRIBUTIONS}")
    if kind == "int":
        reader.expect(distribution == "int_uniform", where, "an integer key takes distribution: int_uniform")
    else:
        reader.expect(distribution != "int_uniform", where, "int_uniform is for integer keys")
    cast = int if kind == "int" else float
    low, high = (reader.number(where, spec[end]) for end in ("min", "max"))
    if kind == "int":
        reader.expect(float(low).is_integer() and float(high).is_integer(), where, "an integer key needs integer ends")
    found = Range(cast(low), cast(high), distribution)
    problem = found.problem()
    reader.expect(problem is None, where, problem or "")
    return found


def _typed(reader: _Reader, where: str, kind: str, value: Any) -> Any:
    """One value in the kind of its key (the config checks the value itself)."""
    if kind == "float":
        number = float(reader.number(where, value))
        # The config reads NaN as "not set" (a missing table cell), so a NaN here would become the default unseen.
        reader.expect(math.isfinite(number), where, f"{value!r}: not a finite number")
        return number
    if kind == "int":
        return reader.integer(where, value)
    if kind == "bool":
        reader.expect(isinstance(value, bool), where, f"{value!r}: expected true or false")
        return value
    reader.expect(isinstance(value, str), where, f"{value!r}: expected a name")
    return value


def _read_fixed(reader: _Reader, value: Any, out: SweepFile, base_dir: Path | None) -> None:
    value = reader.mapping("fixed", value, "config key: value")
    fixed: dict[str, Any] = {}
    for key, item in value.items():
        dotted = f"fixed.{key}"
        reader.expect(key != "arch", dotted, "the architectures are parameters.arch: {values: [...]}")
        reader.expect(key in CONFIG_KEYS, dotted, f"unknown config key; the keys are {', '.join(CONFIG_KEYS)}")
        if item is None:
            continue
        if key == "dataset" and isinstance(item, dict):  # a file of the sweep's own: recorded, registered from it
            out.values["dataset_file"] = _read_dataset_file(reader, dotted, item, base_dir)
            fixed[key] = out.values["dataset_file"].name
            out.labels[dotted] = out.labels["dataset_file"] = reader.label(dotted)
            continue
        kind = key_kind(key)
        fixed[key] = _scalar(reader, dotted, item) if kind == "str" else _typed(reader, dotted, kind, item)
        if key == "data_dir" and base_dir is not None:
            fixed[key] = str((base_dir / Path(str(item)).expanduser()).resolve())  # relative to the file
        out.labels[dotted] = reader.label(dotted)
    out.values["fixed"] = fixed


def _scalar(reader: _Reader, where: str, value: Any) -> Any:
    """A fixed string key's value: one scalar (the config names a bad one), never a list, a mapping or a NUL."""
    reader.expect(not isinstance(value, (list, dict)), where, f"{value!r}: expected one value, not a list or mapping")
    reader.expect("\0" not in str(value), where, f"{value!r}: not a path or name (it holds a NUL character)")
    return value


def _read_dataset_file(reader: _Reader, where: str, value: dict[str, Any], base_dir: Path | None) -> DatasetFile:
    """`dataset: {file: PATH.npz, name: NAME}` (vaemodels/dataset_file.py), named by the file's line and key."""
    try:
        return DatasetFile.from_entry(value, base_dir)
    except DatasetFileError as error:
        raise SettingsError(f"{reader.label(where)}: {error}") from None
