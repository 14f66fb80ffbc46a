"""Quality checks run on every prediction: each a typed ``QualityCheck`` with its measured value and a sentence.

One module per family: ``blank`` (series that hold no image), ``acquisition`` (slice step, CT-like scale),
``coverage`` (field of view over the brain),
``brain`` (volume after skull stripping), ``identity`` (sequence identity by content and description),
``tumour`` (a tumour large enough to judge); ``checks.run_checks`` runs them all.
"""
