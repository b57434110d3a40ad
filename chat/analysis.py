"""How the bot reads a question or an article: words, their concepts, their weights.

A text becomes a list of ``Term``s:

- Chinese runs are segmented by jieba, with a user dictionary of service words (``data/userdict.txt``:
  without it 没收到 becomes 没收 + 到); English words are lower-cased and Porter-stemmed. Digits-only
  tokens (order numbers, amounts) carry no topic and are dropped.
- Stopwords (``data/stopwords_*.txt``: particles, pronouns, the padding of a service chat such as 请问,
  怎么, 一下) are dropped, so 我/想/吗/能 never outweigh the topic word.
- Every word maps to its *concepts* through the synonym table (``data/synonyms.txt``, or the rows an
  admin edits, passed in as data): 撤销 and 取消 and "cancel" share one concept. English phrases of the
  table ("send back", "money back") are found before the words are split.
- The weight of a word is its IDF in a general corpus (jieba's ``analyse/idf.txt``, 270,000 words; for
  English, wordfreq's Zipf frequency mapped onto the same scale), not in the knowledge base: in a base
  of 14 articles every everyday word looks rare.
- The Chinese character bigrams of the content words (stopwords removed) are features too, so a word
  jieba segments differently in the question and in the article still meets its other half.

Pinyin keys (``pinyin_key``) let a misspelt word (发漂, 密马) find the article's word that sounds the same.
Nothing here touches the database; everything is loaded once per process from files inside packages.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jieba
from pypinyin import Style, lazy_pinyin
from whoosh.lang.porter import stem

DATA = Path(__file__).resolve().parent / "data"
IDF_FILE = Path(jieba.__file__).resolve().parent / "analyse" / "idf.txt"
DICT_FILE = Path(jieba.__file__).resolve().parent / "dict.txt"
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUN_RE = re.compile(rf"(?P<cjk>[{CJK}]+)|(?P<word>[a-z0-9]+(?:[-'][a-z0-9]+)*)")
_CJK_RE = re.compile(rf"[{CJK}]")
_LATIN_RE = re.compile(r"[a-z]")
# Full-width ASCII (！ to ～) and the ideographic space fold to half-width, one character for one.
_FOLD = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
# English Zipf frequency (log10 per billion words: "the" 7.7, "refund" 3.9) onto jieba's IDF scale
# ("我" 2.7, "退款" 10.1); a word wordfreq never saw weighs like jieba's unknown words.
ZIPF_TOP, ZIPF_SCALE, ENGLISH_UNKNOWN = 8.5, 1.6, 11.0
MAX_TERMS = 40


@dataclass(frozen=True)
class Term:
    """One content word of a text: as written (stemmed when English), its concepts and its general weight."""

    word: str
    concepts: tuple[str, ...]
    weight: float
    cjk: bool


def _lines(name: str) -> list[str]:
    text = (DATA / name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def fold(text: str) -> str:
    return text.translate(_FOLD).lower()


_PUNCTUATION = re.compile(r"[\s!！?？,，.。~～…、;；:：\"“”'‘’()（）\[\]【】]+")


def normalised_question(text: str) -> str:
    """A question as the bot compares and groups questions (missed questions, chosen answers): width and case
    folded, punctuation and spaces gone."""
    return _PUNCTUATION.sub("", fold(text))


@lru_cache(maxsize=100_000)
def stem_word(word: str) -> str:
    return stem(word) if word.isalpha() else word


def seed_synonyms() -> list[list[str]]:
    """The shipped synonym groups (``data/synonyms.txt``), first term naming the group."""
    return [[term.strip() for term in line.split(",") if term.strip()] for line in _lines("synonyms.txt")]


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    return frozenset(_lines("stopwords_zh.txt")) | frozenset(_lines("stopwords_en.txt"))


@lru_cache(maxsize=1)
def general_idf() -> tuple[dict[str, float], float]:
    """jieba's general-corpus IDF table and its median (the weight of a word the corpus never saw)."""
    table: dict[str, float] = {}
    with IDF_FILE.open(encoding="utf-8") as lines:
        for line in lines:
            word, _space, value = line.rstrip("\n").rpartition(" ")
            if word:
                table[word] = float(value)
    values = sorted(table.values())
    return table, values[len(values) // 2]


_ready = threading.Lock()
_loaded_words: set[str] = set()


def add_words(words: Iterable[str]) -> None:
    """Teach jieba words it must keep whole (service words, synonym terms, article titles' words)."""
    with _ready:
        for word in words:
            if word not in _loaded_words and _CJK_RE.search(word) and " " not in word:
                jieba.add_word(word, freq=50_000)
                _loaded_words.add(word)


def prepare() -> None:
    """Load jieba, its user dictionary and the IDF table (a second or two): at start, not on a question."""
    jieba.initialize()
    add_words(line.split()[0] for line in _lines("userdict.txt"))
    add_words(term for group in seed_synonyms() for term in group)
    general_idf()
    part_of_speech()
    stopwords()
    english_weight("refund")  # loads wordfreq's English list


@lru_cache(maxsize=1)
def part_of_speech() -> dict[str, str]:
    """jieba's dictionary tags (忘 v, 密码 n), read from the file rather than through ``jieba.posseg``,
    whose model costs three seconds at import and segments differently from ``jieba.lcut``."""
    tags: dict[str, str] = {}
    with DICT_FILE.open(encoding="utf-8") as lines:
        for line in lines:
            parts = line.split()
            if len(parts) == 3:
                tags[parts[0]] = parts[2]
    return tags


@lru_cache(maxsize=100_000)
def english_weight(word: str) -> float:
    # Imported here, not at the top: wordfreq costs most of a second, and every process that imports
    # the tasks (workers, commands) would pay it; prepare() loads it once where the bot runs.
    from wordfreq import zipf_frequency

    zipf = zipf_frequency(word, "en")
    return ENGLISH_UNKNOWN if zipf <= 0 else max(1.0, (ZIPF_TOP - zipf) * ZIPF_SCALE)


@lru_cache(maxsize=100_000)
def chinese_weight(word: str) -> float:
    """The word's general IDF; for a word the table lacks, that of its heaviest known part (还没到 weighs
    like 没到, not like a rare word), or the median when no part is known (a new word, a typo)."""
    table, median = general_idf()
    if word in table:
        return table[word]
    parts = [word[i:j] for i in range(len(word)) for j in range(i + 1, len(word)) if word[i:j] in table]
    if not parts:
        return median
    longest = max(len(part) for part in parts)
    return max(table[part] for part in parts if len(part) == longest)


def known_word(word: str) -> bool:
    """Whether the general corpus knows the word (jieba's HMM invents words from unknown runs: 完款, 能发)."""
    return word in general_idf()[0]


_PINYIN_FUZZY = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("ing", "in"), ("eng", "en"), ("ang", "an"))


@lru_cache(maxsize=50_000)
def _syllable(char: str) -> str:
    syllables = lazy_pinyin(char, style=Style.NORMAL, errors="ignore")
    syllable = syllables[0] if syllables else char
    for long, short in _PINYIN_FUZZY:
        syllable = syllable.replace(long, short)
    return "n" + syllable[1:] if syllable.startswith("l") else syllable


def pinyin_key(text: str) -> str:
    """Toneless pinyin with the common confusions folded (zh/z, ch/c, sh/s, -ng/-n, l/n): 发漂 == 发票.
    Character by character (each character's commonest reading), which is what a typo shares."""
    return " ".join(_syllable(char) for char in text)


class Thesaurus:
    """Words to concepts: each synonym group is one concept, named by its first term."""

    def __init__(self, groups: Iterable[Sequence[str]]) -> None:
        self.concepts: dict[str, tuple[str, ...]] = {}
        self.phrases: list[tuple[re.Pattern[str], str, str]] = []  # pattern, concept, the phrase
        for group in groups:
            terms = [fold(term.strip()) for term in group if term.strip()]
            if not terms:
                continue
            name = terms[0]
            for term in terms:
                if " " in term:
                    pattern = re.compile(rf"(?<![a-z]){re.escape(term)}(?![a-z])")
                    self.phrases.append((pattern, name, term))
                key = term if _CJK_RE.search(term) else " ".join(stem_word(w) for w in term.split())
                known = self.concepts.get(key, ())
                if name not in known:
                    self.concepts[key] = (*known, name)
        self.phrases.sort(key=lambda item: -len(item[0].pattern))  # longest phrase first
        add_words(self.concepts)

    def of(self, word: str) -> tuple[str, ...]:
        return self.concepts.get(word, (word,))


def language_of(text: str) -> str:
    """``zh-hans`` when the text holds Chinese characters, ``en`` when only Latin letters, else empty."""
    if _CJK_RE.search(text):
        return "zh-hans"
    return "en" if _LATIN_RE.search(fold(text)) else ""


def analyse(text: str, thesaurus: Thesaurus) -> list[Term]:
    """The content words of ``text`` in order, each with its concepts and general weight (see the module)."""
    folded = fold(text)
    terms: list[Term] = []
    for pattern, name, phrase in thesaurus.phrases:
        if pattern.search(folded):
            weight = max(english_weight(word) for word in phrase.split())
            terms.append(Term(phrase, thesaurus.of(name), weight, False))
            folded = pattern.sub(" ", folded)
    skip = stopwords()
    for match in _RUN_RE.finditer(folded):
        run = match.group("cjk")
        if run is None:
            word = match.group("word")
            if word in skip or word.isdigit():
                continue
            stemmed = stem_word(word)
            terms.append(Term(stemmed, thesaurus.of(stemmed), english_weight(word), False))
            continue
        for word in jieba.lcut(run, HMM=True):
            if word not in skip:
                terms.append(Term(word, thesaurus.of(word), chinese_weight(word), True))
    return terms[:MAX_TERMS]


def split_unknown(term: Term, thesaurus: Thesaurus) -> list[Term]:
    """A word jieba's HMM made up (能发, 领的券), cut again by the dictionary alone, stopwords out."""
    skip = stopwords()
    return [Term(word, thesaurus.of(word), chinese_weight(word), True)
            for word in jieba.lcut(term.word, HMM=False) if word not in skip]  # fmt: skip


def bigrams(terms: Sequence[Term]) -> list[tuple[str, float]]:
    """The character bigrams of the content words (neighbouring content words joined), each weighed by
    the lighter of the words it touches: a bigram is evidence for its words, never more than them."""
    found: list[tuple[str, float]] = []
    chars: list[tuple[str, float]] = []

    def flush() -> None:
        for (a, wa), (b, wb) in itertools.pairwise(chars):
            found.append((a + b, min(wa, wb)))
        chars.clear()

    for term in terms:
        if not term.cjk:
            flush()
            continue
        chars.extend((char, term.weight) for char in term.word)
    flush()
    return found
