"""The node-graph editor: the model owns the graph, the scene listens, edits are undo commands."""
