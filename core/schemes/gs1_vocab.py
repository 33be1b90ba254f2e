"""The link types of the GS1 Web Vocabulary, from a data file shipped with the package.

``gs1_link_types.json`` beside this module is extracted from GS1's published vocabulary
(the JSON-LD file of the gs1/WebVoc repository); the file records which version and
where it came from. A link type is every property whose ``rdfs:subPropertyOf`` is
``gs1:linkType`` (``gs1:linkType`` itself is their super-property, not a link type).
Deprecated terms stay in the list with their status: a resolver must still recognise
them, and links stored under them keep resolving.

To move to a newer vocabulary, download its JSON-LD and run::

    python -m core.schemes.gs1_vocab path/to/gs1Voc.jsonld "source description" \\
        > core/schemes/gs1_link_types.json
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DATA_FILE = Path(__file__).with_name("gs1_link_types.json")
GS1_PREFIX = "gs1:"
GS1_VOC = "https://gs1.org/voc/"
#: Every spelling of the vocabulary's namespace seen in the wild (GS1's conformance
#: suite folds these three hosts, and http as well as https, to ``gs1:``).
NAMESPACES = (
    GS1_VOC,
    "http://gs1.org/voc/",
    "https://www.gs1.org/voc/",
    "http://www.gs1.org/voc/",
    "https://ref.gs1.org/voc/",
    "http://ref.gs1.org/voc/",
)


@dataclass(frozen=True, slots=True)
class LinkType:
    name: str  # without the prefix, e.g. "pip"
    label: str  # the vocabulary's English label, e.g. "Product Information Page"
    status: str  # "stable", "testing", "deprecated"


@dataclass(frozen=True, slots=True)
class Vocabulary:
    version: str
    source: str
    link_types: dict[str, LinkType]


@cache
def vocabulary() -> Vocabulary:
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    types = {
        name: LinkType(name, entry["label"], entry["status"])
        for name, entry in data["linkTypes"].items()
    }
    return Vocabulary(data["version"], data["source"], types)


def link_type(curie: str) -> LinkType | None:
    """The vocabulary's entry for ``gs1:<name>``, or None when it is no GS1 link type."""
    if not curie.startswith(GS1_PREFIX):
        return None
    return vocabulary().link_types.get(curie[len(GS1_PREFIX) :])


def is_link_type(curie: str) -> bool:
    return link_type(curie) is not None


def compact(text: str) -> str:
    """``https://gs1.org/voc/pip`` (any spelling of the namespace) → ``gs1:pip``."""
    for base in NAMESPACES:
        if text.startswith(base):
            return GS1_PREFIX + text[len(base) :]
    return text


def expand(curie: str) -> str:
    """``gs1:pip`` → ``https://gs1.org/voc/pip``; other URIs unchanged."""
    return GS1_VOC + curie[len(GS1_PREFIX) :] if curie.startswith(GS1_PREFIX) else curie


# -- extraction (run by hand when GS1 publishes a new version) --------------------------
def _ids(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [i["@id"] for i in items if isinstance(i, dict) and "@id" in i]


def _english(value: Any) -> str:
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, dict) and item.get("@language", "en") == "en":
            return str(item.get("@value", ""))
        if isinstance(item, str):
            return item
    return ""


def extract(jsonld: dict[str, Any], source: str) -> dict[str, Any]:
    """The data file's content from the vocabulary's JSON-LD document."""
    graph = jsonld["@graph"]
    header = next(node for node in graph if node.get("@id") == GS1_PREFIX)
    types = {}
    for node in graph:
        if f"{GS1_PREFIX}linkType" in _ids(node.get("rdfs:subPropertyOf")):
            name = node["@id"].removeprefix(GS1_PREFIX)
            types[name] = {
                "label": _english(node.get("rdfs:label")),
                "status": node.get("sw:term_status", "stable"),
            }
    return {
        "version": header["owl:versionInfo"],
        "lastModified": header.get("dc:lastModified", {}).get("@value", ""),
        "source": source,
        "extractedWith": "python -m core.schemes.gs1_vocab <gs1Voc.jsonld> <source>",
        "linkTypes": dict(sorted(types.items())),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m core.schemes.gs1_vocab <gs1Voc.jsonld> <source>", file=sys.stderr)
        return 2
    # GS1 publishes the file with a UTF-8 byte order mark.
    document = json.loads(Path(argv[0]).read_text(encoding="utf-8-sig"))
    json.dump(extract(document, argv[1]), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
