"""termsvc: a FHIR R4 terminology mapping and validation service."""

__version__ = "0.1.0"
