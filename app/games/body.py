"""A request body read from JSON, or from a form with its files, in one webargs location."""

from flask import Request
from flask_smorest import Blueprint
from marshmallow import Schema
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.datastructures import CombinedMultiDict, MultiDict

BODY = "body"
# Documented alternatives to the multipart form (which alone carries the images).
TEXT_CONTENT_TYPES = ("application/json", "application/x-www-form-urlencoded")


class GameBodyParser(FlaskParser):
    """Adds the ``body`` location: JSON when the request says so, otherwise form and files."""

    __location_map__ = {**FlaskParser.__location_map__, BODY: "load_body"}

    def load_body(self, req: Request, schema: Schema):
        """JSON as sent, or the form fields and the chosen files as one multidict."""
        if is_json_request(req):
            return self.load_json(req, schema)
        # A file input left empty arrives as a part with no filename: it means no file.
        files = MultiDict(
            [(name, upload) for name, upload in req.files.items(multi=True) if upload.filename]
        )
        return self._makeproxy(CombinedMultiDict([req.form, files]), schema)


class BodyBlueprint(Blueprint):
    """A flask-smorest blueprint whose ``body`` arguments document as a multipart form."""

    ARGUMENTS_PARSER = GameBodyParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        BODY: "multipart/form-data",
    }


def text_alternatives(schema: type[Schema], example: dict | None = None) -> dict:
    """The requestBody entries for JSON and urlencoded bodies, both without files."""
    entry: dict = {"schema": schema}
    if example is not None:
        entry["example"] = example
    return {"requestBody": {"content": {kind: dict(entry) for kind in TEXT_CONTENT_TYPES}}}
