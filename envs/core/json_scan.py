"""Every JSON object of a text, decided in one linear pass (numpy) before any of them is parsed.

Trying the stdlib decoder from each '{' in turn is quadratic: crafted texts of 200,000 characters
take seconds (each failed start re-reads what the previous one read, and each failure's message
counts lines from the text's start). This module decides, for every '{' at once, what the stdlib
decoder (``json.JSONDecoder().raw_decode(text, pos)``) would do from there: parse an object
ending at a known position, or fail; and whether the JSON read from there nests deeper than a
cap before it ends or fails. Work and memory are linear in the text; the decoder then runs once,
on the chosen object.

How. Outside a string, a JSON text has no backslash, so a quote preceded by an odd run of
backslashes is inside a string; the other quotes toggle "inside a string". A parse starting at a
'{' is therefore outside strings exactly where the count of those quotes since the text's start
has the parity it had at the '{': every text has two *phases* (parity 0 and 1), and each '{'
belongs to one. In one phase the text is a stream of tokens ({ } [ ] : , strings, words), and an
object parses iff every token up to its matching bracket may follow its predecessor in its
container (a table of allowed pairs); so one pass marks every token that breaks the grammar, and
a start parses iff its matching bracket comes before the next marked token.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

# Character classes (the text as one byte per character: anything past Latin-1 is a word character).
_WORD, _SPACE, _LB, _RB, _LS, _RS, _COLON, _COMMA, _QUOTE = range(9)
_CLASS = np.zeros(256, np.int8)
for _ch, _cls in ((" ", _SPACE), ("\t", _SPACE), ("\n", _SPACE), ("\r", _SPACE), ("{", _LB), ("}", _RB),
                  ("[", _LS), ("]", _RS), (":", _COLON), (",", _COMMA), ('"', _QUOTE)):
    _CLASS[ord(_ch)] = _cls

# Token types in a phase's stream (0: no token). KEY is a string in key position (only as a predecessor).
T_LB, T_RB, T_LS, T_RS, T_COLON, T_COMMA, T_STR, T_WORD, T_BAD, T_KEY = range(1, 11)
_TOKEN_OF_CLASS = np.array([0, 0, T_LB, T_RB, T_LS, T_RS, T_COLON, T_COMMA, 0], np.int8)
_NONE, _OBJECT, _ARRAY = 0, 1, 2  # the kind of container a token sits in


def _allowed_table() -> np.ndarray:
    """allowed[previous, token, container]: may ``token`` follow ``previous`` inside that container kind."""
    value_starts = {T_STR, T_WORD, T_LB, T_LS}
    table = np.zeros((T_KEY + 1, T_KEY + 1, 3), bool)
    for a in range(T_KEY + 1):
        for b in range(1, T_KEY):
            for ctx in (_NONE, _OBJECT, _ARRAY):
                if b == T_BAD or (b == T_RB and ctx != _OBJECT) or (b == T_RS and ctx != _ARRAY):
                    ok = False
                elif a == T_LB:
                    ok = b in (T_STR, T_RB)  # a key or the empty object's end
                elif a == T_LS:
                    ok = b in value_starts or b == T_RS
                elif a == T_COLON:
                    ok = b in value_starts
                elif a == T_COMMA:
                    ok = b == T_STR if ctx == _OBJECT else (b in value_starts and ctx == _ARRAY)
                elif a == T_KEY:
                    ok = b == T_COLON
                elif a in (T_STR, T_WORD, T_RB, T_RS):  # a complete value
                    ok = b in (T_COMMA, T_RB, T_RS) and ctx != _NONE
                else:
                    ok = False
                table[a, b, ctx] = ok
    return table


_ALLOWED = _allowed_table()
_ALLOWED_FLAT = _ALLOWED.ravel()  # indexed by (previous * (T_KEY + 1) + token) * 3 + container
_CTX_OF_OPEN = np.zeros(T_KEY + 1, np.int8)
_CTX_OF_OPEN[T_LB], _CTX_OF_OPEN[T_LS] = _OBJECT, _ARRAY
_HEX = np.zeros(256, bool)
_HEX[list(b"0123456789abcdefABCDEF")] = True
_MAY_FOLLOW_LB = np.zeros(256, bool)  # what may follow a '{' that starts an object: a key, its end, a space
_MAY_FOLLOW_LB[list(b'"} \t\n\r')] = True
_ESCAPABLE = np.zeros(256, bool)
_ESCAPABLE[list(b'"\\/bfnrtu')] = True

_LITERALS = tuple(np.frombuffer(w, np.uint8) for w in (b"true", b"false", b"null", b"NaN", b"Infinity", b"-Infinity"))


def _bad_words(codes: np.ndarray, is_word: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start positions of all words (maximal runs of word characters) and which of them are not
    a JSON number or literal the decoder reads (``-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][-+]?[0-9]+)?``,
    true, false, null, NaN, Infinity, -Infinity; integers longer than ``sys.get_int_max_str_digits()``
    digits are refused by the decoder too). Checked per character with neighbour rules, in numpy."""
    wpos = np.flatnonzero(is_word)
    if wpos.size == 0:
        return wpos, np.zeros(0, bool)
    w = codes[wpos]
    first = np.ones(w.size, bool)
    first[1:] = wpos[1:] != wpos[:-1] + 1
    last = np.ones(w.size, bool)
    last[:-1] = first[1:]
    digit = (w >= 48) & (w <= 57)
    dot = w == 46
    exp = (w == 101) | (w == 69)
    minus = w == 45
    sign = minus | (w == 43)

    def before(flags):  # the previous character of the same word has the flag
        out = np.zeros(w.size, bool)
        out[1:] = flags[:-1]
        return out & ~first

    def after(flags):  # the next character of the same word has the flag
        out = np.zeros(w.size, bool)
        out[:-1] = flags[1:]
        return out & ~last

    prev_digit, next_digit, prev_exp = before(digit), after(digit), before(exp)
    bad = ~(digit | dot | exp | sign)
    bad |= sign & ~(first & minus | prev_exp)  # '-' leads the number or the exponent, '+' only the exponent
    bad |= sign & ~next_digit
    bad |= dot & ~(prev_digit & next_digit)
    bad |= exp & ~(prev_digit & (next_digit | after(sign)))
    bad |= last & ~digit
    bad |= (w == 48) & (first | before(first & minus)) & next_digit  # a leading zero
    word = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    for marks in (dot, exp):  # at most one '.', at most one exponent, and no '.' in the exponent
        seen = np.cumsum(marks)
        before_word = (seen - marks)[starts][word]
        bad |= marks & (seen - marks - before_word > 0)
    seen_exp = np.cumsum(exp)
    bad |= dot & (seen_exp - seen_exp[starts][word] + exp[starts][word] > 0)
    bad_word = np.logical_or.reduceat(bad, starts)
    length = np.diff(np.append(starts, w.size))
    limit = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 0
    if limit:
        integer = ~np.logical_or.reduceat(dot | exp, starts)
        bad_word |= integer & (length - minus[starts] > limit)
    for literal in _LITERALS:  # the literals are words too
        at = np.flatnonzero(length == literal.size)
        if at.size:
            same = (w[starts[at, None] + np.arange(literal.size)] == literal).all(axis=1)
            bad_word[at[same]] = False
    return wpos[starts], bad_word


@dataclass
class Scan:
    """What the '{' of a text do: how many top-level objects parse, the (start, end) of the last one
    (None if none), and the first top-level '{' whose JSON nests deeper than the cap (None if none)."""

    count: int
    last: tuple[int, int] | None
    too_deep: int | None


def scan_objects(text: str, max_depth: int) -> Scan:
    """The top-level objects of ``text`` that parse, and the first top-level '{' that nests too deep.

    A '{' is *top-level* when it does not begin inside an earlier object that parses. The text is
    *too deep* when a top-level '{' begins JSON that opens more than ``max_depth`` nested containers
    (the '{' itself is level 1) before it ends or fails to parse.
    """
    start, end, ok, too_deep = decide_starts(text, max_depth)
    parsing = ok & ~too_deep
    reach = np.maximum.accumulate(np.where(parsing, end, -1))
    inside = np.zeros(start.size, bool)
    inside[1:] = start[1:] < reach[:-1]  # begins inside an earlier object that parses
    top = np.flatnonzero(parsing & ~inside)
    refused = np.flatnonzero(too_deep & ~inside)
    last = (int(start[top[-1]]), int(end[top[-1]])) if top.size else None
    return Scan(int(top.size), last, int(start[refused[0]]) if refused.size else None)


def decide_starts(text: str, max_depth: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For every '{' of ``text``, in order: its position, the end of the object parsed from it (-1 if
    none), whether one parses, and whether the JSON read from it opens more than ``max_depth`` levels."""
    codes = np.frombuffer(text.encode("latin-1", "replace"), np.uint8)
    n = codes.size
    cls = _CLASS[codes]
    if "\\" in text:
        backslash = codes == 92
        idx = np.arange(n)
        last_other = np.maximum.accumulate(np.where(backslash, -1, idx))
        escaped = np.zeros(n, bool)
        escaped[1:] = ((idx[:-1] - last_other[:-1]) & 1).astype(bool)  # after an odd run of backslashes
        leads = np.flatnonzero(backslash & ~escaped)  # backslashes that start an escape
        padded = np.concatenate([codes, np.zeros(6, np.uint8)])
        nxt = padded[leads + 1]
        bad_escape = ~_ESCAPABLE[nxt]
        u = nxt == ord("u")
        if u.any():
            hex4 = _HEX[padded[leads[u, None] + np.arange(2, 6)]].all(axis=1)
            bad_escape[np.flatnonzero(u)[~hex4]] = True
        quotes = np.flatnonzero((cls == _QUOTE) & ~escaped)
    else:
        leads = np.empty(0, np.intp)
        bad_escape = np.empty(0, bool)
        quotes = np.flatnonzero(cls == _QUOTE)
    # Parity of the quotes before each character: a parse from a '{' of parity p is outside strings where parity is p.
    is_quote = np.zeros(n, np.int8)
    bad_before = np.zeros(n + 1, np.int32)
    if quotes.size:
        is_quote[quotes] = 1
        parity = (np.cumsum(is_quote, dtype=np.int8) - is_quote) & 1  # int8 wraps, parity survives
        # Characters a string may not hold (control characters, bad escapes), counted as a prefix sum.
        bad_in_string = codes < 32
        if leads.size:
            bad_in_string[leads[bad_escape]] = True
        np.cumsum(bad_in_string, out=bad_before[1:])
    else:
        parity = is_quote  # no string anywhere: every character has parity 0
    word_starts, bad_word = _bad_words(codes, cls == _WORD)
    bad_words = word_starts[bad_word]
    structural = np.flatnonzero((cls >= _LB) & (cls <= _COMMA))
    s_class, s_parity = cls[structural], parity[structural]
    s_token = _TOKEN_OF_CLASS[s_class]

    starts, ends, parses, deep = [], [], [], []
    for phase in (0, 1):
        opens_q, closes_q = quotes[phase::2], quotes[phase + 1::2]
        in_phase = s_parity == phase
        lb = structural[in_phase & (s_class == _LB)]
        if lb.size == 0:
            continue
        if not _MAY_FOLLOW_LB[codes[np.minimum(lb + 1, n - 1)]].any():  # (a '{' at the end reads itself: False)  # every '{' fails at the next character, one level deep
            starts.append(lb), ends.append(np.full(lb.size, -1)), parses.append(np.zeros(lb.size, bool))
            deep.append(np.zeros(lb.size, bool))
            continue
        tok = np.zeros(n, np.int8)
        tok[structural[in_phase]] = s_token[in_phase]
        wp = word_starts[parity[word_starts] == phase]
        tok[wp] = T_WORD
        if bad_words.size:
            tok[bad_words[parity[bad_words] == phase]] = T_BAD
        good_str = np.zeros(opens_q.size, bool)
        k = closes_q.size
        good_str[:k] = bad_before[closes_q] == bad_before[opens_q[:k] + 1]
        tok[opens_q] = np.where(good_str, T_STR, T_BAD)  # unterminated or with a bad character: bad
        result = _phase(tok, max_depth)
        starts.append(result[0]), ends.append(result[1]), parses.append(result[2]), deep.append(result[3])
    if not starts:
        empty = np.empty(0, np.intp)
        return empty, empty, empty.astype(bool), empty.astype(bool)
    start, end, ok, too_deep = (np.concatenate(a) for a in (starts, ends, parses, deep))
    order = np.argsort(start, kind="stable")
    return start[order], end[order], ok[order], too_deep[order]


def _phase(tok: np.ndarray, max_depth: int):
    """For each '{' token of one phase's stream: start, end (exclusive; -1 if none), parses, too deep."""
    pos = np.flatnonzero(tok)
    kind = tok[pos]
    m = pos.size
    is_open = (kind == T_LB) | (kind == T_LS)
    is_close = (kind == T_RB) | (kind == T_RS)
    depth = np.cumsum(is_open.view(np.int8) - is_close.view(np.int8), dtype=np.int32)
    # A token's level: for an open, the depth inside it; for any other token, the level of the container it
    # sits in (a close: the one it closes). The container of a token is the last open of its level before it:
    # one stable sort by level (radix on 16 bits) keeps token order within a level.
    level = depth + is_close
    low, high = int(level.min()), int(level.max())
    order = np.argsort((level - low).astype(np.int16) if high - low < 32767 else level, kind="stable")
    s_open, s_kind, s_level = is_open[order], kind[order], level[order]
    last = np.maximum.accumulate(np.where(s_open, np.arange(m, dtype=np.int32), -1))
    last0 = np.maximum(last, 0)
    found = (last >= 0) & (s_level[last0] == s_level)  # (an open finds itself: its own container is set below)
    ctx = np.empty(m, np.int8)
    ctx[order] = _CTX_OF_OPEN[s_kind[last0]] * found
    shifted = np.empty(m, np.int8)
    shifted[0] = _NONE
    shifted[1:] = ctx[:-1]
    ctx = np.where(is_open, shifted, ctx)  # an open's container matters only after ',' (the comma's)
    match = np.full(m, m, np.int32)  # the matching close of an open: the close whose container it is
    closes = np.flatnonzero(found & ((s_kind == T_RB) | (s_kind == T_RS)))
    match[order[last[closes]]] = order[closes]
    prev = np.zeros(m, np.int8)
    prev[1:] = kind[:-1]
    prev_prev = np.zeros(m, np.int8)
    prev_prev[2:] = kind[:-2]
    prev[(prev == T_STR) & (shifted == _OBJECT) & ((prev_prev == T_LB) | (prev_prev == T_COMMA))] = T_KEY
    flat = (prev.astype(np.intp) * (T_KEY + 1) + kind) * 3 + ctx
    bad_mask = ~_ALLOWED_FLAT[flat]
    bad = np.append(np.flatnonzero(bad_mask), m)
    starts = np.flatnonzero(kind == T_LB)
    first_bad = bad[np.cumsum(bad_mask, dtype=np.int32)[starts]]  # the first token after each start that breaks the grammar
    s_match = match[starts]
    parses = (s_match < m) & (first_bad > s_match)
    ends = np.where(parses, pos[np.minimum(s_match, m - 1)] + 1, -1)
    if high - low < max_depth:  # no parse can go max_depth levels deeper than where it started
        return pos[starts], ends, parses, np.zeros(starts.size, bool)
    valid_to = np.where(parses, s_match + 1, first_bad)  # tokens read without error (exclusive)
    too_deep = np.zeros(starts.size, bool)
    # Too deep: the first open max_depth levels below a start, after it, read before its parse ends or fails
    # (only starts that read more than max_depth tokens can get there).
    long = np.flatnonzero(valid_to - starts > max_depth)
    if long.size:
        o_pos = np.flatnonzero(s_open)  # opens in (level, token) order
        o_keys = s_level[o_pos].astype(np.int64) * (m + 1) + order[o_pos]
        target = level[starts[long]] + max_depth
        q = target.astype(np.int64) * (m + 1) + starts[long]
        q_order = np.argsort(q, kind="stable")
        j = np.empty(long.size, np.intp)
        j[q_order] = np.searchsorted(o_keys, q[q_order], side="right")  # sorted queries: a fast search
        j_safe = np.minimum(j, o_pos.size - 1)
        hit = (j < o_pos.size) & (s_level[o_pos[j_safe]] == target)
        too_deep[long] = np.where(hit, order[o_pos[j_safe]], m) < valid_to[long]
    return pos[starts], ends, parses, too_deep
