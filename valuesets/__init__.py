"""The ValueSet engine: compose definitions compiled to SQL over the store, and expansions built from them."""
