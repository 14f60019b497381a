"""Split many texts into requests the API accepts, and put the answers back in order."""

from __future__ import annotations

from collections.abc import Iterator, Sequence


def estimate_tokens(text: str) -> int:
    """A cheap upper-leaning token estimate: one token per three UTF-8 bytes, plus one.

    English averages about four bytes a token, so this over-counts it; scripts with
    multi-byte characters average near three. tiktoken would be exact but downloads its
    vocabulary on first use, and this adapter never reaches the network uninvited.
    """
    return len(text.encode("utf-8", "surrogatepass")) // 3 + 1


def plan(texts: Sequence[str], *, max_inputs: int, max_tokens: int) -> Iterator[range]:
    """Consecutive index ranges of ``texts``, each within both request limits.

    A single text over the token budget still gets its own request: the server, not us,
    decides whether it is too long.
    """
    start, tokens = 0, 0
    for index, text in enumerate(texts):
        cost = estimate_tokens(text)
        if index > start and (index - start >= max_inputs or tokens + cost > max_tokens):
            yield range(start, index)
            start, tokens = index, 0
        tokens += cost
    if start < len(texts):
        yield range(start, len(texts))
