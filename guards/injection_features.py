"""Segments and features for the learned injection detector.

A passage is cut into segments (lines; table rows into cells; lines into sentences; long sentences into
windows), each segment is turned into a sparse feature dict, and the model scores each segment: the passage
score is the highest segment score, so an instruction in the middle of a long e-mail, table or code block
counts as much as one on its own.

Features aim at what makes text an instruction *to the model* rather than to a human reader:

- hand features (``h:``): second-person imperatives, references to "your answer/response/output/reply",
  addressing the AI/assistant/model, output-format and language demands, role changes, instruction-override
  verbs, exfiltration targets (URLs, e-mail addresses, send/forward/post), code that runs commands or posts
  data, and the pattern families of :mod:`guards.injection_patterns` as one signal among several;
- lexical features: lower-cased word unigrams (``w:``) and bigrams (``b:``), and the segment's first word
  (``f:``), where imperatives show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from guards.injection_patterns import FAMILIES

_I = re.IGNORECASE
# Words; a possessive or contracted "'s" stays outside ("your response's words" -> response, words).
_WORD = re.compile(r"(?<![a-z]')[a-z]+(?:'(?!s\b)[a-z]+)*|\d+")
_LINE = re.compile(r"[^\n]+")
_IMPERATIVES = (
    "Add|Analy[sz]e|Answer|Append|Ask|Augment|Begin|Break|Calculate|Change|Combine|Compose|Convert|Create|"
    "Deliver|Describe|Develop|Disregard|Draft|Embed|Encode|End|Enhance|Explain|Forget|Format|Generate|Give|"
    "Group|Ignore|Include|Incorporate|Insert|Integrate|List|Make|Merge|Mention|Misspell|Modify|Output|"
    "Please|Print|Promote|Provide|Rearrange|Remove|Render|Repeat|Replace|Reply|Respond|Rewrite|Say|"
    "Scramble|Send|Share|Start|Substitute|Suggest|Summari[sz]e|Tell|Translate|Use|Write"
)
# Sentence ends; a lower-case letter's full stop glued to a capital ("email.The"); and a capitalised
# imperative inside a sentence, where an instruction is glued on without a full stop ("The Team Replace").
_SENT_END = re.compile(
    r"(?<=[.!?:;])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9#*`<\[])|(?<=[.!?])[\"')\]]*\s+(?=[a-z])|"
    r"(?<=[a-z][.!?])(?=[A-Z][a-z])|(?<=[\w,)\]\"'])\s+(?=(?:" + _IMPERATIVES + r")\b)"
)
_CELL = re.compile(r"[^|]+")
MAX_SEGMENT = 320


@dataclass(frozen=True)
class Segment:
    start: int
    end: int
    text: str


def _windows(text: str, start: int, out: list[Segment]) -> None:
    """Cut one over-long sentence into overlapping windows at word boundaries."""
    pos = 0
    while pos < len(text):
        end = min(len(text), pos + MAX_SEGMENT)
        if end < len(text):
            space = text.rfind(" ", pos + MAX_SEGMENT // 2, end)
            end = space if space > 0 else end
        out.append(Segment(start + pos, start + end, text[pos:end]))
        if end >= len(text):
            break
        pos = max(pos + 1, end - MAX_SEGMENT // 4)


def segments(text: str) -> list[Segment]:
    """The segments of ``text`` with their character offsets; segments without a letter are dropped."""
    out: list[Segment] = []
    for line in _LINE.finditer(text):
        line_text, base = line.group(0), line.start()
        if line_text.count("|") >= 2:
            # A table row: its cells long enough to carry an instruction (not "Report", "1989").
            pieces = [
                (m.start(), m.group(0)) for m in _CELL.finditer(line_text) if m.group(0).count(" ") >= 3
            ]
        else:
            pieces = [(0, line_text)]
        for offset, piece in pieces:
            pos = 0
            for m in _SENT_END.finditer(piece):
                _add(piece[pos : m.start()], base + offset + pos, out)
                pos = m.end()
            _add(piece[pos:], base + offset + pos, out)
    return out


def _add(text: str, start: int, out: list[Segment]) -> None:
    stripped = text.strip()
    if not stripped or not any(ch.isalpha() for ch in stripped):
        return
    start += text.index(stripped[0])
    if len(stripped) > MAX_SEGMENT:
        _windows(stripped, start, out)
    else:
        out.append(Segment(start, start + len(stripped), stripped))


def _words(*groups: str) -> frozenset[str]:
    return frozenset(w for g in groups for w in g.split())


_SECOND = _words("you your yours yourself you're you'll you've u")
_OUTPUT = _words(
    "answer answers response responses reply replies output outputs message messages solution solutions "
    "completion completions summary summaries translation translations code codebase script text writing "
    "result explanation essay story poem letter post"
)
# What a model produces and a human reader does not: "your response" is addressed to the model, "your code"
# or "your letter" may be addressed to a person.
_MODEL_OUTPUT = _words(
    "answer answers response responses reply replies output outputs completion completions summary "
    "summaries translation elucidation explanation generation"
)
_DETERMINER = _words("your the this each every any")
_YOUR = _words("your yours")
_PREP = _words("in into to from within throughout with at")
_AI = _words("ai assistant chatbot bot llm gpt chatgpt claude gemini model copilot agent")
_FORMAT_VERB = _words("respond reply answer write speak output translate encode format print render convert")
_FORMAT_TARGET = _words(
    "english french german spanish italian chinese japanese russian arabic portuguese korean hindi "
    "pirate emoji emojis base64 hex binary morse json xml uppercase lowercase capital capitals "
    "reverse backwards latin leetspeak rhyme rhymes verse cipher code symbols numbers anagrams"
)
_FRAME_VERB = _words("begin start end finish prefix conclude open close")
_INSERT_VERB = _words(
    "append prepend add insert include attach embed integrate incorporate mention put weave blend "
    "merge infuse enlist augment enhance modify"
)
_ROLE = _words(
    "pretend roleplay persona simulate impersonate character mode jailbreak jailbroken unrestricted "
    "unfiltered uncensored dan"
)
_OVERRIDE = _words(
    "ignore disregard forget override overwrite bypass skip abandon discard drop cancel supersede"
)
_RULES = _words(
    "instruction instructions rules prompt prompts guidelines directive directives constraints "
    "restrictions policy policies filter filters safety censorship system task"
)
# What a jailbreak frees the model from: "no rules", "without any restrictions", "free of the confines".
_LIMITS = _words(
    "rules restrictions restriction limits limitations filters filter guidelines constraints policies policy "
    "boundaries censorship ethics morals morality confines safeguards"
)
_UNBOUND = _words("no without free freed unrestricted beyond unbound not never none zero")
_FIRST_POSSESSIVE = frozenset({"my", "our"})
# The writer speaking of themselves: users ("my colleague", "how do I") and FAQ questions do, instructions
# planted for a model rarely do.
_FIRST = _words("i me my mine myself i'm i've i'd i'll we us our")
# A persona given for a task ("act as a travel guide", "you are a helpful chef", "pretend to be an
# interviewer"): a role change, but not one aimed at the system when nothing frees it from rules.
_PERSONA = re.compile(
    r"\b(?:you are|you're|act as|acting as|pretend to be|pretend you are|play the role of|imagine you are|"
    r"role-?play(?: as)?)\s+(?:a|an|my|the)\b",
    _I,
)
# Lasting changes to how the assistant answers ("from now on", "for the rest of this chat").
_PERSIST = ("from now on", "for the rest of", "going forward", "from this moment", "until i say")
_MODAL = _words("must should shall need have required always never")
_EXFIL = _words("send forward post upload email e-mail transmit leak exfiltrate share submit report")
_REVEAL = _words("reveal repeat print show display output dump tell recite spell list")
_CODE = _words(
    "subprocess popen eval exec urllib urlopen socket paramiko smtplib yagmail keyboard pynput curl wget "
    "chmod rmtree environ cookie cookies psutil getpass crontab winreg mining miner system"
)
_CODE_SUBSTR = (
    "os.system",
    "requests.post",
    "requests.get",
    "rm -rf",
    "os.remove",
    "b64decode",
    "http://",
    "https://",
)
_MERGE_DET = _words("following below above this these next subsequent provided attached given")
_MERGE_NOUN = _words("code snippet script block excerpt line lines function segment fragment section piece")
# What the reader of a code thread builds: "add the following block to your implementation".
_YOUR_WORK = _words(
    "code codebase implementation algorithm solution program project application app script function "
    "logic software module build"
)
_URGENCY = _words("important urgent attention note warning notice reminder critical ps")
_WH = _words("what who whom which when where why how can could would is are do does did should will")
_TASK_VERB = _words(
    "write explain describe provide give list tell translate compose draft create generate develop "
    "summarize summarise analyze analyse compare outline define suggest recommend calculate solve convert "
    "rewrite rephrase paraphrase produce make design plan prepare share offer show break elaborate "
    "discuss evaluate identify name predict rank review find search look research encode decode reverse "
    "replace substitute use respond reply answer include add insert append begin start end modify change "
    "alter format output print repeat say ignore disregard forget act pretend imagine remember please "
    "integrate incorporate enhance augment merge render"
)
_TLD = re.compile(
    r"\b(?:https?://|www\.)\S+|\b[\w-]+\.(?:com|net|org|io|xyz|info|biz|ru|cn|top|co|site|online|app|"
    r"link|click|shop|me|ly)\b",
    _I,
)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]+\b")
_QUOTED = re.compile(r"[\"“”«»][^\"“”«»]{3,}[\"“”«»]|'[^']{6,}'")
_DELIM = re.compile(r"[#=\-*_~<>\[\]{}|]{3,}|<\|[a-z_]+\|>|\[/?(?:inst|sys)\]", _I)
_DELIM_CHARS = frozenset("#=-*_~<>[]{}|")
# Words in quotation marks are mentioned, not addressed to anyone: "Translate 'thank you' into German".
_MENTION = re.compile(r"[\"“”«][^\"“”«»\n]{1,80}[\"“”»]|(?<!\w)'[^'\n]{1,60}'(?!\w)")


def _near(
    words: list[str], present: set[str], first: frozenset[str], second: frozenset[str], gap: int = 3
) -> bool:
    """A word of ``first`` followed within ``gap`` words by one of ``second`` (``present``: the set of
    ``words``, so that a segment holding neither costs two set checks)."""
    if present.isdisjoint(first) or present.isdisjoint(second):
        return False
    for i, w in enumerate(words):
        if w in first:
            for v in words[i + 1 : i + 1 + gap]:
                if v in second:
                    return True
    return False


def featurize(text: str, families: frozenset[str] = frozenset()) -> dict[str, float]:
    """The sparse features of one segment (already normalised); ``families`` are the pattern families that
    matched inside it (:func:`family_spans` finds them once for a whole passage)."""
    lower = text.lower()
    return _featurize(text, lower, _WORD.findall(lower), families)


def _featurize(text: str, lower: str, words: list[str], families: frozenset[str]) -> dict[str, float]:
    """:func:`featurize` given the segment's lower-cased text and its words."""
    feats: dict[str, float] = {}
    if words:
        feats["f:" + words[0]] = 1.0
    prev = "<s>"
    for w in words:
        feats["w:" + w] = 1.0
        feats["b:" + prev + "_" + w] = 1.0
        prev = w
    present = set(words)
    n_second = sum(1 for w in words if w in _SECOND)
    mentioned_only = (
        n_second > 0
        and ('"' in text or "'" in text or "“" in text)
        and not any(w in _SECOND for w in _WORD.findall(_MENTION.sub(" ", lower)))
    )
    hand: dict[str, float] = {}
    if n_second:
        hand["second_person"] = min(n_second, 3) / 3.0
        if mentioned_only:
            hand["second_person_quoted"] = 1.0  # "Translate 'thank you' into German": mentioned, not said
    n_first = sum(1 for w in words if w in _FIRST)
    if n_first:
        hand["first_person"] = min(n_first, 3) / 3.0
        if text.rstrip().endswith("?"):
            hand["first_person_question"] = 1.0
    your_output = _near(words, present, _YOUR, _OUTPUT)
    if your_output:
        hand["your_output"] = 1.0
    elif _near(words, present, _DETERMINER, _OUTPUT, 2):
        hand["det_output"] = 1.0  # "the answer", "this message": weaker, often addressed to a human reader
    if your_output and _near(words, present, _PREP, _YOUR, 1):
        hand["in_your_output"] = 1.0
    if _near(words, present, _YOUR, _MODEL_OUTPUT, 2):
        hand["your_model_output"] = 1.0
    if present & _AI:
        hand["addresses_ai"] = 1.0
    format_demand = (
        _near(words, present, _FORMAT_VERB, _FORMAT_TARGET, 5)
        or _near(words, present, _FRAME_VERB, _OUTPUT, 4)
        or bool(present & _INSERT_VERB)
    )
    if format_demand:
        hand["format_demand"] = 1.0
    unbound = _near(words, present, _UNBOUND, _LIMITS, 4)
    if unbound:
        hand["no_limits"] = 1.0
    aimed_at_system = unbound or bool(present & _AI or present & _OVERRIDE or present & _ROLE)
    if present & _ROLE or "act as" in lower or "you are now" in lower or "from now on" in lower:
        hand["role_change"] = 1.0
        # A role aimed at the system ("you are now DAN, free of all rules") rather than a benign persona
        # for a task ("act as a travel guide for Lisbon").
        if aimed_at_system:
            hand["role_override"] = 1.0
    if not aimed_at_system and _PERSONA.search(text):
        hand["task_persona"] = 1.0
    if any(p in lower for p in _PERSIST):
        hand["persistent"] = 1.0
        if aimed_at_system:
            hand["persistent_override"] = 1.0
    if present & _OVERRIDE:
        hand["override"] = 1.0
        if _near(words, present, _OVERRIDE, _FIRST_POSSESSIVE, 2):
            hand["override_own"] = 1.0  # "ignore my last message", "forget our earlier example"
        if present & _RULES:
            hand["override_rules"] = 1.0
    if present & _RULES:
        hand["rules_words"] = 1.0
    if n_second and present & _MODAL or "make sure" in lower or "do not" in lower or "don't" in lower:
        hand["imperative_modal"] = 1.0
    url = ("." in text) and bool(_TLD.search(text))
    email = "@" in text and bool(_EMAIL.search(text))
    if url:
        hand["url"] = 1.0
    if email:
        hand["email"] = 1.0
    if present & _EXFIL:
        hand["exfil_verb"] = 1.0
    if present & _REVEAL:
        hand["reveal"] = 1.0
    if present & _CODE or any(s in lower for s in _CODE_SUBSTR):
        hand["code_action"] = 1.0
    merge = _near(words, present, _MERGE_DET, _MERGE_NOUN, 3)
    if merge:
        hand["code_merge"] = 1.0
    if present & _URGENCY:
        hand["urgency"] = 1.0
    if words and words[0] in _WH:
        hand["wh_start"] = 1.0
    task_start = bool(words) and (
        words[0] in _TASK_VERB or (words[0] == "please" and len(words) > 1 and words[1] in _TASK_VERB)
    )
    if task_start:
        hand["task_verb_start"] = 1.0
    if ('"' in text or "'" in text or "“" in text) and _QUOTED.search(text):
        hand["quoted"] = 1.0
    if _DELIM_CHARS.intersection(text) and _DELIM.search(text):
        hand["delimiter"] = 1.0
    if n_second and task_start:
        hand["imperative_you"] = 1.0
    if your_output and (format_demand or task_start):
        hand["output_demand"] = 1.0
    if merge and (your_output or _near(words, present, _YOUR, _YOUR_WORK, 2)):
        hand["merge_code"] = 1.0
    if (url or email) and (format_demand or "exfil_verb" in hand):
        hand["exfil_target"] = 1.0
    n = len(words)
    if n <= 4:
        hand["len_short"] = 1.0
    if n >= 25:
        hand["len_long"] = 1.0
    if text.rstrip().endswith("?"):
        hand["question"] = 1.0
    for name, value in hand.items():
        feats["h:" + name] = value
    for family in families:
        feats["p:" + family] = 1.0
    return feats


def family_spans(text: str) -> list[tuple[str, int, int]]:
    """Every (family, start, end) match of the pattern families in a normalised passage."""
    lower = text.lower()
    # Letters that match an ASCII letter of a case-insensitive pattern but do not lower-case to it ("İ"
    # matches "i"): with one of them present, every pattern of a triggered family runs.
    exact = not _CASE_EXTRA.search(text)
    out = []
    for family, (_, patterns) in FAMILIES.items():
        if not any(t in lower for t in _TRIGGERS[family]):
            continue
        for pattern, needs in zip(patterns, _NEEDS[family], strict=True):
            if exact and not all(any(t in lower for t in group) for group in needs):
                continue
            out += [(family, m.start(), m.end()) for m in pattern.finditer(text)]
    return out


_CASE_EXTRA = re.compile("[\u0130\u0131\u017f\u212a]")
_RULE_WORDS = (
    "instruction",
    "rules",
    "prompt",
    "direction",
    "guideline",
    "directive",
    "constraint",
    "polic",
    "context",
)
_FREE = ("unrestricted", "unfiltered", "jailbroken", "uncensored", "evil")
_REVEAL_VERBS = ("reveal", "show", "print", "repeat", "output", "display", "leak", "dump")
# For each pattern of a family, in order: groups of substrings of the lower-cased text, one of each group
# being in every match of the pattern (words only, since the patterns' spaces are any whitespace); a pattern
# whose groups are not all present cannot match and is not run. () = always run (cheap patterns).
_NEEDS: dict[str, tuple[tuple[tuple[str, ...], ...], ...]] = {
    "instruction_override": (
        (("ignore", "disregard", "forget", "skip", "bypass"), _RULE_WORDS),
        (("override", "overwrite"), _RULE_WORDS),
        (("ignore", "disregard", "forget"), ("everything", "all")),
        (("instruction",), (":", "-")),
        (("from",), ("now",)),
        (("follow",),),
    ),
    "prompt_exfiltration": (
        (
            (*_REVEAL_VERBS, "tell", "give", "what"),
            ("system", "hidden", "secret", "initial", "instructions"),
        ),
        (("repeat",), ("above", "before")),
        (("canary", "token"), ("reveal", "print", "say", "output")),
    ),
    "role_play": (
        (("you",), ("now", "longer"), ("ai", "assistant", "model", "bot", "dan", "different", *_FREE)),
        (("pretend", "imagine"), ("without", "no", "free", "dan", *_FREE)),
        (("act", "behave", "respond"), ("dan", *_FREE)),
        (("mode",),),
        (("you",), _FREE),
        (("anything", "dan"),),
        (("bound", "restricted", "limited"), ("rules", "guidelines", "policies", "restrictions")),
    ),
    "delimiter": (
        (),
        (),
        (),
        (("##", "===", "---"), ("system", "instruction", "admin")),
        (("system", "assistant"), (":",)),
        (("end",), ("context", "document", "passage", "input"), ("instruction", "now", "system")),
    ),
}


# A family's patterns can only match where one of these substrings occurs (a cheap check before the regexes).
_TRIGGERS: dict[str, tuple[str, ...]] = {
    "instruction_override": (
        "ignore",
        "disregard",
        "forget",
        "skip",
        "bypass",
        "overrid",
        "overwrit",
        "instruction",
        "from now on",
        "do not follow",
    ),
    "prompt_exfiltration": (
        *_REVEAL_VERBS,
        "tell me",
        "give me",
        "what ",
        "canary",
        "token",
    ),
    "role_play": (
        "you are",
        "pretend",
        "imagine",
        "act",
        "behave",
        "respond",
        "mode",
        "do anything",
        "dan",
        "bound",
        "restricted",
        "limited",
    ),
    "delimiter": ("<", "[", "#", "==", "--", "system", "assistant", "end of"),
}


_STOP = _words(
    "about above after again also been before being below between both could does doing down during each "
    "from further have having here into itself just more most once only other over same should some such "
    "than that their theirs them then there these they this those through under until very were what when "
    "where which while whom with would your yours please thanks thank hello dear best regards will shall "
    "make made like want need know"
)
_REQUEST_START = _words("can could would will please")


def _content(words: list[str]) -> set[str]:
    return {w[:6] for w in words if len(w) > 3 and w not in _STOP and not w.isdigit()}


def _request_like(words: list[str], text: str) -> bool:
    """A task or question in the form one puts to an assistant: a task verb or wh-word first, or a
    question."""
    if not words:
        return False
    first = words[0]
    return (
        first in _TASK_VERB
        or first in _WH
        or (first in _REQUEST_START and len(words) > 1 and words[1] in _SECOND)
        or text.rstrip().endswith("?")
    )


def context_features(texts: list[str]) -> list[dict[str, float]]:
    """Features of each segment relative to the rest of its passage (a change of register or topic).

    ``h:novel`` is the share of the segment's content words (stems of 6 letters) that no other segment of
    the passage uses; ``h:novel_request`` is that share when the segment is request-like (a task or question
    put to an assistant); ``h:lone_request`` marks the only request-like segment of a passage of 3+
    segments; ``h:answered`` marks a request-like segment whose content words recur in one of the next two
    segments (an FAQ's question and its answer; a planted question is not answered by the document).
    Passages of fewer than 3 segments (a query, a short note) get none of them.
    """
    return _relative(texts, [_WORD.findall(t.lower()) for t in texts])


def _relative(texts: list[str], words: list[list[str]]) -> list[dict[str, float]]:
    """:func:`context_features` given each segment's words."""
    out: list[dict[str, float]] = [{} for _ in texts]
    if len(texts) < 3:
        return out
    contents = [_content(w) for w in words]
    requests = [_request_like(w, t) for w, t in zip(words, texts, strict=True)]
    n_requests = sum(requests)
    counts: dict[str, int] = {}
    for c in contents:
        for w in c:
            counts[w] = counts.get(w, 0) + 1
    for i, c in enumerate(contents):
        if len(c) < 2:
            continue
        novelty = sum(1 for w in c if counts[w] == 1) / len(c)
        feats = out[i]
        feats["h:novel"] = novelty
        if requests[i]:
            feats["h:novel_request"] = novelty
            if n_requests == 1:
                feats["h:lone_request"] = 1.0
            if any(c & contents[j] for j in range(i + 1, min(i + 3, len(contents)))):
                feats["h:answered"] = 1.0  # an FAQ's question: the next segments answer it in its words
    return out


class SegmentParts(NamedTuple):
    """One segment of a passage: the pattern families matching inside it, its features relative to the
    passage (:func:`context_features`), and what :meth:`own` needs for its :func:`featurize` features. Those
    depend only on :attr:`key` (the text and the families), so a passage's repeated segments (table cells,
    quoted lines) need them once. A named tuple: one is built per segment, a frozen dataclass is slower."""

    segment: Segment
    families: frozenset[str]
    relative: dict[str, float]
    lower: str
    words: list[str]

    @property
    def key(self) -> tuple[str, frozenset[str]]:
        return self.segment.text, self.families

    def own(self) -> dict[str, float]:
        """:func:`featurize` of the segment."""
        return _featurize(self.segment.text, self.lower, self.words, self.families)


def segment_parts(text: str) -> list[SegmentParts]:
    """The segments of a normalised passage with their parts (words found once per segment, pattern
    families once for the passage)."""
    segs = segments(text)
    spans = family_spans(text)
    texts = [seg.text for seg in segs]
    lowers = [t.lower() for t in texts]
    words = [_WORD.findall(lw) for lw in lowers]
    out = []
    for seg, lower, ws, rel in zip(segs, lowers, words, _relative(texts, words), strict=True):
        fams = frozenset(f for f, s, e in spans if s < seg.end and e > seg.start) if spans else frozenset()
        out.append(SegmentParts(seg, fams, rel, lower, ws))
    return out


def segment_features(text: str) -> list[tuple[Segment, dict[str, float]]]:
    """Segments of a normalised passage with their features, the per-segment features of :func:`featurize`
    plus those relative to the passage (:func:`context_features`)."""
    out = []
    for part in segment_parts(text):
        feats = part.own()
        feats.update(part.relative)
        out.append((part.segment, feats))
    return out


__all__ = [
    "MAX_SEGMENT",
    "Segment",
    "SegmentParts",
    "context_features",
    "family_spans",
    "featurize",
    "segment_features",
    "segment_parts",
    "segments",
]
