"""Concept extensions the store keeps as properties: shared by the loaders that write them and the operations
that show them, so it sits below both (a leaf: imports nothing of ours)."""

from __future__ import annotations

from typing import Final

SD: Final = "http://hl7.org/fhir/StructureDefinition/"
# concept extensions that are properties in all but name (R5 made them so): kept as those properties
# (code, type, concept-properties meaning), so an expansion shows them as the reference servers do
EXTENSION_PROPERTIES = {SD + "codesystem-conceptOrder": ("order", "decimal", "order"),
                        SD + "itemWeight": ("weight", "decimal", "itemWeight"),
                        SD + "codesystem-label": ("label", "string", "label")}
# presentation extensions an expansion carries over to `contains`, kept as string properties named by url
CARRIED_EXTENSIONS = (SD + "rendering-style", SD + "rendering-xhtml")
