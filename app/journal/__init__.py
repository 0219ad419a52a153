"""Learning journals: observations, their photos and text, and the rules that guard them.

The pure parts live here without models: ``media`` (uploaded photos), ``text``
(observation text to safe HTML), ``masking`` (the group-name policy) and
``content_rules`` (each setting's unsuitable-content rules).
"""
