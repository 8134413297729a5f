"""Event validation at ingest speed: ``schemas.Event`` compiled into plain checks.

``load_event`` answers as ``schemas.Event().load`` does: the same loaded event, or the
same ValidationError. A document the compiled checks accept is loaded by them (about a
tenth of marshmallow's time); anything else goes to marshmallow, which decides and
words the errors. So marshmallow stays the one definition of the model; the compiled
checks are derived from its schema classes when this module is imported.
"""

from service.validation.compiled import Refused, compile_event, load_event

__all__ = ["Refused", "compile_event", "load_event"]
