"""Layouts: presets, readable diffs and preview pictures, as pure functions over the provider models.

Nothing here talks to Slack, the database or the network, so the targets can call it inside a request and
the tests can call it without fixtures. Import the submodule you need: the package itself imports nothing,
so reading a preset never loads Pillow (only `preview` does).
"""
