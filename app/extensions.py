"""Unbound extension instances; bound to the app in create_app()."""

from flask_cors import CORS
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from app.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
# No default limits: only the public blueprint is limited, with limits taken from the config.
limiter = Limiter(key_func=get_remote_address)
cors = CORS()
csrf = CSRFProtect()
api = Api()
