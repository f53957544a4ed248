"""Server-rendered pages: log in with an API token, then list, schedule, edit and delete games."""

import uuid

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import RequestEntityTooLarge

from app.errors import MESSAGES, STATUS_BY_ERROR
from app.game_fields import GameFieldsSchema, GameUpdateFieldsSchema
from app.models.game_session import IMAGE_SLOTS
from app.pages import forms
from app.pages.auth import load_user, log_in, log_out, login_required, member_guilds, safe_next
from app.presenters import present_game, present_games
from app.services import games, operations
from app.services.errors import Forbidden, ServiceError
from app.transactions import rollback_unfinished, run_in_transaction

bp = Blueprint(
    "pages",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/pages/static",
)
bp.before_request(load_user)
bp.teardown_request(rollback_unfinished)
PAGE_SIZE = 50
FORM_ENDPOINTS = {"pages.new_game", "pages.edit_game"}


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Paste an API token; a valid one opens a session."""
    form = forms.LoginForm()
    if form.validate_on_submit():
        if log_in(form.token.data):
            return redirect(safe_next(request.args.get("next")), 303)
        form.token.errors.append("Invalid or revoked API token")
    return render_template("pages/login.html", form=form), 422 if form.errors else 200


@bp.post("/logout")
def logout():
    """End the session (CSRFProtect has checked the form's token)."""
    log_out()
    flash("You are logged out.")
    return redirect(url_for(".login"), 303)


@bp.get("/games")
@login_required
def games_page():
    """The games of the user's guilds, soonest first."""
    page = max(request.args.get("page", 1, type=int), 1)

    def work():
        found, total = games.list_games(g.user_id, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        return present_games(found), total

    listed, total = run_in_transaction(work)
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    return render_template("pages/games.html", games=listed, total=total, page=page, pages=pages)


@bp.get("/games/<uuid:game_id>")
@login_required
def game(game_id: uuid.UUID):
    """One game, with its thumbnail and banner when it has them."""
    shown = run_in_transaction(lambda: present_game(games.get_game(g.user_id, game_id)))
    return render_template("pages/game.html", game=shown)


@bp.route("/games/new", methods=["GET", "POST"])
@login_required
def new_game():
    """Schedule a game in one of the user's guilds."""
    form = forms.GameForm()
    forms.offer_guilds(form, member_guilds(g.user_id))
    if not form.validate_on_submit():
        return _form_page(form, None)
    try:
        fields = forms.game_fields(form, GameFieldsSchema)
        created = operations.create_game(g.user_id, fields, forms.chosen_files(form))
    except ServiceError as e:
        return _form_page(form, None, e)
    flash("Game scheduled.")
    return redirect(url_for(".game", game_id=created["id"]), 303)


@bp.route("/games/<uuid:game_id>/edit", methods=["GET", "POST"])
@login_required
def edit_game(game_id: uuid.UUID):
    """Change the host's game: fields, replaced or removed images."""
    current = _hosted(game_id)
    form = forms.GameEditForm(data=forms.initial_data(current))
    forms.offer_guilds(form, member_guilds(g.user_id))
    if not form.validate_on_submit():
        return _form_page(form, current)
    removals = tuple(slot for slot in IMAGE_SLOTS if form[f"remove_{slot}"].data)
    try:
        fields = forms.game_fields(form, GameUpdateFieldsSchema)
        files = forms.chosen_files(form)
        operations.update_game(g.user_id, game_id, fields, files, removals)
    except ServiceError as e:
        return _form_page(form, current, e)
    flash("Game saved.")
    return redirect(url_for(".game", game_id=game_id), 303)


@bp.post("/games/<uuid:game_id>/delete")
@login_required
def delete_game(game_id: uuid.UUID):
    """Delete the host's game (CSRFProtect has checked the form's token)."""
    operations.delete_game(g.user_id, game_id)
    flash("Game deleted.")
    return redirect(url_for(".games_page"), 303)


def _hosted(game_id: uuid.UUID) -> dict:
    shown = run_in_transaction(lambda: present_game(games.get_game(g.user_id, game_id)))
    if shown["host_id"] != g.discord_user_id:
        raise Forbidden("Only the host of this game may change or delete it")
    return shown


def _form_page(form: forms.GameForm, current: dict | None, error: ServiceError | None = None):
    """The game form, with its errors and the status code they mean."""
    status = 422 if form.errors else 200
    if error is not None:
        forms.show_error(form, error)
        status = _status_of(error)
    template = "pages/game_form.html"
    return render_template(template, form=form, game=current), status


def _status_of(error: ServiceError) -> int:
    return next(code for cls, code in STATUS_BY_ERROR.items() if isinstance(error, cls))


@bp.errorhandler(ServiceError)
def service_error(error: ServiceError):
    """A game that is not visible (404) or not the user's to change (403), as a page."""
    status = _status_of(error)
    return render_template("pages/error.html", message=error.message, status=status), status


@bp.errorhandler(CSRFError)
def csrf_error(error: CSRFError):
    """A form without a valid CSRF token: refused, with a way back."""
    message = "This form has expired or did not come from this site. Reload it and try again."
    return render_template("pages/error.html", message=message, status=400), 400


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error: RequestEntityTooLarge):
    """A request over the size limit: back to the form, which says why."""
    if request.endpoint in FORM_ENDPOINTS:
        flash(MESSAGES[413], "form-error")
        return redirect(request.path, 303)
    return render_template("pages/error.html", message=MESSAGES[413], status=413), 413
