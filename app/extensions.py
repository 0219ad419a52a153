"""Extension objects, created unbound; ``create_app()`` binds them to an app."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData

from tenants.schema import NAMING_CONVENTION

# db.Model is for tables of the public schema (the registry); per-setting tables
# derive from tenants.schema.TenantModel instead.
db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, key_prefix="lj:limits")
