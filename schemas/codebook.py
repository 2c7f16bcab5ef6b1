"""The narrative codebook: versioned YAML that analysts edit without touching code.

Layout on disk (one folder per codebook)::

    codebooks/iskp/codebook.yaml            # id, version, narratives (id, label, description, parent, keywords)
    codebooks/iskp/exemplars/<lang>-<script>.yaml   # per language variety: exemplars and negatives

An exemplars file::

    lang: tg
    script: Cyrl
    narratives:
      taliban_deviation.abandoned_jihad:
        promote: [...]   # texts that push the narrative
        report: [...]    # news/analysis describing it
        counter: [...]   # texts rebutting it
    hard_negatives: [...]  # everyday text on the same topics, no narrative
    unrelated: [...]       # text on other topics
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pmon.schemas.language import TARGET_LANGUAGES
from pmon.schemas.yaml_text import parse_yaml


class Stance(StrEnum):
    """How a text relates to a narrative."""

    promote = "promote"  # the text pushes the narrative
    report = "report"  # news or analysis describing it
    counter = "counter"  # rebuts it
    none = "none"  # no narrative


class Narrative(BaseModel):
    """One narrative of the codebook; leaves are what the classifier labels, parents are derived."""

    model_config = ConfigDict(extra="forbid")

    id: str
    label: str
    description: str
    parent: str | None = None
    keywords: dict[str, list[str]] = Field(default_factory=dict, description="optional, per language")


class NarrativeExemplars(BaseModel):
    """Exemplars of one narrative in one language variety, by stance."""

    model_config = ConfigDict(extra="forbid")

    promote: list[str] = Field(default_factory=list)
    report: list[str] = Field(default_factory=list)
    counter: list[str] = Field(default_factory=list)


class ExemplarSet(BaseModel):
    """One exemplars file."""

    model_config = ConfigDict(extra="forbid")

    lang: str
    script: str
    narratives: dict[str, NarrativeExemplars]
    hard_negatives: list[str] = Field(default_factory=list)
    unrelated: list[str] = Field(default_factory=list)


class Codebook(BaseModel):
    """A codebook with its exemplars; `fingerprint` changes whenever any file of it changes."""

    model_config = ConfigDict(extra="forbid")

    id: str
    version: str
    description: str = ""
    narratives: list[Narrative]
    exemplars: list[ExemplarSet] = Field(default_factory=list)
    fingerprint: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Codebook:
        ids = [n.id for n in self.narratives]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate narrative ids")
        known = set(ids)
        for narrative in self.narratives:
            if narrative.parent is not None and narrative.parent not in known:
                raise ValueError(f"narrative {narrative.id!r}: unknown parent {narrative.parent!r}")
        leaves = set(self.leaf_ids)
        for exemplar_set in self.exemplars:
            unknown = set(exemplar_set.narratives) - leaves
            if unknown:
                raise ValueError(
                    f"exemplars {exemplar_set.lang}-{exemplar_set.script}: unknown leaf narrative(s) {sorted(unknown)}"
                )
            if exemplar_set.lang not in TARGET_LANGUAGES:
                raise ValueError(f"exemplars: unknown language {exemplar_set.lang!r}")
        return self

    @property
    def leaf_ids(self) -> list[str]:
        """Narratives no other narrative names as parent, in codebook order."""
        parents = {n.parent for n in self.narratives if n.parent}
        return [n.id for n in self.narratives if n.id not in parents]

    @property
    def version_tag(self) -> str:
        """What is stored with every detection: '<id>@<version>+<fingerprint[:8]>'."""
        return f"{self.id}@{self.version}+{self.fingerprint[:8]}"

    def ancestors(self, narrative_id: str) -> list[str]:
        """Parents of a narrative, nearest first."""
        by_id = {n.id: n for n in self.narratives}
        chain: list[str] = []
        parent = by_id[narrative_id].parent
        while parent:
            chain.append(parent)
            parent = by_id[parent].parent
        return chain


class CodebookError(ValueError):
    """A codebook folder that cannot be used; the message names the file and the problem."""


# Package data of pmon.codebooks (the codebooks/ folder), in a checkout and in an installed wheel alike.
DEFAULT_CODEBOOK = Path(str(resources.files("pmon.codebooks").joinpath("iskp"))).resolve()


def load_codebook(folder: str | Path = DEFAULT_CODEBOOK) -> Codebook:
    """Load `codebook.yaml` and every `exemplars/*.yaml` under `folder`, validated."""
    folder = Path(folder)
    digest = hashlib.sha256()
    main = folder / "codebook.yaml"
    try:
        main_text = main.read_text(encoding="utf-8")
        raw = parse_yaml(main_text)
    except (OSError, yaml.YAMLError) as exc:
        raise CodebookError(f"{main}: {exc}") from exc
    digest.update(main_text.encode())
    exemplar_sets = []
    for path in sorted((folder / "exemplars").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        digest.update(path.name.encode() + b"\0" + text.encode())
        try:
            exemplar_sets.append(ExemplarSet.model_validate(parse_yaml(text)))
        except (ValidationError, yaml.YAMLError) as exc:
            raise CodebookError(f"{path}: {exc}") from exc
    try:
        return Codebook.model_validate({**raw, "exemplars": exemplar_sets, "fingerprint": digest.hexdigest()})
    except ValidationError as exc:
        raise CodebookError(f"{main}: {exc}") from exc
