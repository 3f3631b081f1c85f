"""File → syntax tree: the lark grammar's parser, the typed tree and its checker."""
