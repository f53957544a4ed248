"""``flask discord status | deliver [--once] | retry-dead``."""

import signal

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.discord import outbox, worker
from app.extensions import db
from app.models.discord_delivery import DeliveryState, DiscordDelivery
from app.models.guild import Guild

discord_cli = AppGroup("discord", help="Delivery of Discord announcements (the outbox).")
SHOWN_DEAD = 20


@discord_cli.command("status")
def status_command() -> None:
    """Pending, waiting to retry, dead jobs and disabled webhooks."""
    backlog = outbox.delivery_backlog()
    click.echo(f"pending:           {backlog['pending']}")
    click.echo(f"waiting to retry:  {backlog['waiting_to_retry']}")
    click.echo(f"dead:              {backlog['dead']}")
    click.echo(f"disabled webhooks: {backlog['disabled_webhooks']}")
    for job in _dead_jobs():
        click.echo(
            f"  dead job {job.id}: {job.action} of game {job.game_id} after "
            f"{job.attempts} attempt(s): {job.last_error}"
        )
    for guild in _disabled_guilds():
        click.echo(
            f"  webhook of guild {guild.discord_guild_id} disabled at {guild.webhook_disabled_at}"
            " (`flask guilds set-webhook` sets a new one)"
        )
    db.session.rollback()


def _dead_jobs() -> list[DiscordDelivery]:
    query = (
        select(DiscordDelivery)
        .where(DiscordDelivery.state == DeliveryState.DEAD.value)
        .order_by(DiscordDelivery.id)
        .limit(SHOWN_DEAD)
    )
    return list(db.session.scalars(query))


def _disabled_guilds() -> list[Guild]:
    query = select(Guild).where(Guild.webhook_disabled_at.is_not(None)).order_by(Guild.name)
    return list(db.session.scalars(query))


@discord_cli.command("deliver")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
def deliver_command(once: bool) -> None:
    """Run deliveries in the foreground (until SIGINT or SIGTERM)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if once:
        delivered = worker.deliver_due(app, worker.make_deliverer(app))
        click.echo(f"Delivered {delivered} job(s)")
        worker.log_backlog()
        return
    running = worker.DeliveryWorker(app)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: running.stop(0))
    click.echo("Delivering Discord announcements; SIGINT or SIGTERM stops")
    running.run_forever()


@discord_cli.command("retry-dead")
def retry_dead_command() -> None:
    """Queue every dead job again, as if new."""
    count = outbox.retry_dead()
    click.echo(f"{count} dead job(s) queued again")
