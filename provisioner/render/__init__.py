"""Rendering for people and machines: ``plan`` renders a Plan, ``drift`` a drift report.

Each offers text, JSON and markdown (``RENDERERS``); ``values`` holds what both share.
"""
