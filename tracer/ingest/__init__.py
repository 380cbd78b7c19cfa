"""Sources -> canonical tables: files, nodes, seed lists and label packs."""
