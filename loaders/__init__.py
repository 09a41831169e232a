"""Loaders stream publishers' release files into the store through one load run (termsvc.store.loadrun).

Installed as `termsvc.loaders`. Loaders never import the web layer or the CLI."""
