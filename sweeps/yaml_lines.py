"""YAML read with the line of every key, and written one value a line: what the sweep file's messages and its
resolved copy need beyond PyYAML."""

from __future__ import annotations

from typing import Any

import yaml

from sweeps.parameters import SettingsError


def flow(value: Any) -> str:
    """One value in YAML's one-line (flow) style."""
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=2**16)
    return text.split("\n...")[0].strip()  # a lone scalar ends with a document-end marker


def yaml_with_lines(text: str, origin: str) -> tuple[Any, dict[str, int]]:
    """The document, and the line of each key ("parameters.beta" -> 7); duplicate keys refused."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{origin}:{mark.line + 1}" if mark else origin
        raise SettingsError(f"{where}: not valid YAML ({getattr(error, 'problem', None) or error})") from None
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
