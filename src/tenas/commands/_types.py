"""argparse value types shared by the subcommands: one clear message for a bad number."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def int_at_least(minimum: int, what: str = "an integer") -> Callable[[str], int]:
    """An argparse type accepting decimal integers >= ``minimum``; ``what`` names the value in errors."""

    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{what} must be >= {minimum}, got {value}")
        return value

    return parse


def int_or_word(word: str, meaning, minimum: int, flag: str) -> Callable[[str], object]:
    """An argparse type accepting ``word`` (returned as ``meaning``) or a decimal integer >= ``minimum``."""
    number = int_at_least(minimum, flag)

    def parse(text: str):
        if text.strip().lower() == word:
            return meaning
        try:
            return number(text)
        except argparse.ArgumentTypeError as e:
            raise argparse.ArgumentTypeError(f"{e} (or '{word}')") from None

    return parse
