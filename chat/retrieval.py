"""Ranking knowledge articles for a question, in process: BM25F over concepts and character bigrams.

The ranker is built from data: the articles (title, answer, language, extra wordings) and the synonym
groups, so the admin's tables can feed it. Building it for a few thousand articles takes about a second
(jieba); a question then costs a few milliseconds (README, Bot quality). ``chat.knowledge``
keeps one per process and rebuilds it when the Whoosh index of articles changes.

Scoring (``analysis`` says how a text becomes weighted terms):

- Each article has three fields: title (boost 3: it is the question itself), extra wordings (boost 2)
  and answer (boost 1). A feature is a concept (a word's synonym group) or a character bigram; its
  weight is the word's general-corpus IDF (bigrams: ``BIGRAM_SHARE`` of it). BM25F saturates the
  boosted, length-normalised term frequency (k1, b below).
- A question word no article holds is tried as a typo: Chinese by pinyin (发漂 → 发票, 密马 → 密码,
  bigrams too), English by one edit (refnud → refund); a corrected word counts ``TYPO_CREDIT`` of itself.
- *Coverage* is the share of the question's weight that an article holds (a word counts when one of its
  concepts is there, or in part when some of its bigrams are). It is what the decision leans on.

Language: the question is searched in its own language (an English question in a Chinese chat finds
the English articles); when an English question finds nothing plausible there, every language is searched
(synonyms cross languages: "invoice" is a 发票 concept). A question written in Chinese characters is
answered from the Chinese articles only: its reader reads Chinese.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace

from chat import analysis
from chat.analysis import Term, Thesaurus

K1 = 1.2
B = 0.5
BOOSTS = {"title": 3.0, "wordings": 2.0, "body": 1.0}
BIGRAM_SHARE = 0.35
TYPO_CREDIT = 0.85
CANDIDATES = 3
RERANK_EXTRA = 5
COVERAGE_FLOOR = 0.5
FALLBACK_COVERAGE = 0.5
ANSWER_CREDIT = 0.7
CHARACTER_CREDIT = 0.5
VERB_SHARE = 0.6


@dataclass(frozen=True)
class Article:
    """One knowledge article as the ranker sees it."""

    id: int
    title: str
    body: str
    language: str
    wordings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """An article for a question: its score (BM25F times coverage plus a floor) and its coverage."""

    article: Article
    score: float
    coverage: float


@dataclass(frozen=True)
class Ranking:
    """The best articles for a question, best first, with the features the decision reads."""

    candidates: list[Candidate]
    terms: list[str] = field(default_factory=list)
    corrected: dict[str, str] = field(default_factory=dict)
    languages: str = ""
    exact: bool = False  # the question is, word for word, the best article's title or one of its wordings

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    @property
    def margin(self) -> float:
        """How far the best stands ahead of the second, as a share of the best score (1.0 when alone)."""
        if not self.candidates:
            return 0.0
        if len(self.candidates) == 1 or self.candidates[0].score <= 0:
            return 1.0
        return 1.0 - self.candidates[1].score / self.candidates[0].score


@dataclass(frozen=True)
class _Analysed:
    fields: dict[str, list[str]]
    pinyin: list[tuple[str, str]]
    latin: list[str]


@dataclass
class _Feature:
    weight: float
    coverage_of: int  # index of the question term it stands for (-1: a bigram, for scoring only)


class Ranker:
    """An in-process BM25F index over a set of articles; immutable once built (build a new one on change)."""

    def __init__(
        self,
        articles: Iterable[Article],
        synonyms: Iterable[Sequence[str]] | None = None,
        *,
        previous: Ranker | None = None,
    ) -> None:
        """``previous``: a ranker built with the same synonyms, whose analysed articles are reused
        (rebuilding after one article changed then analyses that article only)."""
        groups = [list(group) for group in (analysis.seed_synonyms() if synonyms is None else synonyms)]
        self.thesaurus = Thesaurus(groups)
        self.groups = groups
        self._analysed: dict[tuple[str, str, tuple[str, ...]], _Analysed] = {}
        reuse = previous._analysed if previous is not None and previous.groups == groups else {}
        self._reuse = reuse
        self.articles = list(articles)
        self.by_id = {article.id: article for article in self.articles}
        self.languages = sorted({a.language for a in self.articles})
        # feature -> {article index: saturated BM25F term frequency}
        self.postings: dict[str, dict[int, float]] = defaultdict(dict)
        self.words_of: list[set[str]] = []  # concepts and bigrams each article holds
        self.exact: dict[str, list[int]] = {}  # a title or wording, normalised -> the articles that read so
        self.asks_of: list[set[str]] = []  # those of its title and wordings (the question, not the answer)
        self.chars_of: list[set[str]] = []  # its Chinese characters (a one-character word inside a longer one)
        self.pinyin: dict[str, set[str]] = defaultdict(set)  # pinyin key -> article words / bigrams
        self.latin: dict[str, set[str]] = defaultdict(set)  # one-deletion key -> article English words
        self._index()
        self._reuse = {}

    # --- building ------------------------------------------------------------------------------

    def _fields(self, article: Article) -> dict[str, list[str]]:
        key = (article.title, article.body, article.wordings)
        analysed = self._reuse.get(key) or self._analyse(article)
        self._analysed[key] = analysed
        for pinyin, word in analysed.pinyin:
            self.pinyin[pinyin].add(word)
        for word in analysed.latin:
            for deleted in _deletions(word):
                self.latin[deleted].add(word)
        return analysed.fields

    def _analyse(self, article: Article) -> _Analysed:
        fields: dict[str, list[str]] = {}
        sounds: list[tuple[str, str]] = []
        latin: list[str] = []
        for name, text in (("title", article.title), ("wordings", "\n".join(article.wordings)),
                           ("body", article.body)):  # fmt: skip
            terms = analysis.analyse(text, self.thesaurus) if text else []
            terms += [piece for term in terms if term.cjk and not analysis.known_word(term.word)
                      for piece in analysis.split_unknown(term, self.thesaurus)]  # fmt: skip
            grams = [gram for gram, _weight in analysis.bigrams(terms)]
            features = [f"c:{concept}" for term in terms for concept in term.concepts]
            features += [f"b:{gram}" for gram in grams]
            fields[name] = features
            for term in terms:
                if term.cjk and len(term.word) > 1:
                    sounds.append((analysis.pinyin_key(term.word), term.word))
                elif not term.cjk and len(term.word) >= 4:
                    latin.append(term.word)
            sounds += [(analysis.pinyin_key(gram), gram) for gram in grams]
        return _Analysed(fields, sounds, latin)

    def _index(self) -> None:
        per_article = [self._fields(article) for article in self.articles]
        average = {name: (sum(len(f[name]) for f in per_article) / len(per_article) if per_article else 1.0) or 1.0
                   for name in BOOSTS}  # fmt: skip
        for index, fields in enumerate(per_article):
            weighted: dict[str, float] = defaultdict(float)
            for name, features in fields.items():
                norm = 1 - B + B * len(features) / average[name]
                for feature in features:
                    weighted[feature] += BOOSTS[name] / norm
            for feature, tf in weighted.items():
                self.postings[feature][index] = tf * (K1 + 1) / (tf + K1)
            self.words_of.append(set(weighted))
            article = self.articles[index]
            for asked in (article.title, *article.wordings):
                key = analysis.normalised_question(asked)
                if key and index not in self.exact.setdefault(key, []):
                    self.exact[key].append(index)
            self.asks_of.append(set(fields["title"]) | set(fields["wordings"]))
            article = self.articles[index]
            self.chars_of.append(set(analysis.fold(" ".join((article.title, *article.wordings, article.body)))))

    # --- a question ------------------------------------------------------------------------------

    def _known(self, term: Term) -> bool:
        return any(f"c:{concept}" in self.postings for concept in term.concepts)

    def _correct(self, term: Term) -> Term | None:
        """The article word this misspelt word most likely meant, as a term, or None."""
        if term.cjk:
            if len(term.word) < 2:
                return None
            found = sorted(self.pinyin.get(analysis.pinyin_key(term.word), ()))
            found = [word for word in found if f"c:{self.thesaurus.of(word)[0]}" in self.postings]
        else:
            near = {word for key in _deletions(term.word) for word in self.latin.get(key, ())}
            # Same first letter first (people rarely miss it), then the commoner word.
            found = sorted((word for word in near if _within_one_edit(term.word, word)),
                           key=lambda w: (w[0] != term.word[0], analysis.english_weight(w), w))  # fmt: skip
        if not found:
            return None
        word = found[0]
        weight = analysis.chinese_weight(word) if term.cjk else analysis.english_weight(word)
        return Term(word, self.thesaurus.of(word), weight * TYPO_CREDIT, term.cjk)

    def rank(self, question: str, language: str, *, limit: int = CANDIDATES, strict: bool = False,
             among: Collection[int] | None = None) -> Ranking:  # fmt: skip
        """The best ``limit`` articles for ``question`` asked in a chat in ``language`` (see the module);
        ``strict``: in that language only; ``among``: only these article ids (a shop's scope). A question that
        is an article's title or wording word for word (case, width and punctuation aside) puts that article
        first, marked ``exact``."""
        ranking = self._ranked(question, language, limit=limit, strict=strict, among=among)
        found = self.exact.get(analysis.normalised_question(question))
        if not found:
            return ranking
        allowed = {language} if strict else set(ranking.languages.split(",")) if ranking.languages else set()
        allowed = allowed or {analysis.language_of(question) or language}
        article = next((self.articles[i] for i in found if self.articles[i].language in allowed
                        and (among is None or self.articles[i].id in among)), None)  # fmt: skip
        if article is None:
            return ranking
        rest = [c for c in ranking.candidates if c.article.id != article.id]
        top = Candidate(article, round(max((c.score for c in rest), default=0.0) + 1.0, 4), 1.0)
        return replace(ranking, candidates=[top, *rest][:limit], exact=True)

    def _ranked(self, question: str, language: str, *, limit: int, strict: bool,
                among: Collection[int] | None) -> Ranking:  # fmt: skip
        terms, corrected = self._question_terms(question)
        if not terms:
            return Ranking([])
        if strict:
            ranking = self._rank(terms, {language}, limit, among)
            return Ranking(ranking.candidates, [t.word for t in terms], corrected, ranking.languages)
        asked_in = analysis.language_of(question) or language
        first = self._rank(terms, {asked_in} if asked_in in self.languages else {language}, limit, among)
        best = first.best
        # A question in Chinese characters is read by someone who reads Chinese: only a Latin-script question
        # (English words, which a Chinese chat also types) looks further, in every language.
        if asked_in == "zh-hans" and asked_in in self.languages:
            return Ranking(first.candidates, [t.word for t in terms], corrected, first.languages)
        if best is None or best.coverage < FALLBACK_COVERAGE:
            everywhere = self._rank(terms, set(self.languages), limit, among)
            if everywhere.best is not None and (best is None or everywhere.best.coverage > best.coverage):
                first = everywhere
        return Ranking(first.candidates, [t.word for t in terms], corrected, first.languages)

    def _question_terms(self, question: str) -> tuple[list[Term], dict[str, str]]:
        terms: list[Term] = []
        corrected: dict[str, str] = {}
        for term in analysis.analyse(question, self.thesaurus):
            if self._known(term):
                terms.append(term)
                continue
            fixed = self._correct(term)
            if fixed is not None:
                corrected[term.word] = fixed.word
                terms.append(fixed)
            elif term.cjk and not analysis.known_word(term.word) and len(term.word) > 1:
                pieces = analysis.split_unknown(term, self.thesaurus)
                terms.extend(self._correct(piece) or piece if not self._known(piece) else piece for piece in pieces)
            else:
                terms.append(term)
        return self._shade_verbs(self._join_misspelt(terms, corrected)), corrected

    def _shade_verbs(self, terms: list[Term]) -> list[Term]:
        """Verbs and adverbs weigh ``VERB_SHARE`` of their IDF: a question's topic is its nouns (忘 of
        密码忘了 may be missing from the article; 宠物 of 宠物可以邮寄吗 must not be)."""
        tags = analysis.part_of_speech()
        shaded = []
        for term in terms:
            flag = tags.get(term.word, "")
            if term.cjk and flag[:1] in ("v", "a", "d") and flag != "vn":
                term = Term(term.word, term.concepts, term.weight * VERB_SHARE, True)
            shaded.append(term)
        return shaded

    def _join_misspelt(self, terms: list[Term], corrected: dict[str, str]) -> list[Term]:
        """Two neighbouring Chinese words that sound like one article word, one of them a single character
        the articles lack (发 + 漂 → 发票, 优惠 + 劵 → 优惠券), become that word."""
        joined: list[Term] = []
        for term in terms:
            before = joined[-1] if joined else None
            if before is not None and before.cjk and term.cjk and (len(term.word) == 1 or len(before.word) == 1):
                lone = term if len(term.word) == 1 else before
                if not self._known(lone):
                    both = Term(before.word + term.word, (), max(before.weight, term.weight), True)
                    fixed = self._correct(both)
                    if fixed is not None:
                        corrected[both.word] = fixed.word
                        joined[-1] = fixed
                        continue
            joined.append(term)
        return joined

    def _rank(self, terms: list[Term], languages: set[str], limit: int, among: Collection[int] | None) -> Ranking:
        features: dict[str, _Feature] = {}
        for position, term in enumerate(terms):
            for concept in term.concepts:
                feature = features.setdefault(f"c:{concept}", _Feature(0.0, position))
                feature.weight = max(feature.weight, term.weight)
        for gram, weight in analysis.bigrams(terms):
            key = f"b:{gram}"
            if key not in self.postings:
                sounds = sorted(self.pinyin.get(analysis.pinyin_key(gram), ()))
                if not sounds:
                    continue
                key, weight = f"b:{sounds[0]}", weight * TYPO_CREDIT
            feature = features.setdefault(key, _Feature(0.0, -1))
            feature.weight = max(feature.weight, weight * BIGRAM_SHARE)
        scores: dict[int, float] = defaultdict(float)
        for key, feature in features.items():
            for index, saturated in self.postings.get(key, {}).items():
                article = self.articles[index]
                if article.language in languages and (among is None or article.id in among):
                    scores[index] += feature.weight * saturated
        # The few best by BM25F, re-ordered by BM25F weighed by coverage: an article that holds every
        # word of the question beats one that holds one word many times.
        best = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[: limit + RERANK_EXTRA]
        covered = [(i, s, self._coverage(terms, i)) for i, s in best]
        candidates = [Candidate(self.articles[i], round(s * (COVERAGE_FLOOR + c), 4), c) for i, s, c in covered]
        candidates.sort(key=lambda c: (-c.score, c.article.id))
        return Ranking(candidates[:limit], languages=",".join(sorted(languages)))

    def _coverage(self, terms: list[Term], index: int) -> float:
        """The share of the question's weight the article holds. A word only the answer holds counts
        ``ANSWER_CREDIT`` of itself: the title and wordings are the question, the answer merely mentions."""
        holds, asks = self.words_of[index], self.asks_of[index]
        total = covered = 0.0
        for term in terms:
            total += term.weight
            if any(f"c:{concept}" in asks for concept in term.concepts):
                covered += term.weight
            elif any(f"c:{concept}" in holds for concept in term.concepts):
                covered += term.weight * ANSWER_CREDIT
            elif term.cjk and len(term.word) > 1:
                grams = [term.word[i : i + 2] for i in range(len(term.word) - 1)]
                covered += term.weight * sum(f"b:{g}" in holds for g in grams) / len(grams)
            elif term.cjk and term.word in self.chars_of[index]:
                covered += term.weight * CHARACTER_CREDIT  # 开 of 发票怎么开 inside the article's 开具
        return round(covered / total, 3) if total else 0.0


def _deletions(word: str) -> set[str]:
    return {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}


def _within_one_edit(a: str, b: str) -> bool:
    """One insertion, deletion, substitution or adjacent swap apart (Damerau–Levenshtein ≤ 1)."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))
