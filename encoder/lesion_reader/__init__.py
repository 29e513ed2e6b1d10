"""The lesion reader (issue 22): a second model that reads each candidate at full resolution.

``crops`` renders the phantom at detector resolution around a lesion (with truth), ``network``
is the reader, ``train`` / ``evaluate`` / ``cli`` train and score it (``hilum train-reader``,
``hilum evaluate-reader``). The input and output contract is serving's:
``orchestrator/contracts/lesion_reader.py``.
"""
