"""``images ...``: statistics, the reference-count audit and repair, and sanitising old rows."""

from collections import Counter

import click
from flask.cli import AppGroup

from app.commands.common import enter_maintenance
from app.extensions import db
from app.services import image_audit, images, operations
from app.services.errors import ServiceError
from app.services.uploads import MAX_IMAGE_BYTES, sanitise_upload

images_cli = AppGroup("images", help="Stored images and their reference counts.")


@images_cli.command("stats")
def images_stats_command() -> None:
    """Rows, bytes stored, references and bytes saved by deduplication."""
    stats = image_audit.image_stats()
    db.session.rollback()
    click.echo(f"images:       {stats.rows}")
    click.echo(f"bytes stored: {stats.bytes_stored} ({stats.bytes_stored / 2**20:.1f} MiB)")
    click.echo(f"references:   {stats.references}")
    click.echo(
        f"bytes saved:  {stats.bytes_saved} ({stats.bytes_saved / 2**20:.1f} MiB) by deduplication"
    )
    hint = " (not served until `flask images sanitise`)" if stats.unsanitised else ""
    click.echo(f"unsanitised:  {stats.unsanitised}{hint}")


@images_cli.command("sanitise")
def images_sanitise_command() -> None:
    """Sanitise every image not yet sanitised (moved by revision 0002), one commit each."""
    enter_maintenance()
    image_ids = images.unsanitised_image_ids()
    db.session.rollback()
    if not image_ids:
        click.echo("Nothing to sanitise: every image is sanitised")
        return
    outcomes, refusals, games_changed = Counter(), Counter(), set()
    with click.progressbar(image_ids, label=f"Sanitising {len(image_ids)} image(s)") as bar:
        for image_id in bar:
            outcome, refusal, game_ids = _sanitise_stored_image(image_id)
            outcomes[outcome] += 1
            games_changed.update(game_ids)
            if refusal:
                refusals[refusal] += 1
    _echo_sanitise_summary(outcomes, refusals, len(games_changed))


def _sanitise_stored_image(image_id) -> tuple[str, str | None, list]:
    """Sanitise one stored row and replace it in its games; safe to repeat after a kill."""
    data = images.unsanitised_image_data(image_id)
    db.session.rollback()  # no transaction stays open while the image is decoded
    if data is None:
        return "skipped", None, []  # sanitised or released since the list was read
    refusal = None
    try:
        # Rows of revision 0002 predate the 5 MiB limit; the cost model bounds them still.
        clean = sanitise_upload(data, max_bytes=max(len(data), MAX_IMAGE_BYTES))
    except ServiceError as refused:
        clean, refusal = None, refused.message
    replacement = operations.replace_image(image_id, clean)
    return replacement.outcome, refusal, replacement.game_ids


def _echo_sanitise_summary(outcomes: Counter, refusals: Counter, games: int) -> None:
    click.echo(
        f"Sanitised {sum(outcomes.values())} image(s): {outcomes['cleaned']} cleaned, "
        f"{outcomes['already clean']} already clean, {outcomes['removed']} removed from "
        f"their games (not a real PNG, JPEG, GIF or WebP), {outcomes['unused']} unused, "
        f"{outcomes['skipped']} skipped; {games} game(s) changed"
    )
    for refusal, count in refusals.most_common():
        click.echo(f"  removed {count}: {refusal}")


@images_cli.command("verify")
def images_verify_command() -> None:
    """Check reference counts against game_sessions; exit 1 with a report on any problem."""
    enter_maintenance(snapshot=True)
    report = image_audit.audit_images()
    db.session.rollback()
    summary = f"{report.images} images, {report.slots} image slots in game_sessions"
    if report.ok:
        click.echo(f"OK: {summary}; every reference count matches")
        return
    problems = len(report.count_problems) + len(report.dangling)
    click.echo(f"FAILED: {summary}; {problems} problem(s):")
    for problem in report.count_problems:
        click.echo(
            f"  {problem.kind:<12} image {problem.image_id}: reference_count "
            f"{problem.stored}, referenced by {problem.referenced} slot(s)"
        )
    for ref in report.dangling:
        click.echo(
            f"  {'dangling FK':<12} game {ref.game_id}: {ref.slot} -> "
            f"{ref.image_id}, which does not exist"
        )
    click.echo("Run `flask images repair` to fix them.")
    click.get_current_context().exit(1)


@images_cli.command("repair")
def images_repair_command() -> None:
    """Recount from game_sessions, delete orphans, clear dangling slots (idempotent)."""
    enter_maintenance()
    try:
        result = image_audit.repair_images()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    if not result.changed:
        click.echo("Nothing to repair: every reference count matches")
        return
    click.echo(
        f"Repaired: {result.counts_corrected} count(s) corrected, "
        f"{result.orphans_deleted} orphan(s) deleted, "
        f"{result.dangling_cleared} dangling slot(s) cleared"
    )
