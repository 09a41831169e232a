"""The SNOMED CT Expression Constraint Language: parser (Lark grammar -> AST), printer, and the compiler of an
AST into one SQL condition over the closure, relationship and refset rows."""
