"""The sign ontology: chest-radiograph signs (PadChest findings + Fleischner nodule terms) and checklists."""
