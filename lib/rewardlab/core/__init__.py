"""Shared machinery: configs and presets, the artifact cache, the review world, judges, the policy, statistics."""
