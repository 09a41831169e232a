"""Mapping workbench: local codes to a target code system, reviewed and published as ConceptMaps."""
