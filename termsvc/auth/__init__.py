"""Authorisation and audit: bearer tokens (local opaque tokens or an OAuth 2.0 issuer's JWTs), SMART App
Launch v2 system scopes, and the audit trail of writes rendered as FHIR AuditEvent."""
