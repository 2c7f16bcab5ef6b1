"""Render the demo's synthetic media: feeds, article pages, a Telegram export, file drops, sources.yaml, truth.jsonl.

The raw material is the held-out gold sentences in `eval/narratives/*.jsonl` (one file per language variety).
An item is a title plus one to three gold sentences of one variety; `truth.jsonl` records what each item was
built from (labels, stance, language), so a demo run can be scored against it.

Planted signals, all relative to the anchor date (default: today, UTC):

* trend: `economic_recruitment` in Tajik, about 1-2 items a week, then 12+ a week in the last 14 days;
* spread: `anti_regional.china` in Uzbek (either script) only in the last 7 days (4 items);
* silence: the feed `fa-blog` publishes steadily until 22 days before the anchor, then nothing;
* emerging cluster: 7 near-identical Pashto "our channel moved" notices in the Telegram export, last 5 days,
  that fit no narrative of the codebook;
* release: one announcement (a mild charity drive, no narrative) translated into English, Tajik, Persian, Uzbek
  and Pashto and posted by four sources within 25 hours, 3 days before the anchor: one message the linker
  groups, raising a "release spread" alert.

Rendering is deterministic: the same anchor, seed, base URL and gold files give byte-identical output.

Example:
    >>> from pmon.sample_media import render
    >>> manifest = render(Path("/tmp/media"), "http://127.0.0.1:8765")  # doctest: +SKIP
    >>> manifest.total_items  # doctest: +SKIP
    775
"""

from __future__ import annotations

import csv
import email.utils
import html
import io
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import yaml
from pydantic import BaseModel, Field

from pmon.schemas.documents import normalise_for_identity
from pmon.schemas.jsonl import read_lines

__all__ = ["GOLD_DIR", "VARIETIES", "Manifest", "SampleMediaError", "render"]

#: Where the gold sentences live (one JSONL file per language variety): package data of pmon.eval (the eval/
#: folder), in a checkout and in an installed wheel alike.
GOLD_DIR = Path(str(resources.files("pmon.eval").joinpath("narratives"))).resolve()
#: The language varieties the media should cover, as `<lang>-<Script>`.
VARIETIES: tuple[str, ...] = ("en-Latn", "tg-Cyrl", "uz-Latn", "uz-Cyrl", "fa-Arab", "ps-Arab", "ug-Arab", "ug-Latn")

TREND_NARRATIVE, TREND_VARIETIES = "economic_recruitment", ("tg-Cyrl",)
SPREAD_NARRATIVE, SPREAD_VARIETIES = "anti_regional.china", ("uz-Latn", "uz-Cyrl")
SILENT_SOURCE, SILENT_AFTER_DAYS = "fa-blog", 21
TELEGRAM_CHANNEL = "sahar_channel"

_TEMPLATES = Path(__file__).resolve().parent / "templates"
_DAY = timedelta(days=1)
_WINDOW_DAYS = 90
# Share of general (unplanted) items built from everyday/unrelated sentences; planted items are mostly narrative,
# so 0.42 here gives roughly 40% non-narrative items overall.
_EVERYDAY_SHARE = 0.42
_TAG = "tag:demo.pmon.invalid,2025:"


class SampleMediaError(ValueError):
    """The gold files cannot be used to render the media; the message names the file and line."""


class Manifest(BaseModel):
    """What `render` wrote: counts per source and per language, and which varieties had no gold file."""

    out_dir: str
    base_url: str
    anchor: date
    seed: int
    total_items: int = Field(description="items in truth.jsonl")
    items_per_source: dict[str, int]
    items_per_variety: dict[str, int] = Field(description="keys like 'uz-Cyrl'")
    items_per_language: dict[str, int] = Field(description="ISO 639-1 keys")
    missing_varieties: list[str] = Field(
        description="varieties of VARIETIES without gold sentences: not rendered (the planted Pashto cluster, "
        "written here rather than taken from the gold files, is rendered regardless)"
    )
    sources_file: str
    truth_file: str


# -- gold sentences ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GoldSentence:
    """One line of a gold file."""

    id: str
    text: str
    lang: str
    script: str
    labels: tuple[str, ...]
    stance: str
    kind: str

    @property
    def variety(self) -> str:
        """`<lang>-<Script>`, e.g. 'uz-Cyrl'."""
        return f"{self.lang}-{self.script}"


GroupKey = tuple[tuple[str, ...], str]  # (labels, stance)


@dataclass
class VarietyPool:
    """The gold sentences of one variety, grouped for composing items."""

    narrative: dict[GroupKey, list[GoldSentence]] = field(default_factory=dict)
    reserved: dict[GroupKey, list[GoldSentence]] = field(default_factory=dict)
    everyday: list[GoldSentence] = field(default_factory=list)
    unrelated: list[GoldSentence] = field(default_factory=list)


def load_gold(gold_dir: Path) -> dict[str, list[GoldSentence]]:
    """Gold sentences by variety, in file and line order.

    Raises:
        SampleMediaError: a line that is not JSON or lacks a field.
    """
    by_variety: dict[str, list[GoldSentence]] = {}
    for path in sorted(gold_dir.glob("*.jsonl")):
        for number, row, problem in read_lines(path):
            try:
                if row is None:
                    raise ValueError(problem)
                sentence = GoldSentence(
                    id=str(row["id"]), text=" ".join(str(row["text"]).split()), lang=str(row["lang"]),
                    script=str(row["script"]), labels=tuple(row["labels"]), stance=str(row["stance"]),
                    kind=str(row["kind"]),
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise SampleMediaError(f"{path}:{number}: not a gold line ({type(exc).__name__}: {exc})") from exc
            by_variety.setdefault(sentence.variety, []).append(sentence)
    return by_variety


def _pools(gold: dict[str, list[GoldSentence]]) -> dict[str, VarietyPool]:
    """Group each variety's sentences; the planted narratives are set aside so they appear only where planted."""
    pools: dict[str, VarietyPool] = {}
    for variety, sentences in gold.items():
        pool = VarietyPool()
        for sentence in sentences:
            if sentence.kind == "narrative" and sentence.labels:
                key: GroupKey = (sentence.labels, sentence.stance)
                planted = (variety in TREND_VARIETIES and TREND_NARRATIVE in sentence.labels) or (
                    variety in SPREAD_VARIETIES and SPREAD_NARRATIVE in sentence.labels
                )
                (pool.reserved if planted else pool.narrative).setdefault(key, []).append(sentence)
            elif sentence.kind == "unrelated":
                pool.unrelated.append(sentence)
            else:
                pool.everyday.append(sentence)
        pools[variety] = pool
    return pools


# -- items -------------------------------------------------------------------------------------------------------
@dataclass
class Item:
    """One rendered item of any source, with what truth.jsonl says about it."""

    source_id: str
    variety: str
    sentences: list[str]
    labels: tuple[str, ...]
    stance: str
    kind: str  # narrative | everyday | unrelated | cluster | release
    published_at: datetime
    planted: str | None = None
    title: str = ""
    author: str = ""
    item_id: str = ""
    url: str = ""
    link_in_text: str | None = None  # appended to the text as a plain http:// link
    decoration: str | None = None  # source-specific rendering variant (entities, hashtags, bold, script tag)
    page_path: str | None = None  # article and html pages: the page's path under the served folder

    @property
    def lang(self) -> str:
        """ISO 639-1 code."""
        return self.variety.split("-")[0]

    @property
    def script(self) -> str:
        """ISO 15924 code."""
        return self.variety.split("-")[1]

    @property
    def text(self) -> str:
        """The item's plain text: its sentences, then the link if it has one."""
        body = " ".join(self.sentences)
        return f"{body} {self.link_in_text}" if self.link_in_text else body

    def truth(self) -> dict[str, Any]:
        """The item's line in truth.jsonl."""
        return {
            "item_id": self.item_id, "source_id": self.source_id, "url": self.url, "lang": self.lang,
            "script": self.script, "labels": list(self.labels), "stance": self.stance,
            "published_at": _iso(self.published_at), "kind": self.kind, "planted": self.planted,
        }


_TRAILING = ".,:;!?،؛؟…—–-\"'«»“”"
_CLAUSE_END = re.compile(r"[,:;.!?،؛؟]\s")


def derive_title(sentence: str) -> str:
    """A headline from the first clause of a sentence, or its first words (a prefix either way, so the item's
    text does not repeat it when ingestion joins title and text)."""
    clause = _CLAUSE_END.split(sentence, maxsplit=1)[0].strip().rstrip(_TRAILING)
    if len(clause.split()) >= 3 and len(clause) <= 80:
        return clause
    return " ".join(sentence.split()[:8]).rstrip(_TRAILING) or sentence[:60]


class _Composer:
    """Draws items from the pools, keeping every text unique within its source."""

    def __init__(self, pools: dict[str, VarietyPool], rng: random.Random) -> None:
        self.pools = pools
        self.rng = rng
        self.seen: dict[str, set[str]] = {}

    def claim(self, source_id: str, sentences: list[str]) -> bool:
        """Reserve a text in a source; False when the source already has it."""
        key = normalise_for_identity(" ".join(sentences))
        seen = self.seen.setdefault(source_id, set())
        if key in seen:
            return False
        seen.add(key)
        return True

    def narrative(self, source_id: str, variety: str, groups: dict[GroupKey, list[GoldSentence]]) -> Item | None:
        """A narrative item: 1-3 promote sentences of one group, or one report/counter sentence plus context."""
        keys = sorted(groups)
        if not keys:
            return None
        weights = [3 if stance == "promote" and len(labels) == 1 else 1 for labels, stance in keys]
        everyday = self.pools[variety].everyday
        for _ in range(60):
            labels, stance = self.rng.choices(keys, weights)[0]
            group = groups[(labels, stance)]
            if stance == "promote" and len(group) > 1:
                count = min(len(group), self.rng.choice((1, 2, 2, 3)))
                sentences = [s.text for s in self.rng.sample(group, count)]
            else:
                # News and rebuttals often carry a line of context; it also makes more distinct texts.
                sentences = [self.rng.choice(group).text]
                if everyday and self.rng.random() < 0.6:
                    sentences.append(self.rng.choice(everyday).text)
            if self.claim(source_id, sentences):
                return Item(source_id, variety, sentences, labels, stance, "narrative", _EPOCH)
        return None

    def everyday(self, source_id: str, variety: str) -> Item | None:
        """An item of 1-3 everyday (or, a quarter of the time, unrelated) sentences."""
        pool = self.pools[variety]
        for _ in range(60):
            unrelated = bool(pool.unrelated) and (not pool.everyday or self.rng.random() < 0.25)
            candidates = pool.unrelated if unrelated else pool.everyday
            if not candidates:
                return None
            count = min(len(candidates), self.rng.choice((1, 1, 2, 2, 3)))
            sentences = [s.text for s in self.rng.sample(candidates, count)]
            if self.claim(source_id, sentences):
                return Item(source_id, variety, sentences, (), "none", "unrelated" if unrelated else "everyday", _EPOCH)
        return None

    def fixed(self, source_id: str, variety: str, sentences: list[str], kind: str) -> Item | None:
        """An item of given sentences (the planted cluster); None if the text is already in the source."""
        if not self.claim(source_id, sentences):
            return None
        return Item(source_id, variety, sentences, (), "none", kind, _EPOCH)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # placeholder until an item is dated


# -- sources -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SourcePlan:
    """One source to render: where, in which varieties, how many general items, and its sources.yaml entry."""

    id: str
    kind: str  # rss | atom | articles | html | telegram | jsonl | csv
    path: str
    title: str
    description: str
    counts: dict[str, int]
    tags: tuple[str, ...]
    group: str
    schedule: str | None
    newest_offset: int = 1  # days before the anchor of the newest item
    steady: bool = False  # evenly spaced dates instead of random ones (the silent feed)
    atom_body: str = "content"
    authors: tuple[str, ...] = ("Staff",)


PLANS: tuple[SourcePlan, ...] = (
    SourcePlan("en-news", "rss", "feeds/en-news.xml", "Regional Wire (synthetic)",
               "English news lines on Afghanistan and Central Asia", {"en-Latn": 80},
               ("news", "wire"), "news", "30m", authors=("Kabul desk", "Regional desk", "Staff reporter")),
    SourcePlan("tg-news", "rss", "feeds/tg-news.xml", "Dushanbe Daily (synthetic)",
               "Tajik-language news and posts", {"tg-Cyrl": 78}, ("news", "central-asia"), "news", "30m",
               authors=("Dushanbe desk", "Staff")),
    SourcePlan("uz-news", "rss", "feeds/uz-news.xml", "Fergana Digest (synthetic)",
               "Uzbek in Latin and Cyrillic script", {"uz-Latn": 52, "uz-Cyrl": 46}, ("news", "central-asia"),
               "news", "30m", authors=("Tashkent desk", "Staff")),
    SourcePlan("af-voices", "atom", "feeds/af-voices.xml", "Afghan Voices (synthetic)",
               "Pashto and Dari posts", {"ps-Arab": 46, "fa-Arab": 40}, ("social", "afghanistan"), "news", "1h",
               authors=("Jalalabad desk", "Herat desk")),
    SourcePlan("fa-blog", "rss", "feeds/fa-blog.xml", "Herat Notebook (synthetic)",
               "A Dari blog that stops publishing three weeks before the anchor", {"fa-Arab": 30},
               ("blog", "afghanistan"), "blogs", "1h", newest_offset=SILENT_AFTER_DAYS + 1, steady=True,
               authors=("Herat Notebook",)),
    SourcePlan("ug-news", "atom", "feeds/ug-news.xml", "Uyghur Bulletin (synthetic)",
               "Uyghur in Arabic and Latin script", {"ug-Arab": 54, "ug-Latn": 50}, ("news", "uyghur"), "news",
               "1h", atom_body="summary", authors=("Almaty desk", "Istanbul desk")),
    SourcePlan("articles", "articles", "feeds/articles.xml", "Longreads (synthetic)",
               "Article pages; the feed carries only summaries", {}, ("articles", "analysis"), "articles",
               "0 */6 * * *", authors=("Analysis desk", "Guest contributor")),
    SourcePlan("tg-channel-sahar", "telegram", f"telegram/{TELEGRAM_CHANNEL}/result.json", "Sahar — سحر",
               "A Pashto and Dari Telegram channel (Telegram Desktop export)", {"ps-Arab": 60, "fa-Arab": 40},
               ("telegram", "social"), "social", "15m"),
    SourcePlan("drop-field-notes", "jsonl", "drops/field-notes.jsonl", "Field notes",
               "Analysts' JSONL drop of collected Tajik and Uzbek posts",
               {"tg-Cyrl": 24, "uz-Latn": 16, "uz-Cyrl": 14}, ("drop", "central-asia"), "drops", "1d",
               authors=("collector-07", "collector-12")),
    SourcePlan("drop-collected-posts", "csv", "drops/collected-posts.csv", "Collected posts",
               "Analysts' CSV drop of English, Uyghur and Pashto posts",
               {"en-Latn": 32, "ug-Arab": 16, "ug-Latn": 16, "ps-Arab": 10}, ("drop",), "drops", "1d",
               authors=("collector-03", "collector-21")),
    SourcePlan("html-en-review", "html", "pages/en-weekly-review", "Weekly Review (synthetic)",
               "Standalone English analysis pages", {"en-Latn": 2}, ("html", "analysis"), "articles", "1d",
               authors=("Review desk",)),
    SourcePlan("html-tg-digest", "html", "pages/tg-digest", "Дайджести ҳафта (synthetic)",
               "Standalone Tajik digest pages", {"tg-Cyrl": 2}, ("html", "central-asia"), "articles", "1d",
               authors=("Дайджест",)),
)

#: Varieties of the article pages, in order; a missing variety is skipped.
_ARTICLE_VARIETIES = ("en-Latn", "tg-Cyrl", "uz-Latn", "fa-Arab", "ps-Arab", "ug-Arab", "uz-Cyrl", "ug-Latn",
                      "en-Latn", "fa-Arab", "tg-Cyrl", "ps-Arab")

#: Page chrome per variety: navigation labels, the sidebar heading, the contact label, text direction.
_CHROME: dict[str, dict[str, Any]] = {
    "en-Latn": {"nav": ["Home", "News", "Analysis", "Contact"], "related": "More stories", "contact": "Contact"},
    "tg-Cyrl": {"nav": ["Асосӣ", "Хабарҳо", "Таҳлил", "Тамос"], "related": "Хабарҳои дигар", "contact": "Тамос"},
    "uz-Latn": {"nav": ["Bosh sahifa", "Yangiliklar", "Tahlil", "Aloqa"], "related": "Boshqa xabarlar",
                "contact": "Aloqa"},
    "uz-Cyrl": {"nav": ["Бош саҳифа", "Янгиликлар", "Таҳлил", "Алоқа"], "related": "Бошқа хабарлар",
                "contact": "Алоқа"},
    "fa-Arab": {"nav": ["صفحه اصلی", "اخبار", "تحلیل", "تماس"], "related": "خبرهای دیگر", "contact": "تماس"},
    "ps-Arab": {"nav": ["کور", "خبرونه", "شننه", "اړیکه"], "related": "نور خبرونه", "contact": "اړیکه"},
    "ug-Arab": {"nav": ["باش بەت", "خەۋەرلەر", "تەھلىل", "ئالاقە"], "related": "باشقا خەۋەرلەر", "contact": "ئالاقە"},
    "ug-Latn": {"nav": ["Bash bet", "Xewerler", "Tehlil", "Alaqe"], "related": "Bashqa xewerler", "contact": "Alaqe"},
}
_NAV_PATHS = ["/", "/news/", "/analysis/", "/contact/"]

# The planted cluster: near-identical Pashto "our channel was closed, follow the new one" notices (synthetic).
_CLUSTER_PS = (
    "زموږ پخوانی چینل بند شو. نوی چینل تعقیب کړئ او دا پیغام خپلو ملګرو ته واستوئ.",
    "پخوانی چینل مو بند شوی دی. مهرباني وکړئ نوي چینل ته ورشئ او ملګرو ته یې ولېږئ.",
    "خبرتیا: زموږ زوړ چینل بند شو، نوی چینل تعقیب کړئ او دا پیغام شریک کړئ.",
    "زموږ چینل بیا بند شو. نوې پته دلته ده، تعقیب یې کړئ او ملګرو ته یې واستوئ.",
    "ګرانو لوستونکو، پخوانی چینل بند شو. نوی چینل تعقیب کړئ چې خبرونه مو له لاسه ور نه شي.",
    "زموږ زوړ چینل بند شو. نوي چینل ته ورشئ، تعقیب یې کړئ او دا خبر خپلو دوستانو ته ورسوئ.",
    "یادونه: پخوانی چینل بند شوی، نوی چینل تعقیب کړئ او دا پیغام خپلو ملګرو ته واستوئ.",
)
_CLUSTER_HANDLE = "@nawe_chanal_demo"

# The planted release (synthetic, mild): (source, variety, hours after the first post, sentences). Dated without
# the random generator, so planting it changes nothing else in the media.
RELEASE_DAYS_BEFORE_ANCHOR = 3
_RELEASE = (
    ("en-news", "en-Latn", 0.0, [
        "The Council of Elders of the Northern District announces a winter charity drive.",
        "From 12 to 19 January, volunteers will collect warm clothes, blankets and flour at the central mosque and "
        "the school.",
        "Families in need can register with the neighbourhood committee.",
        "Money donations will be counted in public every Friday."]),
    ("tg-news", "tg-Cyrl", 3.5, [
        "Шӯрои пирони ноҳияи Шимолӣ аксияи хайрияи зимистона эълон мекунад.",
        "Аз 12 то 19 январ ихтиёриён дар масҷиди марказӣ ва мактаб либоси гарм, кӯрпа ва орд ҷамъ мекунанд.",
        "Оилаҳои ниёзманд метавонанд дар кумитаи маҳалла сабти ном шаванд.",
        "Хайрияҳои пулӣ ҳар ҷумъа дар назди мардум шумурда мешаванд."]),
    ("af-voices", "fa-Arab", 6.0, [
        "شورای ریش‌سفیدان ولسوالی شمالی یک کمپاین خیریه زمستانی را اعلام می‌کند.",
        "از ۱۲ تا ۱۹ جنوری، داوطلبان لباس گرم، کمپل و آرد را در مسجد مرکزی و مکتب جمع‌آوری می‌کنند.",
        "خانواده‌های نیازمند می‌توانند نزد کمیته گذر ثبت نام کنند.",
        "کمک‌های پولی هر جمعه در حضور مردم شمرده می‌شود."]),
    ("uz-news", "uz-Latn", 22.0, [
        "Shimoliy tuman oqsoqollar kengashi qishki xayriya aksiyasini e'lon qiladi.",
        "12 yanvardan 19 yanvargacha ko'ngillilar markaziy masjid va maktabda issiq kiyim, ko'rpa va un yig'adi.",
        "Muhtoj oilalar mahalla qo'mitasida ro'yxatdan o'tishlari mumkin.",
        "Pul xayriyalari har juma kuni hammaning oldida sanaladi."]),
    ("af-voices", "ps-Arab", 25.0, [
        "د شمالي ولسوالۍ د مشرانو شورا د ژمي د خیریه کمپاین اعلان کوي.",
        "د جنورۍ له ۱۲ څخه تر ۱۹ پورې رضاکاران په مرکزي جومات او ښوونځي کې ګرمې جامې، کمپلې او اوړه راټولوي.",
        "اړمنې کورنۍ کولی شي د سیمې په کمیټه کې نوم ولیکي.",
        "نغدې مرستې هره جمعه د خلکو په وړاندې شمېرل کېږي."]),
)
_HASHTAGS = {"ps-Arab": ("#خبرونه", "#افغانستان"), "fa-Arab": ("#خبر", "#افغانستان")}
_FORWARDED_FROM = ("Khabar Hub", "Sahar Archive", "Kabul Street")


# -- rendering ---------------------------------------------------------------------------------------------------
def render(out_dir: Path, base_url: str, anchor: date | None = None, seed: int = 7, *,
           gold_dir: Path | None = None) -> Manifest:
    """Write the synthetic media into `out_dir` and return what was written.

    Arguments:
        out_dir: folder to write into (created); files of an earlier render are overwritten.
        base_url: where `out_dir` will be served, e.g. 'http://127.0.0.1:8765' (no trailing slash needed).
        anchor: the day the planted signals are relative to; items are dated in the 90 days before it.
            Defaults to today (UTC).
        seed: seed of the composition; the same anchor, seed, base URL and gold files give identical bytes.
        gold_dir: folder of the gold JSONL files (default: `eval/narratives/` of this checkout).

    Returns:
        A `Manifest` with counts per source, variety and language.

    Raises:
        SampleMediaError: no gold sentences at all, or a gold line that cannot be read.
    """
    out_dir = Path(out_dir)
    base_url = base_url.rstrip("/")
    anchor = anchor or datetime.now(UTC).date()
    gold = load_gold(Path(gold_dir) if gold_dir else GOLD_DIR)
    if not gold:
        raise SampleMediaError(f"no gold sentences under {gold_dir or GOLD_DIR}")
    pools = _pools(gold)
    rng = random.Random(seed)  # noqa: S311 - seeded synthetic media, not a secret
    composer = _Composer(pools, rng)
    midnight = datetime.combine(anchor, time(0, 0), tzinfo=UTC)

    def at(offset_days: int) -> datetime:
        # Daytime posting hours; always before the anchor's midnight, so nothing lies in the demo's future.
        return midnight - offset_days * _DAY + timedelta(seconds=rng.randrange(6 * 3600, 23 * 3600))

    items: dict[str, list[Item]] = {plan.id: [] for plan in PLANS}
    for plan in PLANS:
        if plan.kind in ("articles", "html"):
            continue
        items[plan.id] = _general_items(plan, pools, composer, rng, at)
    _plant_trend(items, pools, composer, at)
    _plant_spread(items, pools, composer, at)
    _plant_cluster(items, composer, at)
    _plant_release(items, composer, midnight)
    items.update(_page_items(pools, composer, rng, at))
    articles = items["articles"]
    # Links inside item texts point at a page that exists, so a curious analyst's click works in the demo.
    link_target = f"{base_url}/{articles[0].page_path}" if articles else f"{base_url}/articles/"

    env = _environment()
    out_dir.mkdir(parents=True, exist_ok=True)
    for plan in PLANS:
        batch = sorted(items[plan.id], key=lambda item: (item.published_at, item.text))
        if plan.kind in ("rss", "atom"):
            _write_feed(out_dir, env, plan, batch, base_url, rng, link_target)
        elif plan.kind == "articles":
            _write_articles(out_dir, env, plan, batch, base_url, rng)
        elif plan.kind == "html":
            _write_pages(out_dir, env, plan, batch, base_url, rng)
        elif plan.kind == "telegram":
            _write_telegram(out_dir, plan, batch, base_url, rng, link_target)
        else:
            _write_drop(out_dir, plan, batch, base_url, rng, link_target)
        items[plan.id] = batch

    every = [item for plan in PLANS for item in items[plan.id]]
    _write_sources(out_dir, base_url, items)
    truth = out_dir / "truth.jsonl"
    truth.write_text("".join(json.dumps(item.truth(), ensure_ascii=False) + "\n" for item in every), encoding="utf-8")
    return Manifest(
        out_dir=str(out_dir), base_url=base_url, anchor=anchor, seed=seed, total_items=len(every),
        items_per_source={plan.id: len(items[plan.id]) for plan in PLANS},
        items_per_variety=dict(sorted(Counter(item.variety for item in every).items())),
        items_per_language=dict(sorted(Counter(item.lang for item in every).items())),
        missing_varieties=[variety for variety in VARIETIES if variety not in pools],
        sources_file=str(out_dir / "sources.yaml"), truth_file=str(truth),
    )


def _general_items(plan: SourcePlan, pools: dict[str, VarietyPool], composer: _Composer, rng: random.Random,
                   at: Callable[[int], datetime]) -> list[Item]:
    """The unplanted items of a source: about 58% narrative, the rest everyday, dated over the window."""
    made: list[Item] = []
    for variety, count in plan.counts.items():
        if variety not in pools:
            continue
        everyday_count = round(count * _EVERYDAY_SHARE)
        kinds = ["everyday"] * everyday_count + ["narrative"] * (count - everyday_count)
        rng.shuffle(kinds)
        for kind in kinds:
            item = (composer.everyday(plan.id, variety) if kind == "everyday"
                    else composer.narrative(plan.id, variety, pools[variety].narrative))
            if item is not None:
                made.append(item)
    if plan.steady:
        rng.shuffle(made)  # composition order groups varieties; mix them before spacing the dates evenly
    span = _WINDOW_DAYS - plan.newest_offset
    for index, item in enumerate(made):
        if plan.steady:
            offset = _WINDOW_DAYS - round(index * span / max(1, len(made) - 1))
        else:
            offset = rng.randint(plan.newest_offset, _WINDOW_DAYS)
        item.published_at = at(offset)
    return made


def _plant_trend(items: dict[str, list[Item]], pools: dict[str, VarietyPool], composer: _Composer,
                 at: Callable[[int], datetime]) -> None:
    """Tajik economic recruitment: one item every ~4.7 days, then two a day in the last 14 days."""
    variety = TREND_VARIETIES[0]
    if variety not in pools:
        return
    groups = {key: group for key, group in pools[variety].reserved.items() if TREND_NARRATIVE in key[0]}
    baseline = [round(90 - step * 4.7) for step in range(16)]  # offsets 90 .. 20: 1-2 a week
    surge = [offset for offset in range(14, 0, -1) for _ in range(2)]  # 28 items, 14 a week
    targets = ("tg-news", "tg-news", "drop-field-notes")
    for number, offset in enumerate(baseline + surge):
        source_id = targets[number % len(targets)]
        item = composer.narrative(source_id, variety, groups)
        if item is None:
            continue
        item.published_at, item.planted = at(offset), "trend"
        items[source_id].append(item)


def _plant_spread(items: dict[str, list[Item]], pools: dict[str, VarietyPool], composer: _Composer,
                  at: Callable[[int], datetime]) -> None:
    """Anti-China framing reaches Uzbek only in the last 7 days: 4 items, both scripts when available."""
    varieties = [variety for variety in SPREAD_VARIETIES if variety in pools]
    for number, offset in enumerate((6, 4, 2, 1)):
        if not varieties:
            return
        variety = varieties[number % len(varieties)]
        groups = {key: group for key, group in pools[variety].reserved.items() if SPREAD_NARRATIVE in key[0]}
        item = composer.narrative("uz-news", variety, groups)
        if item is None:
            continue
        item.published_at, item.planted = at(offset), "spread"
        items["uz-news"].append(item)


def _plant_cluster(items: dict[str, list[Item]], composer: _Composer, at: Callable[[int], datetime]) -> None:
    """Seven near-identical Pashto notices in the Telegram channel in the last 5 days."""
    source_id = "tg-channel-sahar"
    for number, text in enumerate(_CLUSTER_PS):
        item = composer.fixed(source_id, "ps-Arab", [text], "cluster")
        if item is None:
            continue
        item.published_at, item.planted, item.decoration = at(5 - number % 5), "cluster", "mention"
        items[source_id].append(item)


def _plant_release(items: dict[str, list[Item]], composer: _Composer, midnight: datetime) -> None:
    """One announcement in five languages from four sources, within 25 hours, 3 days before the anchor."""
    first = midnight - RELEASE_DAYS_BEFORE_ANCHOR * _DAY + timedelta(hours=8)
    for source_id, variety, hours, sentences in _RELEASE:
        item = composer.fixed(source_id, variety, list(sentences), "release")
        if item is None:
            continue
        item.published_at, item.planted = first + timedelta(hours=hours), "release"
        items[source_id].append(item)


def _page_items(pools: dict[str, VarietyPool], composer: _Composer, rng: random.Random,
                at: Callable[[int], datetime]) -> dict[str, list[Item]]:
    """Article pages (for the articles feed and the two html sources): paragraphs of one variety each."""
    made: dict[str, list[Item]] = {}
    for plan in PLANS:
        if plan.kind == "articles":
            varieties = [variety for variety in _ARTICLE_VARIETIES if variety in pools]
        elif plan.kind == "html":
            varieties = [variety for variety, count in plan.counts.items() if variety in pools for _ in range(count)]
        else:
            continue
        made[plan.id] = []
        for index, variety in enumerate(varieties):
            # Two of every three articles discuss a narrative; the first page of an html source does.
            narrative = index % 3 != 0 if plan.kind == "articles" else index == 0
            item = _compose_page(plan.id, variety, pools[variety], composer, rng, narrative)
            if item is not None:
                item.published_at = at(rng.randint(1, _WINDOW_DAYS))
                number = len(made[plan.id]) + 1
                item.page_path = (f"articles/{number:02d}-{variety.lower()}.html" if plan.kind == "articles"
                                  else f"{plan.path}-{number}.html")
                made[plan.id].append(item)
    return made


def _compose_page(source_id: str, variety: str, pool: VarietyPool, composer: _Composer, rng: random.Random,
                  narrative: bool) -> Item | None:
    """3-6 paragraphs: a report line, context and a rebuttal (narrative), or everyday lines only."""
    reports = sorted(key for key in pool.narrative if key[1] == "report" and len(key[0]) == 1)
    for _ in range(30):
        context = [s.text for s in rng.sample(pool.everyday, min(len(pool.everyday), rng.randint(3, 5)))]
        if narrative and reports:
            labels = rng.choice(reports)[0]
            report = rng.choice(pool.narrative[(labels, "report")]).text
            counters = pool.narrative.get((labels, "counter"), [])
            closing = [rng.choice(counters).text] if counters else []
            paragraphs = [report, *context[: 4 - len(closing)], *closing]
            stance, kind = "report", "narrative"
        else:
            labels, stance, kind = (), "none", "everyday"
            paragraphs = context
        if len(paragraphs) >= 3 and composer.claim(source_id, paragraphs):
            return Item(source_id, variety, paragraphs, labels, stance, kind, _EPOCH)
    return None


# -- writers -----------------------------------------------------------------------------------------------------
def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=True, keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["rfc822"] = lambda value: email.utils.format_datetime(value.astimezone(UTC), usegmt=True)
    env.filters["iso"] = _iso
    return env


def _assign_ids(plan: SourcePlan, batch: Sequence[Item], base_url: str, rng: random.Random) -> None:
    """guid/id, link, title and author, numbered oldest first so ids grow with time like real feeds."""
    for number, item in enumerate(batch, start=1):
        item.item_id = f"{_TAG}{plan.id}/{number:04d}"
        item.url = f"{base_url}/posts/{plan.id}/{number:04d}.html"
        item.title = derive_title(item.sentences[0])
        item.author = rng.choice(plan.authors)


def _write_feed(out_dir: Path, env: jinja2.Environment, plan: SourcePlan, batch: list[Item], base_url: str,
                rng: random.Random, link_target: str) -> None:
    """An RSS 2.0 or Atom feed, newest entry first."""
    _assign_ids(plan, batch, base_url, rng)
    if plan.id == "en-news":
        _decorate_en_news(batch, link_target)
    entries = [_FeedEntry(item, _body_html(item, plan)) for item in reversed(batch)]
    languages = sorted({item.lang for item in batch}) or ["en"]
    feed = {
        "title": plan.title, "description": plan.description, "language": languages[0],
        "home_url": f"{base_url}/posts/{plan.id}/", "self_url": f"{base_url}/{plan.path}",
        "feed_id": f"{_TAG}{plan.id}", "updated": batch[-1].published_at if batch else _EPOCH,
        "atom_body": plan.atom_body,
    }
    template = env.get_template("rss.xml.j2" if plan.kind == "rss" else "atom.xml.j2")
    _write(out_dir / plan.path, template.render(feed=feed, entries=entries))


@dataclass
class _FeedEntry:
    """What a feed template needs of an item."""

    item: Item
    body_html: str

    def __getattr__(self, name: str) -> Any:
        return getattr(self.item, name)


def _decorate_en_news(batch: list[Item], link_target: str) -> None:
    """Two items carry a link in their text and one carries HTML entities, emoji and hashtags."""
    everyday = [item for item in batch if item.kind == "everyday"]
    if everyday:
        everyday[len(everyday) // 2].decoration = "entities"
    narrative = [item for item in batch if item.kind == "narrative" and item.stance in ("report", "counter")]
    for item in narrative[1:3]:
        item.link_in_text = link_target


def _body_html(item: Item, plan: SourcePlan) -> str:
    """The entry body: plain text for RSS, paragraphs for Atom content; escaped once more by the template."""
    if item.decoration == "entities":
        # Entities (&amp; &#8212; &#127806;) and a raw emoji, as CMS-exported summaries often have.
        return (f"<p>{html.escape(item.text)}</p>"
                "<p>&#127806; Markets &amp; prices &#8212; 📈 <a href=\"#kabul\">#Kabul</a> #prices</p>")
    if plan.kind == "atom":
        return "".join(f"<p>{html.escape(sentence)}</p>" for sentence in item.sentences) + (
            f"<p>{html.escape(item.link_in_text)}</p>" if item.link_in_text else "")
    return item.text


def _write_articles(out_dir: Path, env: jinja2.Environment, plan: SourcePlan, batch: list[Item], base_url: str,
                    rng: random.Random) -> None:
    """Article pages under articles/ and feeds/articles.xml listing them with a short summary each."""
    _assign_ids(plan, batch, base_url, rng)
    for item in batch:
        item.url = f"{base_url}/{item.page_path}"
    for item in batch:
        _write(out_dir / str(item.page_path), _render_page(env, item, batch, plan, base_url))
    entries = [_FeedEntry(item, _summary(item.sentences[0])) for item in reversed(batch)]
    feed = {
        "title": plan.title, "description": plan.description, "language": "en",
        "home_url": f"{base_url}/articles/", "self_url": f"{base_url}/{plan.path}", "feed_id": f"{_TAG}{plan.id}",
        "updated": batch[-1].published_at if batch else _EPOCH, "atom_body": plan.atom_body,
    }
    _write(out_dir / plan.path, env.get_template("rss.xml.j2").render(feed=feed, entries=entries))


def _write_pages(out_dir: Path, env: jinja2.Environment, plan: SourcePlan, batch: list[Item], base_url: str,
                 rng: random.Random) -> None:
    """Standalone pages of an html source: pages/<name>-<n>.html; the item id is the page URL."""
    _assign_ids(plan, batch, base_url, rng)
    for item in batch:
        item.url = item.item_id = f"{base_url}/{item.page_path}"
    for item in batch:
        _write(out_dir / str(item.page_path), _render_page(env, item, batch, plan, base_url))


def _render_page(env: jinja2.Environment, item: Item, batch: list[Item], plan: SourcePlan, base_url: str) -> str:
    chrome = {**_CHROME[item.variety], "nav_paths": _NAV_PATHS}
    related = [{"url": other.url, "title": other.title} for other in batch if other is not item][:5]
    page = {
        "lang": item.lang, "direction": "rtl" if item.script == "Arab" else "ltr", "title": item.title,
        "summary": _summary(item.sentences[0]), "author": item.author, "url": item.url,
        "published_at": item.published_at, "paragraphs": item.sentences, "related": related,
    }
    site = {"name": plan.title, "base_url": base_url}
    return env.get_template("article.html.j2").render(page=page, site=site, chrome=chrome)


def _summary(sentence: str, limit: int = 110) -> str:
    """The first words of a sentence, cut at a word boundary."""
    if len(sentence) <= limit:
        return sentence
    return sentence[:limit].rsplit(" ", 1)[0].rstrip(_TRAILING) + " …"


def _write_telegram(out_dir: Path, plan: SourcePlan, batch: list[Item], base_url: str, rng: random.Random,
                    link_target: str) -> None:
    """A Telegram Desktop export (machine-readable JSON) with captions, media, forwards and service messages."""
    channel_id = 1700000001
    name, from_id = plan.title, f"channel{channel_id}"
    location = f"{base_url}/{plan.path}"
    _decorate_telegram(batch, link_target, rng)
    # Media without captions and service messages are not items; they are interleaved by date.
    extras: list[tuple[datetime, dict[str, Any]]] = []
    first = min((item.published_at for item in batch), default=_EPOCH)
    extras.append((first - timedelta(hours=2), {"type": "service", "action": "create_channel", "title": name}))
    for number in range(6):
        when = batch[(number * 13 + 5) % len(batch)].published_at + timedelta(minutes=7) if batch else first
        extras.append((when, {"type": "message", "photo": f"photos/photo_{number + 1}@{when:%d-%m-%Y_%H-%M-%S}.jpg",
                              "photo_file_size": 80_000 + number * 7_919, "width": 1280, "height": 720}))
    for number in range(3):
        when = batch[(number * 29 + 11) % len(batch)].published_at + timedelta(minutes=11) if batch else first
        extras.append((when, {"type": "message", "file": f"files/bulletin_{number + 1}.pdf",
                              "file_name": f"bulletin_{number + 1}.pdf", "file_size": 240_000 + number * 13_331,
                              "mime_type": "application/pdf"}))
    if batch:
        extras.append((batch[len(batch) // 2].published_at + timedelta(minutes=3),
                       {"type": "service", "action": "edit_group_title", "title": name}))
    # Two posts are pinned a minute after they appear; the pin names the post's message id.
    pinned = [batch[len(batch) // 3], batch[(2 * len(batch)) // 3]] if len(batch) >= 3 else []
    extras += [(item.published_at + timedelta(minutes=1), {"type": "service", "action": "pin_message", "pin": item})
               for item in pinned]

    events: list[tuple[datetime, int, Any]] = [(item.published_at, 0, item) for item in batch]
    events += [(when, 1, extra) for when, extra in extras]
    events.sort(key=lambda event: (event[0], event[1]))
    messages: list[dict[str, Any]] = []
    for message_id, (when, _, event) in enumerate(events, start=1):
        head = {"id": message_id, "type": "message", "date": when.strftime("%Y-%m-%dT%H:%M:%S"),
                "date_unixtime": str(int(when.timestamp()))}
        if isinstance(event, Item):
            event.item_id, event.url = str(message_id), f"{location}#{message_id}"
            event.title = derive_title(event.sentences[0])
            message = {**head, "from": name, "from_id": from_id}
            if event.decoration == "forwarded":
                message["forwarded_from"] = rng.choice(_FORWARDED_FROM)
            if event.decoration == "caption":
                message.update({"photo": f"photos/photo_c{message_id}@{when:%d-%m-%Y_%H-%M-%S}.jpg",
                                "photo_file_size": 95_000 + message_id, "width": 1080, "height": 1080})
            parts = _telegram_parts(event, base_url)
            message["text"] = parts[0] if len(parts) == 1 and isinstance(parts[0], str) else parts
            message["text_entities"] = [
                {"type": "plain", "text": part} if isinstance(part, str) else part for part in parts if part
            ]
        elif event["type"] == "service":
            details = {key: value for key, value in event.items() if key not in ("type", "pin")}
            if "pin" in event:
                details["message_id"] = int(event["pin"].item_id)
            message = {**head, "type": "service", "actor": name, "actor_id": from_id, **details, "text": "",
                       "text_entities": []}
        else:
            message = {**head, "from": name, "from_id": from_id, **event, "text": "", "text_entities": []}
        messages.append(message)
    export = {"name": name, "type": "public_channel", "id": channel_id, "messages": messages}
    _write(out_dir / plan.path, json.dumps(export, ensure_ascii=False, indent=1) + "\n")


def _decorate_telegram(batch: list[Item], link_target: str, rng: random.Random) -> None:
    """Mix the message formats of a real channel: bold headlines, hashtags, forwards, captions, links."""
    plain = [item for item in batch if item.decoration is None]
    styles = ["bold"] * 14 + ["hashtags"] * 12 + ["forwarded"] * 10 + ["caption"] * 3
    for item, style in zip(rng.sample(plain, min(len(plain), len(styles))), styles, strict=False):
        item.decoration = style
    rest = [item for item in batch if item.decoration is None]
    # Ingested text must be escaped wherever it is shown; this post tests that. It is the newest post of a planted
    # signal (the trend, else the emerging cluster), so it is alert evidence and shows up in the weekly digest.
    planted = [item for item in rest if item.planted == "trend"] or [item for item in batch if item.kind == "cluster"]
    carrier = max(planted, key=lambda item: item.published_at) if planted else (rest[0] if rest else None)
    if carrier is not None:
        carrier.decoration = "script"
    remaining = [item for item in rest if item.decoration is None]
    if len(remaining) >= 2:
        remaining[0].decoration = "link"
        remaining[0].link_in_text = link_target
        remaining[1].decoration = "text_link"


def _telegram_parts(item: Item, base_url: str) -> list[Any]:
    """The `text` of a message as Telegram Desktop writes it: a string, or strings mixed with entity objects."""
    body = " ".join(item.sentences)
    if item.decoration == "bold":
        return [{"type": "bold", "text": item.title}, "\n\n" + body]
    if item.decoration == "hashtags":
        first, second = _HASHTAGS.get(item.variety, ("#news", "#today"))
        return ["📌 " + body + "\n\n", {"type": "hashtag", "text": first}, " ", {"type": "hashtag", "text": second}]
    if item.decoration == "script":
        return [body + "\n<script>alert(1)</script>"]
    if item.decoration == "link" and item.link_in_text:
        return [body + " ", {"type": "link", "text": item.link_in_text}]
    if item.decoration == "text_link":
        return [body + " ", {"type": "text_link", "text": "→", "href": f"{base_url}/articles/"}]
    if item.decoration == "mention":
        return [body + " ", {"type": "mention", "text": _CLUSTER_HANDLE}]
    return [body]


def _write_drop(out_dir: Path, plan: SourcePlan, batch: list[Item], base_url: str, rng: random.Random,
                link_target: str) -> None:
    """A JSONL or CSV file drop with the fields id, url, title, text, published_at, author."""
    for number, item in enumerate(batch, start=1):
        item.item_id = f"{plan.id}-{number:04d}"
        item.url = f"{base_url}/posts/{plan.id}/{number:04d}.html"
        item.title = derive_title(item.sentences[0])
        item.author = rng.choice(plan.authors)
    if plan.kind == "csv" and len(batch) > 10:
        # One row with a link in the text and one with a line break, which CSV must quote.
        batch[3].link_in_text = link_target
    multiline = next((item for item in batch[5:] if len(item.sentences) > 1), None) if plan.kind == "csv" else None
    rows = []
    for item in batch:
        text = "\n".join(item.sentences) if item is multiline else item.text
        rows.append({"id": item.item_id, "url": item.url, "title": item.title, "text": text,
                     "published_at": _iso(item.published_at), "author": item.author})
    if plan.kind == "jsonl":
        content = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["id", "url", "title", "text", "published_at", "author"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        content = buffer.getvalue()
    _write(out_dir / plan.path, content)


def _write_sources(out_dir: Path, base_url: str, items: dict[str, list[Item]]) -> None:
    """sources.yaml for everything rendered; drops as paths relative to it, the rest over HTTP."""
    sources = []
    for plan in PLANS:
        batch = items[plan.id]
        langs = sorted({item.lang for item in batch}) or sorted({variety.split("-")[0] for variety in plan.counts})
        entry: dict[str, Any] = {"id": plan.id}
        if plan.kind in ("rss", "atom", "articles"):
            entry.update(kind="feed", location=f"{base_url}/{plan.path}")
        elif plan.kind == "html":
            urls = [item.url for item in batch] or [f"{base_url}/{plan.path}-1.html"]
            entry.update(kind="html", location=urls[0])
            if urls[1:]:
                entry["pages"] = urls[1:]
        elif plan.kind == "telegram":
            entry.update(kind="telegram", location=f"{base_url}/{plan.path}")
        else:
            entry.update(kind=plan.kind, location=plan.path)
        entry.update(expected_langs=langs, tags=list(plan.tags), group=plan.group, schedule=plan.schedule)
        if plan.kind == "articles":
            entry["fetch_full_text"] = True
        if plan.kind not in ("jsonl", "csv"):
            entry["allow_private_network"] = True
        sources.append(entry)
    header = ("# Sources of the synthetic demo media (rendered by sample_media.build; do not edit by hand).\n"
              f"# Served from {base_url}; drops are read from files next to this one.\n")
    body = yaml.safe_dump({"sources": sources}, allow_unicode=True, sort_keys=False, width=120)
    _write(out_dir / "sources.yaml", header + body)


def _write(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8", newline="\n")


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m pmon.sample_media OUT_DIR [BASE_URL] [YYYY-MM-DD]`: render and print the manifest."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        raise SystemExit("usage: python -m pmon.sample_media OUT_DIR [BASE_URL] [YYYY-MM-DD]")
    base = args[1] if len(args) > 1 else "http://127.0.0.1:8765"
    anchor = date.fromisoformat(args[2]) if len(args) > 2 else None
    print(render(Path(args[0]), base, anchor).model_dump_json(indent=2))
