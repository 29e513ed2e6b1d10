"""What of a finding's margin read the answers state and the overlays draw.

The findings layer grades every region's outline as a nodule's (smooth, lobulated with notches, spiculated with
spicules: ``orchestrator.findings.margin``). Lobulation and spiculation are signs of a nodule or mass: a consolidation
(or any patchy opacity) has an ill-defined edge, and its outline's bumps and spikes are no spicules or notches. And a
margin's concavities are found per degree of its radial profile, so two minima can fall in one clock hour: the answers
name each clock position once, and the page draws one marker there.
"""

from __future__ import annotations

from orchestrator.facts import Finding, Notch, Spicule

NOT_NODULE_KINDS = frozenset({"consolidation", "effusion"})  # fluid's border is its meniscus (its own margin answer)


def nodule_margin(f: Finding) -> bool:
    """Whether ``f``'s margin is described as a nodule's (smooth, lobulated, spiculated, with notches and spicules);
    not for a consolidation, a patchy opacity or fluid."""
    return f.kind not in NOT_NODULE_KINDS and f.shape != "patchy"


def ill_defined(f: Finding) -> bool:
    """A finding whose margin is not a nodule's, read irregular: its edge is described as ill-defined."""
    return not nodule_margin(f) and f.kind != "effusion" and f.margin != "smooth"


def margin_code(f: Finding) -> str:
    """The margin as the answers state it, as a code: ``ill_defined`` for ``ill_defined`` findings, else the read
    (smooth | lobulated | spiculated)."""
    return "ill_defined" if ill_defined(f) else f.margin


def stated_notches(f: Finding) -> tuple[Notch, ...]:
    """The notches the answers name and the overlays draw: one per clock position (the deepest there), in the facts'
    order (the findings layer's is by clock); none where the margin is not a nodule's."""
    if not nodule_margin(f):
        return ()
    deepest: dict[int, Notch] = {}
    for n in f.notches:
        if n.clock not in deepest or n.depth_mm > deepest[n.clock].depth_mm:
            deepest[n.clock] = n
    return tuple(deepest.values())


def stated_spicules(f: Finding) -> tuple[Spicule, ...]:
    """The spicules the answers name and the overlays draw: none where the margin is not a nodule's."""
    return f.spicules if nodule_margin(f) else ()
