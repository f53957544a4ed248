"""What the CLI groups share: one commit per command, times, the owner's maintenance context."""

from collections.abc import Callable
from typing import TypeVar

import click

from app.services import image_audit
from app.services.errors import ServiceError
from app.transactions import run_in_transaction

T = TypeVar("T")


def committed(work: Callable[[], T]) -> T:
    """Run the work and commit once (app/transactions.py); a service's failure as a clean error."""
    try:
        return run_in_transaction(work)
    except ServiceError as e:
        raise click.ClickException(e.message) from e


def when(moment) -> str:
    """A time as the commands print it."""
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


class NotTheOwner(click.ClickException):
    """The command cannot see every game; exit code 2, unlike the 1 of drift found."""

    exit_code = 2


def enter_maintenance(snapshot: bool = False) -> None:
    """See every game (the owner's maintenance policy), or stop with exit code 2."""
    try:
        image_audit.enter_maintenance(snapshot)
    except image_audit.AuditRefused as e:
        raise NotTheOwner(str(e)) from e
