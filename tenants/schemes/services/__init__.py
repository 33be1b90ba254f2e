"""Domain operations of the schemes app: namespaces, codes, GS1 links, mappings."""
