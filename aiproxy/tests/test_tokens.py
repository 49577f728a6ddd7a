"""Prompt token counts (cl100k_base), used to size quota reservations."""

from aiproxy import tokens


def test_text_tokens_cl100k_counts():
    """Counts are cl100k_base's: known strings give their known counts."""
    assert tokens.text_tokens("hello world") == 2
    assert tokens.text_tokens("Say hello in a few words.") == 7
    assert tokens.text_tokens("") == 0


def test_text_tokens_special_token_text_counted_as_text():
    """A prompt quoting a special token is counted, not refused."""
    assert tokens.text_tokens("hi <|endoftext|> there") > 2


def test_prompt_tokens_framing_and_margin():
    """Each message adds its framing; the reservation count adds 10%."""
    messages = [{"role": "user", "content": "hello world"}]
    assert tokens.prompt_tokens_exact(messages) == 3 + 4 + 2
    assert tokens.prompt_tokens(messages) == 10  # ceil(9 * 1.1)
