"""Status lines on stderr: one line stays one line in a log file (rich assumes 80 columns there)."""

from __future__ import annotations

from torchworks.console import is_interactive, say


def test_a_long_line_is_not_wrapped_when_stderr_is_a_file(capsys):
    words = " ".join(f"key{i}=value{i}" for i in range(40))  # about 500 characters

    say(f"[dim]config: {words}[/dim]")

    err = capsys.readouterr().err
    assert not is_interactive()
    assert err == f"config: {words}\n"


def test_markup_is_rendered_not_printed(capsys):
    say("[yellow]warning:[/yellow] skipped 1 unreadable image")
    assert capsys.readouterr().err == "warning: skipped 1 unreadable image\n"
