"""Hosts that serve verified, approved packages to AI agents.

`mppoci serve` is an MCP server over stdio (:mod:`mppoci.hosts.server`): it
lists the tools the packages declare and runs every call in a fresh sandbox,
taken from a small pool of prepared ones (:mod:`mppoci.hosts.pool`). The pure
parts (tool names, output to MCP content, confirmation, client configuration)
live in their own modules so they can be tested without Docker.
"""
