"""The dialogue engine: questions → anchors → facts → answers (plain functions over frozen dataclasses).

- ``parser``     question → ``Query`` (intent, lang, side/lobe/zone/band, anatomy, descriptors, references);
                 vocabularies in ``data/vocab.json`` plus the ontology's sign and location names
- ``anchors``    the per-session registry (A1, A2, …) and reference resolution
- ``composer``   answer sections per intent, zh/en, every number from the facts
- ``checklists`` a named checklist (``orchestrator/ontology/checklists.json``) against the facts
- ``overlays``   vector layers per turn, styled by role
- ``turn``       the docs/DESIGN.md turn JSON (``Turn.to_dict`` / ``Turn.from_dict``)
- ``session``    ``SessionState`` (JSON round trip) and the session store
- ``report``     the structured session report
- ``engine``     ``DialogueEngine``: the one object REST, gRPC, the web page and the CLI call
"""
