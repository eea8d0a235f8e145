"""Reward learning shared by every idea: preference pairs, Bradley-Terry reward models, their accuracy."""
