"""ASGI entry point for uvicorn: settings from the environment. A migrated store is given the FHIR core
terminology the server ships before the first request (once; later starts only check it is there)."""

from termsvc.api.app import create_app
from termsvc.api.middleware import log_access_to_stderr
from termsvc.settings import Settings
from termsvc.store.engine import make_engine
from termsvc.store.schema import is_up_to_date
from termsvc.valuesets.fhir_core import ensure_core

settings = Settings.from_env()
_engine = make_engine(settings.database_url, pool_size=1)
try:
    if is_up_to_date(_engine):
        ensure_core(_engine)
finally:
    _engine.dispose()

if settings.access_log:
    log_access_to_stderr()
app = create_app(settings)
