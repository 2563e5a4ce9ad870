"""Mistakes in a command line, the parser that reports them instead of exiting, and the
pieces every command's help is made of."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any, NoReturn

__all__ = ["HelpFormatter", "Parser", "UsageError", "examples", "json_flag"]


class UsageError(Exception):
    """A mistake in the command line itself."""


class HelpFormatter(argparse.HelpFormatter):
    """Wraps each paragraph of a description, but keeps indented lines (examples) as written.

    The default formatter would run the example command lines together into one.
    """

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = []
        for paragraph in text.split("\n\n"):
            lines = paragraph.splitlines()
            if any(line.startswith(" ") for line in lines):
                paragraphs.append("\n".join(indent + line for line in lines))
            else:
                paragraphs.append(
                    textwrap.fill(
                        " ".join(paragraph.split()),
                        width,
                        initial_indent=indent,
                        subsequent_indent=indent,
                    )
                )
        return "\n\n".join(paragraphs)


class Parser(argparse.ArgumentParser):
    """Raises :class:`UsageError` on a mistake, and formats help with :class:`HelpFormatter`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def examples(*lines: str) -> str:
    """An epilog listing example command lines, each with an optional ``  # comment``."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def json_flag(parser: argparse.ArgumentParser) -> None:
    """``--json`` after a command too; before it, the top-level flag sets the same thing."""
    # SUPPRESS keeps a subcommand from resetting a --json given before it.
    parser.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print JSON instead of columns, for scripts",
    )
