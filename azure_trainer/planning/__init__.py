"""Planning: a validated JobConfig becomes the one resolved JobSpec every backend consumes.

:mod:`.spec` (``plan``, :class:`~.spec.JobSpec`), the command line and its local placeholders
(:mod:`.command_line`), a sweep trial's values (:mod:`.sweep_space`) and the summary ``validate`` prints
(:mod:`.summary`). Pure: no network, no azure.ai.ml, no torch.
"""
