"""YAML read with the line of every key, and written one value a line: what the sweep file's messages and its
resolved copy need beyond PyYAML."""

from __future__ import annotations

from typing import Any

import yaml

from sweeps.parameters import SettingsError

# A sweep file is a few dozen nodes; aliases can make a few hundred bytes expand to millions (an "alias bomb"),
# which every reader below (the line walk, the settings, the stored copy's comparison) would expand again.
MAX_NODES = 10_000


def flow(value: Any) -> str:
    """One value in YAML's one-line (flow) style."""
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=2**16)
    return text.split("\n...")[0].strip()  # a lone scalar ends with a document-end marker


def yaml_with_lines(text: str, origin: str) -> tuple[Any, dict[str, int]]:
    """The document, and the line of each key ("parameters.beta" -> 7); duplicate keys refused."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        if root is not None:
            check_expansion(root, origin)  # before anything expands the aliases
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{origin}:{mark.line + 1}" if mark else origin
        raise SettingsError(f"{where}: not valid YAML ({getattr(error, 'problem', None) or error})") from None
    except RecursionError:  # PyYAML composes nested blocks recursively
        raise SettingsError(f"{origin}: nested too deeply to be a sweep file") from None
    lines: dict[str, int] = {}

    def walk(node: yaml.Node, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                dotted = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
                if dotted in lines:
                    line, first = key_node.start_mark.line + 1, lines[dotted]
                    raise SettingsError(f"{origin}:{line}: {dotted} is given twice (first on line {first})")
                lines[dotted] = key_node.start_mark.line + 1
                walk(value_node, dotted)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines.setdefault(f"{prefix}[{index}]", item.start_mark.line + 1)
                walk(item, f"{prefix}[{index}]")

    if root is not None:
        walk(root, "")
    return document, lines


def check_expansion(root: yaml.Node, origin: str) -> None:
    """Refuse a document that expands (each alias counted at each use) beyond MAX_NODES, or whose alias refers to
    a node that contains it; both stop before the expansion, so the refusal itself costs at most MAX_NODES steps."""
    seen = 0
    on_path: set[int] = set()

    def visit(node: yaml.Node) -> None:
        nonlocal seen
        if id(node) in on_path:
            raise SettingsError(f"{origin}: a YAML alias refers to a node that contains it (a recursive alias)")
        seen += 1
        if seen > MAX_NODES:
            raise SettingsError(f"{origin}: the document expands beyond {MAX_NODES} YAML nodes (aliases included)")
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            return
        on_path.add(id(node))
        for child in children:
            visit(child)
        on_path.discard(id(node))

    visit(root)
