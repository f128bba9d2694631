"""The shell runner's output pieces alone: the line logger and the secrets-safe tail."""

from __future__ import annotations

import pytest

from configure_task_scheduler.execution.shell import LineLogger, OutputTail, Redactor

SECRET = "s3cr3t-value"


def lines_of(chunks: list[bytes], max_line_bytes: int = 10,
             secrets: list[str] | None = None) -> list[str]:
    logged: list[str] = []
    logger = LineLogger(logged.append, Redactor(secrets or []), max_line_bytes)
    for chunk in chunks:
        logger.feed(chunk)
    logger.close()
    return logged


@pytest.mark.parametrize(("chunks", "lines"), [
    ([b"ab\ncd", b"ef\n"], ["ab", "cdef"]),
    ([b"a", b"b", b"\n", b"\n"], ["ab", ""]),
    ([b"no newline at the end"], ["no newline[... line of 21 bytes cut at 10]"]),
    ([b"last line"], ["last line"]),
    ([b"crlf\r\n"], ["crlf"]),
    ([b"0123456789ABC", b"DEF\nnext\n"], ["0123456789[... line of 16 bytes cut at 10]", "next"]),
    ([b"0123456789", b"\n"], ["0123456789"]),
    ([], []),
], ids=["joined-across-chunks", "empty-line-kept", "unterminated-long", "unterminated",
        "carriage-return", "cut-with-marker", "exactly-the-bound", "nothing"])
def test_line_logger_logs_lines_split_only_at_newlines(chunks: list[bytes],
                                                      lines: list[str]) -> None:
    assert lines_of(chunks) == lines


def test_line_logger_cut_never_shows_part_of_a_secret_that_crosses_it() -> None:
    line = b"x" * 6 + SECRET.encode() + b"y" * 20 + b"\n"  # the secret crosses byte 10

    for size in (1, 3, 7, len(line)):  # however the pipe hands it over
        chunks = [line[at:at + size] for at in range(0, len(line), size)]
        assert lines_of(chunks, secrets=[SECRET]) == [
            f"xxxxxx***y[... line of {len(line) - 1} bytes cut at 10]"]


def test_line_logger_hides_secrets_and_skips_lines_nobody_wants() -> None:
    logged: list[str] = []
    wanted = [True]
    logger = LineLogger(logged.append, Redactor([SECRET]), 100, lambda: wanted[0])

    logger.feed(f"token={SECRET}\n".encode())
    wanted[0] = False
    logger.feed(b"not logged\n")

    assert logged == ["token=***"]


@pytest.mark.parametrize("size", [1, 2, 5, 11, 64])
def test_output_tail_keeps_the_last_bytes_and_never_ends_inside_a_secret(size: int) -> None:
    output = ("a" * 30 + SECRET + "b" * 4 + SECRET + "c" * 3).encode()
    tail = OutputTail(Redactor([SECRET]), size=12)

    for at in range(0, len(output), size):
        tail.feed(output[at:at + size])
        shown = tail.text()
        assert not any(SECRET[:cut] in shown[-cut:] for cut in range(4, len(SECRET)))
    tail.end()

    assert tail.text() == "**bbbb***ccc"


def test_output_tail_without_secrets_is_exactly_the_last_bytes() -> None:
    tail = OutputTail(Redactor([]), size=4)
    for chunk in (b"abc", b"defg", b"h"):
        tail.feed(chunk)
    tail.end()

    assert tail.text() == "efgh"
