"""What Hilum writes back as DICOM: a TID 1500 Measurement Report (``sr.py``), a Grayscale Softcopy
Presentation State of the overlay (``pr.py``), a Segmentation of the lesion masks (``seg.py``), and
the Secondary Capture of a film that was not uploaded as DICOM (``source.py``). ``objects.py`` is
the entry point; the image they reference is the session's own ``source`` record and ``frame``
(``orchestrator/dialogue/session.py``), resolved by ``source.session_source``."""
