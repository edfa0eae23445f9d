"""Seeing a run's data: a node's input and output as a tree, a table or JSON (the viewer),
each field dragged onto a config field as an expression (the paths)."""
